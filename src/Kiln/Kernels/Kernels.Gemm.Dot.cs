using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Kiln.Kernels;

/// <summary>
/// Narrow products as dot products: C[m, n] (+)= A[m, k]·B[n, k]ᵀ vectorized along the depth, for the products whose
/// few columns would leave most lanes of the packed kernel's column vectors empty (a classifier head: n = 10 fills 10
/// of 16). Nt reads both operands where they lie; Nn first transposes its narrow B ([k, n], n·k floats) into scratch.
/// Each block of C sums 16 dot products (AVX2: 8) a vector of depths at a time — 4 rows × 4 columns, 8 × 2 or 16 × 1
/// on AVX-512 — the depth tail under a mask; then one transposing reduction turns its accumulators into a vector of
/// their sums (45 shuffles and adds for 16), stored a row at a time. Rows outermost: a chunk of A's rows is read from
/// memory once, B (narrow) stays in L1. No epilogue here: <c>Gemm.Run</c> applies bias and activation over the
/// (narrow) C afterwards.
/// <para>
/// On the Zen 4 host (64, 10, 128) measured 1.8–2.3× the packed kernel (Nt 80% of the peak; Nn 72%, the transpose of
/// B included), and every narrower or deeper product tried (n from 1 to 28, k from 16 to 784, m to 512) faster too.
/// </para>
/// </summary>
internal static unsafe class GemmDot
{
    /// <summary>Whether a product of this shape takes the dot form: Nt or Nn on vector hardware, fewer columns than
    /// two vectors and not a whole vector of them, at least a vector of depth, more than one row (a single row is a
    /// matrix-vector product: <c>Gemm.Run</c> streams B for it).</summary>
    public static bool Pays(KernelIsa isa, GemmForm form, int m, int n, int k)
    {
        if (isa == KernelIsa.Portable || form == GemmForm.Tn || m < 2) return false;
        int w = isa == KernelIsa.Avx512 ? 16 : 8;
        return n < 2 * w && n % w != 0 && k >= w;
    }

    [ThreadStatic] private static float[]? t_transposed;

    /// <summary>C[m, n] (+)= op(A)·op(B) for Nt (B [n, k]) or Nn (B [k, n], transposed first), no epilogue.</summary>
    public static void Run(KernelIsa isa, GemmForm form, float* a, float* b, float* c, int m, int n, int k, bool accumulate)
    {
        if (form == GemmForm.Nn)
        {
            float[] scratch = t_transposed is { } t && t.Length >= checked(n * k) ? t : t_transposed = GC.AllocateUninitializedArray<float>(Math.Max(n * k, 4096), pinned: true);
            fixed (float* bt = scratch)
            {
                TransposeNarrow(b, k, n, bt);
                Run(isa, a, bt, c, m, n, k, accumulate);
            }
            return;
        }
        if (form != GemmForm.Nt) throw new ArgumentOutOfRangeException(nameof(form), form, "The dot form takes Nt or Nn.");
        Run(isa, a, b, c, m, n, k, accumulate);
    }

    private static void Run(KernelIsa isa, float* a, float* b, float* c, int m, int n, int k, bool accumulate)
    {
        if (isa == KernelIsa.Avx512) Rows<Vector512<float>, Simd512>(a, b, c, m, n, k, accumulate);
        else Rows<Vector256<float>, Simd256>(a, b, c, m, n, k, accumulate);
    }

    /// <summary>B[k, n] into Bt[n, k]: on AVX-512 16 depths at a time by 16 × 16 register transposes with masked
    /// stores (the whole Nn product measured 4% faster at n = 10, 20% at n = 4, than with the transpose kernel's 8 × 8
    /// blocks, themselves 10% faster at n = 10 than a value at a time; AVX2's gather was no faster than the scalar
    /// loop); the depths left, and everything without AVX-512, by <see cref="Transpose.Block"/>.</summary>
    private static void TransposeNarrow(float* b, int k, int n, float* bt)
    {
        int p = 0;
        if (Avx512F.IsSupported)
        {
            // Each reads 16 floats from 16 consecutive rows of B (past a narrow row into the next: only while that
            // stays inside B) and stores n rows of 16 depths into Bt.
            for (; (long)(p + 15) * n + 32 <= (long)k * n; p += 16)
                for (int c0 = 0; c0 < n; c0 += 16)
                    Transpose.Narrow16(b + (nint)p * n + c0, n, bt + (nint)c0 * k + p, k, 16, Math.Min(16, n - c0));
        }
        Transpose.Block(b + (nint)p * n, n, bt + p, k, k - p, n);
    }

    /// <summary>Columns in blocks of 4, then one of 2 and one of 1 for what is left; rows in chunks that give every
    /// block a full set of accumulators (AVX-512: 4 rows of a 4-column block, 8 of a 2-column one, 16 of a 1-column
    /// one; AVX2 half as many).</summary>
    private static void Rows<TVec, TSimd>(float* a, float* b, float* c, int m, int n, int k, bool accumulate)
        where TVec : struct where TSimd : ISimd<TVec>
    {
        int lanes = TSimd.Count / 4; // 128-bit blocks of the sums: the rows of a 4-column block
        int narrowest = n % 2 != 0 ? 1 : n % 4 != 0 ? 2 : 4;
        int chunk = lanes * 4 / narrowest;
        int whole = n / 4 * 4;
        for (int i = 0; i < m; i += chunk)
        {
            int rows = Math.Min(chunk, m - i);
            float* ai = a + (nint)i * k, ci = c + (nint)i * n;
            for (int j = 0; j < whole; j += 4)
            {
                for (int r = 0; r < rows; r += lanes)
                {
                    float* ar = ai + (nint)r * k, cr = ci + (nint)r * n + j;
                    if (rows - r >= lanes)
                    {
                        if (lanes == 4) Block<TVec, TSimd, Const4, Const4>(ar, b + (nint)j * k, cr, 0, n, k, accumulate);
                        else Block<TVec, TSimd, Const4, Const2>(ar, b + (nint)j * k, cr, 0, n, k, accumulate);
                    }
                    else
                    {
                        Block<TVec, TSimd, Const4, AnyRows>(ar, b + (nint)j * k, cr, rows - r, n, k, accumulate);
                    }
                }
            }
            int j2 = whole;
            if ((n & 2) != 0)
            {
                for (int r = 0; r < rows; r += 2 * lanes)
                {
                    float* ar = ai + (nint)r * k, cr = ci + (nint)r * n + j2;
                    if (rows - r >= 2 * lanes)
                    {
                        if (lanes == 4) Block<TVec, TSimd, Const2, Const8>(ar, b + (nint)j2 * k, cr, 0, n, k, accumulate);
                        else Block<TVec, TSimd, Const2, Const4>(ar, b + (nint)j2 * k, cr, 0, n, k, accumulate);
                    }
                    else
                    {
                        Block<TVec, TSimd, Const2, AnyRows>(ar, b + (nint)j2 * k, cr, rows - r, n, k, accumulate);
                    }
                }
                j2 += 2;
            }
            if ((n & 1) != 0)
            {
                if (rows == chunk && lanes == 4) Block<TVec, TSimd, Const1, Const16>(ai, b + (nint)j2 * k, ci + j2, 0, n, k, accumulate);
                else if (rows == chunk) Block<TVec, TSimd, Const1, Const8>(ai, b + (nint)j2 * k, ci + j2, 0, n, k, accumulate);
                else Block<TVec, TSimd, Const1, AnyRows>(ai, b + (nint)j2 * k, ci + j2, rows, n, k, accumulate);
            }
        }
    }

    /// <summary>A row count given at run time (an edge block), where a type constant would give the full one.</summary>
    private readonly struct AnyRows : IConstant { public static int Value => 0; }

    /// <summary>
    /// TR rows (<see cref="AnyRows"/>: <paramref name="anyRows"/>) × TC columns of C at <paramref name="c"/> (row stride
    /// <paramref name="ldc"/>); rows of A and B <paramref name="k"/> apart (both row-major, depth contiguous). With L
    /// rows per group (the vector's 128-bit blocks), row q + L·g (q below L) sums into accumulator s[q][g·TC + j] for
    /// column j, so that after the reduction 128-bit block q of the sums holds row q's 4 columns (TC = 4), the 2 of rows
    /// q and q + L, or the 1 of rows q, q + L, q + 2L, q + 3L. Per vector of depths: TC loads of B, then per row one
    /// load of A and TC FMAs into the 16 (AVX2: 8) accumulators.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Block<TVec, TSimd, TC, TR>(float* a, float* b, float* c, int anyRows, int ldc, int k, bool accumulate)
        where TVec : struct where TSimd : ISimd<TVec> where TC : struct, IConstant where TR : struct, IConstant
    {
        int w = TSimd.Count, cols = TC.Value, lanes = w / 4;
        int rows = TR.Value > 0 ? TR.Value : anyRows;
        nint ld = k;
        TVec s00 = TSimd.Zero, s01 = TSimd.Zero, s02 = TSimd.Zero, s03 = TSimd.Zero;
        TVec s10 = TSimd.Zero, s11 = TSimd.Zero, s12 = TSimd.Zero, s13 = TSimd.Zero;
        TVec s20 = TSimd.Zero, s21 = TSimd.Zero, s22 = TSimd.Zero, s23 = TSimd.Zero;
        TVec s30 = TSimd.Zero, s31 = TSimd.Zero, s32 = TSimd.Zero, s33 = TSimd.Zero;
        nint p = 0;
        for (; p + w <= k; p += w)
        {
            float* pa = a + p, pb = b + p;
            TVec y0 = TSimd.Load(ref *pb);
            TVec y1 = cols > 1 ? TSimd.Load(ref *(pb + ld)) : default;
            TVec y2 = cols > 2 ? TSimd.Load(ref *(pb + 2 * ld)) : default;
            TVec y3 = cols > 3 ? TSimd.Load(ref *(pb + 3 * ld)) : default;
            TVec x;
            if (rows > 0) { x = TSimd.Load(ref *pa); if (lanes == 4) { if (cols == 4) { s00 = TSimd.MultiplyAdd(x, y0, s00); s01 = TSimd.MultiplyAdd(x, y1, s01); s02 = TSimd.MultiplyAdd(x, y2, s02); s03 = TSimd.MultiplyAdd(x, y3, s03); } if (cols == 2) { s00 = TSimd.MultiplyAdd(x, y0, s00); s01 = TSimd.MultiplyAdd(x, y1, s01); } if (cols == 1) s00 = TSimd.MultiplyAdd(x, y0, s00); } else { if (cols == 4) { s00 = TSimd.MultiplyAdd(x, y0, s00); s01 = TSimd.MultiplyAdd(x, y1, s01); s02 = TSimd.MultiplyAdd(x, y2, s02); s03 = TSimd.MultiplyAdd(x, y3, s03); } if (cols == 2) { s00 = TSimd.MultiplyAdd(x, y0, s00); s01 = TSimd.MultiplyAdd(x, y1, s01); } if (cols == 1) s00 = TSimd.MultiplyAdd(x, y0, s00); } }
            if (rows > 1) { x = TSimd.Load(ref *(pa + 1 * ld)); if (lanes == 4) { if (cols == 4) { s10 = TSimd.MultiplyAdd(x, y0, s10); s11 = TSimd.MultiplyAdd(x, y1, s11); s12 = TSimd.MultiplyAdd(x, y2, s12); s13 = TSimd.MultiplyAdd(x, y3, s13); } if (cols == 2) { s10 = TSimd.MultiplyAdd(x, y0, s10); s11 = TSimd.MultiplyAdd(x, y1, s11); } if (cols == 1) s10 = TSimd.MultiplyAdd(x, y0, s10); } else { if (cols == 4) { s10 = TSimd.MultiplyAdd(x, y0, s10); s11 = TSimd.MultiplyAdd(x, y1, s11); s12 = TSimd.MultiplyAdd(x, y2, s12); s13 = TSimd.MultiplyAdd(x, y3, s13); } if (cols == 2) { s10 = TSimd.MultiplyAdd(x, y0, s10); s11 = TSimd.MultiplyAdd(x, y1, s11); } if (cols == 1) s10 = TSimd.MultiplyAdd(x, y0, s10); } }
            if (rows > 2) { x = TSimd.Load(ref *(pa + 2 * ld)); if (lanes == 4) { if (cols == 4) { s20 = TSimd.MultiplyAdd(x, y0, s20); s21 = TSimd.MultiplyAdd(x, y1, s21); s22 = TSimd.MultiplyAdd(x, y2, s22); s23 = TSimd.MultiplyAdd(x, y3, s23); } if (cols == 2) { s20 = TSimd.MultiplyAdd(x, y0, s20); s21 = TSimd.MultiplyAdd(x, y1, s21); } if (cols == 1) s20 = TSimd.MultiplyAdd(x, y0, s20); } else { if (cols == 2) { s02 = TSimd.MultiplyAdd(x, y0, s02); s03 = TSimd.MultiplyAdd(x, y1, s03); } if (cols == 1) s01 = TSimd.MultiplyAdd(x, y0, s01); } }
            if (rows > 3) { x = TSimd.Load(ref *(pa + 3 * ld)); if (lanes == 4) { if (cols == 4) { s30 = TSimd.MultiplyAdd(x, y0, s30); s31 = TSimd.MultiplyAdd(x, y1, s31); s32 = TSimd.MultiplyAdd(x, y2, s32); s33 = TSimd.MultiplyAdd(x, y3, s33); } if (cols == 2) { s30 = TSimd.MultiplyAdd(x, y0, s30); s31 = TSimd.MultiplyAdd(x, y1, s31); } if (cols == 1) s30 = TSimd.MultiplyAdd(x, y0, s30); } else { if (cols == 2) { s12 = TSimd.MultiplyAdd(x, y0, s12); s13 = TSimd.MultiplyAdd(x, y1, s13); } if (cols == 1) s11 = TSimd.MultiplyAdd(x, y0, s11); } }
            if (rows > 4) { x = TSimd.Load(ref *(pa + 4 * ld)); if (lanes == 4) { if (cols == 2) { s02 = TSimd.MultiplyAdd(x, y0, s02); s03 = TSimd.MultiplyAdd(x, y1, s03); } if (cols == 1) s01 = TSimd.MultiplyAdd(x, y0, s01); } else { if (cols == 1) s02 = TSimd.MultiplyAdd(x, y0, s02); } }
            if (rows > 5) { x = TSimd.Load(ref *(pa + 5 * ld)); if (lanes == 4) { if (cols == 2) { s12 = TSimd.MultiplyAdd(x, y0, s12); s13 = TSimd.MultiplyAdd(x, y1, s13); } if (cols == 1) s11 = TSimd.MultiplyAdd(x, y0, s11); } else { if (cols == 1) s12 = TSimd.MultiplyAdd(x, y0, s12); } }
            if (rows > 6) { x = TSimd.Load(ref *(pa + 6 * ld)); if (lanes == 4) { if (cols == 2) { s22 = TSimd.MultiplyAdd(x, y0, s22); s23 = TSimd.MultiplyAdd(x, y1, s23); } if (cols == 1) s21 = TSimd.MultiplyAdd(x, y0, s21); } else { if (cols == 1) s03 = TSimd.MultiplyAdd(x, y0, s03); } }
            if (rows > 7) { x = TSimd.Load(ref *(pa + 7 * ld)); if (lanes == 4) { if (cols == 2) { s32 = TSimd.MultiplyAdd(x, y0, s32); s33 = TSimd.MultiplyAdd(x, y1, s33); } if (cols == 1) s31 = TSimd.MultiplyAdd(x, y0, s31); } else { if (cols == 1) s13 = TSimd.MultiplyAdd(x, y0, s13); } }
            if (rows > 8 && lanes == 4) { x = TSimd.Load(ref *(pa + 8 * ld)); if (cols == 1) s02 = TSimd.MultiplyAdd(x, y0, s02); }
            if (rows > 9 && lanes == 4) { x = TSimd.Load(ref *(pa + 9 * ld)); if (cols == 1) s12 = TSimd.MultiplyAdd(x, y0, s12); }
            if (rows > 10 && lanes == 4) { x = TSimd.Load(ref *(pa + 10 * ld)); if (cols == 1) s22 = TSimd.MultiplyAdd(x, y0, s22); }
            if (rows > 11 && lanes == 4) { x = TSimd.Load(ref *(pa + 11 * ld)); if (cols == 1) s32 = TSimd.MultiplyAdd(x, y0, s32); }
            if (rows > 12 && lanes == 4) { x = TSimd.Load(ref *(pa + 12 * ld)); if (cols == 1) s03 = TSimd.MultiplyAdd(x, y0, s03); }
            if (rows > 13 && lanes == 4) { x = TSimd.Load(ref *(pa + 13 * ld)); if (cols == 1) s13 = TSimd.MultiplyAdd(x, y0, s13); }
            if (rows > 14 && lanes == 4) { x = TSimd.Load(ref *(pa + 14 * ld)); if (cols == 1) s23 = TSimd.MultiplyAdd(x, y0, s23); }
            if (rows > 15 && lanes == 4) { x = TSimd.Load(ref *(pa + 15 * ld)); if (cols == 1) s33 = TSimd.MultiplyAdd(x, y0, s33); }
        }
        if (p < k)
        {
            // The depth tail under a mask: lanes past k load as zero from both operands and add nothing.
            int tail = (int)(k - p);
            float* pa = a + p, pb = b + p;
            TVec y0 = TSimd.LoadFirst(ref *pb, tail);
            TVec y1 = cols > 1 ? TSimd.LoadFirst(ref *(pb + ld), tail) : default;
            TVec y2 = cols > 2 ? TSimd.LoadFirst(ref *(pb + 2 * ld), tail) : default;
            TVec y3 = cols > 3 ? TSimd.LoadFirst(ref *(pb + 3 * ld), tail) : default;
            TVec x;
            if (rows > 0) { x = TSimd.LoadFirst(ref *pa, tail); if (lanes == 4) { if (cols == 4) { s00 = TSimd.MultiplyAdd(x, y0, s00); s01 = TSimd.MultiplyAdd(x, y1, s01); s02 = TSimd.MultiplyAdd(x, y2, s02); s03 = TSimd.MultiplyAdd(x, y3, s03); } if (cols == 2) { s00 = TSimd.MultiplyAdd(x, y0, s00); s01 = TSimd.MultiplyAdd(x, y1, s01); } if (cols == 1) s00 = TSimd.MultiplyAdd(x, y0, s00); } else { if (cols == 4) { s00 = TSimd.MultiplyAdd(x, y0, s00); s01 = TSimd.MultiplyAdd(x, y1, s01); s02 = TSimd.MultiplyAdd(x, y2, s02); s03 = TSimd.MultiplyAdd(x, y3, s03); } if (cols == 2) { s00 = TSimd.MultiplyAdd(x, y0, s00); s01 = TSimd.MultiplyAdd(x, y1, s01); } if (cols == 1) s00 = TSimd.MultiplyAdd(x, y0, s00); } }
            if (rows > 1) { x = TSimd.LoadFirst(ref *(pa + 1 * ld), tail); if (lanes == 4) { if (cols == 4) { s10 = TSimd.MultiplyAdd(x, y0, s10); s11 = TSimd.MultiplyAdd(x, y1, s11); s12 = TSimd.MultiplyAdd(x, y2, s12); s13 = TSimd.MultiplyAdd(x, y3, s13); } if (cols == 2) { s10 = TSimd.MultiplyAdd(x, y0, s10); s11 = TSimd.MultiplyAdd(x, y1, s11); } if (cols == 1) s10 = TSimd.MultiplyAdd(x, y0, s10); } else { if (cols == 4) { s10 = TSimd.MultiplyAdd(x, y0, s10); s11 = TSimd.MultiplyAdd(x, y1, s11); s12 = TSimd.MultiplyAdd(x, y2, s12); s13 = TSimd.MultiplyAdd(x, y3, s13); } if (cols == 2) { s10 = TSimd.MultiplyAdd(x, y0, s10); s11 = TSimd.MultiplyAdd(x, y1, s11); } if (cols == 1) s10 = TSimd.MultiplyAdd(x, y0, s10); } }
            if (rows > 2) { x = TSimd.LoadFirst(ref *(pa + 2 * ld), tail); if (lanes == 4) { if (cols == 4) { s20 = TSimd.MultiplyAdd(x, y0, s20); s21 = TSimd.MultiplyAdd(x, y1, s21); s22 = TSimd.MultiplyAdd(x, y2, s22); s23 = TSimd.MultiplyAdd(x, y3, s23); } if (cols == 2) { s20 = TSimd.MultiplyAdd(x, y0, s20); s21 = TSimd.MultiplyAdd(x, y1, s21); } if (cols == 1) s20 = TSimd.MultiplyAdd(x, y0, s20); } else { if (cols == 2) { s02 = TSimd.MultiplyAdd(x, y0, s02); s03 = TSimd.MultiplyAdd(x, y1, s03); } if (cols == 1) s01 = TSimd.MultiplyAdd(x, y0, s01); } }
            if (rows > 3) { x = TSimd.LoadFirst(ref *(pa + 3 * ld), tail); if (lanes == 4) { if (cols == 4) { s30 = TSimd.MultiplyAdd(x, y0, s30); s31 = TSimd.MultiplyAdd(x, y1, s31); s32 = TSimd.MultiplyAdd(x, y2, s32); s33 = TSimd.MultiplyAdd(x, y3, s33); } if (cols == 2) { s30 = TSimd.MultiplyAdd(x, y0, s30); s31 = TSimd.MultiplyAdd(x, y1, s31); } if (cols == 1) s30 = TSimd.MultiplyAdd(x, y0, s30); } else { if (cols == 2) { s12 = TSimd.MultiplyAdd(x, y0, s12); s13 = TSimd.MultiplyAdd(x, y1, s13); } if (cols == 1) s11 = TSimd.MultiplyAdd(x, y0, s11); } }
            if (rows > 4) { x = TSimd.LoadFirst(ref *(pa + 4 * ld), tail); if (lanes == 4) { if (cols == 2) { s02 = TSimd.MultiplyAdd(x, y0, s02); s03 = TSimd.MultiplyAdd(x, y1, s03); } if (cols == 1) s01 = TSimd.MultiplyAdd(x, y0, s01); } else { if (cols == 1) s02 = TSimd.MultiplyAdd(x, y0, s02); } }
            if (rows > 5) { x = TSimd.LoadFirst(ref *(pa + 5 * ld), tail); if (lanes == 4) { if (cols == 2) { s12 = TSimd.MultiplyAdd(x, y0, s12); s13 = TSimd.MultiplyAdd(x, y1, s13); } if (cols == 1) s11 = TSimd.MultiplyAdd(x, y0, s11); } else { if (cols == 1) s12 = TSimd.MultiplyAdd(x, y0, s12); } }
            if (rows > 6) { x = TSimd.LoadFirst(ref *(pa + 6 * ld), tail); if (lanes == 4) { if (cols == 2) { s22 = TSimd.MultiplyAdd(x, y0, s22); s23 = TSimd.MultiplyAdd(x, y1, s23); } if (cols == 1) s21 = TSimd.MultiplyAdd(x, y0, s21); } else { if (cols == 1) s03 = TSimd.MultiplyAdd(x, y0, s03); } }
            if (rows > 7) { x = TSimd.LoadFirst(ref *(pa + 7 * ld), tail); if (lanes == 4) { if (cols == 2) { s32 = TSimd.MultiplyAdd(x, y0, s32); s33 = TSimd.MultiplyAdd(x, y1, s33); } if (cols == 1) s31 = TSimd.MultiplyAdd(x, y0, s31); } else { if (cols == 1) s13 = TSimd.MultiplyAdd(x, y0, s13); } }
            if (rows > 8 && lanes == 4) { x = TSimd.LoadFirst(ref *(pa + 8 * ld), tail); if (cols == 1) s02 = TSimd.MultiplyAdd(x, y0, s02); }
            if (rows > 9 && lanes == 4) { x = TSimd.LoadFirst(ref *(pa + 9 * ld), tail); if (cols == 1) s12 = TSimd.MultiplyAdd(x, y0, s12); }
            if (rows > 10 && lanes == 4) { x = TSimd.LoadFirst(ref *(pa + 10 * ld), tail); if (cols == 1) s22 = TSimd.MultiplyAdd(x, y0, s22); }
            if (rows > 11 && lanes == 4) { x = TSimd.LoadFirst(ref *(pa + 11 * ld), tail); if (cols == 1) s32 = TSimd.MultiplyAdd(x, y0, s32); }
            if (rows > 12 && lanes == 4) { x = TSimd.LoadFirst(ref *(pa + 12 * ld), tail); if (cols == 1) s03 = TSimd.MultiplyAdd(x, y0, s03); }
            if (rows > 13 && lanes == 4) { x = TSimd.LoadFirst(ref *(pa + 13 * ld), tail); if (cols == 1) s13 = TSimd.MultiplyAdd(x, y0, s13); }
            if (rows > 14 && lanes == 4) { x = TSimd.LoadFirst(ref *(pa + 14 * ld), tail); if (cols == 1) s23 = TSimd.MultiplyAdd(x, y0, s23); }
            if (rows > 15 && lanes == 4) { x = TSimd.LoadFirst(ref *(pa + 15 * ld), tail); if (cols == 1) s33 = TSimd.MultiplyAdd(x, y0, s33); }
        }
        Vector128<float> q0, q1, q2 = default, q3 = default;
        if (typeof(TVec) == typeof(Vector512<float>))
        {
            Vector512<float> sums = Sums16(V(s00), V(s01), V(s02), V(s03), V(s10), V(s11), V(s12), V(s13),
                V(s20), V(s21), V(s22), V(s23), V(s30), V(s31), V(s32), V(s33));
            q0 = sums.GetLower().GetLower(); q1 = sums.GetLower().GetUpper(); q2 = sums.GetUpper().GetLower(); q3 = sums.GetUpper().GetUpper();
        }
        else if (typeof(TVec) == typeof(Vector256<float>))
        {
            Vector256<float> sums = Sums8(W(s00), W(s01), W(s02), W(s03), W(s10), W(s11), W(s12), W(s13));
            q0 = sums.GetLower(); q1 = sums.GetUpper();
        }
        else
        {
            throw new NotSupportedException("The dot form runs on Vector512 or Vector256.");
        }
        for (int r = 0; r < rows; r++)
        {
            int q = r % lanes, g = r / lanes;
            Put<TC>(q == 0 ? q0 : q == 1 ? q1 : q == 2 ? q2 : q3, g, c + (nint)r * ldc, accumulate);
        }
    }

    /// <summary>Lanes g·TC.. of <paramref name="q"/> (TC of them) to (or onto) C.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Put<TC>(Vector128<float> q, int g, float* c, bool accumulate) where TC : struct, IConstant
    {
        if (TC.Value == 4)
        {
            if (accumulate) q += Vector128.Load(c);
            q.Store(c);
        }
        else if (TC.Value == 2)
        {
            Vector128<float> pair = g == 0 ? q : Vector128.Shuffle(q, Vector128.Create(2, 3, 0, 1));
            if (accumulate) pair += Vector128.CreateScalar(*(double*)c).AsSingle();
            *(double*)c = pair.AsDouble().ToScalar();
        }
        else
        {
            float value = q.GetElement(g);
            *c = accumulate ? *c + value : value;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> V<TVec>(TVec x) where TVec : struct => Unsafe.BitCast<TVec, Vector512<float>>(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> W<TVec>(TVec x) where TVec : struct => Unsafe.BitCast<TVec, Vector256<float>>(x);

    /// <summary>Lane i = the sum of the lanes of the i-th argument: pairs interleaved and added (within 128-bit
    /// blocks, then across them), four levels.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> Sums16(Vector512<float> v0, Vector512<float> v1, Vector512<float> v2, Vector512<float> v3,
        Vector512<float> v4, Vector512<float> v5, Vector512<float> v6, Vector512<float> v7,
        Vector512<float> v8, Vector512<float> v9, Vector512<float> v10, Vector512<float> v11,
        Vector512<float> v12, Vector512<float> v13, Vector512<float> v14, Vector512<float> v15)
    {
        // Per 128-bit block, [x0 + x2, y0 + y2, x1 + x3, y1 + y3].
        Vector512<float> p01 = Avx512F.UnpackLow(v0, v1) + Avx512F.UnpackHigh(v0, v1);
        Vector512<float> p23 = Avx512F.UnpackLow(v2, v3) + Avx512F.UnpackHigh(v2, v3);
        Vector512<float> p45 = Avx512F.UnpackLow(v4, v5) + Avx512F.UnpackHigh(v4, v5);
        Vector512<float> p67 = Avx512F.UnpackLow(v6, v7) + Avx512F.UnpackHigh(v6, v7);
        Vector512<float> p89 = Avx512F.UnpackLow(v8, v9) + Avx512F.UnpackHigh(v8, v9);
        Vector512<float> pab = Avx512F.UnpackLow(v10, v11) + Avx512F.UnpackHigh(v10, v11);
        Vector512<float> pcd = Avx512F.UnpackLow(v12, v13) + Avx512F.UnpackHigh(v12, v13);
        Vector512<float> pef = Avx512F.UnpackLow(v14, v15) + Avx512F.UnpackHigh(v14, v15);
        // Per block, lane j = that block's sum of the j-th of four arguments.
        Vector512<float> q0 = Avx512F.Shuffle(p01, p23, 0b01_00_01_00) + Avx512F.Shuffle(p01, p23, 0b11_10_11_10);
        Vector512<float> q1 = Avx512F.Shuffle(p45, p67, 0b01_00_01_00) + Avx512F.Shuffle(p45, p67, 0b11_10_11_10);
        Vector512<float> q2 = Avx512F.Shuffle(p89, pab, 0b01_00_01_00) + Avx512F.Shuffle(p89, pab, 0b11_10_11_10);
        Vector512<float> q3 = Avx512F.Shuffle(pcd, pef, 0b01_00_01_00) + Avx512F.Shuffle(pcd, pef, 0b11_10_11_10);
        // Blocks [q.b0 + q.b1, q.b2 + q.b3, r.b0 + r.b1, r.b2 + r.b3], then once more: block i = the sums of arguments 4i..4i+3.
        Vector512<float> r0 = Avx512F.Shuffle4x128(q0, q1, 0b10_00_10_00) + Avx512F.Shuffle4x128(q0, q1, 0b11_01_11_01);
        Vector512<float> r1 = Avx512F.Shuffle4x128(q2, q3, 0b10_00_10_00) + Avx512F.Shuffle4x128(q2, q3, 0b11_01_11_01);
        return Avx512F.Shuffle4x128(r0, r1, 0b10_00_10_00) + Avx512F.Shuffle4x128(r0, r1, 0b11_01_11_01);
    }

    /// <summary>Lane i = the sum of the lanes of the i-th argument (8 of 8 lanes).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> Sums8(Vector256<float> v0, Vector256<float> v1, Vector256<float> v2, Vector256<float> v3,
        Vector256<float> v4, Vector256<float> v5, Vector256<float> v6, Vector256<float> v7)
    {
        Vector256<float> p01 = Avx.UnpackLow(v0, v1) + Avx.UnpackHigh(v0, v1);
        Vector256<float> p23 = Avx.UnpackLow(v2, v3) + Avx.UnpackHigh(v2, v3);
        Vector256<float> p45 = Avx.UnpackLow(v4, v5) + Avx.UnpackHigh(v4, v5);
        Vector256<float> p67 = Avx.UnpackLow(v6, v7) + Avx.UnpackHigh(v6, v7);
        Vector256<float> q0 = Avx.Shuffle(p01, p23, 0b01_00_01_00) + Avx.Shuffle(p01, p23, 0b11_10_11_10);
        Vector256<float> q1 = Avx.Shuffle(p45, p67, 0b01_00_01_00) + Avx.Shuffle(p45, p67, 0b11_10_11_10);
        // Lanes 0–3: q0's two blocks added; 4–7: q1's.
        return Avx.Permute2x128(q0, q1, 0x20) + Avx.Permute2x128(q0, q1, 0x31);
    }
}
