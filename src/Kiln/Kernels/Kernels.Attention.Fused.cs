using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Kiln.Kernels;

/// <summary>
/// The fused path of one (sample, head), taken when the head size is a whole number of vectors and no dropout acts:
/// every product runs on one register-tile kernel that reads Q, K, V, dO and writes O, dQ, dK, dV where they lie (rows
/// strided in the projections' buffers), so nothing is gathered, scattered or packed but Kᵀ (forward) and Vᵀ
/// (backward), a few kilobytes per head. Work the masks make zero is skipped: a block of query rows multiplies only the
/// keys its last row sees, and a block of keys in the backward only the queries that see it (with a causal mask,
/// about half of every product). The scores live in a per-thread scratch of rows padded to whole tiles; the saved
/// probabilities are the same as the general path's, so either backward can follow either forward.
/// </summary>
public sealed unsafe partial class MultiHeadAttention
{
    /// <summary>Rows of a register tile: 6 rows × 2 vectors, 12 accumulators (as the packed GEMM's AVX2 tile).</summary>
    private const int TileHeight = 6;

    /// <summary>Whether the fused path serves this layer on <see cref="Isa"/> (tests turn it off to compare).</summary>
    internal bool Fused { get; set; } = true;

    private bool UsesFused(bool dropping) => Fused && !dropping && Isa != KernelIsa.Portable && HeadSize % VectorWidth == 0;

    private int VectorWidth => Isa == KernelIsa.Avx512 ? 16 : 8;

    /// <summary>T_k rounded up to whole 2-vector panels: the row stride of the scores scratch.</summary>
    private int PaddedKeys => (KeyLength + 2 * VectorWidth - 1) / (2 * VectorWidth) * (2 * VectorWidth);

    /// <summary>Per thread, fused: the Kᵀ (or Vᵀ) panels and the scores (or their gradient).</summary>
    private int FusedScratchFloats => PaddedKeys * HeadSize + QueryLength * PaddedKeys;

    private void FusedForwardUnit(Job j, int b, int h, float* scratch)
    {
        if (Isa == KernelIsa.Avx512) FusedForward<Vector512<float>, Simd512>(j, b, h, scratch);
        else FusedForward<Vector256<float>, Simd256>(j, b, h, scratch);
    }

    private void FusedBackwardUnit(Job j, int b, int h, float* scratch)
    {
        if (Isa == KernelIsa.Avx512) FusedBackward<Vector512<float>, Simd512>(j, b, h, scratch);
        else FusedBackward<Vector256<float>, Simd256>(j, b, h, scratch);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void FusedForward<TVec, TSimd>(Job j, int b, int h, float* scratch) where TVec : struct where TSimd : ISimd<TVec>
    {
        int tq = QueryLength, tk = KeyLength, dk = HeadSize, W = Width, nr = 2 * TSimd.Count, ldS = PaddedKeys;
        int keys = j.Lengths == null ? tk : j.Lengths[b];
        float* q = j.Q + (nint)b * tq * j.QueryStride + h * dk;
        float* k = j.K + (nint)b * tk * j.KeyStride + h * dk;
        float* v = j.V + (nint)b * tk * j.KeyStride + h * dk;
        float* o = j.Output + (nint)b * tq * W + h * dk;
        float* p = j.Saved + (nint)b * SampleSaved + (nint)h * HeadFloats;
        float* kt = scratch, s = scratch + (nint)PaddedKeys * dk;
        PackTransposed(k, j.KeyStride, Math.Min(keys, tk), dk, nr, kt);

        for (int i0 = 0; i0 < tq;)
        {
            int rows = TileRowsOf(tq - i0);
            int seen = Limit(i0 + rows - 1, keys);
            // S = Q·Kᵀ over the keys the block's last row sees, in whole panels (the softmax applies 1/√d_k).
            for (int jp = 0; jp < seen; jp += nr)
                Tile<TVec, TSimd>(rows, 2, q + (nint)i0 * j.QueryStride, j.QueryStride, 1, kt + (nint)jp * dk, nr, dk,
                    s + (nint)i0 * ldS + jp, ldS, load: false, 1f);
            for (int i = i0; i < i0 + rows; i++)
                SoftmaxRow<TVec, TSimd>(s + (nint)i * ldS, p + (nint)i * tk, Limit(i, keys), tk, Scale);
            // O = P·V over the same keys, V read in place.
            for (int c = 0; c < dk; c += nr)
                Tile<TVec, TSimd>(rows, VectorsAt(dk, c, TSimd.Count), p + (nint)i0 * tk, tk, 1, v + c, j.KeyStride, seen,
                    o + (nint)i0 * W + c, W, load: false, 1f);
            i0 += rows;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void FusedBackward<TVec, TSimd>(Job j, int b, int h, float* scratch) where TVec : struct where TSimd : ISimd<TVec>
    {
        int tq = QueryLength, tk = KeyLength, dk = HeadSize, W = Width, nr = 2 * TSimd.Count, ldS = PaddedKeys;
        int keys = j.Lengths == null ? tk : j.Lengths[b];
        nint qs = j.QueryStride, ks = j.KeyStride;
        float* q = j.Q + (nint)b * tq * qs + h * dk;
        float* k = j.K + (nint)b * tk * ks + h * dk;
        float* v = j.V + (nint)b * tk * ks + h * dk;
        float* dO = j.DOutput + (nint)b * tq * W + h * dk;
        float* dq = j.DQ + (nint)b * tq * qs + h * dk;
        float* dK = j.DK + (nint)b * tk * ks + h * dk;
        float* dv = j.DV + (nint)b * tk * ks + h * dk;
        float* p = j.Saved + (nint)b * SampleSaved + (nint)h * HeadFloats;
        float* vt = scratch, ds = scratch + (nint)PaddedKeys * dk;
        bool load = j.Accumulate;
        PackTransposed(v, j.KeyStride, Math.Min(keys, tk), dk, nr, vt);

        for (int i0 = 0; i0 < tq;)
        {
            int rows = TileRowsOf(tq - i0);
            int seen = Limit(i0 + rows - 1, keys);
            // dP = dO·Vᵀ, then dS = P ⊙ (dP − Σ P⊙dP) row by row (zero where a row sees nothing).
            for (int jp = 0; jp < seen; jp += nr)
                Tile<TVec, TSimd>(rows, 2, dO + (nint)i0 * W, W, 1, vt + (nint)jp * dk, nr, dk, ds + (nint)i0 * ldS + jp, ldS, load: false, 1f);
            for (int i = i0; i < i0 + rows; i++)
                SoftmaxGradRow<TVec, TSimd>(p + (nint)i * tk, ds + (nint)i * ldS, Limit(i, keys), ldS);
            // dQ = dS·K·scale over the keys the block sees, K read in place.
            for (int c = 0; c < dk; c += nr)
                Tile<TVec, TSimd>(rows, VectorsAt(dk, c, TSimd.Count), ds + (nint)i0 * ldS, ldS, 1, k + c, ks, seen,
                    dq + (nint)i0 * qs + c, qs, load, Scale);
            i0 += rows;
        }
        // dV = Pᵀ·dO and dK = dSᵀ·Q·scale, a block of keys at a time over the queries that see them (from the block's
        // first key on, with a causal mask); keys past the sample's length get zero (or nothing added).
        for (int j0 = 0; j0 < tk;)
        {
            int rows = TileRowsOf(tk - j0);
            int first = j0 >= keys ? tq : Causal ? Math.Min(j0, tq) : 0;
            int depth = tq - first;
            for (int c = 0; c < dk; c += nr)
            {
                int vectors = VectorsAt(dk, c, TSimd.Count);
                Tile<TVec, TSimd>(rows, vectors, p + (nint)first * tk + j0, 1, tk, dO + (nint)first * W + c, W, depth,
                    dv + (nint)j0 * ks + c, ks, load, 1f);
                Tile<TVec, TSimd>(rows, vectors, ds + (nint)first * ldS + j0, 1, ldS, q + (nint)first * qs + c, qs, depth,
                    dK + (nint)j0 * ks + c, ks, load, Scale);
            }
            j0 += rows;
        }
    }

    /// <summary>Vectors of the column panel at <paramref name="column"/> of a head <paramref name="dk"/> wide: 2, or 1 for an odd last one.</summary>
    private static int VectorsAt(int dk, int column, int width) => Math.Min(2, (dk - column) / width);

    /// <summary>The height of the next tile: 6 rows while they last, then 4, 2, 1.</summary>
    private static int TileRowsOf(int left) => left >= TileHeight ? TileHeight : left >= 4 ? 4 : left >= 2 ? 2 : 1;

    /// <summary>
    /// The first <paramref name="count"/> rows of <paramref name="width"/> values (stride <paramref name="stride"/>) as
    /// panels of <paramref name="nr"/> rows transposed: panel jp holds element (d, r) at <c>panel[d·nr + r]</c>, and the
    /// panels cover the padded key count, zero past <paramref name="count"/>.
    /// </summary>
    private void PackTransposed(float* source, int stride, int count, int width, int nr, float* panels)
    {
        for (int jp = 0; jp < PaddedKeys; jp += nr)
        {
            float* panel = panels + (nint)jp * width;
            int cols = Math.Clamp(count - jp, 0, nr);
            if (cols > 0) Transpose.Block(source + (nint)jp * stride, stride, panel, nr, cols, width);
            if (cols < nr)
                for (int d = 0; d < width; d++) new Span<float>(panel + d * nr + cols, nr - cols).Clear();
        }
    }

    /// <summary>0, 1, …, 15: lane indices, to select the lanes of a row's last vector that lie before its end.</summary>
    private static readonly float[] s_lanes = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];

    /// <summary>A vector positive in the lanes before <paramref name="count"/>, for <c>SelectPositive</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TVec LanesBefore<TVec, TSimd>(int count) where TVec : struct where TSimd : ISimd<TVec> =>
        TSimd.Subtract(TSimd.Broadcast(count - 0.5f), TSimd.Load(ref System.Runtime.InteropServices.MemoryMarshal.GetArrayDataReference(s_lanes)));

    /// <summary>
    /// P row (<paramref name="tk"/> values) = softmax(scale · s) over the first <paramref name="limit"/> scores, zero
    /// after them. The scores row is padded to whole vectors, so its last vector is read whole and its lanes past the
    /// limit are selected away: no scalar tail, and one branch pattern for every row length.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SoftmaxRow<TVec, TSimd>(float* s, float* p, int limit, int tk, float scale) where TVec : struct where TSimd : ISimd<TVec>
    {
        int w = TSimd.Count, full = limit - limit % w, rest = limit - full, i;
        int written = 0;
        if (limit > 0)
        {
            TVec negative = TSimd.Broadcast(float.NegativeInfinity), before = LanesBefore<TVec, TSimd>(rest);
            TVec m = negative;
            for (i = 0; i < full; i += w) m = TSimd.Max(m, TSimd.Load(ref s[i]));
            if (rest > 0) m = TSimd.Max(m, TSimd.SelectPositive(before, TSimd.Load(ref s[full]), negative));
            float max = TSimd.MaxAcross(m);
            TVec f = TSimd.Broadcast(scale), shift = TSimd.Broadcast(-max * scale), total = TSimd.Zero, tail = TSimd.Zero;
            for (i = 0; i < full; i += w)
            {
                TVec e = FastMath.Exp<TVec, TSimd>(TSimd.MultiplyAdd(TSimd.Load(ref s[i]), f, shift));
                total = TSimd.Add(total, e);
                TSimd.Store(e, ref p[i]);
            }
            if (rest > 0)
            {
                tail = TSimd.SelectPositive(before, FastMath.Exp<TVec, TSimd>(TSimd.MultiplyAdd(TSimd.Load(ref s[full]), f, shift)), TSimd.Zero);
                total = TSimd.Add(total, tail);
            }
            TVec inverse = TSimd.Broadcast(1f / TSimd.Sum(total));
            for (i = 0; i < full; i += w) TSimd.Store(TSimd.Multiply(TSimd.Load(ref p[i]), inverse), ref p[i]);
            written = full;
            if (rest > 0)
            {
                // The last vector with zeros past the limit: as many lanes as the row has left.
                int count = Math.Min(w, tk - full);
                tail = TSimd.Multiply(tail, inverse);
                if (count == w) TSimd.Store(tail, ref p[full]);
                else TSimd.StoreFirst(tail, ref p[full], count);
                written = full + count;
            }
        }
        for (i = written; i + w <= tk; i += w) TSimd.Store(TSimd.Zero, ref p[i]);
        if (i < tk) TSimd.StoreFirst(TSimd.Zero, ref p[i], tk - i);
    }

    /// <summary>dS row = P ⊙ (dP − Σ P⊙dP) over the first <paramref name="limit"/> keys, in place in the padded row;
    /// zero after them to its end (so that products over whole tiles read zeros there). P's row is read under a mask
    /// past its last whole vector; dP's is padded and read whole.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SoftmaxGradRow<TVec, TSimd>(float* p, float* ds, int limit, int padded) where TVec : struct where TSimd : ISimd<TVec>
    {
        int w = TSimd.Count, full = limit - limit % w, rest = limit - full, i;
        TVec acc = TSimd.Zero, pt = TSimd.Zero;
        for (i = 0; i < full; i += w) acc = TSimd.MultiplyAdd(TSimd.Load(ref p[i]), TSimd.Load(ref ds[i]), acc);
        if (rest > 0)
        {
            pt = TSimd.LoadFirst(ref p[full], rest);
            acc = TSimd.MultiplyAdd(pt, TSimd.Load(ref ds[full]), acc);
        }
        TVec d = TSimd.Broadcast(TSimd.Sum(acc));
        for (i = 0; i < full; i += w)
            TSimd.Store(TSimd.Multiply(TSimd.Load(ref p[i]), TSimd.Subtract(TSimd.Load(ref ds[i]), d)), ref ds[i]);
        if (rest > 0)
        {
            TSimd.Store(TSimd.Multiply(pt, TSimd.Subtract(TSimd.Load(ref ds[full]), d)), ref ds[full]);
            i = full + w;
        }
        for (; i < padded; i += w) TSimd.Store(TSimd.Zero, ref ds[i]);
    }

    /// <summary>
    /// C[r, ·] = (load ? C[r, ·] : 0) + scale · Σ_{p &lt; depth} A(r, p)·B(p, ·) for <paramref name="rows"/> rows and
    /// <paramref name="vectors"/> (1 or 2) vectors of columns, A(r, p) at <c>a[r·ars + p·aps]</c> and B(p, ·) at
    /// <c>b + p·ldb</c>; every pointer may be strided, so Q, K, V and the gradients are read and written in place.
    /// </summary>
    private static void Tile<TVec, TSimd>(int rows, int vectors, float* a, nint ars, nint aps, float* b, nint ldb, int depth,
        float* c, nint ldc, bool load, float scale) where TVec : struct where TSimd : ISimd<TVec>
    {
        if (vectors == 2)
        {
            switch (rows)
            {
                case 6: Tile<TVec, TSimd, Const6, Const2>(a, ars, aps, b, ldb, depth, c, ldc, load, scale); break;
                case 4: Tile<TVec, TSimd, Const4, Const2>(a, ars, aps, b, ldb, depth, c, ldc, load, scale); break;
                case 2: Tile<TVec, TSimd, Const2, Const2>(a, ars, aps, b, ldb, depth, c, ldc, load, scale); break;
                default: Tile<TVec, TSimd, Const1, Const2>(a, ars, aps, b, ldb, depth, c, ldc, load, scale); break;
            }
        }
        else
        {
            switch (rows)
            {
                case 6: Tile<TVec, TSimd, Const6, Const1>(a, ars, aps, b, ldb, depth, c, ldc, load, scale); break;
                case 4: Tile<TVec, TSimd, Const4, Const1>(a, ars, aps, b, ldb, depth, c, ldc, load, scale); break;
                case 2: Tile<TVec, TSimd, Const2, Const1>(a, ars, aps, b, ldb, depth, c, ldc, load, scale); break;
                default: Tile<TVec, TSimd, Const1, Const1>(a, ars, aps, b, ldb, depth, c, ldc, load, scale); break;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile<TVec, TSimd, TRows, TCols>(float* a, nint ars, nint aps, float* b, nint ldb, int depth,
        float* c, nint ldc, bool load, float scale)
        where TVec : struct where TSimd : ISimd<TVec> where TRows : struct, IConstant where TCols : struct, IConstant
    {
        int w = TSimd.Count, rows = TRows.Value;
        bool two = TCols.Value == 2;
        TVec c00 = TSimd.Zero, c01 = TSimd.Zero, c10 = TSimd.Zero, c11 = TSimd.Zero, c20 = TSimd.Zero, c21 = TSimd.Zero;
        TVec c30 = TSimd.Zero, c31 = TSimd.Zero, c40 = TSimd.Zero, c41 = TSimd.Zero, c50 = TSimd.Zero, c51 = TSimd.Zero;
        // Rows from two base pointers three rows apart: offsets 0, ars, 2·ars from each need no multiplication.
        float* a3 = a + 3 * ars;
        for (int p = 0; p < depth; p++)
        {
            TVec b0 = TSimd.Load(ref b[0]);
            TVec b1 = two ? TSimd.Load(ref b[w]) : default;
            TVec x = TSimd.Broadcast(a[0]); c00 = TSimd.MultiplyAdd(x, b0, c00); if (two) c01 = TSimd.MultiplyAdd(x, b1, c01);
            if (rows > 1) { x = TSimd.Broadcast(a[ars]); c10 = TSimd.MultiplyAdd(x, b0, c10); if (two) c11 = TSimd.MultiplyAdd(x, b1, c11); }
            if (rows > 2) { x = TSimd.Broadcast(a[2 * ars]); c20 = TSimd.MultiplyAdd(x, b0, c20); if (two) c21 = TSimd.MultiplyAdd(x, b1, c21); }
            if (rows > 3) { x = TSimd.Broadcast(a3[0]); c30 = TSimd.MultiplyAdd(x, b0, c30); if (two) c31 = TSimd.MultiplyAdd(x, b1, c31); }
            if (rows > 4) { x = TSimd.Broadcast(a3[ars]); c40 = TSimd.MultiplyAdd(x, b0, c40); if (two) c41 = TSimd.MultiplyAdd(x, b1, c41); }
            if (rows > 5) { x = TSimd.Broadcast(a3[2 * ars]); c50 = TSimd.MultiplyAdd(x, b0, c50); if (two) c51 = TSimd.MultiplyAdd(x, b1, c51); }
            a += aps;
            if (rows > 3) a3 += aps;
            b += ldb;
        }
        TVec f = TSimd.Broadcast(scale);
        StoreRow<TVec, TSimd>(c00, c01, two, c, load, f);
        if (rows > 1) StoreRow<TVec, TSimd>(c10, c11, two, c + ldc, load, f);
        if (rows > 2) StoreRow<TVec, TSimd>(c20, c21, two, c + 2 * ldc, load, f);
        if (rows > 3) StoreRow<TVec, TSimd>(c30, c31, two, c + 3 * ldc, load, f);
        if (rows > 4) StoreRow<TVec, TSimd>(c40, c41, two, c + 4 * ldc, load, f);
        if (rows > 5) StoreRow<TVec, TSimd>(c50, c51, two, c + 5 * ldc, load, f);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow<TVec, TSimd>(TVec v0, TVec v1, bool two, float* c, bool load, TVec scale) where TVec : struct where TSimd : ISimd<TVec>
    {
        int w = TSimd.Count;
        v0 = TSimd.Multiply(v0, scale);
        if (load) v0 = TSimd.Add(v0, TSimd.Load(ref c[0]));
        TSimd.Store(v0, ref c[0]);
        if (!two) return;
        v1 = TSimd.Multiply(v1, scale);
        if (load) v1 = TSimd.Add(v1, TSimd.Load(ref c[w]));
        TSimd.Store(v1, ref c[w]);
    }
}
