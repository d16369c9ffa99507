using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Kiln.Kernels;

/// <summary>
/// Packed GEMM (the BLIS scheme): B is packed into panels of NR = 2 vectors of columns and A into panels of MR
/// rows, both k-major and zero-padded, so the micro-kernel reads both with unit stride; the micro-kernel keeps
/// an MR × NR tile of C in registers (AVX-512: 12 × 32, 24 accumulators; AVX2: 6 × 16, 12 accumulators; a
/// 4-row kernel takes the rows left over) and applies the epilogue — accumulate into C, bias, the
/// pre-activation copy, the activation — before it stores. Blocking: k in equal blocks of at most KC = 256, MC =
/// 96 rows, NC = 512 columns. Edge tiles go through a small scratch tile.
/// </summary>
internal static unsafe class GemmPacked
{
    public const int KC = 192;
    public const int MC = 96;
    public const int NC = 512;

    /// <summary>Row stride of the A block in scratch: MC plus a panel of slack for the last, partial panel.</summary>
    private const int ABlockStride = MC + 16;

    /// <summary>How a micro-kernel finishes a tile.</summary>
    internal readonly struct TileStore(bool load, bool last, float* bias, float* z, bool activate)
    {
        /// <summary>Add the tile to what C holds (a later k-block, or accumulate).</summary>
        public readonly bool Load = load;
        /// <summary>The last k-block: apply bias, the pre-activation copy and the activation.</summary>
        public readonly bool Last = last;
        public readonly float* Bias = bias;
        public readonly float* Z = z;
        public readonly bool Activate = activate;

        public static TileStore Raw => new(false, false, null, null, false);

        public TileStore WithZ(float* z) => new(Load, Last, Bias, z, Activate);
    }

    /// <summary>Scratch per thread: packed B block, packed A block, one edge tile; 64-byte aligned, allocated once.</summary>
    private sealed class Scratch
    {
        private readonly float[] _memory;

        public Scratch()
        {
            int floats = KC * NC + 2 * KC * ABlockStride + 16 * 64 + 16;
            _memory = GC.AllocateUninitializedArray<float>(floats, pinned: true);
            float* start = (float*)Unsafe.AsPointer(ref _memory[0]);
            float* aligned = (float*)(((nint)start + 63) & ~(nint)63);
            PackB = aligned;
            PackA = PackB + KC * NC;
            Staging = PackA + KC * ABlockStride;
            Tile = Staging + KC * ABlockStride;
        }

        public float* PackB { get; }
        public float* PackA { get; }
        public float* Staging { get; }
        public float* Tile { get; }
    }

    [ThreadStatic] private static Scratch? t_scratch;

    /// <summary>C[m, jBegin..jEnd) of the product (only those columns), with the epilogue.</summary>
    public static void Run<TAct>(KernelIsa isa, GemmForm form, float* a, float* b, float* c, int m, int n, int k,
        bool accumulate, float* bias, TAct act, float* z, int jBegin, int jEnd)
        where TAct : struct, IUnaryOperator
    {
        Scratch scratch = t_scratch ??= new Scratch();
        if (isa == KernelIsa.Avx512)
            Run<Vector512<float>, Simd512, TAct>(form, a, b, c, m, n, k, accumulate, bias, act, z, jBegin, jEnd, scratch, mr: 12);
        else
            Run<Vector256<float>, Simd256, TAct>(form, a, b, c, m, n, k, accumulate, bias, act, z, jBegin, jEnd, scratch, mr: 6);
    }

    private static void Run<TVec, TSimd, TAct>(GemmForm form, float* a, float* b, float* c, int m, int n, int k,
        bool accumulate, float* bias, TAct act, float* z, int jBegin, int jEnd, Scratch scratch, int mr)
        where TVec : struct where TSimd : ISimd<TVec> where TAct : struct, IUnaryOperator
    {
        bool activate = typeof(TAct) != typeof(IdentityOp);
        int nr = 2 * TSimd.Count;
        if (k == 0)
        {
            EpilogueOnly(c, m, n, accumulate, bias, act, activate, z, jBegin, jEnd);
            return;
        }
        float* packB = scratch.PackB, packA = scratch.PackA, tile = scratch.Tile;
        // k in equal blocks of at most KC (784 = 4 × 196, not 4 × 192 + 16: a shallow block costs a C round trip).
        int kBlocks = (k + KC - 1) / KC, kStep = (k + kBlocks - 1) / kBlocks;
        // With one block of A rows, a packed B panel would be read once: stream B in place instead (row-major B
        // only; Nt's B must be transposed anyway). The last, partial column panel is always packed (zero-padded).
        bool direct = form != GemmForm.Nt && m <= MC;
        for (int jc = jBegin; jc < jEnd; jc += NC)
        {
            int nc = Math.Min(NC, jEnd - jc);
            for (int pc = 0; pc < k; pc += kStep)
            {
                int kc = Math.Min(kStep, k - pc);
                bool last = pc + kc == k;
                if (direct)
                {
                    int full = nc / nr * nr;
                    if (full < nc) PackB(form, b, n, k, pc, kc, jc + full, nc - full, nr, packB + full * kc);
                }
                else
                {
                    PackB(form, b, n, k, pc, kc, jc, nc, nr, packB);
                }
                for (int ic = 0; ic < m; ic += MC)
                {
                    int mc = Math.Min(MC, m - ic);
                    PackA(form, a, m, k, ic, mc, pc, kc, mr, scratch.Staging, packA);
                    for (int jr = 0; jr < nc; jr += nr)
                    {
                        int cols = Math.Min(nr, nc - jr);
                        int column = jc + jr;
                        bool inPlace = direct && cols == nr;
                        float* bPanel = inPlace ? b + (nint)pc * n + column : packB + jr * kc;
                        int ldb = inPlace ? n : nr;
                        float* aPanel = packA;
                        var store = new TileStore(pc > 0 || accumulate, last, bias == null ? null : bias + column, null, activate);
                        for (int ir = 0; ir < mc;)
                        {
                            int panelRows = mc - ir >= mr ? mr : 4;
                            int rows = Math.Min(panelRows, mc - ir);
                            int row = ic + ir;
                            float* cTile = c + (nint)row * n + column;
                            float* zTile = z == null ? null : z + (nint)row * n + column;
                            if (rows == panelRows && cols == nr)
                            {
                                Kernel<TVec, TSimd, TAct>(panelRows, kc, aPanel, bPanel, ldb, cTile, n, store.WithZ(zTile), act);
                            }
                            else
                            {
                                Kernel<TVec, TSimd, TAct>(panelRows, kc, aPanel, bPanel, ldb, tile, nr, TileStore.Raw, act);
                                MergeEdge(tile, nr, cTile, n, rows, cols, store.WithZ(zTile), act);
                            }
                            aPanel += panelRows * kc;
                            ir += panelRows;
                        }
                    }
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Kernel<TVec, TSimd, TAct>(int rows, int kc, float* a, float* b, int ldb, float* c, int ldc, TileStore store, TAct act)
        where TVec : struct where TSimd : ISimd<TVec> where TAct : struct, IUnaryOperator
    {
        if (rows == 12) Kernel12<TVec, TSimd, TAct>(kc, a, b, ldb, c, ldc, store, act);
        else if (rows == 6) Kernel6<TVec, TSimd, TAct>(kc, a, b, ldb, c, ldc, store, act);
        else Kernel4<TVec, TSimd, TAct>(kc, a, b, ldb, c, ldc, store, act);
    }

    // Each A panel lies contiguous and k-major (panel[p·MR + r]): a micro-kernel broadcasts a[0..MR) and steps
    // a by MR, so it streams one cache line after another.

    // ---- micro-kernels: an MR × (2 vectors) tile of C in registers ----

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel12<TVec, TSimd, TAct>(int kc, float* a, float* b, int ldb, float* c, int ldc, TileStore store, TAct act)
        where TVec : struct where TSimd : ISimd<TVec> where TAct : struct, IUnaryOperator
    {
        int w = TSimd.Count;
        TVec c00 = TSimd.Zero, c01 = TSimd.Zero, c10 = TSimd.Zero, c11 = TSimd.Zero, c20 = TSimd.Zero, c21 = TSimd.Zero;
        TVec c30 = TSimd.Zero, c31 = TSimd.Zero, c40 = TSimd.Zero, c41 = TSimd.Zero, c50 = TSimd.Zero, c51 = TSimd.Zero;
        TVec c60 = TSimd.Zero, c61 = TSimd.Zero, c70 = TSimd.Zero, c71 = TSimd.Zero, c80 = TSimd.Zero, c81 = TSimd.Zero;
        TVec c90 = TSimd.Zero, c91 = TSimd.Zero, ca0 = TSimd.Zero, ca1 = TSimd.Zero, cb0 = TSimd.Zero, cb1 = TSimd.Zero;
        for (int p = 0; p < kc; p++)
        {
            TVec b0 = TSimd.Load(ref b[0]), b1 = TSimd.Load(ref b[w]);
            TVec x = TSimd.Broadcast(a[0]); c00 = TSimd.MultiplyAdd(x, b0, c00); c01 = TSimd.MultiplyAdd(x, b1, c01);
            x = TSimd.Broadcast(a[1]); c10 = TSimd.MultiplyAdd(x, b0, c10); c11 = TSimd.MultiplyAdd(x, b1, c11);
            x = TSimd.Broadcast(a[2]); c20 = TSimd.MultiplyAdd(x, b0, c20); c21 = TSimd.MultiplyAdd(x, b1, c21);
            x = TSimd.Broadcast(a[3]); c30 = TSimd.MultiplyAdd(x, b0, c30); c31 = TSimd.MultiplyAdd(x, b1, c31);
            x = TSimd.Broadcast(a[4]); c40 = TSimd.MultiplyAdd(x, b0, c40); c41 = TSimd.MultiplyAdd(x, b1, c41);
            x = TSimd.Broadcast(a[5]); c50 = TSimd.MultiplyAdd(x, b0, c50); c51 = TSimd.MultiplyAdd(x, b1, c51);
            x = TSimd.Broadcast(a[6]); c60 = TSimd.MultiplyAdd(x, b0, c60); c61 = TSimd.MultiplyAdd(x, b1, c61);
            x = TSimd.Broadcast(a[7]); c70 = TSimd.MultiplyAdd(x, b0, c70); c71 = TSimd.MultiplyAdd(x, b1, c71);
            x = TSimd.Broadcast(a[8]); c80 = TSimd.MultiplyAdd(x, b0, c80); c81 = TSimd.MultiplyAdd(x, b1, c81);
            x = TSimd.Broadcast(a[9]); c90 = TSimd.MultiplyAdd(x, b0, c90); c91 = TSimd.MultiplyAdd(x, b1, c91);
            x = TSimd.Broadcast(a[10]); ca0 = TSimd.MultiplyAdd(x, b0, ca0); ca1 = TSimd.MultiplyAdd(x, b1, ca1);
            x = TSimd.Broadcast(a[11]); cb0 = TSimd.MultiplyAdd(x, b0, cb0); cb1 = TSimd.MultiplyAdd(x, b1, cb1);
            a += 12;
            b += ldb;
        }
        StoreRow<TVec, TSimd, TAct>(c00, c01, c, ldc, 0, store, act); StoreRow<TVec, TSimd, TAct>(c10, c11, c, ldc, 1, store, act);
        StoreRow<TVec, TSimd, TAct>(c20, c21, c, ldc, 2, store, act); StoreRow<TVec, TSimd, TAct>(c30, c31, c, ldc, 3, store, act);
        StoreRow<TVec, TSimd, TAct>(c40, c41, c, ldc, 4, store, act); StoreRow<TVec, TSimd, TAct>(c50, c51, c, ldc, 5, store, act);
        StoreRow<TVec, TSimd, TAct>(c60, c61, c, ldc, 6, store, act); StoreRow<TVec, TSimd, TAct>(c70, c71, c, ldc, 7, store, act);
        StoreRow<TVec, TSimd, TAct>(c80, c81, c, ldc, 8, store, act); StoreRow<TVec, TSimd, TAct>(c90, c91, c, ldc, 9, store, act);
        StoreRow<TVec, TSimd, TAct>(ca0, ca1, c, ldc, 10, store, act); StoreRow<TVec, TSimd, TAct>(cb0, cb1, c, ldc, 11, store, act);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel6<TVec, TSimd, TAct>(int kc, float* a, float* b, int ldb, float* c, int ldc, TileStore store, TAct act)
        where TVec : struct where TSimd : ISimd<TVec> where TAct : struct, IUnaryOperator
    {
        int w = TSimd.Count;
        TVec c00 = TSimd.Zero, c01 = TSimd.Zero, c10 = TSimd.Zero, c11 = TSimd.Zero, c20 = TSimd.Zero, c21 = TSimd.Zero;
        TVec c30 = TSimd.Zero, c31 = TSimd.Zero, c40 = TSimd.Zero, c41 = TSimd.Zero, c50 = TSimd.Zero, c51 = TSimd.Zero;
        for (int p = 0; p < kc; p++)
        {
            TVec b0 = TSimd.Load(ref b[0]), b1 = TSimd.Load(ref b[w]);
            TVec x = TSimd.Broadcast(a[0]); c00 = TSimd.MultiplyAdd(x, b0, c00); c01 = TSimd.MultiplyAdd(x, b1, c01);
            x = TSimd.Broadcast(a[1]); c10 = TSimd.MultiplyAdd(x, b0, c10); c11 = TSimd.MultiplyAdd(x, b1, c11);
            x = TSimd.Broadcast(a[2]); c20 = TSimd.MultiplyAdd(x, b0, c20); c21 = TSimd.MultiplyAdd(x, b1, c21);
            x = TSimd.Broadcast(a[3]); c30 = TSimd.MultiplyAdd(x, b0, c30); c31 = TSimd.MultiplyAdd(x, b1, c31);
            x = TSimd.Broadcast(a[4]); c40 = TSimd.MultiplyAdd(x, b0, c40); c41 = TSimd.MultiplyAdd(x, b1, c41);
            x = TSimd.Broadcast(a[5]); c50 = TSimd.MultiplyAdd(x, b0, c50); c51 = TSimd.MultiplyAdd(x, b1, c51);
            a += 6;
            b += ldb;
        }
        StoreRow<TVec, TSimd, TAct>(c00, c01, c, ldc, 0, store, act); StoreRow<TVec, TSimd, TAct>(c10, c11, c, ldc, 1, store, act);
        StoreRow<TVec, TSimd, TAct>(c20, c21, c, ldc, 2, store, act); StoreRow<TVec, TSimd, TAct>(c30, c31, c, ldc, 3, store, act);
        StoreRow<TVec, TSimd, TAct>(c40, c41, c, ldc, 4, store, act); StoreRow<TVec, TSimd, TAct>(c50, c51, c, ldc, 5, store, act);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel4<TVec, TSimd, TAct>(int kc, float* a, float* b, int ldb, float* c, int ldc, TileStore store, TAct act)
        where TVec : struct where TSimd : ISimd<TVec> where TAct : struct, IUnaryOperator
    {
        int w = TSimd.Count;
        TVec c00 = TSimd.Zero, c01 = TSimd.Zero, c10 = TSimd.Zero, c11 = TSimd.Zero;
        TVec c20 = TSimd.Zero, c21 = TSimd.Zero, c30 = TSimd.Zero, c31 = TSimd.Zero;
        for (int p = 0; p < kc; p++)
        {
            TVec b0 = TSimd.Load(ref b[0]), b1 = TSimd.Load(ref b[w]);
            TVec x = TSimd.Broadcast(a[0]); c00 = TSimd.MultiplyAdd(x, b0, c00); c01 = TSimd.MultiplyAdd(x, b1, c01);
            x = TSimd.Broadcast(a[1]); c10 = TSimd.MultiplyAdd(x, b0, c10); c11 = TSimd.MultiplyAdd(x, b1, c11);
            x = TSimd.Broadcast(a[2]); c20 = TSimd.MultiplyAdd(x, b0, c20); c21 = TSimd.MultiplyAdd(x, b1, c21);
            x = TSimd.Broadcast(a[3]); c30 = TSimd.MultiplyAdd(x, b0, c30); c31 = TSimd.MultiplyAdd(x, b1, c31);
            a += 4;
            b += ldb;
        }
        StoreRow<TVec, TSimd, TAct>(c00, c01, c, ldc, 0, store, act); StoreRow<TVec, TSimd, TAct>(c10, c11, c, ldc, 1, store, act);
        StoreRow<TVec, TSimd, TAct>(c20, c21, c, ldc, 2, store, act); StoreRow<TVec, TSimd, TAct>(c30, c31, c, ldc, 3, store, act);
    }

    /// <summary>One row of a tile: (+ C) then, after the last k-block, + bias, the pre-activation copy, the activation.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow<TVec, TSimd, TAct>(TVec v0, TVec v1, float* c, int ldc, int row, TileStore store, TAct act)
        where TVec : struct where TSimd : ISimd<TVec> where TAct : struct, IUnaryOperator
    {
        int w = TSimd.Count;
        float* target = c + (nint)row * ldc;
        if (store.Load)
        {
            v0 = TSimd.Add(v0, TSimd.Load(ref target[0]));
            v1 = TSimd.Add(v1, TSimd.Load(ref target[w]));
        }
        if (store.Last)
        {
            if (store.Bias != null)
            {
                v0 = TSimd.Add(v0, TSimd.Load(ref store.Bias[0]));
                v1 = TSimd.Add(v1, TSimd.Load(ref store.Bias[w]));
            }
            if (store.Z != null)
            {
                float* zRow = store.Z + (nint)row * ldc;
                TSimd.Store(v0, ref zRow[0]);
                TSimd.Store(v1, ref zRow[w]);
            }
            if (store.Activate)
            {
                v0 = act.Invoke<TVec, TSimd>(v0);
                v1 = act.Invoke<TVec, TSimd>(v1);
            }
        }
        TSimd.Store(v0, ref target[0]);
        TSimd.Store(v1, ref target[w]);
    }

    /// <summary>The valid part of an edge tile (computed into scratch) into C, with the same epilogue.</summary>
    private static void MergeEdge<TAct>(float* tile, int ldt, float* c, int ldc, int rows, int cols, TileStore store, TAct act)
        where TAct : struct, IUnaryOperator
    {
        for (int r = 0; r < rows; r++)
        {
            for (int j = 0; j < cols; j++)
            {
                float v = tile[r * ldt + j];
                ref float target = ref c[(nint)r * ldc + j];
                if (store.Load) v += target;
                if (store.Last)
                {
                    if (store.Bias != null) v += store.Bias[j];
                    if (store.Z != null) store.Z[(nint)r * ldc + j] = v;
                    if (store.Activate) v = act.Invoke<float, SimdScalar>(v);
                }
                target = v;
            }
        }
    }

    /// <summary>k = 0: the product is zero; the epilogue still applies.</summary>
    private static void EpilogueOnly<TAct>(float* c, int m, int n, bool accumulate, float* bias, TAct act, bool activate, float* z, int jBegin, int jEnd)
        where TAct : struct, IUnaryOperator
    {
        for (int i = 0; i < m; i++)
        {
            for (int j = jBegin; j < jEnd; j++)
            {
                ref float target = ref c[(nint)i * n + j];
                float v = accumulate ? target : 0f;
                if (bias != null) v += bias[j];
                if (z != null) z[(nint)i * n + j] = v;
                if (activate) v = act.Invoke<float, SimdScalar>(v);
                target = v;
            }
        }
    }

    // ---- packing ----

    /// <summary>B[pc..pc+kc, jc..jc+nc] into panels of <paramref name="nr"/> columns, each kc × nr, k-major, zero-padded.</summary>
    private static void PackB(GemmForm form, float* b, int n, int k, int pc, int kc, int jc, int nc, int nr, float* packed)
    {
        for (int jr = 0; jr < nc; jr += nr)
        {
            int cols = Math.Min(nr, nc - jr);
            float* panel = packed + jr * kc;
            if (form == GemmForm.Nt)
            {
                // B(p, j) = b[j·k + p]: the panel is the transpose of `cols` rows of b.
                Transpose.Block(b + (nint)(jc + jr) * k + pc, k, panel, nr, cols, kc);
                for (int p = 0; p < kc && cols < nr; p++) new Span<float>(panel + p * nr + cols, nr - cols).Clear();
            }
            else
            {
                // B(p, j) = b[p·n + j]: each p is a contiguous run of columns.
                for (int p = 0; p < kc; p++)
                {
                    float* source = b + (nint)(pc + p) * n + jc + jr;
                    float* target = panel + p * nr;
                    new ReadOnlySpan<float>(source, cols).CopyTo(new Span<float>(target, cols));
                    if (cols < nr) new Span<float>(target + cols, nr - cols).Clear();
                }
            }
        }
    }

    /// <summary>A[ic..ic+mc, pc..pc+kc] into contiguous panels of mr rows (then 4-row panels), each k-major
    /// (panel[p·rows + r]) and zero-padded. Row-major A (Nt, Nn) is first transposed 8 × 8 at a time into a
    /// staging block (k-major, row stride ABlockStride); Tn's A is already k-major and is read in place.</summary>
    private static void PackA(GemmForm form, float* a, int m, int k, int ic, int mc, int pc, int kc, int mr, float* staging, float* packed)
    {
        float* source;
        nint stride;
        if (form == GemmForm.Tn)
        {
            source = a + (nint)pc * m + ic;
            stride = m;
        }
        else
        {
            Transpose.Block(a + (nint)ic * k + pc, k, staging, ABlockStride, mc, kc);
            source = staging;
            stride = ABlockStride;
        }
        float* panel = packed;
        for (int ir = 0; ir < mc;)
        {
            int panelRows = mc - ir >= mr ? mr : 4;
            int rows = Math.Min(panelRows, mc - ir);
            for (int p = 0; p < kc; p++)
            {
                float* from = source + p * stride + ir;
                float* to = panel + p * panelRows;
                int r = 0;
                for (; r < rows; r++) to[r] = from[r];
                for (; r < panelRows; r++) to[r] = 0f;
            }
            panel += panelRows * kc;
            ir += panelRows;
        }
    }
}
