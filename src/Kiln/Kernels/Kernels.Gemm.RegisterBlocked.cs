using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Kiln.Kernels;

/// <summary>
/// Matrix products in the three forms a dense layer's forward and backward need, all row-major:
/// <list type="bullet">
/// <item><c>Nt</c>: C[m,n] (+)= A[m,k]·B[n,k]ᵀ — forward, Y = X·Wᵀ with W in PyTorch's [out, in] layout.</item>
/// <item><c>Nn</c>: C[m,n] (+)= A[m,k]·B[k,n] — input gradient, dX = dY·W.</item>
/// <item><c>Tn</c>: C[m,n] (+)= A[k,m]ᵀ·B[k,n] — weight gradient, dW = dYᵀ·X.</item>
/// </list>
/// Register-blocked, vectorized along n (Nn, Tn: broadcast A, 4 rows × 2 vectors of accumulators) or along k
/// (Nt: 2 × 4 dot products), no packing. The foundation's kernels: kept as the portable path and as the
/// baseline the packed kernels are measured against.
/// </summary>
public static class GemmRegisterBlocked
{
    public static void Nt(KernelIsa isa, ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int m, int n, int k, bool accumulate)
    {
        CheckSizes(a.Length, b.Length, c.Length, m, n, k, "A[m,k]", "B[n,k]");
        if (m == 0 || n == 0) return;
        ref float ra = ref MemoryMarshal.GetReference(a);
        ref float rb = ref MemoryMarshal.GetReference(b);
        ref float rc = ref MemoryMarshal.GetReference(c);
        switch (isa)
        {
            case KernelIsa.Avx512: DotForm<Vector512<float>, Simd512>(ref ra, ref rb, ref rc, m, n, k, accumulate); break;
            case KernelIsa.Avx2: DotForm<Vector256<float>, Simd256>(ref ra, ref rb, ref rc, m, n, k, accumulate); break;
            default: DotForm<float, SimdScalar>(ref ra, ref rb, ref rc, m, n, k, accumulate); break;
        }
    }

    public static void Nn(KernelIsa isa, ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int m, int n, int k, bool accumulate)
    {
        CheckSizes(a.Length, b.Length, c.Length, m, n, k, "A[m,k]", "B[k,n]");
        Broadcast(isa, a, aRow: k, aCol: 1, b, c, m, n, k, accumulate);
    }

    public static void Tn(KernelIsa isa, ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int m, int n, int k, bool accumulate)
    {
        CheckSizes(a.Length, b.Length, c.Length, m, n, k, "A[k,m]", "B[k,n]");
        Broadcast(isa, a, aRow: 1, aCol: m, b, c, m, n, k, accumulate);
    }

    internal static void CheckSizes(int aLength, int bLength, int cLength, int m, int n, int k, string aShape, string bShape)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        if (aLength < (long)m * k) throw new ArgumentException($"A has {aLength} values; {aShape} with m={m}, k={k} needs {(long)m * k}.", "a");
        if (bLength < (long)n * k) throw new ArgumentException($"B has {bLength} values; {bShape} with n={n}, k={k} needs {(long)n * k}.", "b");
        if (cLength < (long)m * n) throw new ArgumentException($"C has {cLength} values; C[m,n] with m={m}, n={n} needs {(long)m * n}.", "c");
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Broadcast(KernelIsa isa, ReadOnlySpan<float> a, int aRow, int aCol, ReadOnlySpan<float> b, Span<float> c, int m, int n, int k, bool accumulate)
    {
        if (m == 0 || n == 0) return;
        ref float ra = ref MemoryMarshal.GetReference(a);
        ref float rb = ref MemoryMarshal.GetReference(b);
        ref float rc = ref MemoryMarshal.GetReference(c);
        int j = 0;
        switch (isa)
        {
            case KernelIsa.Avx512: j = BroadcastPanels<Vector512<float>, Simd512>(ref ra, aRow, aCol, ref rb, ref rc, m, n, k, accumulate); break;
            case KernelIsa.Avx2: j = BroadcastPanels<Vector256<float>, Simd256>(ref ra, aRow, aCol, ref rb, ref rc, m, n, k, accumulate); break;
        }
        // Remaining columns (all of them on the portable path), one at a time.
        for (; j < n; j++)
            BroadcastColumns1<float, SimdScalar>(ref ra, aRow, aCol, ref Unsafe.Add(ref rb, j), ref Unsafe.Add(ref rc, j), m, n, k, accumulate);
    }

    /// <summary>Covers the columns that whole vectors reach; returns the first column left over.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int BroadcastPanels<TVec, TSimd>(ref float a, int aRow, int aCol, ref float b, ref float c, int m, int n, int k, bool accumulate)
        where TVec : struct where TSimd : ISimd<TVec>
    {
        int w = TSimd.Count;
        int j = 0;
        // A row or two (a matrix-vector product): 4 vectors of columns per row, two depths per step, so 8 chains
        // of FMAs run side by side and each row of B streams once.
        if (m <= 2)
        {
            for (; j + 4 * w <= n; j += 4 * w)
                for (int i = 0; i < m; i++)
                    BroadcastRowWide<TVec, TSimd>(ref Unsafe.Add(ref a, i * aRow), aCol, ref Unsafe.Add(ref b, j), ref Unsafe.Add(ref c, i * n + j), n, k, accumulate);
        }
        for (; j + 2 * w <= n; j += 2 * w)
            BroadcastColumns2<TVec, TSimd>(ref a, aRow, aCol, ref Unsafe.Add(ref b, j), ref Unsafe.Add(ref c, j), m, n, k, accumulate);
        for (; j + w <= n; j += w)
            BroadcastColumns1<TVec, TSimd>(ref a, aRow, aCol, ref Unsafe.Add(ref b, j), ref Unsafe.Add(ref c, j), m, n, k, accumulate);
        return j;
    }

    // Two vectors of columns, every row: tiles of 4 rows × 2 vectors (8 accumulators), then single rows.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BroadcastColumns2<TVec, TSimd>(ref float a, int aRow, int aCol, ref float b, ref float c, int m, int ldb, int k, bool accumulate)
        where TVec : struct where TSimd : ISimd<TVec>
    {
        int w = TSimd.Count;
        int i = 0;
        for (; i + 4 <= m; i += 4)
        {
            TVec c00 = TSimd.Zero, c01 = TSimd.Zero, c10 = TSimd.Zero, c11 = TSimd.Zero;
            TVec c20 = TSimd.Zero, c21 = TSimd.Zero, c30 = TSimd.Zero, c31 = TSimd.Zero;
            ref float ai = ref Unsafe.Add(ref a, i * aRow);
            for (int p = 0; p < k; p++)
            {
                ref float bp = ref Unsafe.Add(ref b, p * ldb);
                TVec b0 = TSimd.Load(ref bp);
                TVec b1 = TSimd.Load(ref Unsafe.Add(ref bp, w));
                ref float ap = ref Unsafe.Add(ref ai, p * aCol);
                TVec a0 = TSimd.Broadcast(ap);
                TVec a1 = TSimd.Broadcast(Unsafe.Add(ref ap, aRow));
                TVec a2 = TSimd.Broadcast(Unsafe.Add(ref ap, 2 * aRow));
                TVec a3 = TSimd.Broadcast(Unsafe.Add(ref ap, 3 * aRow));
                c00 = TSimd.MultiplyAdd(a0, b0, c00); c01 = TSimd.MultiplyAdd(a0, b1, c01);
                c10 = TSimd.MultiplyAdd(a1, b0, c10); c11 = TSimd.MultiplyAdd(a1, b1, c11);
                c20 = TSimd.MultiplyAdd(a2, b0, c20); c21 = TSimd.MultiplyAdd(a2, b1, c21);
                c30 = TSimd.MultiplyAdd(a3, b0, c30); c31 = TSimd.MultiplyAdd(a3, b1, c31);
            }
            ref float ci = ref Unsafe.Add(ref c, i * ldb);
            StoreTile<TVec, TSimd>(c00, ref ci, accumulate); StoreTile<TVec, TSimd>(c01, ref Unsafe.Add(ref ci, w), accumulate);
            ci = ref Unsafe.Add(ref ci, ldb);
            StoreTile<TVec, TSimd>(c10, ref ci, accumulate); StoreTile<TVec, TSimd>(c11, ref Unsafe.Add(ref ci, w), accumulate);
            ci = ref Unsafe.Add(ref ci, ldb);
            StoreTile<TVec, TSimd>(c20, ref ci, accumulate); StoreTile<TVec, TSimd>(c21, ref Unsafe.Add(ref ci, w), accumulate);
            ci = ref Unsafe.Add(ref ci, ldb);
            StoreTile<TVec, TSimd>(c30, ref ci, accumulate); StoreTile<TVec, TSimd>(c31, ref Unsafe.Add(ref ci, w), accumulate);
        }
        for (; i < m; i++)
        {
            TVec c0 = TSimd.Zero, c1 = TSimd.Zero;
            ref float ai = ref Unsafe.Add(ref a, i * aRow);
            for (int p = 0; p < k; p++)
            {
                ref float bp = ref Unsafe.Add(ref b, p * ldb);
                TVec a0 = TSimd.Broadcast(Unsafe.Add(ref ai, p * aCol));
                c0 = TSimd.MultiplyAdd(a0, TSimd.Load(ref bp), c0);
                c1 = TSimd.MultiplyAdd(a0, TSimd.Load(ref Unsafe.Add(ref bp, w)), c1);
            }
            ref float ci = ref Unsafe.Add(ref c, i * ldb);
            StoreTile<TVec, TSimd>(c0, ref ci, accumulate);
            StoreTile<TVec, TSimd>(c1, ref Unsafe.Add(ref ci, w), accumulate);
        }
    }

    // One vector of columns (one column on the portable path), every row: 4 rows at a time, then single rows.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BroadcastColumns1<TVec, TSimd>(ref float a, int aRow, int aCol, ref float b, ref float c, int m, int ldb, int k, bool accumulate)
        where TVec : struct where TSimd : ISimd<TVec>
    {
        int i = 0;
        for (; i + 4 <= m; i += 4)
        {
            TVec c0 = TSimd.Zero, c1 = TSimd.Zero, c2 = TSimd.Zero, c3 = TSimd.Zero;
            ref float ai = ref Unsafe.Add(ref a, i * aRow);
            for (int p = 0; p < k; p++)
            {
                TVec bv = TSimd.Load(ref Unsafe.Add(ref b, p * ldb));
                ref float ap = ref Unsafe.Add(ref ai, p * aCol);
                c0 = TSimd.MultiplyAdd(TSimd.Broadcast(ap), bv, c0);
                c1 = TSimd.MultiplyAdd(TSimd.Broadcast(Unsafe.Add(ref ap, aRow)), bv, c1);
                c2 = TSimd.MultiplyAdd(TSimd.Broadcast(Unsafe.Add(ref ap, 2 * aRow)), bv, c2);
                c3 = TSimd.MultiplyAdd(TSimd.Broadcast(Unsafe.Add(ref ap, 3 * aRow)), bv, c3);
            }
            ref float ci = ref Unsafe.Add(ref c, i * ldb);
            StoreTile<TVec, TSimd>(c0, ref ci, accumulate);
            StoreTile<TVec, TSimd>(c1, ref Unsafe.Add(ref ci, ldb), accumulate);
            StoreTile<TVec, TSimd>(c2, ref Unsafe.Add(ref ci, 2 * ldb), accumulate);
            StoreTile<TVec, TSimd>(c3, ref Unsafe.Add(ref ci, 3 * ldb), accumulate);
        }
        for (; i < m; i++)
        {
            TVec c0 = TSimd.Zero;
            ref float ai = ref Unsafe.Add(ref a, i * aRow);
            for (int p = 0; p < k; p++)
                c0 = TSimd.MultiplyAdd(TSimd.Broadcast(Unsafe.Add(ref ai, p * aCol)), TSimd.Load(ref Unsafe.Add(ref b, p * ldb)), c0);
            StoreTile<TVec, TSimd>(c0, ref Unsafe.Add(ref c, i * ldb), accumulate);
        }
    }

    // One row of C, 4 vectors of columns; depth unrolled by 2 into two sets of accumulators.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BroadcastRowWide<TVec, TSimd>(ref float a, int aCol, ref float b, ref float c, int ldb, int k, bool accumulate)
        where TVec : struct where TSimd : ISimd<TVec>
    {
        int w = TSimd.Count;
        TVec s0 = TSimd.Zero, s1 = TSimd.Zero, s2 = TSimd.Zero, s3 = TSimd.Zero;
        TVec t0 = TSimd.Zero, t1 = TSimd.Zero, t2 = TSimd.Zero, t3 = TSimd.Zero;
        int p = 0;
        for (; p + 2 <= k; p += 2)
        {
            ref float bp = ref Unsafe.Add(ref b, p * ldb);
            ref float bq = ref Unsafe.Add(ref bp, ldb);
            TVec x = TSimd.Broadcast(Unsafe.Add(ref a, p * aCol)), y = TSimd.Broadcast(Unsafe.Add(ref a, (p + 1) * aCol));
            s0 = TSimd.MultiplyAdd(x, TSimd.Load(ref bp), s0); t0 = TSimd.MultiplyAdd(y, TSimd.Load(ref bq), t0);
            s1 = TSimd.MultiplyAdd(x, TSimd.Load(ref Unsafe.Add(ref bp, w)), s1); t1 = TSimd.MultiplyAdd(y, TSimd.Load(ref Unsafe.Add(ref bq, w)), t1);
            s2 = TSimd.MultiplyAdd(x, TSimd.Load(ref Unsafe.Add(ref bp, 2 * w)), s2); t2 = TSimd.MultiplyAdd(y, TSimd.Load(ref Unsafe.Add(ref bq, 2 * w)), t2);
            s3 = TSimd.MultiplyAdd(x, TSimd.Load(ref Unsafe.Add(ref bp, 3 * w)), s3); t3 = TSimd.MultiplyAdd(y, TSimd.Load(ref Unsafe.Add(ref bq, 3 * w)), t3);
        }
        if (p < k)
        {
            ref float bp = ref Unsafe.Add(ref b, p * ldb);
            TVec x = TSimd.Broadcast(Unsafe.Add(ref a, p * aCol));
            s0 = TSimd.MultiplyAdd(x, TSimd.Load(ref bp), s0);
            s1 = TSimd.MultiplyAdd(x, TSimd.Load(ref Unsafe.Add(ref bp, w)), s1);
            s2 = TSimd.MultiplyAdd(x, TSimd.Load(ref Unsafe.Add(ref bp, 2 * w)), s2);
            s3 = TSimd.MultiplyAdd(x, TSimd.Load(ref Unsafe.Add(ref bp, 3 * w)), s3);
        }
        StoreTile<TVec, TSimd>(TSimd.Add(s0, t0), ref c, accumulate);
        StoreTile<TVec, TSimd>(TSimd.Add(s1, t1), ref Unsafe.Add(ref c, w), accumulate);
        StoreTile<TVec, TSimd>(TSimd.Add(s2, t2), ref Unsafe.Add(ref c, 2 * w), accumulate);
        StoreTile<TVec, TSimd>(TSimd.Add(s3, t3), ref Unsafe.Add(ref c, 3 * w), accumulate);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreTile<TVec, TSimd>(TVec value, ref float destination, bool accumulate)
        where TVec : struct where TSimd : ISimd<TVec>
    {
        if (accumulate) value = TSimd.Add(value, TSimd.Load(ref destination));
        TSimd.Store(value, ref destination);
    }

    // Dot-product form for C = A·Bᵀ: rows of A and rows of B are both contiguous in k.
    // Tiles of 2 rows of A × 4 rows of B (8 vector accumulators), reduced across lanes at the end.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DotForm<TVec, TSimd>(ref float a, ref float b, ref float c, int m, int n, int k, bool accumulate)
        where TVec : struct where TSimd : ISimd<TVec>
    {
        int i = 0;
        for (; i + 2 <= m; i += 2)
        {
            ref float a0 = ref Unsafe.Add(ref a, i * k);
            ref float a1 = ref Unsafe.Add(ref a0, k);
            int j = 0;
            for (; j + 4 <= n; j += 4)
                Dot2x4<TVec, TSimd>(ref a0, ref a1, ref Unsafe.Add(ref b, j * k), ref Unsafe.Add(ref c, i * n + j), n, k, accumulate);
            for (; j < n; j++)
            {
                ref float bj = ref Unsafe.Add(ref b, j * k);
                Put(ref Unsafe.Add(ref c, i * n + j), Dot<TVec, TSimd>(ref a0, ref bj, k), accumulate);
                Put(ref Unsafe.Add(ref c, (i + 1) * n + j), Dot<TVec, TSimd>(ref a1, ref bj, k), accumulate);
            }
        }
        for (; i < m; i++)
        {
            ref float ai = ref Unsafe.Add(ref a, i * k);
            int j = 0;
            for (; j + 4 <= n; j += 4)
                Dot1x4<TVec, TSimd>(ref ai, ref Unsafe.Add(ref b, j * k), ref Unsafe.Add(ref c, i * n + j), k, accumulate);
            for (; j < n; j++)
                Put(ref Unsafe.Add(ref c, i * n + j), Dot<TVec, TSimd>(ref ai, ref Unsafe.Add(ref b, j * k), k), accumulate);
        }
    }

    // One row of A against 4 rows of B, two vectors of k per step: 8 independent accumulators (a matrix-vector
    // product, m = 1, is otherwise bound by the latency of one FMA chain).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Dot1x4<TVec, TSimd>(ref float a0, ref float b, ref float c, int k, bool accumulate)
        where TVec : struct where TSimd : ISimd<TVec>
    {
        int w = TSimd.Count;
        ref float b1 = ref Unsafe.Add(ref b, k);
        ref float b2 = ref Unsafe.Add(ref b, 2 * k);
        ref float b3 = ref Unsafe.Add(ref b, 3 * k);
        TVec s0 = TSimd.Zero, s1 = TSimd.Zero, s2 = TSimd.Zero, s3 = TSimd.Zero;
        TVec t0 = TSimd.Zero, t1 = TSimd.Zero, t2 = TSimd.Zero, t3 = TSimd.Zero;
        int p = 0;
        for (; p + 2 * w <= k; p += 2 * w)
        {
            TVec x = TSimd.Load(ref Unsafe.Add(ref a0, p)), y = TSimd.Load(ref Unsafe.Add(ref a0, p + w));
            s0 = TSimd.MultiplyAdd(x, TSimd.Load(ref Unsafe.Add(ref b, p)), s0); t0 = TSimd.MultiplyAdd(y, TSimd.Load(ref Unsafe.Add(ref b, p + w)), t0);
            s1 = TSimd.MultiplyAdd(x, TSimd.Load(ref Unsafe.Add(ref b1, p)), s1); t1 = TSimd.MultiplyAdd(y, TSimd.Load(ref Unsafe.Add(ref b1, p + w)), t1);
            s2 = TSimd.MultiplyAdd(x, TSimd.Load(ref Unsafe.Add(ref b2, p)), s2); t2 = TSimd.MultiplyAdd(y, TSimd.Load(ref Unsafe.Add(ref b2, p + w)), t2);
            s3 = TSimd.MultiplyAdd(x, TSimd.Load(ref Unsafe.Add(ref b3, p)), s3); t3 = TSimd.MultiplyAdd(y, TSimd.Load(ref Unsafe.Add(ref b3, p + w)), t3);
        }
        for (; p + w <= k; p += w)
        {
            TVec x = TSimd.Load(ref Unsafe.Add(ref a0, p));
            s0 = TSimd.MultiplyAdd(x, TSimd.Load(ref Unsafe.Add(ref b, p)), s0);
            s1 = TSimd.MultiplyAdd(x, TSimd.Load(ref Unsafe.Add(ref b1, p)), s1);
            s2 = TSimd.MultiplyAdd(x, TSimd.Load(ref Unsafe.Add(ref b2, p)), s2);
            s3 = TSimd.MultiplyAdd(x, TSimd.Load(ref Unsafe.Add(ref b3, p)), s3);
        }
        float r0 = TSimd.Sum(TSimd.Add(s0, t0)), r1 = TSimd.Sum(TSimd.Add(s1, t1)), r2 = TSimd.Sum(TSimd.Add(s2, t2)), r3 = TSimd.Sum(TSimd.Add(s3, t3));
        for (; p < k; p++)
        {
            float x = Unsafe.Add(ref a0, p);
            r0 = MathF.FusedMultiplyAdd(x, Unsafe.Add(ref b, p), r0); r1 = MathF.FusedMultiplyAdd(x, Unsafe.Add(ref b1, p), r1);
            r2 = MathF.FusedMultiplyAdd(x, Unsafe.Add(ref b2, p), r2); r3 = MathF.FusedMultiplyAdd(x, Unsafe.Add(ref b3, p), r3);
        }
        Put(ref c, r0, accumulate); Put(ref Unsafe.Add(ref c, 1), r1, accumulate);
        Put(ref Unsafe.Add(ref c, 2), r2, accumulate); Put(ref Unsafe.Add(ref c, 3), r3, accumulate);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Dot2x4<TVec, TSimd>(ref float a0, ref float a1, ref float b, ref float c, int ldc, int k, bool accumulate)
        where TVec : struct where TSimd : ISimd<TVec>
    {
        int w = TSimd.Count;
        ref float b1 = ref Unsafe.Add(ref b, k);
        ref float b2 = ref Unsafe.Add(ref b, 2 * k);
        ref float b3 = ref Unsafe.Add(ref b, 3 * k);
        TVec s00 = TSimd.Zero, s01 = TSimd.Zero, s02 = TSimd.Zero, s03 = TSimd.Zero;
        TVec s10 = TSimd.Zero, s11 = TSimd.Zero, s12 = TSimd.Zero, s13 = TSimd.Zero;
        int p = 0;
        for (; p + w <= k; p += w)
        {
            TVec x0 = TSimd.Load(ref Unsafe.Add(ref a0, p));
            TVec x1 = TSimd.Load(ref Unsafe.Add(ref a1, p));
            TVec y = TSimd.Load(ref Unsafe.Add(ref b, p));
            s00 = TSimd.MultiplyAdd(x0, y, s00); s10 = TSimd.MultiplyAdd(x1, y, s10);
            y = TSimd.Load(ref Unsafe.Add(ref b1, p));
            s01 = TSimd.MultiplyAdd(x0, y, s01); s11 = TSimd.MultiplyAdd(x1, y, s11);
            y = TSimd.Load(ref Unsafe.Add(ref b2, p));
            s02 = TSimd.MultiplyAdd(x0, y, s02); s12 = TSimd.MultiplyAdd(x1, y, s12);
            y = TSimd.Load(ref Unsafe.Add(ref b3, p));
            s03 = TSimd.MultiplyAdd(x0, y, s03); s13 = TSimd.MultiplyAdd(x1, y, s13);
        }
        float r00 = TSimd.Sum(s00), r01 = TSimd.Sum(s01), r02 = TSimd.Sum(s02), r03 = TSimd.Sum(s03);
        float r10 = TSimd.Sum(s10), r11 = TSimd.Sum(s11), r12 = TSimd.Sum(s12), r13 = TSimd.Sum(s13);
        for (; p < k; p++)
        {
            float x0 = Unsafe.Add(ref a0, p), x1 = Unsafe.Add(ref a1, p);
            float y0 = Unsafe.Add(ref b, p), y1 = Unsafe.Add(ref b1, p), y2 = Unsafe.Add(ref b2, p), y3 = Unsafe.Add(ref b3, p);
            r00 = MathF.FusedMultiplyAdd(x0, y0, r00); r01 = MathF.FusedMultiplyAdd(x0, y1, r01);
            r02 = MathF.FusedMultiplyAdd(x0, y2, r02); r03 = MathF.FusedMultiplyAdd(x0, y3, r03);
            r10 = MathF.FusedMultiplyAdd(x1, y0, r10); r11 = MathF.FusedMultiplyAdd(x1, y1, r11);
            r12 = MathF.FusedMultiplyAdd(x1, y2, r12); r13 = MathF.FusedMultiplyAdd(x1, y3, r13);
        }
        Put(ref c, r00, accumulate); Put(ref Unsafe.Add(ref c, 1), r01, accumulate);
        Put(ref Unsafe.Add(ref c, 2), r02, accumulate); Put(ref Unsafe.Add(ref c, 3), r03, accumulate);
        ref float c1 = ref Unsafe.Add(ref c, ldc);
        Put(ref c1, r10, accumulate); Put(ref Unsafe.Add(ref c1, 1), r11, accumulate);
        Put(ref Unsafe.Add(ref c1, 2), r12, accumulate); Put(ref Unsafe.Add(ref c1, 3), r13, accumulate);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Dot<TVec, TSimd>(ref float x, ref float y, int k)
        where TVec : struct where TSimd : ISimd<TVec>
    {
        int w = TSimd.Count;
        TVec s = TSimd.Zero;
        int p = 0;
        for (; p + w <= k; p += w)
            s = TSimd.MultiplyAdd(TSimd.Load(ref Unsafe.Add(ref x, p)), TSimd.Load(ref Unsafe.Add(ref y, p)), s);
        float r = TSimd.Sum(s);
        for (; p < k; p++)
            r = MathF.FusedMultiplyAdd(Unsafe.Add(ref x, p), Unsafe.Add(ref y, p), r);
        return r;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Put(ref float destination, float value, bool accumulate) =>
        destination = accumulate ? destination + value : value;
}
