using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Kiln.Kernels;

/// <summary>How a micro-kernel reads its A operand.</summary>
internal interface IALayout
{
    /// <summary>True: a packed micro-panel, element (r, p) at <c>a[p·rows + r]</c> (the tile height is the stride, a
    /// constant); false: row-major A in place, element (r, p) at <c>a[r·lda + p]</c>.</summary>
    static abstract bool Packed { get; }
}

/// <summary>Row-major A read in place: rows <c>lda</c> apart, depth contiguous (Nt, Nn).</summary>
internal readonly struct ARowMajor : IALayout { public static bool Packed => false; }

/// <summary>A packed micro-panel: for each depth, the tile's rows side by side (Tn's A, copied).</summary>
internal readonly struct APacked : IALayout { public static bool Packed => true; }

/// <summary>How a micro-kernel reads its B operand: packed panels (each depth's vectors side by side, so the depth
/// stride is the tile's width, a constant), or a k-major matrix where it lies (the depth stride its row stride),
/// optionally copying what it reads into packed panels for the row panels after it.</summary>
internal interface IBLayout
{
    static abstract bool InPlace { get; }
    static abstract bool Copies { get; }
}

/// <summary>B packed into panels of the tile's width.</summary>
internal readonly struct BPanels : IBLayout { public static bool InPlace => false; public static bool Copies => false; }

/// <summary>A k-major B read where it lies.</summary>
internal readonly struct BInPlace : IBLayout { public static bool InPlace => true; public static bool Copies => false; }

/// <summary>A k-major B read where it lies, each vector also stored into its packed panel.</summary>
internal readonly struct BInPlaceCopied : IBLayout { public static bool InPlace => true; public static bool Copies => true; }

/// <summary>
/// Where the packed GEMM gets the A micro-panel of rows [ir, ir + rows) and depths [pc, pc + kc): a matrix read in
/// place, a k-major matrix copied, or rows gathered from an image (a convolution's im2col, one panel at a time).
/// </summary>
internal unsafe interface IASource
{
    /// <summary>The panel is k-major (element (r, p) at <c>panel[p·rows + r]</c>) rather than row-major.</summary>
    static abstract bool Packed { get; }

    /// <summary>The panel, built in <paramref name="scratch"/> if it must be; <paramref name="lda"/> is its row stride
    /// when row-major. <paramref name="m"/> is the product's row count.</summary>
    float* Panel(int ir, int rows, int pc, int kc, int m, float* scratch, out int lda);
}

/// <summary>Where the packed GEMM gets B[k, n]: packed into k-major panels one (depth, column) block at a time, or
/// read in place when it is a k-major matrix.</summary>
internal unsafe interface IBSource
{
    /// <summary>B is a k-major matrix in memory (row stride <see cref="Ld"/>) that a single row panel may read in place.</summary>
    bool InPlace { get; }
    int Ld { get; }
    /// <summary>Element (depth <paramref name="pc"/>, column <paramref name="jc"/>) of an in-place B.</summary>
    float* At(int pc, int jc);
    /// <summary>B[pc..pc+kc, jc..jc+nc] into consecutive panels of 2·<paramref name="w"/> columns, each k-major (kc rows of
    /// its width); the last panel <paramref name="w"/> or 2·<paramref name="w"/> wide and zero-padded.</summary>
    void Pack(int pc, int kc, int jc, int nc, int w, float* packed);
    /// <summary>The packed block B[pc..pc+kc, jc..jc+nc] (as <see cref="Pack"/> lays it out): packed into
    /// <paramref name="scratch"/>, or where it already lies.</summary>
    float* Block(int pc, int kc, int jc, int nc, int w, float* scratch);
}

/// <summary>A B gathered by its own routine (a convolution's im2col columns): packed block by block, never read in place.</summary>
internal unsafe interface IBPacker
{
    /// <summary>As <see cref="IBSource.Pack"/>.</summary>
    void Pack(int pc, int kc, int jc, int nc, int w, float* packed);
}

/// <summary>The <see cref="IBSource"/> of an <see cref="IBPacker"/>: each block packed into the scratch.</summary>
internal readonly unsafe struct PackedB<TPacker>(TPacker packer) : IBSource where TPacker : struct, IBPacker
{
    public bool InPlace => false;
    public int Ld => 0;
    public float* At(int pc, int jc) => null;
    public void Pack(int pc, int kc, int jc, int nc, int w, float* packed) => packer.Pack(pc, kc, jc, nc, w, packed);

    public float* Block(int pc, int kc, int jc, int nc, int w, float* scratch)
    {
        packer.Pack(pc, kc, jc, nc, w, scratch);
        return scratch;
    }
}

/// <summary>Row-major A[m, k] read where it lies (Nt, Nn), rows <paramref name="lda"/> floats apart.</summary>
internal readonly unsafe struct RowMajorA(float* a, int lda) : IASource
{
    public static bool Packed => false;

    /// <summary>The row stride: rows a multiple of 4 KB apart take shorter tiles (<see cref="GemmPacked.RowMajorTileHeight"/>).</summary>
    public int Lda => lda;

    public float* Panel(int ir, int rows, int pc, int kc, int m, float* scratch, out int ld)
    {
        ld = lda;
        return a + (nint)ir * lda + pc;
    }
}

/// <summary>k-major A[k, m] (Tn): each micro-panel copied contiguous (its power-of-two stride would otherwise map
/// every depth onto a few L1 sets). Full-height panels are copied <paramref name="group"/> at a time (the geometry's
/// PanelGroup; 4 where a convolution builds one, which divides every geometry's), so
/// each line of a depth row is read once rather than once for each panel that shares it (A's rows are far apart,
/// and a line read for one panel is gone from L1 by the next). <see cref="Panel"/> is asked for the panels of a
/// depth block in order, each with its own place in the scratch (<see cref="GemmPacked.PanelRowFloats"/> floats per
/// row from the group's first): the group's first panel packs them all, and the later ones are found already there.</summary>
internal readonly unsafe struct KMajorA(float* a, int lda, int group = GemmPacked.PanelGroup) : IASource
{
    public static bool Packed => true;

    /// <summary>Whether a panel of <paramref name="rows"/> rows is A itself: one panel as wide as A's rows (a narrow
    /// Tn's Bᵀ, at most 12 floats a depth) is laid out as a packed one already, and is read where it lies.</summary>
    public bool InPlace(int rows, int m) => lda == m && m <= rows;

    /// <summary>What the tiles of panel <paramref name="ir"/> prefetch of the next group's rows: its share (a
    /// group'th of the depths) of the lines the next group's copy will read, so that they
    /// arrive while this group's tiles run. A's rows are far apart (m floats) and each read is a few lines of a row:
    /// out of the hardware prefetchers' reach, so the copy otherwise waits on memory for each one. On the Zen 4 host,
    /// where a product's operands come from DRAM as often as not (the L3 is shared with other tenants), the copies of
    /// 512³ took 184 µs of a 2.4 ms product in the scratch loop and 97 with this (1024³: 796 against 358 µs); fastest of 21
    /// interleaved rounds, with against without, Tn 512³ 110.7 / 110.8 against 108.4 / 109.3 GFLOP/s, 1024³ 106.3 / 106.7
    /// against 105.8 / 105.6; 256³, (256, 784, 64) and (128, 512, 32) level. Asked for only for an A larger than the
    /// geometry's APrefetchFloats: on the Zen 3 host (AVX2) an A that L2 holds ran faster without.</summary>
    public PanelPrefetch Ahead(int ir, int rows, int pc, int kc, int m)
    {
        int span = group * rows, next = ir - ir % span + span;
        if (rows is not (12 or 6) || InPlace(rows, m) || next + span > m) return default;
        int part = ir % span / rows;
        int from = kc * part / group, to = kc * (part + 1) / group;
        return new PanelPrefetch(a + (nint)(pc + from) * lda + next, lda, to - from, span);
    }

    public float* Panel(int ir, int rows, int pc, int kc, int m, float* scratch, out int ld)
    {
        ld = rows;
        if (InPlace(rows, m)) return a + (nint)pc * lda;
        int span = group * rows, first = ir - ir % span;
        // Only whole micro-panels (12 or 6 rows, the tile heights of the two geometries) are grouped: the edge
        // panels after them have other heights, and each is copied alone.
        if (rows is 12 or 6 && first + span <= m)
        {
            int stride = GemmPacked.GroupPanelStride(rows, kc);
            if (ir == first) GemmPacked.PackKMajorGroup(a + (nint)pc * lda + ir, lda, rows, kc, stride, scratch, group);
            return scratch;
        }
        GemmPacked.PackKMajor(a + (nint)pc * lda + ir, lda, rows, kc, scratch);
        return scratch;
    }
}

/// <summary>Rows of an operand (<paramref name="rows"/> rows <paramref name="ld"/> floats apart, <paramref name="floats"/>
/// floats each) brought toward L1 while a row panel's tiles run, a share before each tile; default: none.</summary>
internal readonly unsafe struct PanelPrefetch(float* start, nint ld, int rows, int floats)
{
    public bool Any => rows > 0;
    public float* Start => start;
    public int Rows => rows;

    /// <summary>The rows [From, To) due before tile <paramref name="tile"/> of <paramref name="tiles"/>: every row once over the tiles.</summary>
    public (int From, int To) Share(int tile, int tiles) => (rows * tile / tiles, rows * (tile + 1) / tiles);

    /// <summary>Prefetches the rows due before tile <paramref name="tile"/> of <paramref name="tiles"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Issue(int tile, int tiles)
    {
        if (!Sse.IsSupported) return;
        (int from, int end) = Share(tile, tiles);
        for (int r = from; r < end; r++)
        {
            float* row = start + r * ld;
            for (int j = 0; j < floats; j += 16) Sse.Prefetch0(row + j);
            Sse.Prefetch0(row + floats - 1);
        }
    }
}

/// <summary>B as a matrix: [n, k] for Nt (transposed while packing), k-major [k, n] for Nn and Tn.</summary>
internal readonly unsafe struct MatrixB(GemmForm form, float* b, int n, int k) : IBSource
{
    public bool InPlace => form != GemmForm.Nt;
    public int Ld => n;
    public float* At(int pc, int jc) => b + (nint)pc * n + jc;
    public void Pack(int pc, int kc, int jc, int nc, int w, float* packed) => GemmPacked.PackB(form, b, n, k, pc, kc, jc, nc, w, packed);

    public float* Block(int pc, int kc, int jc, int nc, int w, float* scratch)
    {
        Pack(pc, kc, jc, nc, w, scratch);
        return scratch;
    }
}

/// <summary>B packed once ahead of many products with it (a recurrent layer's W_hh, used by every step): for each depth
/// block in turn, the panels of every column (<see cref="GemmPacked.Prepack"/>), so a block is found, not packed.</summary>
internal readonly unsafe struct PrepackedB(float* packed, int paddedColumns) : IBSource
{
    public bool InPlace => false;
    public int Ld => 0;
    public float* At(int pc, int jc) => null;
    public void Pack(int pc, int kc, int jc, int nc, int w, float* into) => throw new InvalidOperationException("A prepacked B is not packed again.");
    // Depth blocks before pc hold pc rows of every padded column; inside a block, panel j starts at j·kc.
    public float* Block(int pc, int kc, int jc, int nc, int w, float* scratch) => packed + (nint)pc * paddedColumns + (nint)jc * kc;
}

/// <summary>
/// The packed GEMM. C[m, n] = act((accumulate ? C : 0) + op(A)·op(B) + bias), computed in tiles of MR rows × 2
/// vectors of columns held in registers (AVX-512: 12 × 32, 24 accumulators; AVX2: 6 × 16, 12 accumulators), with
/// the epilogue (accumulate, bias, pre-activation copy, activation) applied before each tile is stored.
/// <para>
/// Loop order (measured on the zoo's shapes and the large cubes, see BENCHMARKS.md): columns in blocks of NC, depth in
/// equal blocks of at most KC (for a row-major A read in place with B packed, of at most DeepKC, the column blocks
/// narrowed to keep the B block's size; for a copied A under more than NC columns, one column block across them where
/// Geometry.WideStep allows); for each block, B is packed once into contiguous k-major panels of 2 vectors of columns,
/// then for each micro-panel of A rows every B panel streams past it. Row-major A (Nt, Nn) is read where it lies, in
/// 8-row tiles when its rows are a multiple of 4 KB apart (<see cref="RowMajorTileHeight"/>); Tn's A ([k, m], its rows
/// strided by m) is copied into contiguous micro-panels first (the geometry's PanelGroup at a time, several depths per
/// store; for an A larger than the geometry's APrefetchFloats the next group's lines are prefetched while the current
/// group's tiles run), because a power-of-two m maps every depth of the panel onto the same few L1 sets.
/// When more than one column block shares such a copied A, depth blocks go outermost and each one's panels are copied
/// once and kept for every column block. B is read in place, not packed, when it is k-major (Nn, Tn) and a single
/// micro-panel of rows uses it (m ≤ MR), or when its rows are less than the geometry's InPlaceStride apart (AVX-512:
/// 1,024 floats; AVX2: 256 under at most 64 rows, or any stride under fewer than 64 rows). A k-major B that is
/// packed is packed by the first row panel's tiles as they read it in place where the geometry's CopyStride allows
/// (AVX2: rows less than 2 KB apart); otherwise in a pass of its own. All the whole tiles of a row panel run in one
/// call of the micro-kernel.
/// </para>
/// <para>
/// One kernel body serves every tile: it is generic over the tile height (a type constant: 12, 10, 8, 6, 4, 2, 1 rows)
/// and width (1 or 2 vectors), so the compiler emits straight-line code for each. Rows left over after the full
/// micro-panels take the next smaller height; columns left over take a 1- or 2-vector tile whose last vector is
/// loaded and stored under a mask. Products whose columns all fit one vector use 12-row tiles on both ISAs (12
/// accumulators hide the FMA latency where 6 would not).
/// </para>
/// </summary>
internal static unsafe class GemmPacked
{
    /// <summary>Tile height, depth block and column block for one ISA; <paramref name="DeepKC"/> (0: none) is the longer
    /// depth block of a product whose A is a row-major matrix read in place and whose B is packed (<see cref="DepthStep"/>);
    /// <paramref name="Wide"/>: a copied A under more columns than NC takes one column block across them when it can
    /// (<see cref="WideStep"/>); a k-major B (Nn, Tn) whose rows lie fewer than <paramref name="InPlaceStride"/> floats
    /// apart (under fewer than <paramref name="InPlaceStrideRows"/> rows of C; 0: under any number), or under fewer than
    /// <paramref name="InPlaceBatch"/> rows of C, is read where it lies rather than packed (<see cref="Blocks"/>); one
    /// that is packed, its rows fewer than <paramref name="CopyStride"/> floats apart (0: never), is packed by the first
    /// row panel's tiles as they read it in place, not in a pass of its own. The rows of each tile of a C of more than
    /// <paramref name="CPrefetchFloats"/> floats are prefetched before the tile is stored when its depth blocks are at
    /// least <paramref name="CPrefetchDepth"/> deep. The default, 256 KB (a quarter of the Zen 4 host's L2): there (its
    /// L3 shared with other tenants, C often back from DRAM) 512³ Nn measured 107.7 / 106.7 GFLOP/s with the prefetches
    /// against 103.5 / 102.9 without (fastest of 21 interleaved rounds; medians 102.8 / 103.8 against 98.0 / 98.7), Nt
    /// and Tn at 512³ and 384³ in the three forms level, and at 256³ and on the zoo's shapes the prefetches 0–2% slower;
    /// the threshold was 1 MB before. A copied k-major A (Tn) of more than <paramref name="APrefetchFloats"/> floats has
    /// the lines of each next group of panels prefetched while the current group's tiles run (<see cref="KMajorA.Ahead"/>). An Nt product at least <paramref name="TransposedNt"/>
    /// times as deep as its batch (0: never) may run transposed (<see cref="TransposedNtPays"/>). A Tn's A is copied
    /// <paramref name="PanelGroup"/> micro-panels at a time (1, 2, 4 or 8; <see cref="KMajorA"/>).</summary>
    internal readonly record struct Geometry(int MR, int KC, int NC, int DeepKC = 0, bool Wide = false, int InPlaceStride = 1024,
        int InPlaceBatch = 0, int CopyStride = 0, long CPrefetchFloats = 1 << 16, int CPrefetchDepth = 0, long APrefetchFloats = 0,
        int TransposedNt = 0, int PanelGroup = GemmPacked.PanelGroup, int InPlaceStrideRows = 0)
    {
        /// <summary>The floats of a wide B block: half as many again as a regular one.</summary>
        public int WideFloats => KC * NC / 2 * 3;

        /// <summary>The depth step of one column block across <paramref name="paddedColumns"/> (wider than NC) of a product
        /// <paramref name="k"/> deep, when Wide: equal blocks of at most KC whose B block fits <see cref="WideFloats"/>, if
        /// they can be at least KC/2 deep; 0 otherwise.</summary>
        public int WideStep(int k, int paddedColumns)
        {
            int deepest = WideFloats / paddedColumns;
            return Wide && deepest >= KC / 2 ? EqualSteps(k, Math.Min(KC, deepest)) : 0;
        }

        /// <summary>The depth of each block of a product <paramref name="k"/> deep: equal blocks of at most KC, or of at
        /// most DeepKC when <paramref name="deep"/>.</summary>
        public int DepthStep(int k, bool deep) => EqualSteps(k, deep && DeepKC > KC ? DeepKC : KC);

        /// <summary>The step of equal blocks of at most <paramref name="limit"/> over <paramref name="k"/>.</summary>
        public static int EqualSteps(int k, int limit)
        {
            int blocks = (k + limit - 1) / limit;
            return (k + blocks - 1) / blocks;
        }

        /// <summary>The columns of a block <paramref name="kStep"/> deep: NC, or fewer for a deeper block, so that the B block
        /// stays KC·NC floats (whole panels of <paramref name="nr"/> columns).</summary>
        public int ColumnBlock(int kStep, int nr) => kStep <= KC ? NC : Math.Max(nr, KC * NC / kStep / nr * nr);
    }

    /// <summary>AVX-512: a 12 × KC A panel (12 KB) in L1, the KC × NC B block (512 KB) in L2. A row-major A read in place
    /// with B packed takes depth blocks of up to 1,024 (the B block then 1,024 × 128); a copied A under up to 1,536
    /// columns one column block across them (the B block up to 768 KB): see <see cref="Blocks"/>.</summary>
    public static readonly Geometry Avx512 = new(12, 256, 512, 1024, Wide: true, TransposedNt: 6);

    /// <summary>AVX2: a 6 × KC A panel (9 KB) in L1, the KC × NC B block (384 KB) in L2. A row-major A read in place with
    /// B packed takes depth blocks of up to 1,024 (the B block then 1,024 × 96), as on AVX-512: on the quiet Zen 3 host
    /// (one build, the geometry switched, orders alternating, fastest of 21–31 rounds, GFLOP/s, 384-deep / 1,024-deep)
    /// (64, 256, 784) Nt 85.8 / 89.5 (again 83.9 / 87.6), (32, 512, 784) Nt 76.1 / 80.0, 1024³ Nt 87.6 / 90.5, Nn 83.7
    /// / 87.2, (2048, 1024, 1024) Nt 88.3 / 92.6, (256, 784, 784) Nt 93.9 / 95.3, 512³ Nt 93.2 / 94.9 and Nn 94.9 /
    /// 93.1 (medians level), (64, 256, 784) Nn and (1024, 128, 512) level; an earlier, noisier measurement had found
    /// 768 and 1,024 level with 384 at 512³ and 1024³. A k-major B
    /// is read in place when its rows lie less than 1 KB apart or under fewer than 64 rows of C (too few to repay the
    /// copy); otherwise packed. On the Zen 3 host (AVX2, a 512 KB L2; fastest of 31–41 interleaved rounds, GFLOP/s,
    /// packed / in place): 512³ Nn 86 / 70, Tn 83 / 72; 256³ 68 / 62, 77 / 70; (96, 512, 256) 81 / 73, 80 / 71;
    /// (64, 256, 784) 81 / 74, 61 / 55; but (32, 512, 128) 62 / 74 and 63 / 74, (48, 256, 512) 73 / 76 and 73 / 80;
    /// rows up to 768 bytes apart ((64, 128, 256), (128, 192, 384), (256, 128, 256)) level or faster in place. Blocks
    /// of 256 × 128, 384 × 128, 192 × 256, 256 × 192 and 128 × 256 measured level with 384 × 256 there (256³ to 1024³,
    /// the three forms).
    /// <para>
    /// The rows-apart rule holds only under at most 64 rows of C (InPlaceStrideRows 65): above that the B is copied by
    /// the first row panel as it is read (CopyStride, below), which a product over that many row panels repays. On the
    /// Zen 3 host (one build, the limit switched, fastest of 21 interleaved rounds, GFLOP/s, in place / copied while
    /// read, two runs): Z5's input gradients (1024, 128, 512) Nn 93.1 / 99.7 and 93.1 / 99.4, (1024, 128, 384) 94.7 /
    /// 98.8 and 95.9 / 98.9, (1024, 128, 128) 91.1 / 96.6 and 94.2 / 96.7; its weight gradients (512, 128, 1024) Tn 88.3
    /// / 90.0 and 87.8 / 90.0, (384, 128, 1024) 89.1 / 90.4 and 88.7 / 91.0, (128, 128, 1024) 86.2 / 87.1 and 76.3 /
    /// 80.1, (65, 128, 1024) 81.7 / 85.2; (512, 128, 512) Nn 93.8 / 98.6 and 92.4 / 98.6, (256, 128, 256) Nn 95.9 / 97.6
    /// and 83.2 / 90.2, Tn 91.8 / 93.0 and 90.4 / 93.3; (96, 128, 512) Nn 91.9 / 94.1, (100, 128, 1024) 89.6 / 94.6,
    /// (120, 100, 300) 84.0 / 89.4; Nn 128³ 1–5% faster copied (three runs), Tn 128³ level. At 64 rows neither wins
    /// throughout: in place (64, 128, 256) Tn 94.1 / 91.7 and (64, 64, 64) Nn 90.5 / 87.8 (41 rounds), (64, 128, 512) Tn
    /// 92.3 / 89.7; copied (64, 128, 1024) Nn 82.7 / 91.9, (64, 200, 384) Nn 84.0 / 91.2, (64, 250, 64) Nn 78.0 / 86.1,
    /// (64, 128, 768) Nn 92.4 / 93.4. The zoo's shapes at 64 rows keep the faster of the two for them, in place.
    /// </para>
    /// <para>
    /// A packed k-major B whose rows lie less than 512 floats (2 KB) apart is copied by the first row panel as it reads
    /// it (CopyStride): the copy's own pass over B is saved, and the first panel's tiles store each B vector they load.
    /// One build with the limit switched, the two orders alternating by round, fastest of 21–41 rounds, GFLOP/s, own
    /// pass / copied while read: 256³ Nn 94.3 / 96.2 (again 95.0 / 97.2), Tn 92.5 / 94.1; (64, 256, 784) Nn 90.0 /
    /// 92.3, Tn 87.3 / 90.5; (512, 256, 256) Nn 95.7 / 96.9. Rows 2 KB apart gained under few rows ((96, 512, 256) Nn
    /// 85.4 / 90.2, Tn 87.9 / 93.6; (128, 512, 512) Tn 88.8 / 92.3) but lost under more (512³ Nn 93.2 / 90.7, Tn 92.7 /
    /// 90.1; (256, 512, 512) Nn 93.8 / 91.5) and lost 13% on Z5's weight gradient (128, 512, 1024) Tn in a noisy phase,
    /// and rows a page apart lost 2–4% (1024³): those are packed in a pass of their own, a depth row at a time.
    /// </para>
    /// <para>
    /// C's tiles are prefetched from 16 KB of C (not 256 KB) under blocks at least 192 deep. Alternating order, fastest
    /// of 21 rounds, without / with: 256³ Nt 95.9 / 97.5, Nn 97.0 / 97.9, Tn 93.4 / 94.1; (64, 128, 256) Nn 96.3 /
    /// 97.5, Tn level; (64, 256, 784) Nt 85.0 / 87.2; (64, 64, 64) (16 KB) level. 128 deep they cost up to 1% ((32, 512,
    /// 128), 41 rounds) and were level under larger C ((512, 512, 128), (1024, 1024, 128)).
    /// </para>
    /// <para>
    /// A Tn's A has the next group's lines prefetched only above 256 KB. Alternating order, fastest of 21 rounds, always
    /// / above 256 KB: 256³ 92.6 / 93.3, (64, 128, 256) 92.1 / 93.6, (64, 256, 784) 89.2 / 90.4, (128, 512, 512) 91.6 /
    /// 92.0. Larger ones gain from the prefetches, never / above 256 KB: 512³ 87.5 / 89.4, (2048, 512, 512) 88.3 / 90.5,
    /// 1024³ 90.5 / 90.9.
    /// </para>
    /// <para>
    /// A Tn's A is copied 8 micro-panels at a time (4 on AVX-512). Orders alternating, fastest of 21 rounds, 4 / 8:
    /// 256³ 93.1 / 93.8 (again 93.8 / 94.4), (64, 256, 784) 88.7 / 90.2 (again 90.1 / 90.4), (64, 128, 256) 89.5 /
    /// 90.6, (128, 512, 1024) 87.2 / 87.6, 1024³ 91.9 / 92.7, 512³ 93.2 / 92.9 (again 94.0 / 94.2); groups of 1 and 2
    /// were slower, 6 and 16 no better than 8.
    /// </para></summary>
    public static readonly Geometry Avx2 = new(6, 384, 256, DeepKC: 1024, InPlaceStride: 256, InPlaceBatch: 64, CopyStride: 512, CPrefetchFloats: 4096,
        CPrefetchDepth: 192, APrefetchFloats: 1 << 16, TransposedNt: 12, PanelGroup: 8, InPlaceStrideRows: 65);

    private const int MaxKC = 384;
    private const int MaxDeepKC = 1024;
    private const int BlockFloats = MaxKC * 512;     // ≥ KC·NC of either geometry

    /// <summary>Per-thread scratch: the packed B block, an edge panel, an A micro-panel; 64-byte aligned, allocated once.</summary>
    private sealed class Scratch
    {
        private const int EdgeFloats = MaxDeepKC * 32; // a block's depth × one 2-vector panel
        private const int PanelFloats = MaxPanelGroup * 12 * (MaxKC + 8) + 32; // a group of KC × MR panels (PanelRowFloats per row)
        private const int TileFloats = 2 * 12 * 32;      // one register tile, and C's block for a transposed one

        private readonly float[] _memory;

        public Scratch()
        {
            _memory = GC.AllocateUninitializedArray<float>(BlockFloats + EdgeFloats + PanelFloats + TileFloats + 16, pinned: true);
            float* start = (float*)Unsafe.AsPointer(ref _memory[0]);
            PackB = (float*)(((nint)start + 63) & ~(nint)63);
            EdgeB = PackB + BlockFloats;
            PackA = EdgeB + EdgeFloats;
            EdgeTile = PackA + PanelFloats;
        }

        public float* PackB { get; }
        public float* EdgeB { get; }
        public float* PackA { get; }

        private float[]? _aBlock;

        /// <summary>Room for every packed k-major panel of one depth block (<paramref name="floats"/>), 64-byte aligned;
        /// grown when a larger product asks, then kept.</summary>
        public float* ABlock(int floats)
        {
            if (_aBlock == null || _aBlock.Length < floats + 16) _aBlock = GC.AllocateUninitializedArray<float>(floats + 16, pinned: true);
            return (float*)(((nint)Unsafe.AsPointer(ref _aBlock[0]) + 63) & ~(nint)63);
        }
        public float* EdgeTile { get; }
    }

    [ThreadStatic] private static Scratch? t_scratch;

    /// <summary>Columns [jBegin, jEnd) of C (all rows), with the epilogue. <paramref name="bias"/> and <paramref name="z"/> may be null.</summary>
    public static void Run<TAct>(KernelIsa isa, GemmForm form, float* a, float* b, float* c, int m, int n, int k,
        bool accumulate, float* bias, TAct act, float* z, int jBegin, int jEnd)
        where TAct : struct, IUnaryOperator
    {
        RunWith(isa == KernelIsa.Avx512 ? Avx512 : Avx2, isa, form, a, b, c, m, n, k, accumulate, bias, act, z, jBegin, jEnd);
    }

    /// <summary>As <c>Run</c> with a given geometry: tests run the AVX-512 tile heights on 256-bit vectors and
    /// tiny blocks (many depth and column blocks on small matrices), on any machine with AVX2.</summary>
    internal static void RunWith<TAct>(Geometry geometry, KernelIsa isa, GemmForm form, float* a, float* b, float* c, int m, int n, int k,
        bool accumulate, float* bias, TAct act, float* z, int jBegin, int jEnd)
        where TAct : struct, IUnaryOperator
    {
        if (geometry.MR is not (6 or 12) || geometry.KC is < 1 or > MaxKC || geometry.NC < 1 || geometry.KC * geometry.NC > BlockFloats
            || geometry.DeepKC != 0 && (geometry.DeepKC < geometry.KC || geometry.DeepKC > MaxDeepKC)
            || geometry.Wide && geometry.WideFloats > BlockFloats || geometry.InPlaceStride < 0 || geometry.InPlaceBatch < 0
            || geometry.InPlaceStrideRows < 0 || geometry.CopyStride < 0
            || geometry.CPrefetchFloats < 0 || geometry.CPrefetchDepth < 0 || geometry.APrefetchFloats < 0 || geometry.TransposedNt < 0
            || geometry.PanelGroup is not (1 or 2 or 4 or 8))
            throw new ArgumentOutOfRangeException(nameof(geometry), geometry,
                "MR must be 6 or 12, KC at most 384, KC·NC at most 384·512 (1.5·KC·NC when Wide), DeepKC 0 or from KC to 1,024, InPlaceStride, InPlaceBatch, InPlaceStrideRows, CopyStride, the prefetch limits and TransposedNt not negative, PanelGroup 1, 2, 4 or 8.");
        if (m == 0 || jBegin >= jEnd) return;
        if (k == 0)
        {
            EpilogueOnly(c, m, n, accumulate, bias, act, z, jBegin, jEnd);
            return;
        }
        Scratch scratch = t_scratch ??= new Scratch();
        int w = isa == KernelIsa.Avx512 ? 16 : 8;
        if (form == GemmForm.Tn && NarrowTn(m, n, w) && jBegin == 0 && jEnd == n)
        {
            // A narrow Tn (fewer columns than a 2-vector tile, not a whole vector): compute Cᵀ[n, m] = Bᵀ·A instead,
            // itself a Tn product with both operands k-major as they lie, so the tiles run the full vector width
            // along m; each tile is stored transposed.
            if (isa == KernelIsa.Avx512)
                Blocks<Vector512<float>, Simd512, TAct, RuntimeShape, KMajorA, MatrixB>(geometry, new KMajorA(b, n, geometry.PanelGroup), new MatrixB(form, a, m, k), c, n, m, k, accumulate, bias, act, z, 0, m, scratch, transposed: true, ldc: n);
            else
                Blocks<Vector256<float>, Simd256, TAct, RuntimeShape, KMajorA, MatrixB>(geometry, new KMajorA(b, n, geometry.PanelGroup), new MatrixB(form, a, m, k), c, n, m, k, accumulate, bias, act, z, 0, m, scratch, transposed: true, ldc: n);
            return;
        }
        if (form == GemmForm.Nt && jBegin == 0 && jEnd == n && TransposedNtPays(geometry, m, n, k, w))
        {
            // A small batch under a wide layer: Cᵀ[n, m] = B·Aᵀ, B (the weight) the row-major operand read in place,
            // A packed in its stead; each tile is stored transposed.
            if (isa == KernelIsa.Avx512)
                Blocks<Vector512<float>, Simd512, TAct, RuntimeShape, RowMajorA, MatrixB>(geometry, new RowMajorA(b, k), new MatrixB(form, a, m, k), c, n, m, k, accumulate, bias, act, z, 0, m, scratch, transposed: true, ldc: n);
            else
                Blocks<Vector256<float>, Simd256, TAct, RuntimeShape, RowMajorA, MatrixB>(geometry, new RowMajorA(b, k), new MatrixB(form, a, m, k), c, n, m, k, accumulate, bias, act, z, 0, m, scratch, transposed: true, ldc: n);
            return;
        }
        if (form == GemmForm.Tn)
            Sources(isa, geometry, new KMajorA(a, m, geometry.PanelGroup), new MatrixB(form, b, n, k), c, n, m, n, k, accumulate, bias, act, z, jBegin, jEnd, scratch);
        else
            Sources(isa, geometry, new RowMajorA(a, k), new MatrixB(form, b, n, k), c, n, m, n, k, accumulate, bias, act, z, jBegin, jEnd, scratch);
    }

    /// <summary>A Tn product with fewer columns than a 2-vector tile (not a whole vector) and rows for at least one:
    /// computed as Cᵀ = Bᵀ·A (<see cref="RunWith"/>).</summary>
    internal static bool NarrowTn(int m, int n, int w) => n < 2 * w && n % w != 0 && m >= 2 * w;

    /// <summary>
    /// Whether an Nt product runs as Cᵀ[n, m] = B·Aᵀ: B (a weight [n, k]) read in place as the row-major operand and A
    /// packed in its stead — m·k floats transposed rather than n·k — at the price of storing C's tiles transposed (16 ×
    /// 16 register transposes on AVX-512, 8 × 8 through a scratch tile on AVX2). Taken for a batch of whole 2-vector
    /// panels under a layer at least 4 times as wide, at least the geometry's TransposedNt times as deep as the batch,
    /// in one depth block. AVX-512, 6: measured on the Zen 4 host (fastest of 11 rounds, GFLOP/s, transposed against
    /// not): (64, 256, 784) 113 / 109, (64, 512, 512) 112 / 106, (32, 1024, 256) 99 / 93, (32, 256, 784) 110 / 99,
    /// (32, 512, 192) 99 / 95; shallower it loses — (32, 512, 128) 97 / 100, (128, 512, 128) 101 / 106. AVX2, 12 (its
    /// transposed stores cost more, and it became possible past 384 deep with DeepKC): on the Zen 3 host (fastest of 21
    /// rounds, orders alternating, not / transposed) (16, 512, 512) 68.9 / 84.8, (32, 512, 784) 78.8 / 90.6, (32, 256,
    /// 784) 77.7 / 90.2, (48, 256, 784) 86.6 / 90.5, (64, 256, 784) 89.6 / 91.2, (64, 1024, 1024) level; shallower
    /// than 12 times the batch it lost: (16, 128, 128) 75.9 / 63.8, (32, 1024, 256) 75.3 / 58.9, (32, 512, 192) 78.5 /
    /// 73.0, (128, 512, 784) 91.5 / 88.1, (96, 512, 784) 93.7 / 91.5, (64, 512, 512) 89.1 / 88.0.
    /// </summary>
    internal static bool TransposedNtPays(Geometry geometry, int m, int n, int k, int w) =>
        geometry.TransposedNt > 0 && m % (2 * w) == 0 && n >= 4 * m && k >= (long)geometry.TransposedNt * m && k <= Math.Max(geometry.DeepKC, geometry.KC);

    /// <summary>
    /// The tile height for a row-major A read in place: MR, or 8 rows when its rows lie a multiple of 4 KB apart (a
    /// row stride a multiple of 1,024 floats). Such rows put the same depths of every row of a tile on one L1 set, and
    /// 12 lines there overflow an 8-way L1 (Zen 4's 32 KB): the tile's broadcasts miss in turn. 8 rows fit. Measured on
    /// the Zen 4 host, fastest of 31 interleaved rounds: 1024³ Nt 113 against 111 GFLOP/s and Nn 110 against 109 for 12-row
    /// tiles reading a copy of A with its rows 64 bytes further apart (the route this replaced: the 4 MB copy came from
    /// DRAM on this host, 0.4 ms of a 19 ms product), 86% of the peak for 12-row tiles reading A in place; (128, 512,
    /// 2048) Nn 94 against 90, 2048³ 109 / 108 against 107 / 104. Where rows are not so aligned, 8-row tiles measured level
    /// with 12-row ones (512³, 256³, (64, 128, 256)): the wider tile is kept there.
    /// </summary>
    internal static int RowMajorTileHeight(int mr, int lda) => mr > 8 && lda % 1024 == 0 ? 8 : mr;

    /// <summary>Columns of B padded as its packed panels lie: whole 2-vector panels, the last one 1 or 2 vectors wide.</summary>
    internal static int PaddedColumns(int n, int w)
    {
        int nr = 2 * w, rest = n % nr;
        return n - rest + (rest == 0 ? 0 : rest <= w ? w : nr);
    }

    private static Geometry GeometryOf(KernelIsa isa) => isa == KernelIsa.Avx512 ? Avx512 : Avx2;

    private static int Width(KernelIsa isa) => isa == KernelIsa.Avx512 ? 16 : 8;

    /// <summary>Floats of B[k, n] packed by <see cref="Prepack"/>.</summary>
    public static int PrepackedFloats(KernelIsa isa, int n, int k) => checked(k * PaddedColumns(n, Width(isa)));

    /// <summary>Packs B ([n, k] for Nt, [k, n] for Nn) once, every depth block as <see cref="Blocks"/> will ask for it
    /// (the same equal depth blocks: the deep ones, as every product with a prepacked B reads a row-major A in place), so
    /// that products with it skip the packing (<see cref="RunPrepacked"/>).</summary>
    public static void Prepack(KernelIsa isa, GemmForm form, float* b, int n, int k, float* packed)
    {
        if (form == GemmForm.Tn) throw new ArgumentException("Tn's B is read as Nn's: pack it as Nn.", nameof(form));
        Geometry g = GeometryOf(isa);
        int w = Width(isa), padded = PaddedColumns(n, w);
        int kStep = g.DepthStep(k, deep: true);
        for (int pc = 0; pc < k; pc += kStep)
            PackB(form, b, n, k, pc, Math.Min(kStep, k - pc), 0, n, w, packed + (nint)pc * padded);
    }

    /// <summary>Columns [jBegin, jEnd) (whole 2-vector panels apart from the end) of C[m, n] = act((accumulate ? C : 0) +
    /// A·B + bias), A row-major [m, k], B prepacked.</summary>
    public static void RunPrepacked<TAct>(KernelIsa isa, float* a, float* packedB, float* c, int m, int n, int k,
        bool accumulate, float* bias, TAct act, float* z, int jBegin, int jEnd)
        where TAct : struct, IUnaryOperator
    {
        if (m == 0 || jBegin >= jEnd) return;
        if (k == 0)
        {
            EpilogueOnly(c, m, n, accumulate, bias, act, z, jBegin, jEnd);
            return;
        }
        Scratch scratch = t_scratch ??= new Scratch();
        Sources(isa, GeometryOf(isa), new RowMajorA(a, k), new PrepackedB(packedB, PaddedColumns(n, Width(isa))), c, n, m, n, k,
            accumulate, bias, act, z, jBegin, jEnd, scratch);
    }

    /// <summary>
    /// Columns [jBegin, jEnd) of C[m, n] (row stride <paramref name="ldc"/>) = act((accumulate ? C : 0) + A·B + bias), with
    /// A and B read through sources: how a convolution runs on the GEMM's tiles, its im2col gathered one micro-panel
    /// (or B block) at a time instead of materialised.
    /// </summary>
    internal static void RunSources<TAct, TA, TB>(KernelIsa isa, TA a, TB b, float* c, int ldc, int m, int n, int k,
        bool accumulate, float* bias, TAct act, float* z, int jBegin, int jEnd)
        where TAct : struct, IUnaryOperator where TA : struct, IASource where TB : struct, IBSource
    {
        if (m == 0 || jBegin >= jEnd) return;
        if (k == 0)
        {
            EpilogueOnly(c, m, ldc, accumulate, bias, act, z, jBegin, jEnd);
            return;
        }
        Sources(isa, isa == KernelIsa.Avx512 ? Avx512 : Avx2, a, b, c, ldc, m, n, k, accumulate, bias, act, z, jBegin, jEnd, t_scratch ??= new Scratch());
    }

    private static void Sources<TAct, TA, TB>(KernelIsa isa, Geometry geometry, TA a, TB b, float* c, int ldc, int m, int n, int k,
        bool accumulate, float* bias, TAct act, float* z, int jBegin, int jEnd, Scratch scratch)
        where TAct : struct, IUnaryOperator where TA : struct, IASource where TB : struct, IBSource
    {
        if (isa == KernelIsa.Avx512)
            Blocks<Vector512<float>, Simd512, TAct, RuntimeShape, TA, TB>(geometry, a, b, c, m, n, k, accumulate, bias, act, z, jBegin, jEnd, scratch, transposed: false, ldc: ldc);
        else
            Blocks<Vector256<float>, Simd256, TAct, RuntimeShape, TA, TB>(geometry, a, b, c, m, n, k, accumulate, bias, act, z, jBegin, jEnd, scratch, transposed: false, ldc: ldc);
    }

    /// <summary>The whole product with its sizes as type constants, in the packed blocks only (none of the routes
    /// <c>Run</c> gives some shapes: a narrow Tn or a small batch computed transposed). Measured
    /// against run-time sizes, the same blocks, by the specialization benchmark.</summary>
    public static void RunShaped<TShape, TAct>(KernelIsa isa, GemmForm form, float* a, float* b, float* c, bool accumulate, float* bias, TAct act, float* z)
        where TShape : struct, IGemmShape where TAct : struct, IUnaryOperator
    {
        if (TShape.M == 0 || TShape.N == 0) return;
        if (TShape.K == 0)
        {
            EpilogueOnly(c, TShape.M, TShape.N, accumulate, bias, act, z, 0, TShape.N);
            return;
        }
        Scratch scratch = t_scratch ??= new Scratch();
        var bSource = new MatrixB(form, b, TShape.N, TShape.K);
        if (form == GemmForm.Tn)
        {
            if (isa == KernelIsa.Avx512)
                Blocks<Vector512<float>, Simd512, TAct, TShape, KMajorA, MatrixB>(Avx512, new KMajorA(a, TShape.M, Avx512.PanelGroup), bSource, c, 0, 0, 0, accumulate, bias, act, z, 0, 0, scratch, false, 0);
            else
                Blocks<Vector256<float>, Simd256, TAct, TShape, KMajorA, MatrixB>(Avx2, new KMajorA(a, TShape.M, Avx2.PanelGroup), bSource, c, 0, 0, 0, accumulate, bias, act, z, 0, 0, scratch, false, 0);
        }
        else
        {
            if (isa == KernelIsa.Avx512)
                Blocks<Vector512<float>, Simd512, TAct, TShape, RowMajorA, MatrixB>(Avx512, new RowMajorA(a, TShape.K), bSource, c, 0, 0, 0, accumulate, bias, act, z, 0, 0, scratch, false, 0);
            else
                Blocks<Vector256<float>, Simd256, TAct, TShape, RowMajorA, MatrixB>(Avx2, new RowMajorA(a, TShape.K), bSource, c, 0, 0, 0, accumulate, bias, act, z, 0, 0, scratch, false, 0);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Blocks<TVec, TSimd, TAct, TShape, TA, TB>(Geometry g, TA aSource, TB bSource, float* c, int m, int n, int k,
        bool accumulate, float* bias, TAct act, float* z, int jBegin, int jEnd, Scratch scratch, bool transposed, int ldc)
        where TVec : struct where TSimd : ISimd<TVec> where TAct : struct, IUnaryOperator where TShape : struct, IGemmShape
        where TA : struct, IASource where TB : struct, IBSource
    {
        if (TShape.M >= 0)
        {
            // A static shape (RunShaped): every size, block count and tile decision below folds to a constant.
            m = TShape.M; n = TShape.N; k = TShape.K; jBegin = 0; jEnd = TShape.N; ldc = TShape.N;
        }
        int w = TSimd.Count, nr = 2 * w;
        // All columns in one vector: 12-row tiles (1 vector × 12 rows = 12 accumulators) on either ISA.
        int mr = jEnd - jBegin <= w ? 12 : g.MR;
        if (typeof(TA) == typeof(RowMajorA)) mr = RowMajorTileHeight(mr, Unsafe.As<TA, RowMajorA>(ref aSource).Lda);
        // A k-major B (Nn, Tn) is read where it lies, not packed, when one micro-panel of rows uses it (m ≤ MR), or
        // when its rows are closer than the geometry's InPlaceStride (AVX-512: less than a page apart): its panels then
        // stream from L2 as packed ones do, and the copy is saved (as much traffic as the product's own reads of B when
        // m is small). Rows 4 KB apart put a panel on two L1 sets: at n = 1024 reading in place measured 65–96% of the
        // peak, packed 89–95% (AVX-512). AVX2 reads in place by the stride only under fewer than InPlaceStrideRows rows,
        // and in place at any stride under fewer than InPlaceBatch (see Avx2).
        bool bInPlace = bSource.InPlace && (m <= mr || m < g.InPlaceBatch
            || bSource.Ld < g.InPlaceStride && (g.InPlaceStrideRows == 0 || m < g.InPlaceStrideRows));
        // Depth in equal blocks of at most KC (784 = 3 × 262 rather than 2 × 384 + 16: a shallow block costs a C round
        // trip). A row-major A read in place with B packed takes blocks of up to DeepKC and correspondingly fewer
        // columns: each depth block after the first loads and stores every tile of C again, from L3 once C outgrows
        // L2, and A's deeper panel, though it leaves L1, streams from L2 as B's panels do. At 1024³ (AVX-512) a
        // 1,024 × 128 block measured 4–7% faster than 256 × 512 (Nt and Nn; 2048³ too); for a copied A (Tn) deeper
        // blocks measured level or slower.
        bool deep = typeof(TA) == typeof(RowMajorA) && !bInPlace;
        int kStep = g.DepthStep(k, deep);
        int ncBlock = g.ColumnBlock(kStep, nr);
        // A copied A (Tn) under columns wider than a block: one column block across them all when its B block can
        // (Geometry.WideStep), so each A panel is copied and used at once. Kept panels (keepA, below) come back from L3
        // for the later column blocks once A outgrows L2: at 1024³ (AVX-512) blocks of 171 × 1,024 measured 4–5% faster
        // than 256 × 512 with A kept; (512, 784, 512) and (256, 784, 64) 1–2%.
        if (TA.Packed && jEnd - jBegin > ncBlock && g.WideStep(k, PaddedColumns(jEnd - jBegin, w)) is > 0 and int wideStep)
        {
            kStep = wideStep;
            ncBlock = jEnd - jBegin;
        }
        int kBlocks = (k + kStep - 1) / kStep;
        int jBlocks = (jEnd - jBegin + ncBlock - 1) / ncBlock;
        // A copied A (k-major) under several column blocks: depth blocks outermost, and each depth block's panels
        // packed once, under the first column block, and kept for the others. Otherwise column blocks outermost.
        // (A k-major A that is a single panel already, KMajorA.InPlace, is read where it lies: nothing to keep.)
        bool keepA = TA.Packed && jBlocks > 1 && !(typeof(TA) == typeof(KMajorA) && Unsafe.As<TA, KMajorA>(ref aSource).InPlace(mr, m));
        // A C larger than the geometry's CPrefetchFloats, under depth blocks at least CPrefetchDepth deep, has its tiles'
        // rows prefetched before they are stored (Kernel); a smaller one is left to the caches.
        bool prefetchC = !transposed && (long)m * ldc > g.CPrefetchFloats && kStep >= g.CPrefetchDepth;
        float* aBlock = keepA ? scratch.ABlock(checked((m + mr) * PanelRowFloats(kStep))) : null;
        int aSpan = g.PanelGroup * mr;
        for (int step = 0; step < jBlocks * kBlocks; step++)
        {
            int jb = keepA ? step % jBlocks : step / kBlocks, kb = keepA ? step / jBlocks : step % kBlocks;
            // kb < kBlocks, so pc ≤ (kBlocks − 1)·kStep < k: every step has depth.
            int jc = jBegin + jb * ncBlock, pc = kb * kStep;
            int nc = Math.Min(ncBlock, jEnd - jc), kc = Math.Min(kStep, k - pc);
            // A k-major B that is packed, its rows fewer than the geometry's CopyStride apart: the first row panel reads
            // it in place and stores each vector into its panel as it goes, and the row panels after it read the panels.
            bool copyWhileReading = !bInPlace && bSource.InPlace && bSource.Ld < g.CopyStride;
            int wholePanels = nc / nr * nr;
            if (bInPlace || copyWhileReading)
            {
                // The last, partial panel is copied (zero-padded) so that no vector reads past B's rows.
                float* edge = bInPlace ? scratch.EdgeB : scratch.PackB + (nint)wholePanels * kc;
                if (wholePanels < nc) bSource.Pack(pc, kc, jc + wholePanels, nc - wholePanels, w, edge);
            }
            float* packedBlock = bInPlace ? bSource.At(pc, jc) : copyWhileReading ? scratch.PackB : bSource.Block(pc, kc, jc, nc, w, scratch.PackB);
            var blockB = new BlockB(bInPlace, packedBlock, scratch.EdgeB, bSource.Ld, nc, null);
            BlockB firstB = copyWhileReading
                ? new BlockB(true, bSource.At(pc, jc), scratch.PackB + (nint)wholePanels * kc, bSource.Ld, nc, scratch.PackB)
                : blockB;
            var store = new TileStore(pc > 0 || accumulate, pc + kc == k, bias, z, ldc, scratch.EdgeTile, transposed, prefetchC);
            for (int ir = 0; ir < m;)
            {
                int rows = TileRows(m - ir, mr);
                float* cRows = store.At(c, ir, jc);
                TileStore rowStore = store.Shift(ir, jc);
                if (TA.Packed)
                {
                    // Each copied panel has its own place (KMajorA packs a group's panels into theirs at once); a kept
                    // one is found there by the later column blocks.
                    float* place = keepA ? aBlock + (nint)ir * PanelRowFloats(kc) : scratch.PackA + ir % aSpan * PanelRowFloats(kc);
                    float* panel = keepA && jb > 0 ? place : aSource.Panel(ir, rows, pc, kc, m, place, out _);
                    // While this panel's tiles run, the lines of A the next group's copy reads are asked for (an A larger
                    // than the geometry's APrefetchFloats).
                    PanelPrefetch ahead = typeof(TA) == typeof(KMajorA) && (!keepA || jb == 0) && (long)m * k > g.APrefetchFloats
                        ? Unsafe.As<TA, KMajorA>(ref aSource).Ahead(ir, rows, pc, kc, m) : default;
                    RowPanel<TVec, TSimd, APacked, TAct>(rows, kc, panel, rows, ir == 0 ? firstB : blockB, cRows, rowStore, act, ahead);
                }
                else
                {
                    float* panel = aSource.Panel(ir, rows, pc, kc, m, scratch.PackA, out int lda);
                    RowPanel<TVec, TSimd, ARowMajor, TAct>(rows, kc, panel, lda, ir == 0 ? firstB : blockB, cRows, rowStore, act, default);
                }
                ir += rows;
            }
        }
    }

    /// <summary>The height of the next tile: full micro-panels, then 10, 8 (where MR is 12), 6 (where MR is 8 or 12), 4, 2,
    /// 1 rows (a narrow Tn's 10 rows, Bᵀ of a 10-class head, measured 10% faster in one tile than as 8 + 2).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int TileRows(int left, int mr) =>
        left >= mr ? mr : mr == 12 && left >= 10 ? 10 : mr == 12 && left >= 8 ? 8 : mr >= 8 && left >= 6 ? 6
            : left >= 4 ? 4 : left >= 2 ? 2 : 1;

    /// <summary>Where the B panels of one (column block, depth block) lie: packed consecutively (panel stride kc·width,
    /// row stride width), or in place (row stride n) with the last, partial panel in <see cref="Edge"/>; an in-place
    /// block with <see cref="Copy"/> has its whole panels stored there, packed, as they are read.</summary>
    private readonly struct BlockB(bool inPlace, float* start, float* edge, int n, int nc, float* copy)
    {
        public readonly float* Copy = copy;
        public readonly bool InPlace = inPlace;
        public readonly float* Start = start;
        public readonly float* Edge = edge;
        public readonly int N = n;
        public readonly int Nc = nc;
    }

    /// <summary>How a tile is finished: add C (a later depth block, or accumulate); after the last depth block, bias,
    /// the pre-activation copy and the activation. Bias and Z point at the tile's first column (and row, for Z).</summary>
    private readonly struct TileStore(bool load, bool last, float* bias, float* z, int ldc, float* edge, bool transposed, bool prefetch)
    {
        public readonly bool Load = load;
        public readonly bool Last = last;
        public readonly float* Bias = bias;
        public readonly float* Z = z;
        public readonly int Ldc = ldc;
        /// <summary>Scratch for an edge tile (12 rows × 2 vectors): its accumulators go there, then to C under masks.</summary>
        public readonly float* Edge = edge;
        /// <summary>The product computed is Cᵀ (see <c>Run</c>): tile row r, column j lands at C[j, r]; bias is per tile row.</summary>
        public readonly bool Transposed = transposed;
        /// <summary>Prefetch the tile's rows of C before the last depths (<see cref="CPrefetchDepths"/>); never when transposed.</summary>
        public readonly bool Prefetch = prefetch;

        /// <summary>Where element (row, column) of the computed product lies, from <paramref name="origin"/>.</summary>
        public float* At(float* origin, int row, int column) =>
            Transposed ? origin + (nint)column * Ldc + row : origin + (nint)row * Ldc + column;

        /// <summary>The same store for a tile <paramref name="rows"/> rows and <paramref name="columns"/> columns further on.</summary>
        public TileStore Shift(int rows, int columns) =>
            new(Load, Last, Bias == null ? null : Bias + (Transposed ? rows : columns), Z == null ? null : At(Z, rows, columns), Ldc, Edge, Transposed, Prefetch);
    }

    /// <summary>One micro-panel of A rows against every B panel of the block: the A panel stays in L1 (a deep one, 12 × 1,024, in L2).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowPanel<TVec, TSimd, TA, TAct>(int rows, int kc, float* a, int lda, BlockB blockB, float* c, TileStore store, TAct act,
        PanelPrefetch ahead)
        where TVec : struct where TSimd : ISimd<TVec> where TA : struct, IALayout where TAct : struct, IUnaryOperator
    {
        switch (rows)
        {
            case 12: Columns<TVec, TSimd, Const12, TA, TAct>(kc, a, lda, blockB, c, store, act, ahead); break;
            case 10: Columns<TVec, TSimd, Const10, TA, TAct>(kc, a, lda, blockB, c, store, act, ahead); break;
            case 8: Columns<TVec, TSimd, Const8, TA, TAct>(kc, a, lda, blockB, c, store, act, ahead); break;
            case 6: Columns<TVec, TSimd, Const6, TA, TAct>(kc, a, lda, blockB, c, store, act, ahead); break;
            case 4: Columns<TVec, TSimd, Const4, TA, TAct>(kc, a, lda, blockB, c, store, act, ahead); break;
            case 2: Columns<TVec, TSimd, Const2, TA, TAct>(kc, a, lda, blockB, c, store, act, ahead); break;
            default: Columns<TVec, TSimd, Const1, TA, TAct>(kc, a, lda, blockB, c, store, act, ahead); break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Columns<TVec, TSimd, TRows, TA, TAct>(int kc, float* a, int lda, BlockB blockB, float* c, TileStore store, TAct act,
        PanelPrefetch ahead)
        where TVec : struct where TSimd : ISimd<TVec> where TRows : struct, IConstant where TA : struct, IALayout where TAct : struct, IUnaryOperator
    {
        int w = TSimd.Count, nr = 2 * w, nc = blockB.Nc;
        int full = nc / nr, jr = full * nr;
        if (full > 0)
        {
            if (blockB.Copy != null)
                Kernel<TVec, TSimd, TRows, Const2, TA, BInPlaceCopied, TAct>(kc, a, lda, blockB.Start, blockB.N, nr, full, c, store, act, nr, ahead, blockB.Copy);
            else if (blockB.InPlace)
                Kernel<TVec, TSimd, TRows, Const2, TA, BInPlace, TAct>(kc, a, lda, blockB.Start, blockB.N, nr, full, c, store, act, nr, ahead);
            else
                Kernel<TVec, TSimd, TRows, Const2, TA, BPanels, TAct>(kc, a, lda, blockB.Start, nr, (nint)nr * kc, full, c, store, act, nr, ahead);
        }
        if (jr < nc)
        {
            int cols = nc - jr;
            int width = cols <= w ? w : nr;
            float* panel = blockB.InPlace ? blockB.Edge : blockB.Start + (nint)jr * kc;
            if (width == w) Kernel<TVec, TSimd, TRows, Const1, TA, BPanels, TAct>(kc, a, lda, panel, w, 0, 1, store.At(c, 0, jr), store.Shift(0, jr), act, cols);
            else Kernel<TVec, TSimd, TRows, Const2, TA, BPanels, TAct>(kc, a, lda, panel, nr, 0, 1, store.At(c, 0, jr), store.Shift(0, jr), act, cols);
        }
    }

    /// <summary>
    /// The micro-kernel: a TRows × TCols-vector tile of C, Σ over kc of A(r, p)·B(p, ·), with A broadcast and B loaded
    /// a vector at a time; then the epilogue. Rows are read from up to four base pointers three rows apart, so a
    /// row-major A needs only its row stride in a register and a packed panel only constant offsets. B is read from
    /// packed panels (depth stride the tile width) or in place (depth stride <paramref name="bStride"/>), and then
    /// optionally stored, vector by vector, into the panels at <paramref name="bCopy"/> (<see cref="BInPlaceCopied"/>).
    /// A whole tile is finished in registers; an edge tile (<paramref name="cols"/> short of the width) is spilled to scratch
    /// and finished by <see cref="StoreEdge"/>, so no masked code sits beside the live accumulators.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel<TVec, TSimd, TRows, TCols, TA, TB, TAct>(int kc, float* aStart, int lda, float* bStart, int bStride, nint bStep,
        int tiles, float* c0, TileStore store0, TAct act, int cols, PanelPrefetch ahead = default, float* bCopy = null)
        where TVec : struct where TSimd : ISimd<TVec> where TRows : struct, IConstant where TCols : struct, IConstant
        where TA : struct, IALayout where TB : struct, IBLayout where TAct : struct, IUnaryOperator
    {
        int w = TSimd.Count, rows = TRows.Value, nr = TCols.Value * w;
        // Packed panels: the depth stride is the tile's width, a constant the loads fold into their offsets.
        int ldb = TB.InPlace ? bStride : nr;
        bool two = TCols.Value == 2;
        // Packed: rows adjacent (stride 1), depth stride = the tile height; row-major: rows lda apart, depth contiguous.
        nint rs = TA.Packed ? 1 : lda, ps = TA.Packed ? rows : 1;
        // Tiles side by side along the row panel, B's panels bStep apart: one call (and one prologue) for them all.
        for (int tile = 0; tile < tiles; tile++)
        {
            if (ahead.Any) ahead.Issue(tile, tiles);
            int jr = tile * TCols.Value * w;
            float* a = aStart, b = bStart + tile * bStep;
            // Where this tile's B panel is copied to (BInPlaceCopied): panels kc·nr floats apart.
            float* bc = TB.Copies ? bCopy + (nint)tile * nr * kc : null;
            float* c = store0.At(c0, 0, jr);
            TileStore store = tile == 0 ? store0 : store0.Shift(0, jr);
            float* a3 = a + 3 * rs, a6 = a + 6 * rs, a9 = a + 9 * rs;
            TVec c00 = TSimd.Zero, c01 = TSimd.Zero, c10 = TSimd.Zero, c11 = TSimd.Zero, c20 = TSimd.Zero, c21 = TSimd.Zero;
            TVec c30 = TSimd.Zero, c31 = TSimd.Zero, c40 = TSimd.Zero, c41 = TSimd.Zero, c50 = TSimd.Zero, c51 = TSimd.Zero;
            TVec c60 = TSimd.Zero, c61 = TSimd.Zero, c70 = TSimd.Zero, c71 = TSimd.Zero, c80 = TSimd.Zero, c81 = TSimd.Zero;
            TVec c90 = TSimd.Zero, c91 = TSimd.Zero, ca0 = TSimd.Zero, ca1 = TSimd.Zero, cb0 = TSimd.Zero, cb1 = TSimd.Zero;
            // Two depths per iteration (fewer pointer updates and loop branches per FMA), then the odd one. For a large C
            // (TileStore.Prefetch) the loop runs in two legs: the tile's C rows are asked for CPrefetchDepths before the
            // end, so that their lines (from L3) arrive while the last depths run rather than stall the stores.
            int p = 0, end = store.Prefetch ? Math.Max(0, kc - CPrefetchDepths) & ~1 : kc;
            while (true)
            {
                for (; p + 2 <= end; p += 2)
                {
                    {
                        TVec b0 = TSimd.Load(ref b[0]);
                        TVec b1 = two ? TSimd.Load(ref b[0 + w]) : default;
                        if (TB.Copies) { TSimd.Store(b0, ref bc[0]); if (two) TSimd.Store(b1, ref bc[w]); }
                        TVec x = TSimd.Broadcast(a[0]); c00 = TSimd.MultiplyAdd(x, b0, c00); if (two) c01 = TSimd.MultiplyAdd(x, b1, c01);
                        if (rows > 1) { x = TSimd.Broadcast(a[rs]); c10 = TSimd.MultiplyAdd(x, b0, c10); if (two) c11 = TSimd.MultiplyAdd(x, b1, c11); }
                        if (rows > 2) { x = TSimd.Broadcast(a[2 * rs]); c20 = TSimd.MultiplyAdd(x, b0, c20); if (two) c21 = TSimd.MultiplyAdd(x, b1, c21); }
                        if (rows > 3) { x = TSimd.Broadcast(a3[0]); c30 = TSimd.MultiplyAdd(x, b0, c30); if (two) c31 = TSimd.MultiplyAdd(x, b1, c31); }
                        if (rows > 4) { x = TSimd.Broadcast(a3[rs]); c40 = TSimd.MultiplyAdd(x, b0, c40); if (two) c41 = TSimd.MultiplyAdd(x, b1, c41); }
                        if (rows > 5) { x = TSimd.Broadcast(a3[2 * rs]); c50 = TSimd.MultiplyAdd(x, b0, c50); if (two) c51 = TSimd.MultiplyAdd(x, b1, c51); }
                        if (rows > 6) { x = TSimd.Broadcast(a6[0]); c60 = TSimd.MultiplyAdd(x, b0, c60); if (two) c61 = TSimd.MultiplyAdd(x, b1, c61); }
                        if (rows > 7) { x = TSimd.Broadcast(a6[rs]); c70 = TSimd.MultiplyAdd(x, b0, c70); if (two) c71 = TSimd.MultiplyAdd(x, b1, c71); }
                        if (rows > 8) { x = TSimd.Broadcast(a6[2 * rs]); c80 = TSimd.MultiplyAdd(x, b0, c80); if (two) c81 = TSimd.MultiplyAdd(x, b1, c81); }
                        if (rows > 9) { x = TSimd.Broadcast(a9[0]); c90 = TSimd.MultiplyAdd(x, b0, c90); if (two) c91 = TSimd.MultiplyAdd(x, b1, c91); }
                        if (rows > 10) { x = TSimd.Broadcast(a9[rs]); ca0 = TSimd.MultiplyAdd(x, b0, ca0); if (two) ca1 = TSimd.MultiplyAdd(x, b1, ca1); }
                        if (rows > 11) { x = TSimd.Broadcast(a9[2 * rs]); cb0 = TSimd.MultiplyAdd(x, b0, cb0); if (two) cb1 = TSimd.MultiplyAdd(x, b1, cb1); }
                    }
                    {
                        TVec b0 = TSimd.Load(ref b[ldb]);
                        TVec b1 = two ? TSimd.Load(ref b[ldb + w]) : default;
                        if (TB.Copies) { TSimd.Store(b0, ref bc[nr]); if (two) TSimd.Store(b1, ref bc[nr + w]); }
                        TVec x = TSimd.Broadcast(a[ps]); c00 = TSimd.MultiplyAdd(x, b0, c00); if (two) c01 = TSimd.MultiplyAdd(x, b1, c01);
                        if (rows > 1) { x = TSimd.Broadcast(a[rs + ps]); c10 = TSimd.MultiplyAdd(x, b0, c10); if (two) c11 = TSimd.MultiplyAdd(x, b1, c11); }
                        if (rows > 2) { x = TSimd.Broadcast(a[2 * rs + ps]); c20 = TSimd.MultiplyAdd(x, b0, c20); if (two) c21 = TSimd.MultiplyAdd(x, b1, c21); }
                        if (rows > 3) { x = TSimd.Broadcast(a3[ps]); c30 = TSimd.MultiplyAdd(x, b0, c30); if (two) c31 = TSimd.MultiplyAdd(x, b1, c31); }
                        if (rows > 4) { x = TSimd.Broadcast(a3[rs + ps]); c40 = TSimd.MultiplyAdd(x, b0, c40); if (two) c41 = TSimd.MultiplyAdd(x, b1, c41); }
                        if (rows > 5) { x = TSimd.Broadcast(a3[2 * rs + ps]); c50 = TSimd.MultiplyAdd(x, b0, c50); if (two) c51 = TSimd.MultiplyAdd(x, b1, c51); }
                        if (rows > 6) { x = TSimd.Broadcast(a6[ps]); c60 = TSimd.MultiplyAdd(x, b0, c60); if (two) c61 = TSimd.MultiplyAdd(x, b1, c61); }
                        if (rows > 7) { x = TSimd.Broadcast(a6[rs + ps]); c70 = TSimd.MultiplyAdd(x, b0, c70); if (two) c71 = TSimd.MultiplyAdd(x, b1, c71); }
                        if (rows > 8) { x = TSimd.Broadcast(a6[2 * rs + ps]); c80 = TSimd.MultiplyAdd(x, b0, c80); if (two) c81 = TSimd.MultiplyAdd(x, b1, c81); }
                        if (rows > 9) { x = TSimd.Broadcast(a9[ps]); c90 = TSimd.MultiplyAdd(x, b0, c90); if (two) c91 = TSimd.MultiplyAdd(x, b1, c91); }
                        if (rows > 10) { x = TSimd.Broadcast(a9[rs + ps]); ca0 = TSimd.MultiplyAdd(x, b0, ca0); if (two) ca1 = TSimd.MultiplyAdd(x, b1, ca1); }
                        if (rows > 11) { x = TSimd.Broadcast(a9[2 * rs + ps]); cb0 = TSimd.MultiplyAdd(x, b0, cb0); if (two) cb1 = TSimd.MultiplyAdd(x, b1, cb1); }
                    }
                    a += 2 * ps;
                    if (rows > 3) a3 += 2 * ps;
                    if (rows > 6) a6 += 2 * ps;
                    if (rows > 9) a9 += 2 * ps;
                    b += 2 * ldb;
                    if (TB.Copies) bc += 2 * nr;
                }
                if (end == kc) break;
                PrefetchTile(c, store.Ldc, rows, two ? 2 : 1, w);
                end = kc;
            }
            if (p < kc)
            {
                {
                    TVec b0 = TSimd.Load(ref b[0]);
                    TVec b1 = two ? TSimd.Load(ref b[0 + w]) : default;
                    if (TB.Copies) { TSimd.Store(b0, ref bc[0]); if (two) TSimd.Store(b1, ref bc[w]); }
                    TVec x = TSimd.Broadcast(a[0]); c00 = TSimd.MultiplyAdd(x, b0, c00); if (two) c01 = TSimd.MultiplyAdd(x, b1, c01);
                    if (rows > 1) { x = TSimd.Broadcast(a[rs]); c10 = TSimd.MultiplyAdd(x, b0, c10); if (two) c11 = TSimd.MultiplyAdd(x, b1, c11); }
                    if (rows > 2) { x = TSimd.Broadcast(a[2 * rs]); c20 = TSimd.MultiplyAdd(x, b0, c20); if (two) c21 = TSimd.MultiplyAdd(x, b1, c21); }
                    if (rows > 3) { x = TSimd.Broadcast(a3[0]); c30 = TSimd.MultiplyAdd(x, b0, c30); if (two) c31 = TSimd.MultiplyAdd(x, b1, c31); }
                    if (rows > 4) { x = TSimd.Broadcast(a3[rs]); c40 = TSimd.MultiplyAdd(x, b0, c40); if (two) c41 = TSimd.MultiplyAdd(x, b1, c41); }
                    if (rows > 5) { x = TSimd.Broadcast(a3[2 * rs]); c50 = TSimd.MultiplyAdd(x, b0, c50); if (two) c51 = TSimd.MultiplyAdd(x, b1, c51); }
                    if (rows > 6) { x = TSimd.Broadcast(a6[0]); c60 = TSimd.MultiplyAdd(x, b0, c60); if (two) c61 = TSimd.MultiplyAdd(x, b1, c61); }
                    if (rows > 7) { x = TSimd.Broadcast(a6[rs]); c70 = TSimd.MultiplyAdd(x, b0, c70); if (two) c71 = TSimd.MultiplyAdd(x, b1, c71); }
                    if (rows > 8) { x = TSimd.Broadcast(a6[2 * rs]); c80 = TSimd.MultiplyAdd(x, b0, c80); if (two) c81 = TSimd.MultiplyAdd(x, b1, c81); }
                    if (rows > 9) { x = TSimd.Broadcast(a9[0]); c90 = TSimd.MultiplyAdd(x, b0, c90); if (two) c91 = TSimd.MultiplyAdd(x, b1, c91); }
                    if (rows > 10) { x = TSimd.Broadcast(a9[rs]); ca0 = TSimd.MultiplyAdd(x, b0, ca0); if (two) ca1 = TSimd.MultiplyAdd(x, b1, ca1); }
                    if (rows > 11) { x = TSimd.Broadcast(a9[2 * rs]); cb0 = TSimd.MultiplyAdd(x, b0, cb0); if (two) cb1 = TSimd.MultiplyAdd(x, b1, cb1); }
                }
            }
            if (cols == TCols.Value * w && !store.Transposed)
            {
                nint ldc = store.Ldc;
                if (!store.Last || (typeof(TAct) == typeof(IdentityOp) && store.Bias == null && store.Z == null))
                {
                    // Nothing to apply but (+ C): one branch for the tile, not one per vector (most tiles of a large product).
                    if (store.Load)
                    {
                        AddRow<TVec, TSimd, TCols>(c00, c01, c);
                        if (rows > 1) AddRow<TVec, TSimd, TCols>(c10, c11, c + ldc);
                        if (rows > 2) AddRow<TVec, TSimd, TCols>(c20, c21, c + 2 * ldc);
                        if (rows > 3) AddRow<TVec, TSimd, TCols>(c30, c31, c + 3 * ldc);
                        if (rows > 4) AddRow<TVec, TSimd, TCols>(c40, c41, c + 4 * ldc);
                        if (rows > 5) AddRow<TVec, TSimd, TCols>(c50, c51, c + 5 * ldc);
                        if (rows > 6) AddRow<TVec, TSimd, TCols>(c60, c61, c + 6 * ldc);
                        if (rows > 7) AddRow<TVec, TSimd, TCols>(c70, c71, c + 7 * ldc);
                        if (rows > 8) AddRow<TVec, TSimd, TCols>(c80, c81, c + 8 * ldc);
                        if (rows > 9) AddRow<TVec, TSimd, TCols>(c90, c91, c + 9 * ldc);
                        if (rows > 10) AddRow<TVec, TSimd, TCols>(ca0, ca1, c + 10 * ldc);
                        if (rows > 11) AddRow<TVec, TSimd, TCols>(cb0, cb1, c + 11 * ldc);
                    }
                    else
                    {
                        PutRow<TVec, TSimd, TCols>(c00, c01, c);
                        if (rows > 1) PutRow<TVec, TSimd, TCols>(c10, c11, c + ldc);
                        if (rows > 2) PutRow<TVec, TSimd, TCols>(c20, c21, c + 2 * ldc);
                        if (rows > 3) PutRow<TVec, TSimd, TCols>(c30, c31, c + 3 * ldc);
                        if (rows > 4) PutRow<TVec, TSimd, TCols>(c40, c41, c + 4 * ldc);
                        if (rows > 5) PutRow<TVec, TSimd, TCols>(c50, c51, c + 5 * ldc);
                        if (rows > 6) PutRow<TVec, TSimd, TCols>(c60, c61, c + 6 * ldc);
                        if (rows > 7) PutRow<TVec, TSimd, TCols>(c70, c71, c + 7 * ldc);
                        if (rows > 8) PutRow<TVec, TSimd, TCols>(c80, c81, c + 8 * ldc);
                        if (rows > 9) PutRow<TVec, TSimd, TCols>(c90, c91, c + 9 * ldc);
                        if (rows > 10) PutRow<TVec, TSimd, TCols>(ca0, ca1, c + 10 * ldc);
                        if (rows > 11) PutRow<TVec, TSimd, TCols>(cb0, cb1, c + 11 * ldc);
                    }
                    continue;
                }
                // The last depth block of a whole tile: bias (the same two vectors for every row, loaded once),
                // the pre-activation copy and an element-wise activation, row by row, with no test per vector.
                bool load = store.Load;
                TVec bias0 = store.Bias == null ? TSimd.Zero : TSimd.Load(ref store.Bias[0]);
                TVec bias1 = two && store.Bias != null ? TSimd.Load(ref store.Bias[w]) : TSimd.Zero;
                float* zt = store.Z;
                FinishRow<TVec, TSimd, TCols, TAct>(c00, c01, c, zt, load, bias0, bias1, act);
                if (rows > 1) FinishRow<TVec, TSimd, TCols, TAct>(c10, c11, c + ldc, zt == null ? null : zt + ldc, load, bias0, bias1, act);
                if (rows > 2) FinishRow<TVec, TSimd, TCols, TAct>(c20, c21, c + 2 * ldc, zt == null ? null : zt + 2 * ldc, load, bias0, bias1, act);
                if (rows > 3) FinishRow<TVec, TSimd, TCols, TAct>(c30, c31, c + 3 * ldc, zt == null ? null : zt + 3 * ldc, load, bias0, bias1, act);
                if (rows > 4) FinishRow<TVec, TSimd, TCols, TAct>(c40, c41, c + 4 * ldc, zt == null ? null : zt + 4 * ldc, load, bias0, bias1, act);
                if (rows > 5) FinishRow<TVec, TSimd, TCols, TAct>(c50, c51, c + 5 * ldc, zt == null ? null : zt + 5 * ldc, load, bias0, bias1, act);
                if (rows > 6) FinishRow<TVec, TSimd, TCols, TAct>(c60, c61, c + 6 * ldc, zt == null ? null : zt + 6 * ldc, load, bias0, bias1, act);
                if (rows > 7) FinishRow<TVec, TSimd, TCols, TAct>(c70, c71, c + 7 * ldc, zt == null ? null : zt + 7 * ldc, load, bias0, bias1, act);
                if (rows > 8) FinishRow<TVec, TSimd, TCols, TAct>(c80, c81, c + 8 * ldc, zt == null ? null : zt + 8 * ldc, load, bias0, bias1, act);
                if (rows > 9) FinishRow<TVec, TSimd, TCols, TAct>(c90, c91, c + 9 * ldc, zt == null ? null : zt + 9 * ldc, load, bias0, bias1, act);
                if (rows > 10) FinishRow<TVec, TSimd, TCols, TAct>(ca0, ca1, c + 10 * ldc, zt == null ? null : zt + 10 * ldc, load, bias0, bias1, act);
                if (rows > 11) FinishRow<TVec, TSimd, TCols, TAct>(cb0, cb1, c + 11 * ldc, zt == null ? null : zt + 11 * ldc, load, bias0, bias1, act);
                if (default(TAct) is ITileOperator) ActivateTile<TVec, TSimd, TAct>(c, rows, TCols.Value * w, store.Ldc, act);
                continue;
            }
            float* t = store.Edge;
            int lt = 2 * w;
            TSimd.Store(c00, ref t[0]); if (two) TSimd.Store(c01, ref t[w]);
            if (rows > 1) { TSimd.Store(c10, ref t[lt]); if (two) TSimd.Store(c11, ref t[lt + w]); }
            if (rows > 2) { TSimd.Store(c20, ref t[2 * lt]); if (two) TSimd.Store(c21, ref t[2 * lt + w]); }
            if (rows > 3) { TSimd.Store(c30, ref t[3 * lt]); if (two) TSimd.Store(c31, ref t[3 * lt + w]); }
            if (rows > 4) { TSimd.Store(c40, ref t[4 * lt]); if (two) TSimd.Store(c41, ref t[4 * lt + w]); }
            if (rows > 5) { TSimd.Store(c50, ref t[5 * lt]); if (two) TSimd.Store(c51, ref t[5 * lt + w]); }
            if (rows > 6) { TSimd.Store(c60, ref t[6 * lt]); if (two) TSimd.Store(c61, ref t[6 * lt + w]); }
            if (rows > 7) { TSimd.Store(c70, ref t[7 * lt]); if (two) TSimd.Store(c71, ref t[7 * lt + w]); }
            if (rows > 8) { TSimd.Store(c80, ref t[8 * lt]); if (two) TSimd.Store(c81, ref t[8 * lt + w]); }
            if (rows > 9) { TSimd.Store(c90, ref t[9 * lt]); if (two) TSimd.Store(c91, ref t[9 * lt + w]); }
            if (rows > 10) { TSimd.Store(ca0, ref t[10 * lt]); if (two) TSimd.Store(ca1, ref t[10 * lt + w]); }
            if (rows > 11) { TSimd.Store(cb0, ref t[11 * lt]); if (two) TSimd.Store(cb1, ref t[11 * lt + w]); }
            StoreEdge<TVec, TSimd, TAct>(t, lt, rows, cols, c, store, act);
            if (default(TAct) is ITileOperator && store.Last && !store.Transposed) ActivateTile<TVec, TSimd, TAct>(c, rows, cols, store.Ldc, act);
        }
    }

    /// <summary>Depths before a tile's end at which its C rows are prefetched (about 1,100 cycles at the AVX-512 peak; 32,
    /// 160, 384 and the tile's start measured no better at 1024³).</summary>
    private const int CPrefetchDepths = 96;

    /// <summary>Each row of a tile of C (one or two vectors: a line each on AVX-512) into L1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PrefetchTile(float* c, nint ldc, int rows, int vectors, int w)
    {
        if (!Sse.IsSupported) return;
        for (int r = 0; r < rows; r++, c += ldc)
        {
            Sse.Prefetch0(c);
            if (vectors == 2) Sse.Prefetch0(c + w);
        }
    }

    /// <summary>An <see cref="ITileOperator"/> over a tile just stored (rows × cols of C, row stride ldc), from L1.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void ActivateTile<TVec, TSimd, TAct>(float* c, int rows, int cols, int ldc, TAct act)
        where TVec : struct where TSimd : ISimd<TVec> where TAct : struct, IUnaryOperator
    {
        int w = TSimd.Count;
        for (int r = 0; r < rows; r++)
        {
            float* row = c + (nint)r * ldc;
            int j = 0;
            for (; j + w <= cols; j += w) TSimd.Store(act.Invoke<TVec, TSimd>(TSimd.Load(ref row[j])), ref row[j]);
            if (j < cols) TSimd.StoreFirst(act.Invoke<TVec, TSimd>(TSimd.LoadFirst(ref row[j], cols - j)), ref row[j], cols - j);
        }
    }

    /// <summary>A whole row of a tile added to C.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddRow<TVec, TSimd, TCols>(TVec v0, TVec v1, float* target)
        where TVec : struct where TSimd : ISimd<TVec> where TCols : struct, IConstant
    {
        TSimd.Store(TSimd.Add(v0, TSimd.Load(ref target[0])), ref target[0]);
        if (TCols.Value == 2) TSimd.Store(TSimd.Add(v1, TSimd.Load(ref target[TSimd.Count])), ref target[TSimd.Count]);
    }

    /// <summary>A whole row of a tile stored to C.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PutRow<TVec, TSimd, TCols>(TVec v0, TVec v1, float* target)
        where TVec : struct where TSimd : ISimd<TVec> where TCols : struct, IConstant
    {
        TSimd.Store(v0, ref target[0]);
        if (TCols.Value == 2) TSimd.Store(v1, ref target[TSimd.Count]);
    }

    /// <summary>A whole row of a tile after the last depth block: (+ C) + bias, the pre-activation copy (where
    /// <paramref name="z"/> is not null), an element-wise activation (a tile operator is applied after the tile).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void FinishRow<TVec, TSimd, TCols, TAct>(TVec v0, TVec v1, float* target, float* z, bool load, TVec bias0, TVec bias1, TAct act)
        where TVec : struct where TSimd : ISimd<TVec> where TCols : struct, IConstant where TAct : struct, IUnaryOperator
    {
        int w = TSimd.Count;
        bool two = TCols.Value == 2;
        if (load)
        {
            v0 = TSimd.Add(v0, TSimd.Load(ref target[0]));
            if (two) v1 = TSimd.Add(v1, TSimd.Load(ref target[w]));
        }
        v0 = TSimd.Add(v0, bias0);
        if (two) v1 = TSimd.Add(v1, bias1);
        if (z != null)
        {
            TSimd.Store(v0, ref z[0]);
            if (two) TSimd.Store(v1, ref z[w]);
        }
        if (typeof(TAct) != typeof(IdentityOp) && default(TAct) is not ITileOperator)
        {
            v0 = act.Invoke<TVec, TSimd>(v0);
            if (two) v1 = act.Invoke<TVec, TSimd>(v1);
        }
        TSimd.Store(v0, ref target[0]);
        if (two) TSimd.Store(v1, ref target[w]);
    }

    /// <summary>The first <paramref name="cols"/> columns of an edge tile held in scratch (row stride <paramref name="lt"/>):
    /// whole vectors, then the last one under a mask; nothing past the columns is touched.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void StoreEdge<TVec, TSimd, TAct>(float* tile, int lt, int rows, int cols, float* c, TileStore store, TAct act)
        where TVec : struct where TSimd : ISimd<TVec> where TAct : struct, IUnaryOperator
    {
        int w = TSimd.Count;
        if (store.Transposed)
        {
            StoreTransposed<TVec, TSimd, TAct>(tile, lt, rows, cols, c, store, act);
            return;
        }
        for (int r = 0; r < rows; r++)
        {
            float* target = c + (nint)r * store.Ldc;
            float* z = store.Z == null ? null : store.Z + (nint)r * store.Ldc;
            for (int j = 0; j < cols; j += w)
                StoreVector<TVec, TSimd, TAct>(TSimd.Load(ref tile[r * lt + j]), target, z, store, act, j, Math.Min(w, cols - j));
        }
    }

    /// <summary>
    /// A tile of Cᵀ (<see cref="TileStore.Transposed"/>): its row r is C's column r. Worked in the tile's own layout — C's
    /// block transposed in and added, then after the last depth block bias (one value per tile row), the pre-activation
    /// copy and the activation a vector at a time — and transposed into C (and Z) by the transpose kernel's register
    /// blocks (16 × 16 ones with masked stores on AVX-512: 5–8% faster on (64, 10, 128) Tn than 8 × 8 ones and a
    /// value at a time for the rows past them). One value at a time this store measured 2× the FMAs' time there.
    /// </summary>
    private static void StoreTransposed<TVec, TSimd, TAct>(float* tile, int lt, int rows, int cols, float* c, TileStore store, TAct act)
        where TVec : struct where TSimd : ISimd<TVec> where TAct : struct, IUnaryOperator
    {
        int w = TSimd.Count;
        float* other = tile + 12 * 32; // scratch after the tile (Scratch.EdgeTile)
        if (store.Load)
        {
            Transpose.Block(c, store.Ldc, other, lt, cols, rows);
            for (int r = 0; r < rows; r++)
                for (int j = 0; j < cols; j += w)
                    TSimd.Store(TSimd.Add(TSimd.Load(ref tile[r * lt + j]), TSimd.Load(ref other[r * lt + j])), ref tile[r * lt + j]);
        }
        if (store.Last)
        {
            if (store.Bias != null)
                for (int r = 0; r < rows; r++)
                {
                    TVec bias = TSimd.Broadcast(store.Bias[r]);
                    for (int j = 0; j < cols; j += w) TSimd.Store(TSimd.Add(TSimd.Load(ref tile[r * lt + j]), bias), ref tile[r * lt + j]);
                }
            if (store.Z != null) Transpose.Block(tile, lt, store.Z, store.Ldc, rows, cols);
            if (typeof(TAct) != typeof(IdentityOp))
                for (int r = 0; r < rows; r++)
                    for (int j = 0; j < cols; j += w) TSimd.Store(act.Invoke<TVec, TSimd>(TSimd.Load(ref tile[r * lt + j])), ref tile[r * lt + j]);
        }
        if (Avx512F.IsSupported)
        {
            // 16 × 16 register transposes with masked stores (rows past the tile's read from the scratch after it).
            for (int j = 0; j < cols; j += 16)
                Transpose.Narrow16(tile + j, lt, c + (nint)j * store.Ldc, store.Ldc, rows, Math.Min(16, cols - j));
            return;
        }
        Transpose.Block(tile, lt, c, store.Ldc, rows, cols);
    }

    /// <summary>(+ C), then after the last depth block + bias, the pre-activation copy, the activation; then store.
    /// Fewer than Count lanes (<paramref name="count"/>) are loaded and stored under a mask: nothing past them is touched.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreVector<TVec, TSimd, TAct>(TVec v, float* target, float* z, TileStore store, TAct act, int j, int count)
        where TVec : struct where TSimd : ISimd<TVec> where TAct : struct, IUnaryOperator
    {
        bool full = count == TSimd.Count;
        if (store.Load) v = TSimd.Add(v, full ? TSimd.Load(ref target[j]) : TSimd.LoadFirst(ref target[j], count));
        if (store.Last)
        {
            if (store.Bias != null) v = TSimd.Add(v, full ? TSimd.Load(ref store.Bias[j]) : TSimd.LoadFirst(ref store.Bias[j], count));
            if (z != null)
            {
                if (full) TSimd.Store(v, ref z[j]);
                else TSimd.StoreFirst(v, ref z[j], count);
            }
            // A tile operator is applied after the whole tile is stored (ActivateTile).
            if (typeof(TAct) != typeof(IdentityOp) && default(TAct) is not ITileOperator) v = act.Invoke<TVec, TSimd>(v);
        }
        if (full) TSimd.Store(v, ref target[j]);
        else TSimd.StoreFirst(v, ref target[j], count);
    }

    /// <summary>k = 0: the product is zero; the epilogue still applies.</summary>
    private static void EpilogueOnly<TAct>(float* c, int m, int n, bool accumulate, float* bias, TAct act, float* z, int jBegin, int jEnd)
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
                if (typeof(TAct) != typeof(IdentityOp)) v = act.Invoke<float, SimdScalar>(v);
                target = v;
            }
        }
    }

    // ---- packing ----

    /// <summary>Rows ahead at which a k-major B's packing prefetches (1024³ Nn, the B block 1,024 × 128, interleaved in one
    /// process: 4, 8 and 16 all 1–3% faster than none; A's panel copies gained nothing from the same).</summary>
    private const int PackPrefetchRows = 8;

    /// <summary>Floats of a row (the block's whole panels) from which B's packing leaves the rows to the hardware
    /// prefetchers: a 2 KB run of a row is long enough for them, and 8 rows ahead of 4 KB each (32 KB) push the lines
    /// being copied out of L1. On the Zen 4 host, packing B[0..256, 0..nc] of rows 1,024 floats apart from L3 (scratch
    /// loop, fastest of 15): nc 256 with the prefetches 57–59 µs against 73–75 without, nc 512 level, nc 1,024 47–48 µs
    /// against 41–42; Tn 1024³ (one block 171 × 1,024 wide) 106.4 / 108.4 GFLOP/s without against 106.2 / 103.3 with,
    /// (768, 1024, 768) 105.4 / 105.5 against 102.6 / 103.7 (fastest of 21 interleaved rounds); a later pair of runs, Tn
    /// 1024³ 107.8 / 108.9 against 107.3 / 108.3, and (256, 1024, 256), (1024, 2048, 256) Nn level within 1%.</summary>
    private const int PackPrefetchWidth = 512;

    /// <summary>
    /// B[pc..pc+kc, jc..jc+nc] into consecutive panels of 2·<paramref name="w"/> columns, each k-major (kc rows of
    /// its width); the last panel is <paramref name="w"/> or 2·<paramref name="w"/> wide and zero-padded. Nt's B
    /// ([n, k]) is transposed in registers (16 × 16 or 8 × 8 blocks); Nn's and Tn's ([k, n]) are copied a depth row at
    /// a time across every whole panel: each row's lines are read once and in order, where a panel at a time would walk
    /// down kc rows n floats apart (a page at n = 1024, out of the prefetchers' reach) once for every panel.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void PackB(GemmForm form, float* b, int n, int k, int pc, int kc, int jc, int nc, int w, float* packed)
    {
        int nr = 2 * w;
        if (form != GemmForm.Nt)
        {
            int whole = nc / nr * nr;
            if (whole > 0)
            {
                float* source = b + (nint)pc * n + jc;
                nint panelStride = (nint)nr * kc;
                for (int p = 0; p < kc; p++, source += n)
                {
                    // Each row's lines asked for PackPrefetchRows rows ahead when the runs are short: rows a page or
                    // more apart are out of the hardware prefetchers' reach (PackPrefetchWidth).
                    if (Sse.IsSupported && whole < PackPrefetchWidth && p + PackPrefetchRows < kc)
                    {
                        float* ahead = source + (nint)PackPrefetchRows * n;
                        for (int j = 0; j < whole; j += 16) Sse.Prefetch0(ahead + j);
                    }
                    float* to = packed + p * nr;
                    for (int jr = 0; jr < whole; jr += nr, to += panelStride)
                        for (int j = 0; j < nr; j += 8) Vector256.Store(Vector256.Load(source + jr + j), to + j);
                }
            }
            if (whole < nc)
            {
                // The last, narrower panel: whole vectors, then the rest under a mask (zeros above `cols`).
                int cols = nc - whole, width = cols <= w ? w : nr;
                float* source = b + (nint)pc * n + jc + whole, panel = packed + (nint)whole * kc;
                for (int p = 0; p < kc; p++, source += n, panel += width)
                    for (int j = 0; j < width; j += 8)
                    {
                        int count = cols - j;
                        Vector256<float> v = count >= 8 ? Vector256.Load(source + j) : count > 0 ? Simd256.LoadFirst(ref source[j], count) : default;
                        Vector256.Store(v, panel + j);
                    }
            }
            return;
        }
        for (int jr = 0; jr < nc; jr += nr)
        {
            int cols = Math.Min(nr, nc - jr);
            int width = cols <= w ? w : nr;
            float* panel = packed + (nint)jr * kc;
            Transpose.Block(b + (nint)(jc + jr) * k + pc, k, panel, width, cols, kc);
            if (cols < width)
                for (int p = 0; p < kc; p++) new Span<float>(panel + p * width + cols, width - cols).Clear();
        }
    }

    /// <summary>Micro-panels of k-major A packed together by default (<see cref="KMajorA"/>; a geometry may take more, up
    /// to <see cref="MaxPanelGroup"/>).</summary>
    internal const int PanelGroup = 4;

    /// <summary>The most micro-panels a geometry packs together: the scratch holds that many of the tallest.</summary>
    internal const int MaxPanelGroup = 8;

    /// <summary>Floats per row of a packed k-major panel's place: kc and 8 more. The 8 were room for overlapping vector
    /// copies, which the packing no longer makes; the layout the figures were measured with is kept.</summary>
    internal static int PanelRowFloats(int kc) => kc + 8;

    /// <summary>The distance between a group's panels.</summary>
    internal static int GroupPanelStride(int rows, int kc) => rows * PanelRowFloats(kc);

    /// <summary><paramref name="group"/> micro-panels of 12 or 6 columns each, from k-major <paramref name="source"/>:
    /// one pass over the depths, each row's lines read once for all of them, nothing read past the group's columns
    /// (overlapping 8-float copies, each rewriting part of the last, measured 20–25% slower). The panels lie
    /// <paramref name="stride"/> apart. A panel's consecutive depths are contiguous, so several depths are stored
    /// together in whole 256-bit vectors: 6-row panels four depths at a time (24 floats: three stores, where depth by
    /// depth took eight, each 128-bit or 64-bit and a quarter of them across a line), 12-row panels two at a time
    /// (three stores for four). On the Zen 3 host, copying a 256 × 256 A in 48-column groups (scratch loop, fastest of
    /// 31 rounds): 16.0 → 8.0 µs from L2, 70.8 → 41.6 µs from DRAM; 342 deep 18.4 → 9.6 µs. The products (one build, the
    /// copy switched, orders alternating, fastest of 21 rounds, GFLOP/s, depth by depth / together): Tn 256³ 93.2 / 94.5
    /// (again 92.8 / 94.2), (64, 128, 256) 91.0 / 93.3 (again 92.2 / 94.6), 512³ 92.9 / 93.8; 12-row panels (all columns
    /// in one vector) (256, 8, 256) 49.5 / 52.1, (768, 8, 512) 46.9 / 51.4; (64, 256, 784), 1024³, (128, 512, 1024)
    /// level.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void PackKMajorGroup(float* source, int ld, int rows, int kc, int stride, float* panels, int group = PanelGroup)
    {
        if (rows is not (12 or 6)) throw new ArgumentOutOfRangeException(nameof(rows), rows, "Panels of 12 or 6 rows are grouped.");
        int p = 0;
        if (rows == 12)
        {
            for (; p + 2 <= kc; p += 2)
            {
                float* f0 = source + (nint)p * ld, f1 = f0 + ld, to = panels + p * 12;
                for (int q = 0; q < group; q++, f0 += 12, f1 += 12, to += stride)
                {
                    // [f0 0..7], [f0 8..11 | f1 0..3], [f1 4..11]
                    Vector256.Store(Vector256.Load(f0), to);
                    Vector256.Store(Vector256.Create(Vector128.Load(f0 + 8), Vector128.Load(f1)), to + 8);
                    Vector256.Store(Vector256.Load(f1 + 4), to + 16);
                }
            }
        }
        else if (Sse2.IsSupported)
        {
            for (; p + 4 <= kc; p += 4)
            {
                float* f0 = source + (nint)p * ld, f1 = f0 + ld, f2 = f1 + ld, f3 = f2 + ld, to = panels + p * 6;
                for (int q = 0; q < group; q++, f0 += 6, f1 += 6, f2 += 6, f3 += 6, to += stride)
                {
                    // [f0 0..5 | f1 0..1], [f1 2..5 | f2 0..3], [f2 4..5 | f3 0..5]: the two-float pieces joined by a
                    // 64-bit load and a load into the high half, so nothing outside the panel's 6 columns is read.
                    Vector128<float> joined = Sse.LoadHigh(Sse2.LoadScalarVector128((double*)(f0 + 4)).AsSingle(), f1);
                    Vector256.Store(Vector256.Create(Vector128.Load(f0), joined), to);
                    Vector256.Store(Vector256.Create(Vector128.Load(f1 + 2), Vector128.Load(f2)), to + 8);
                    joined = Sse.LoadHigh(Sse2.LoadScalarVector128((double*)(f2 + 4)).AsSingle(), f3);
                    Vector256.Store(Vector256.Create(joined, Vector128.Load(f3 + 2)), to + 16);
                }
            }
        }
        // The depths left over (all of them without SSE2): each panel's as a single panel's copy lays them out.
        if (p < kc)
            for (int q = 0; q < group; q++)
                PackKMajor(source + (nint)p * ld + q * rows, ld, rows, kc - p, panels + p * rows + q * stride);
    }

    /// <summary>panel[p·rows + r] = source[p·ld + r]: the rows of a k-major A tile made contiguous, each depth copied
    /// exactly (in pieces of 8, 4 and 2 floats for the tile heights 12, 10, 8, 6, 4, 2), nothing read past the tile.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void PackKMajor(float* source, int ld, int rows, int kc, float* panel)
    {
        switch (rows)
        {
            case 12:
                for (int p = 0; p < kc; p++, source += ld, panel += 12)
                {
                    Vector256.Store(Vector256.Load(source), panel);
                    Vector128.Store(Vector128.Load(source + 8), panel + 8);
                }
                break;
            case 10:
                for (int p = 0; p < kc; p++, source += ld, panel += 10)
                {
                    Vector256.Store(Vector256.Load(source), panel);
                    *(long*)(panel + 8) = *(long*)(source + 8);
                }
                break;
            case 8:
                for (int p = 0; p < kc; p++, source += ld, panel += 8) Vector256.Store(Vector256.Load(source), panel);
                break;
            case 6:
                for (int p = 0; p < kc; p++, source += ld, panel += 6)
                {
                    Vector128.Store(Vector128.Load(source), panel);
                    *(long*)(panel + 4) = *(long*)(source + 4);
                }
                break;
            case 4:
                for (int p = 0; p < kc; p++, source += ld, panel += 4) Vector128.Store(Vector128.Load(source), panel);
                break;
            case 2:
                for (int p = 0; p < kc; p++, source += ld, panel += 2) *(long*)panel = *(long*)source;
                break;
            default:
                for (int p = 0; p < kc; p++, source += ld, panel += rows)
                    for (int r = 0; r < rows; r++) panel[r] = source[r];
                break;
        }
    }
}
