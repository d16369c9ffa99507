using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Kiln.Kernels;

/// <summary>
/// dst[c, r] = src[r, c] for a row-major [rows, cols] matrix: 8 × 8 blocks transposed in registers (AVX: unpack,
/// shuffle, 128-bit permute — the same on AVX-512 machines, where 256-bit ops run at full rate), scalar edges.
/// Used to turn a [n, k] weight into the [k, n] operand the broadcast GEMM kernels stream. One row is a copy; three
/// rows (an RGB image to channels-last, fewer rows than a block) are interleaved 8 columns at a time by permutes
/// (Z2's input at batch 32: 120 → 35 µs).
/// </summary>
public static class Transpose
{
    public static void Run(ReadOnlySpan<float> source, int rows, int cols, Span<float> destination) =>
        Run(KernelInfo.Best, source, rows, cols, destination);

    public static void Run(KernelIsa isa, ReadOnlySpan<float> source, int rows, int cols, Span<float> destination)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(cols);
        Guard.Length(source.Length, rows, cols, nameof(source));
        if (destination.Length < (long)rows * cols)
            throw new ArgumentException($"destination has {destination.Length} values; [{cols}, {rows}] needs {(long)rows * cols}.", nameof(destination));
        ref float src = ref MemoryMarshal.GetReference(source);
        ref float dst = ref MemoryMarshal.GetReference(destination);
        if (rows == 1)
        {
            source.Slice(0, cols).CopyTo(destination);
            return;
        }
        if (rows == 3 && isa != KernelIsa.Portable && Avx2.IsSupported)
        {
            // Three rows (an RGB image to channels-last): interleaved 8 columns at a time by permutes, the rest scalar.
            int covered = Interleave3(ref src, ref dst, cols);
            Scalar(ref src, ref dst, rows, cols, 0, rows, covered, cols);
            return;
        }
        int r0 = 0, c0 = 0;
        if (isa != KernelIsa.Portable && Avx.IsSupported)
        {
            for (r0 = 0; r0 + 8 <= rows; r0 += 8)
                for (c0 = 0; c0 + 8 <= cols; c0 += 8)
                    Block8x8(ref Unsafe.Add(ref src, r0 * cols + c0), cols, ref Unsafe.Add(ref dst, c0 * rows + r0), rows);
            // Edges: the right strip of the covered rows, then the bottom strip.
            int coveredRows = r0, coveredCols = cols / 8 * 8;
            Scalar(ref src, ref dst, rows, cols, 0, coveredRows, coveredCols, cols);
            Scalar(ref src, ref dst, rows, cols, coveredRows, rows, 0, cols);
            return;
        }
        Scalar(ref src, ref dst, rows, cols, 0, rows, 0, cols);
    }

    /// <summary>dst[c·ldDst + r] = src[r·ldSrc + c] for r &lt; rows, c &lt; cols: a block of a larger matrix.</summary>
    internal static unsafe void Block(float* src, int ldSrc, float* dst, int ldDst, int rows, int cols)
    {
        int r0 = 0, c0;
        if (Avx.IsSupported)
        {
            // Strips of 16 rows. On AVX-512, 16 × 16 blocks: 64 shuffles for 256 values (8 × 8 takes 24 for 64) and
            // whole-line loads. Otherwise (and for the columns left over) both 8-row halves per 8 columns, so that a
            // destination line of 16 floats (the AVX2 GEMM's Nt panel) is written whole at once and each source line is
            // read in consecutive steps: on the Zen 3 host the Nt pack ran 15–35% faster than half after half (784- and
            // 128-deep panels, from L2 and from L3; fastest and median of 31 rounds), the (64, 256, 784), (32, 512, 128)
            // and (64, 128, 256) Nt products level at their fastest and 2–7% faster at the median of 151 rounds. Then a
            // last strip of 8.
            for (; r0 + 16 <= rows; r0 += 16)
            {
                c0 = 0;
                if (Avx512F.IsSupported)
                    for (; c0 + 16 <= cols; c0 += 16)
                        Block16x16(src + (nint)r0 * ldSrc + c0, ldSrc, dst + (nint)c0 * ldDst + r0, ldDst);
                for (; c0 + 8 <= cols; c0 += 8)
                {
                    Block8x8(ref src[(nint)r0 * ldSrc + c0], ldSrc, ref dst[(nint)c0 * ldDst + r0], ldDst);
                    Block8x8(ref src[(nint)(r0 + 8) * ldSrc + c0], ldSrc, ref dst[(nint)c0 * ldDst + r0 + 8], ldDst);
                }
                for (; c0 < cols; c0++)
                    for (int r = r0; r < r0 + 16; r++) dst[(nint)c0 * ldDst + r] = src[(nint)r * ldSrc + c0];
            }
            for (; r0 + 8 <= rows; r0 += 8)
            {
                for (c0 = 0; c0 + 8 <= cols; c0 += 8)
                    Block8x8(ref src[(nint)r0 * ldSrc + c0], ldSrc, ref dst[(nint)c0 * ldDst + r0], ldDst);
                for (; c0 < cols; c0++)
                    for (int r = r0; r < r0 + 8; r++) dst[(nint)c0 * ldDst + r] = src[(nint)r * ldSrc + c0];
            }
        }
        for (; r0 < rows; r0++)
            for (int c = 0; c < cols; c++) dst[(nint)c * ldDst + r0] = src[(nint)r0 * ldSrc + c];
    }

    private static void Scalar(ref float src, ref float dst, int rows, int cols, int rowBegin, int rowEnd, int colBegin, int colEnd)
    {
        // 16 × 16 tiles keep both sides in cache lines.
        for (int rb = rowBegin; rb < rowEnd; rb += 16)
            for (int cb = colBegin; cb < colEnd; cb += 16)
                for (int r = rb; r < Math.Min(rb + 16, rowEnd); r++)
                    for (int c = cb; c < Math.Min(cb + 16, colEnd); c++)
                        Unsafe.Add(ref dst, c * rows + r) = Unsafe.Add(ref src, r * cols + c);
    }

    /// <summary>Per output vector v (0..2) and source row r: the permute taking row r's 8 columns to the positions of
    /// v that hold row r (dst element 8v + p is src[(8v + p) % 3, (8v + p) / 3]), and the lanes that are row r's.</summary>
    private static readonly Vector256<int>[] s_interleave3Index = new Vector256<int>[9];
    private static readonly Vector256<float>[] s_interleave3Lanes = new Vector256<float>[9];

    static Transpose()
    {
        Span<int> index = stackalloc int[8], lanes = stackalloc int[8];
        for (int v = 0; v < 3; v++)
            for (int r = 0; r < 3; r++)
            {
                for (int p = 0; p < 8; p++)
                {
                    int e = 8 * v + p;
                    index[p] = e % 3 == r ? e / 3 : 0;
                    lanes[p] = e % 3 == r ? -1 : 0;
                }
                s_interleave3Index[3 * v + r] = Vector256.Create<int>(index);
                s_interleave3Lanes[3 * v + r] = Vector256.Create<int>(lanes).AsSingle();
            }
    }

    /// <summary>dst[3c + r] = src[r·cols + c] for the first cols / 8 · 8 columns of a [3, cols] matrix; returns them.</summary>
    private static int Interleave3(ref float src, ref float dst, int cols)
    {
        int c = 0;
        for (; c + 8 <= cols; c += 8)
        {
            var a = Vector256.LoadUnsafe(ref Unsafe.Add(ref src, c));
            var b = Vector256.LoadUnsafe(ref Unsafe.Add(ref src, cols + c));
            var d = Vector256.LoadUnsafe(ref Unsafe.Add(ref src, 2 * cols + c));
            for (int v = 0; v < 3; v++)
            {
                Vector256<float> fromA = Avx2.PermuteVar8x32(a, s_interleave3Index[3 * v]);
                Vector256<float> fromB = Avx2.PermuteVar8x32(b, s_interleave3Index[3 * v + 1]);
                Vector256<float> fromD = Avx2.PermuteVar8x32(d, s_interleave3Index[3 * v + 2]);
                Vector256<float> result = Vector256.ConditionalSelect(s_interleave3Lanes[3 * v], fromA,
                    Vector256.ConditionalSelect(s_interleave3Lanes[3 * v + 1], fromB, fromD));
                result.StoreUnsafe(ref Unsafe.Add(ref dst, 3 * c + 8 * v));
            }
        }
        return c;
    }

    /// <summary>dst[c·ldDst + r] = src[r·ldSrc + c] for a 16 × 16 block: pairs of rows interleaved, then 4 × 4
    /// transposes inside each 128-bit lane (lane L of s[4g + c] is column 4L + c, rows 4g..4g + 3), then the lanes
    /// gathered across the four groups in two 128-bit shuffles.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Block16x16(float* src, int ldSrc, float* dst, int ldDst) => Transpose16(src, ldSrc, dst, ldDst, 16, 16);

    /// <summary>dst[c·ldDst + r] = src[r·ldSrc + c] for r &lt; <paramref name="rows"/> (at most 16) and c &lt;
    /// <paramref name="cols"/> (at most 16), by one 16 × 16 transpose in registers: 16 rows of 16 are read from
    /// <paramref name="src"/> (the caller's scratch: rows past <paramref name="rows"/> must be readable, their values
    /// are not stored), and each column's first <paramref name="rows"/> values are stored under a mask. A narrow
    /// tile's way out (a 10-row tile of Cᵀ into C rows of 10 floats): one shuffle network where 8 × 8 blocks leave
    /// rows over.</summary>
    internal static unsafe void Narrow16(float* src, int ldSrc, float* dst, int ldDst, int rows, int cols) =>
        Transpose16(src, ldSrc, dst, ldDst, rows, cols);

    /// <summary>The 16 × 16 transpose of <see cref="Block16x16"/> (<paramref name="rows"/> = <paramref name="cols"/> =
    /// 16: whole stores) and <see cref="Narrow16"/> (fewer: masked stores, rows of output skipped).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Transpose16(float* src, int ldSrc, float* dst, int ldDst, int rows, int cols)
    {
        Vector512<float> r0 = Vector512.Load(src);
        Vector512<float> r1 = Vector512.Load(src + 1 * (nint)ldSrc);
        Vector512<float> r2 = Vector512.Load(src + 2 * (nint)ldSrc);
        Vector512<float> r3 = Vector512.Load(src + 3 * (nint)ldSrc);
        Vector512<float> r4 = Vector512.Load(src + 4 * (nint)ldSrc);
        Vector512<float> r5 = Vector512.Load(src + 5 * (nint)ldSrc);
        Vector512<float> r6 = Vector512.Load(src + 6 * (nint)ldSrc);
        Vector512<float> r7 = Vector512.Load(src + 7 * (nint)ldSrc);
        Vector512<float> r8 = Vector512.Load(src + 8 * (nint)ldSrc);
        Vector512<float> r9 = Vector512.Load(src + 9 * (nint)ldSrc);
        Vector512<float> r10 = Vector512.Load(src + 10 * (nint)ldSrc);
        Vector512<float> r11 = Vector512.Load(src + 11 * (nint)ldSrc);
        Vector512<float> r12 = Vector512.Load(src + 12 * (nint)ldSrc);
        Vector512<float> r13 = Vector512.Load(src + 13 * (nint)ldSrc);
        Vector512<float> r14 = Vector512.Load(src + 14 * (nint)ldSrc);
        Vector512<float> r15 = Vector512.Load(src + 15 * (nint)ldSrc);
        Vector512<float> t0 = Avx512F.UnpackLow(r0, r1), t1 = Avx512F.UnpackHigh(r0, r1);
        Vector512<float> t2 = Avx512F.UnpackLow(r2, r3), t3 = Avx512F.UnpackHigh(r2, r3);
        Vector512<float> t4 = Avx512F.UnpackLow(r4, r5), t5 = Avx512F.UnpackHigh(r4, r5);
        Vector512<float> t6 = Avx512F.UnpackLow(r6, r7), t7 = Avx512F.UnpackHigh(r6, r7);
        Vector512<float> t8 = Avx512F.UnpackLow(r8, r9), t9 = Avx512F.UnpackHigh(r8, r9);
        Vector512<float> t10 = Avx512F.UnpackLow(r10, r11), t11 = Avx512F.UnpackHigh(r10, r11);
        Vector512<float> t12 = Avx512F.UnpackLow(r12, r13), t13 = Avx512F.UnpackHigh(r12, r13);
        Vector512<float> t14 = Avx512F.UnpackLow(r14, r15), t15 = Avx512F.UnpackHigh(r14, r15);
        Vector512<float> s0 = Avx512F.Shuffle(t0, t2, 0x44), s1 = Avx512F.Shuffle(t0, t2, 0xEE);
        Vector512<float> s2 = Avx512F.Shuffle(t1, t3, 0x44), s3 = Avx512F.Shuffle(t1, t3, 0xEE);
        Vector512<float> s4 = Avx512F.Shuffle(t4, t6, 0x44), s5 = Avx512F.Shuffle(t4, t6, 0xEE);
        Vector512<float> s6 = Avx512F.Shuffle(t5, t7, 0x44), s7 = Avx512F.Shuffle(t5, t7, 0xEE);
        Vector512<float> s8 = Avx512F.Shuffle(t8, t10, 0x44), s9 = Avx512F.Shuffle(t8, t10, 0xEE);
        Vector512<float> s10 = Avx512F.Shuffle(t9, t11, 0x44), s11 = Avx512F.Shuffle(t9, t11, 0xEE);
        Vector512<float> s12 = Avx512F.Shuffle(t12, t14, 0x44), s13 = Avx512F.Shuffle(t12, t14, 0xEE);
        Vector512<float> s14 = Avx512F.Shuffle(t13, t15, 0x44), s15 = Avx512F.Shuffle(t13, t15, 0xEE);
        Gather4First(s0, s4, s8, s12, dst, ldDst, 0, rows, cols);
        Gather4First(s1, s5, s9, s13, dst + ldDst, ldDst, 1, rows, cols);
        Gather4First(s2, s6, s10, s14, dst + 2 * (nint)ldDst, ldDst, 2, rows, cols);
        Gather4First(s3, s7, s11, s15, dst + 3 * (nint)ldDst, ldDst, 3, rows, cols);
    }

    /// <summary>Output rows c, 4 + c, 8 + c and 12 + c (those below <paramref name="cols"/>) of a 16 × 16 block
    /// (<paramref name="dst"/> at row c) from s[c], s[4 + c], s[8 + c], s[12 + c] of <see cref="Transpose16"/>: lanes 0
    /// and 2, then 1 and 3, of each pair, then of the pairs; each stored in its first <paramref name="count"/> lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Gather4First(Vector512<float> g0, Vector512<float> g1, Vector512<float> g2, Vector512<float> g3, float* dst, int ldDst,
        int c, int count, int cols)
    {
        Vector512<float> even01 = Avx512F.Shuffle4x128(g0, g1, 0x88), odd01 = Avx512F.Shuffle4x128(g0, g1, 0xDD);
        Vector512<float> even23 = Avx512F.Shuffle4x128(g2, g3, 0x88), odd23 = Avx512F.Shuffle4x128(g2, g3, 0xDD);
        if (c < cols) Put(Avx512F.Shuffle4x128(even01, even23, 0x88), dst, count);
        if (c + 4 < cols) Put(Avx512F.Shuffle4x128(odd01, odd23, 0x88), dst + 4 * (nint)ldDst, count);
        if (c + 8 < cols) Put(Avx512F.Shuffle4x128(even01, even23, 0xDD), dst + 8 * (nint)ldDst, count);
        if (c + 12 < cols) Put(Avx512F.Shuffle4x128(odd01, odd23, 0xDD), dst + 12 * (nint)ldDst, count);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Put(Vector512<float> v, float* dst, int count)
    {
        if (count >= 16) v.Store(dst);
        else Simd512.StoreFirst(v, ref *dst, count);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Block8x8(ref float src, int ldSrc, ref float dst, int ldDst)
    {
        Vector256<float> r0 = Vector256.LoadUnsafe(ref src);
        Vector256<float> r1 = Vector256.LoadUnsafe(ref Unsafe.Add(ref src, ldSrc));
        Vector256<float> r2 = Vector256.LoadUnsafe(ref Unsafe.Add(ref src, 2 * ldSrc));
        Vector256<float> r3 = Vector256.LoadUnsafe(ref Unsafe.Add(ref src, 3 * ldSrc));
        Vector256<float> r4 = Vector256.LoadUnsafe(ref Unsafe.Add(ref src, 4 * ldSrc));
        Vector256<float> r5 = Vector256.LoadUnsafe(ref Unsafe.Add(ref src, 5 * ldSrc));
        Vector256<float> r6 = Vector256.LoadUnsafe(ref Unsafe.Add(ref src, 6 * ldSrc));
        Vector256<float> r7 = Vector256.LoadUnsafe(ref Unsafe.Add(ref src, 7 * ldSrc));

        Vector256<float> t0 = Avx.UnpackLow(r0, r1), t1 = Avx.UnpackHigh(r0, r1);
        Vector256<float> t2 = Avx.UnpackLow(r2, r3), t3 = Avx.UnpackHigh(r2, r3);
        Vector256<float> t4 = Avx.UnpackLow(r4, r5), t5 = Avx.UnpackHigh(r4, r5);
        Vector256<float> t6 = Avx.UnpackLow(r6, r7), t7 = Avx.UnpackHigh(r6, r7);

        Vector256<float> s0 = Avx.Shuffle(t0, t2, 0x44), s1 = Avx.Shuffle(t0, t2, 0xEE);
        Vector256<float> s2 = Avx.Shuffle(t1, t3, 0x44), s3 = Avx.Shuffle(t1, t3, 0xEE);
        Vector256<float> s4 = Avx.Shuffle(t4, t6, 0x44), s5 = Avx.Shuffle(t4, t6, 0xEE);
        Vector256<float> s6 = Avx.Shuffle(t5, t7, 0x44), s7 = Avx.Shuffle(t5, t7, 0xEE);

        Avx.Permute2x128(s0, s4, 0x20).StoreUnsafe(ref dst);
        Avx.Permute2x128(s1, s5, 0x20).StoreUnsafe(ref Unsafe.Add(ref dst, ldDst));
        Avx.Permute2x128(s2, s6, 0x20).StoreUnsafe(ref Unsafe.Add(ref dst, 2 * ldDst));
        Avx.Permute2x128(s3, s7, 0x20).StoreUnsafe(ref Unsafe.Add(ref dst, 3 * ldDst));
        Avx.Permute2x128(s0, s4, 0x31).StoreUnsafe(ref Unsafe.Add(ref dst, 4 * ldDst));
        Avx.Permute2x128(s1, s5, 0x31).StoreUnsafe(ref Unsafe.Add(ref dst, 5 * ldDst));
        Avx.Permute2x128(s2, s6, 0x31).StoreUnsafe(ref Unsafe.Add(ref dst, 6 * ldDst));
        Avx.Permute2x128(s3, s7, 0x31).StoreUnsafe(ref Unsafe.Add(ref dst, 7 * ldDst));
    }
}
