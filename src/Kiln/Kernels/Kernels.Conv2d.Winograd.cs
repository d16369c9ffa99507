using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Kiln.Kernels;

/// <summary>
/// Winograd's F(m×m, 3×3), m = 2 or 4, for a 3×3 convolution with stride 1, dilation 1 and padding 1 over
/// channels-last images (Lavin &amp; Gray, 2016): each m×m block of output pixels (a tile) is computed from the α×α
/// block of input pixels around it (α = m + 2) as Y = Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A. The 9m² multiply-adds per channel
/// pair of a direct tile become α²: 2.25× fewer for F(2×2) (16 for 36), 4× fewer for F(4×4) (36 for 144). Over
/// channels, the element-wise product is α² matrix products, one per position ξ of the transformed tile: M[ξ] =
/// V[ξ]·U[ξ] with V[ξ] [tiles, in] the transformed input and U[ξ] [in, out] the transformed weight, packed once for
/// the GEMM's register tiles. Tiles go in blocks small enough that V and M stay in L2; threads take whole blocks. The
/// transforms run on vectors along the channels (16 lanes where AVX-512 and the channel counts allow, else 8), so
/// both channel counts must be multiples of 8. F(4×4) rounds more (its transforms hold 1/6, 1/24 and 8): about 4× the
/// error of F(2×2), still within float32's tolerance for a sum over 9·in products. The input gradient of such a layer
/// is the same computation on dY with the weight turned by 180° and its in/out swapped (<see cref="Prepare"/> with
/// <c>transposed</c>); the weight gradient sums V ⊙ (A dY Aᵀ) over the tiles, α² products along the tiles, and turns
/// the sums back with Gᵀ·G (<see cref="WeightGradient"/>, <see cref="FinishWeightGradient"/>).
/// </summary>
internal sealed unsafe class Winograd3x3
{
    private readonly int _in, _out, _height, _width, _tileRows, _tileColumns, _alpha, _positions;
    private readonly bool _wide;
    private float[]? _u, _packed;
    private int _packedStride;

    [ThreadStatic] private static float[]? t_scratch;

    /// <param name="tile">The output tile's side m: 2 (F(2×2, 3×3)) or 4 (F(4×4, 3×3)).</param>
    /// <param name="inChannels">Channels read (the layer's input, or its output for the input gradient).</param>
    /// <param name="outChannels">Channels written.</param>
    /// <param name="height">The map's height (input and output: stride 1, padding 1).</param>
    /// <param name="width">The map's width.</param>
    /// <param name="isa">The kernels' instruction set (AVX2 or AVX-512).</param>
    public Winograd3x3(int tile, int inChannels, int outChannels, int height, int width, KernelIsa isa)
    {
        if (tile is not (2 or 4)) throw new ArgumentOutOfRangeException(nameof(tile), tile, "The output tile is 2 or 4.");
        if (isa == KernelIsa.Portable) throw new ArgumentException("Winograd runs on AVX2 or AVX-512 vectors.", nameof(isa));
        (Tile, Isa, _in, _out, _height, _width) = (tile, isa, inChannels, outChannels, height, width);
        (_tileRows, _tileColumns) = ((height + tile - 1) / tile, (width + tile - 1) / tile);
        _alpha = tile + 2;
        _positions = _alpha * _alpha;
        _wide = isa == KernelIsa.Avx512 && inChannels % 16 == 0 && outChannels % 16 == 0;
        // F(2×2): 96 tiles. F(4×4): V and M of a block within about 600 KB, a multiple of 12 tiles (AVX-512's tile rows).
        MaxTilesPerBlock = tile == 2 ? 96 : Math.Clamp(150_000 / (_positions * (inChannels + outChannels)) / 12 * 12, 12, 96);
    }

    /// <summary>The output tile's side m.</summary>
    public int Tile { get; }

    /// <summary>Positions of a transformed tile: (m + 2)².</summary>
    public int Positions => _positions;

    public KernelIsa Isa { get; }

    /// <summary>Whether a layer's geometry runs this way (and its input gradient, which has the same geometry).</summary>
    public static bool Applies(ConvGeometry g) =>
        g.KernelHeight == 3 && g.KernelWidth == 3 && g.StrideHeight == 1 && g.StrideWidth == 1 && g.DilationHeight == 1 && g.DilationWidth == 1
        && g.Groups == 1 && g.PadTop == 1 && g.PadBottom == 1 && g.PadLeft == 1 && g.PadRight == 1
        && g.InChannels % 8 == 0 && g.OutChannels % 8 == 0 && g.InHeight >= 2 && g.InWidth >= 2;

    /// <summary>The most tiles per block. F(2×2): 96 (a multiple of the 6- and 12-row register tiles; for the weight
    /// gradient, whose products run along the tiles, 384 measured no faster on Z2). F(4×4): fewer, as each tile has
    /// 36 positions.</summary>
    public int MaxTilesPerBlock { get; }

    /// <summary>The most tiles per block of the weight gradient (<c>weights</c> in <see cref="Plan"/>): its
    /// products run along the tiles, so a block's tiles are their depth, and a short depth costs a round trip of the
    /// summed products per block. F(4×4) on Z2's layers, one thread: 96 tiles measured 5–25% faster than 48 and 192.</summary>
    public const int MaxWeightTilesPerBlock = 96;

    public int Tiles(int images) => images * _tileRows * _tileColumns;

    /// <summary>How a call splits: the parts (threads) used — at most <paramref name="wantedParts"/>, each with 4 tiles
    /// or more — and the tiles per block: each part takes an equal, contiguous range of tiles (<see cref="PartTiles"/>)
    /// and runs it in equal blocks of at most <see cref="MaxTilesPerBlock"/>, a multiple of 4 (so that a small batch's
    /// few tiles still split evenly: Z2's last layer at batch 1 has 16, 8 a thread).</summary>
    public (int Parts, int TilesPerBlock) Plan(int images, int wantedParts, bool weights = false)
    {
        int tiles = Tiles(images), most = weights ? MaxWeightTilesPerBlock : MaxTilesPerBlock;
        int parts = Math.Max(1, Math.Min(wantedParts, tiles / 4));
        int perPart = (tiles + parts - 1) / parts;
        int blocksPerPart = (perPart + most - 1) / most;
        int tilesPerBlock = Math.Min(most, ((perPart + blocksPerPart - 1) / blocksPerPart + 3) / 4 * 4);
        return (parts, Math.Max(tilesPerBlock, 4));
    }

    /// <summary>The tiles of part <paramref name="part"/> of <paramref name="parts"/>: [first, last), in whole multiples of 4.</summary>
    public (int First, int Last) PartTiles(int images, int part, int parts)
    {
        int tiles = Tiles(images), groups = (tiles + 3) / 4;
        return (Math.Min(tiles, (int)((long)groups * part / parts) * 4), Math.Min(tiles, (int)((long)groups * (part + 1) / parts) * 4));
    }

    /// <summary>Floats between the positions' matrices of a block: the matrix, plus one cache line, so that they do not
    /// all fall on the same L1 sets (a block of 96 tiles × 32 channels is 12 KB, a multiple of 4 KB: the transforms,
    /// which touch every position at once, measured twice as slow without the pad).</summary>
    private static int PositionStride(int tilesPerBlock, int channels) => tilesPerBlock * channels + 16;

    /// <summary>This thread's scratch for V and M (or D) of a block of <paramref name="tilesPerBlock"/> tiles, and the
    /// transforms' staging (an α×α block of 16-lane vectors, twice).</summary>
    private float[] Scratch(int tilesPerBlock)
    {
        int floats = _positions * (PositionStride(tilesPerBlock, _in) + PositionStride(tilesPerBlock, _out)) + 2 * 36 * 16 + 16;
        return t_scratch is { } s && s.Length >= floats ? s : (t_scratch = GC.AllocateUninitializedArray<float>(floats, pinned: true));
    }

    private float[]? _preparedFrom;
    private bool _preparedTransposed;

    /// <summary>
    /// U[ξ][in, out] = G g Gᵀ for each channel pair of the PyTorch weight [out, in, 3, 3], or with
    /// <paramref name="transposed"/> of the weight [in', out', 3, 3] turned by 180° (the input gradient's: its "in" is the
    /// layer's out), each position's matrix packed as the GEMM's B. The weight is first transposed to [in, tap, out],
    /// then transformed on vectors along out: a training step changes the weight every time, and Z2's last layer (4,096
    /// pairs) took 850 µs a call as a scalar loop in double, 30 µs this way.
    /// </summary>
    public void Prepare(ReadOnlySpan<float> weight, bool transposed)
    {
        // Inference calls again and again with the same weight: transform only when it changed.
        // Bytes, not floats: float equality is element by element (NaN, −0), bytes compare as vectors (Z2's last layer,
        // 36,864 floats: 10.5 → 5 µs).
        if (_preparedFrom is { } previous && _preparedTransposed == transposed
            && MemoryMarshal.AsBytes(weight).SequenceEqual(MemoryMarshal.AsBytes(previous.AsSpan()))) return;
        _preparedFrom ??= GC.AllocateUninitializedArray<float>(weight.Length);
        weight.CopyTo(_preparedFrom);
        _preparedTransposed = transposed;
        int pairs = _in * _out;
        float[] byTap = _byTap ??= GC.AllocateUninitializedArray<float>(9 * pairs, pinned: true);
        // Tap k of pair (i, o) at byTap[(i·9 + k)·out + o], k = 3·kh + kw: the forward weight [out, in·9] transposed; the
        // transposed weight's [out, 9] block of each i transposed, its taps read in reverse below (the 180° turn).
        if (transposed)
            for (int i = 0; i < _in; i++)
                Transpose.Run(Isa, weight.Slice(i * _out * 9, _out * 9), _out, 9, byTap.AsSpan(i * 9 * _out, 9 * _out));
        else
            Transpose.Run(Isa, weight, _out, _in * 9, byTap);
        // Positions a cache line more than in·out apart: a power-of-two in·out would put every position's store of one
        // vector on the same L1 set (Z2's last layer: 36 stores 16 KB apart; 71 → 16 µs with the pad).
        int uStride = pairs + 16;
        float[] u = _u ??= GC.AllocateUninitializedArray<float>(_positions * uStride, pinned: true);
        _packedStride = (GemmPacked.PrepackedFloats(Isa, _out, _in) + 15) / 16 * 16;
        _packed ??= GC.AllocateUninitializedArray<float>(_positions * _packedStride + 16, pinned: true);
        fixed (float* pg = byTap, pu = u, pp = _packed)
        {
            if (_wide) TransformWeights<Vector512<float>, Simd512>(pg, pu, uStride, transposed);
            else TransformWeights<Vector256<float>, Simd256>(pg, pu, uStride, transposed);
            float* aligned = (float*)(((nint)pp + 63) & ~(nint)63);
            for (int xi = 0; xi < _positions; xi++)
                GemmPacked.Prepack(Isa, GemmForm.Nn, pu + (nint)xi * uStride, _out, _in, aligned + (nint)xi * _packedStride);
        }
    }

    private float[]? _byTap;

    /// <summary>U[(r, s)][i, o] = Σ G[r, kh] g[kh, kw] G[s, kw] over a vector of o at a time: t = G g (α×3), then t Gᵀ;
    /// g[kh, kw] is tap 3·kh + kw of <paramref name="byTap"/>, or tap 8 − (3·kh + kw) when <paramref name="turned"/>.</summary>
    private void TransformWeights<TVec, TSimd>(float* byTap, float* u, int stride, bool turned) where TVec : struct where TSimd : ISimd<TVec>
    {
        float[] gm = Tile == 2 ? G2 : G4;
        int a = _alpha, w = TSimd.Count;
        float* t = stackalloc float[6 * 3 * 16];
        for (int i = 0; i < _in; i++)
            for (int o = 0; o < _out; o += w)
            {
                float* g = byTap + (nint)i * 9 * _out + o;
                for (int c = 0; c < 3; c++)
                {
                    int k0 = turned ? 8 - c : c, k1 = turned ? 5 - c : 3 + c, k2 = turned ? 2 - c : 6 + c;
                    TVec g0 = TSimd.Load(ref g[k0 * _out]), g1 = TSimd.Load(ref g[k1 * _out]), g2 = TSimd.Load(ref g[k2 * _out]);
                    for (int r = 0; r < a; r++)
                        TSimd.Store(TSimd.MultiplyAdd(TSimd.Broadcast(gm[3 * r]), g0,
                            TSimd.MultiplyAdd(TSimd.Broadcast(gm[3 * r + 1]), g1, TSimd.Multiply(TSimd.Broadcast(gm[3 * r + 2]), g2))), ref t[(3 * r + c) * w]);
                }
                float* target = u + (nint)i * _out + o;
                for (int r = 0; r < a; r++)
                {
                    TVec t0 = TSimd.Load(ref t[3 * r * w]), t1 = TSimd.Load(ref t[(3 * r + 1) * w]), t2 = TSimd.Load(ref t[(3 * r + 2) * w]);
                    for (int s2 = 0; s2 < a; s2++)
                        TSimd.Store(TSimd.MultiplyAdd(TSimd.Broadcast(gm[3 * s2]), t0,
                            TSimd.MultiplyAdd(TSimd.Broadcast(gm[3 * s2 + 1]), t1, TSimd.Multiply(TSimd.Broadcast(gm[3 * s2 + 2]), t2))),
                            ref target[(nint)(a * r + s2) * stride]);
                }
            }
    }

    /// <summary>F(2×2, 3×3)'s G (rows of 3): [1, 0, 0], [½, ½, ½], [½, −½, ½], [0, 0, 1].</summary>
    private static readonly float[] G2 = { 1, 0, 0, 0.5f, 0.5f, 0.5f, 0.5f, -0.5f, 0.5f, 0, 0, 1 };

    /// <summary>F(4×4, 3×3)'s G (rows of 3), interpolation points 0, ±1, ±2 and ∞.</summary>
    private static readonly float[] G4 =
    {
        1 / 4f, 0, 0, -1 / 6f, -1 / 6f, -1 / 6f, -1 / 6f, 1 / 6f, -1 / 6f,
        1 / 24f, 1 / 12f, 1 / 6f, 1 / 24f, -1 / 12f, 1 / 6f, 0, 0, 1,
    };

    /// <summary>
    /// y[images, H, W, out] = act(conv + bias) (or y += conv with <paramref name="accumulate"/>, no bias or activation),
    /// for tiles [firstTile, lastTile) in blocks of <paramref name="tilesPerBlock"/>; <paramref name="z"/>, when not null,
    /// receives conv + bias.
    /// </summary>
    public void Run<TAct>(float* x, float* y, float* bias, float* z, TAct act, bool accumulate, int images, int tilesPerBlock,
        int firstTile, int lastTile)
        where TAct : struct, IUnaryOperator
    {
        if (_packed is null) throw new InvalidOperationException("Prepare the weight first.");
        if (_wide) Run<Vector512<float>, Simd512, TAct>(x, y, bias, z, act, accumulate, images, tilesPerBlock, firstTile, lastTile);
        else Run<Vector256<float>, Simd256, TAct>(x, y, bias, z, act, accumulate, images, tilesPerBlock, firstTile, lastTile);
    }

    private void Run<TVec, TSimd, TAct>(float* x, float* y, float* bias, float* z, TAct act, bool accumulate, int images, int tilesPerBlock,
        int firstTile, int lastTile)
        where TVec : struct where TSimd : ISimd<TVec> where TAct : struct, IUnaryOperator
    {
        float[] scratch = Scratch(tilesPerBlock);
        int padded = GemmPacked.PaddedColumns(_out, Isa == KernelIsa.Avx512 ? 16 : 8);
        fixed (float* ps = scratch, pp = _packed)
        {
            float* pu = (float*)(((nint)pp + 63) & ~(nint)63);
            int vStride = PositionStride(tilesPerBlock, _in), mStride = PositionStride(tilesPerBlock, _out);
            float* v = (float*)(((nint)ps + 63) & ~(nint)63), m = v + _positions * vStride, staging = m + _positions * mStride;
            for (int first = firstTile; first < lastTile; first += tilesPerBlock)
            {
                int count = Math.Min(tilesPerBlock, lastTile - first);
                TransformInput<TVec, TSimd>(x, v, first, count, vStride, staging);
                for (int xi = 0; xi < _positions; xi++)
                {
                    var a = new RowMajorA(v + (nint)xi * vStride, _in);
                    var b = new PrepackedB(pu + (nint)xi * _packedStride, padded);
                    GemmPacked.RunSources(Isa, a, b, m + (nint)xi * mStride, _out, count, _out, _in, false, null, default(IdentityOp), null, 0, _out);
                }
                if (Tile == 2) TransformOutput2<TVec, TSimd, TAct>(m, y, bias, z, act, accumulate, first, count, mStride);
                else TransformOutput4<TVec, TSimd, TAct>(m, y, bias, z, act, accumulate, first, count, mStride, staging);
            }
        }
    }

    /// <summary>
    /// The weight gradient's transformed sums over tiles [firstTile, lastTile): Ũ[ξ][in, out] += Σ_t V[ξ][t, in] ·
    /// D[ξ][t, out], V the transformed input tiles (as the forward's), D = A dY Aᵀ the output gradient's m×m blocks (zero
    /// past the map's edge) taken to α×α, A = Aᵀ of the forward transposed (F(2×2): [[1, 0], [1, 1], [1, −1], [0, −1]]).
    /// <see cref="FinishWeightGradient"/> turns Ũ into dW = Gᵀ Ũ G. In = the layer's in.
    /// </summary>
    public void WeightGradient(float* x, float* dy, float* accumulator, int images, int tilesPerBlock, int firstTile, int lastTile)
    {
        if (_wide) WeightGradient<Vector512<float>, Simd512>(x, dy, accumulator, images, tilesPerBlock, firstTile, lastTile);
        else WeightGradient<Vector256<float>, Simd256>(x, dy, accumulator, images, tilesPerBlock, firstTile, lastTile);
    }

    private void WeightGradient<TVec, TSimd>(float* x, float* dy, float* accumulator, int images, int tilesPerBlock, int firstTile, int lastTile)
        where TVec : struct where TSimd : ISimd<TVec>
    {
        float[] scratch = Scratch(tilesPerBlock);
        fixed (float* ps = scratch)
        {
            int vStride = PositionStride(tilesPerBlock, _in), dStride = PositionStride(tilesPerBlock, _out);
            float* v = (float*)(((nint)ps + 63) & ~(nint)63), d = v + _positions * vStride, staging = d + _positions * dStride;
            for (int first = firstTile; first < lastTile; first += tilesPerBlock)
            {
                int count = Math.Min(tilesPerBlock, lastTile - first);
                TransformInput<TVec, TSimd>(x, v, first, count, vStride, staging);
                if (Tile == 2) TransformOutputGradient<TVec, TSimd>(dy, d, first, count, dStride);
                else TransformOutputGradient4<TVec, TSimd>(dy, d, first, count, dStride, staging);
                for (int xi = 0; xi < _positions; xi++)
                {
                    var a = new KMajorA(v + (nint)xi * vStride, _in);
                    var b = new MatrixB(GemmForm.Tn, d + (nint)xi * dStride, _out, count);
                    GemmPacked.RunSources(Isa, a, b, accumulator + (nint)xi * _in * _out, _out, _in, _out, count, true, null, default(IdentityOp), null, 0, _out);
                }
            }
        }
    }

    /// <summary>F(2×2)'s D[ξ][t, o] = (A dY Aᵀ)[ξ] of each tile's 2×2 output-gradient block (zeros past the map's edge).</summary>
    private void TransformOutputGradient<TVec, TSimd>(float* dy, float* d, int first, int count, nint stride)
        where TVec : struct where TSimd : ISimd<TVec>
    {
        int perImage = _tileRows * _tileColumns, w = TSimd.Count;
        for (int t = 0; t < count; t++)
        {
            int tile = first + t, image = tile / perImage, inImage = tile - image * perImage;
            int row = inImage / _tileColumns * 2, column = inImage % _tileColumns * 2;
            bool right = column + 1 < _width, below = row + 1 < _height;
            float* source = dy + (nint)image * _height * _width * _out + ((nint)row * _width + column) * _out;
            nint down = (nint)_width * _out;
            float* target = d + (nint)t * _out;
            for (int o = 0; o < _out; o += w)
            {
                TVec y00 = TSimd.Load(ref source[o]);
                TVec y01 = right ? TSimd.Load(ref source[_out + o]) : TSimd.Zero;
                TVec y10 = below ? TSimd.Load(ref source[down + o]) : TSimd.Zero;
                TVec y11 = right && below ? TSimd.Load(ref source[down + _out + o]) : TSimd.Zero;
                // Rows: A y (4×2): (y0, y0 + y1, y0 − y1, −y1) down each column; then each row (r0, r1) the same way.
                float* q = target + o;
                StoreRow2<TVec, TSimd>(y00, y01, q, stride);
                StoreRow2<TVec, TSimd>(TSimd.Add(y00, y10), TSimd.Add(y01, y11), q + 4 * stride, stride);
                StoreRow2<TVec, TSimd>(TSimd.Subtract(y00, y10), TSimd.Subtract(y01, y11), q + 8 * stride, stride);
                StoreRow2<TVec, TSimd>(TSimd.Subtract(TSimd.Zero, y10), TSimd.Subtract(TSimd.Zero, y11), q + 12 * stride, stride);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow2<TVec, TSimd>(TVec r0, TVec r1, float* q, nint stride) where TVec : struct where TSimd : ISimd<TVec>
    {
        TSimd.Store(r0, ref q[0]);
        TSimd.Store(TSimd.Add(r0, r1), ref q[stride]);
        TSimd.Store(TSimd.Subtract(r0, r1), ref q[2 * stride]);
        TSimd.Store(TSimd.Subtract(TSimd.Zero, r1), ref q[3 * stride]);
    }

    /// <summary>
    /// F(4×4)'s D[ξ][t, o] = (A dY Aᵀ)[ξ] of each tile's 4×4 output-gradient block (zeros past the map's edge), A =
    /// [[1, 0, 0, 0], [1, 1, 1, 1], [1, −1, 1, −1], [1, 2, 4, 8], [1, −2, 4, −8], [0, 0, 0, 1]] (Aᵀ of the forward):
    /// each column of the block through A into <paramref name="work"/>, then each of the 6 rows of that.
    /// </summary>
    private void TransformOutputGradient4<TVec, TSimd>(float* dy, float* d, int first, int count, nint stride, float* work)
        where TVec : struct where TSimd : ISimd<TVec>
    {
        int perImage = _tileRows * _tileColumns, w = TSimd.Count;
        for (int t = 0; t < count; t++)
        {
            int tile = first + t, image = tile / perImage, inImage = tile - image * perImage;
            int row = inImage / _tileColumns * 4, column = inImage % _tileColumns * 4;
            int rows = Math.Min(4, _height - row), columns = Math.Min(4, _width - column);
            float* source = dy + (nint)image * _height * _width * _out + ((nint)row * _width + column) * _out;
            nint down = (nint)_width * _out;
            float* target = d + (nint)t * _out;
            for (int o = 0; o < _out; o += w)
            {
                for (int j = 0; j < 4; j++)
                {
                    float* q = source + (nint)j * _out + o;
                    bool inside = j < columns;
                    TVec y0 = inside ? TSimd.Load(ref q[0]) : TSimd.Zero;
                    TVec y1 = inside && rows > 1 ? TSimd.Load(ref q[down]) : TSimd.Zero;
                    TVec y2 = inside && rows > 2 ? TSimd.Load(ref q[2 * down]) : TSimd.Zero;
                    TVec y3 = inside && rows > 3 ? TSimd.Load(ref q[3 * down]) : TSimd.Zero;
                    GradientLine6<TVec, TSimd>(y0, y1, y2, y3, work + j * w, 4 * w);
                }
                for (int k = 0; k < 6; k++)
                {
                    float* q = work + k * 4 * w;
                    GradientLine6<TVec, TSimd>(TSimd.Load(ref q[0]), TSimd.Load(ref q[w]), TSimd.Load(ref q[2 * w]), TSimd.Load(ref q[3 * w]),
                        target + o + 6 * k * stride, stride);
                }
            }
        }
    }

    /// <summary>A·(y0..y3) of F(4×4): y0, y0 + y1 + y2 + y3, y0 − y1 + y2 − y3, y0 + 2y1 + 4y2 + 8y3, y0 − 2y1 + 4y2 − 8y3,
    /// y3, at q, q + step, … q + 5·step.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void GradientLine6<TVec, TSimd>(TVec y0, TVec y1, TVec y2, TVec y3, float* q, nint step)
        where TVec : struct where TSimd : ISimd<TVec>
    {
        TVec p = TSimd.Add(y0, y2), r = TSimd.Add(y1, y3);
        TVec u = TSimd.MultiplyAdd(TSimd.Broadcast(4f), y2, y0), v = TSimd.MultiplyAdd(TSimd.Broadcast(8f), y3, TSimd.Multiply(TSimd.Broadcast(2f), y1));
        TSimd.Store(y0, ref q[0]);
        TSimd.Store(TSimd.Add(p, r), ref q[step]);
        TSimd.Store(TSimd.Subtract(p, r), ref q[2 * step]);
        TSimd.Store(TSimd.Add(u, v), ref q[3 * step]);
        TSimd.Store(TSimd.Subtract(u, v), ref q[4 * step]);
        TSimd.Store(y3, ref q[5 * step]);
    }

    private float[]? _turned;

    /// <summary>dW[out, in, 3, 3] (+)= Gᵀ Ũ[·][in, out] G from the summed products: on vectors along out into
    /// [in, tap, out], then transposed to PyTorch's layout (a scalar loop per pair took about as long as the products
    /// for Z2's last layer).</summary>
    public void FinishWeightGradient(ReadOnlySpan<float> accumulator, Span<float> dweight, bool accumulate)
    {
        int pairs = _in * _out;
        float[] byTap = _byTap ??= GC.AllocateUninitializedArray<float>(9 * pairs, pinned: true);
        fixed (float* pa = accumulator, pt = byTap)
        {
            if (_wide) FinishWeights<Vector512<float>, Simd512>(pa, pt);
            else FinishWeights<Vector256<float>, Simd256>(pa, pt);
        }
        if (!accumulate)
        {
            Transpose.Run(Isa, byTap, _in * 9, _out, dweight);
            return;
        }
        float[] turned = _turned ??= GC.AllocateUninitializedArray<float>(9 * pairs, pinned: true);
        Transpose.Run(Isa, byTap, _in * 9, _out, turned);
        System.Numerics.Tensors.TensorPrimitives.Add(dweight, turned, dweight);
    }

    /// <summary>byTap[(i·9 + 3·kh + kw)·out + o] = Σ G[r, kh] Ũ[(r, s)][i, o] G[s, kw], a vector of o at a time.</summary>
    private void FinishWeights<TVec, TSimd>(float* accumulator, float* byTap) where TVec : struct where TSimd : ISimd<TVec>
    {
        float[] gm = Tile == 2 ? G2 : G4;
        int a = _alpha, pairs = _in * _out, w = TSimd.Count;
        float* t = stackalloc float[3 * 6 * 16];
        for (int i = 0; i < _in; i++)
            for (int o = 0; o < _out; o += w)
            {
                float* u = accumulator + (nint)i * _out + o;
                // t[kh, s] = Σ_r G[r, kh] Ũ[r, s].
                for (int sc = 0; sc < a; sc++)
                    for (int kh = 0; kh < 3; kh++)
                    {
                        TVec sum = TSimd.Zero;
                        for (int r = 0; r < a; r++)
                            sum = TSimd.MultiplyAdd(TSimd.Broadcast(gm[3 * r + kh]), TSimd.Load(ref u[(nint)(a * r + sc) * pairs]), sum);
                        TSimd.Store(sum, ref t[(kh * a + sc) * w]);
                    }
                float* target = byTap + (nint)i * 9 * _out + o;
                for (int kh = 0; kh < 3; kh++)
                    for (int kw = 0; kw < 3; kw++)
                    {
                        TVec sum = TSimd.Zero;
                        for (int sc = 0; sc < a; sc++)
                            sum = TSimd.MultiplyAdd(TSimd.Load(ref t[(kh * a + sc) * w]), TSimd.Broadcast(gm[3 * sc + kw]), sum);
                        TSimd.Store(sum, ref target[(3 * kh + kw) * _out]);
                    }
            }
    }

    /// <summary>V[ξ][t, c] = (Bᵀ d B)[ξ] for tiles [first, first + count), d the α×α input block at (m·row − 1,
    /// m·column − 1), zero outside the image. Tiles inside the image read their vectors directly; border tiles copy
    /// theirs, zero-padded, into a block first.</summary>
    private void TransformInput<TVec, TSimd>(float* x, float* v, int first, int count, int stride, float* staging)
        where TVec : struct where TSimd : ISimd<TVec>
    {
        int perImage = _tileRows * _tileColumns, rowStride = _width * _in, a = _alpha, w = TSimd.Count;
        float* padded = staging, work = staging + 36 * 16;
        for (int t = 0; t < count; t++)
        {
            int tile = first + t, image = tile / perImage, inImage = tile - image * perImage;
            int row = inImage / _tileColumns * Tile - 1, column = inImage % _tileColumns * Tile - 1;
            float* source = x + (nint)image * _height * _width * _in;
            bool inside = row >= 0 && column >= 0 && row + a <= _height && column + a <= _width;
            float* target = v + (nint)t * _in;
            for (int c = 0; c < _in; c += w)
            {
                float* p;
                nint rs, cs;
                if (inside)
                {
                    p = source + ((nint)row * _width + column) * _in + c;
                    rs = rowStride;
                    cs = _in;
                }
                else
                {
                    for (int i = 0; i < a; i++)
                        for (int j = 0; j < a; j++)
                        {
                            int r = row + i, q = column + j;
                            TVec value = (uint)r < (uint)_height && (uint)q < (uint)_width ? TSimd.Load(ref source[((nint)r * _width + q) * _in + c]) : TSimd.Zero;
                            TSimd.Store(value, ref padded[(a * i + j) * w]);
                        }
                    p = padded;
                    rs = a * w;
                    cs = w;
                }
                if (Tile == 2) Transform4x4<TVec, TSimd>(p, rs, cs, target + c, stride);
                else Transform6x6<TVec, TSimd>(p, rs, cs, target + c, stride, work);
            }
        }
    }

    /// <summary>F(2×2)'s Bᵀ d B of one 4×4 block of vectors (element (i, j) at p + i·rs + j·cs), stored per position;
    /// Bᵀ = [[1, 0, −1, 0], [0, 1, 1, 0], [0, −1, 1, 0], [0, 1, 0, −1]].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transform4x4<TVec, TSimd>(float* p, nint rs, nint cs, float* target, nint stride)
        where TVec : struct where TSimd : ISimd<TVec>
    {
        // Rows first (Bᵀ d), one column of the block at a time, then each row of the result (· B).
        Column4<TVec, TSimd>(p, rs, out TVec a0, out TVec b0, out TVec c0, out TVec e0);
        Column4<TVec, TSimd>(p + cs, rs, out TVec a1, out TVec b1, out TVec c1, out TVec e1);
        Column4<TVec, TSimd>(p + 2 * cs, rs, out TVec a2, out TVec b2, out TVec c2, out TVec e2);
        Column4<TVec, TSimd>(p + 3 * cs, rs, out TVec a3, out TVec b3, out TVec c3, out TVec e3);
        Row4<TVec, TSimd>(a0, a1, a2, a3, target, stride);
        Row4<TVec, TSimd>(b0, b1, b2, b3, target + 4 * stride, stride);
        Row4<TVec, TSimd>(c0, c1, c2, c3, target + 8 * stride, stride);
        Row4<TVec, TSimd>(e0, e1, e2, e3, target + 12 * stride, stride);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Column4<TVec, TSimd>(float* q, nint rs, out TVec a, out TVec b, out TVec c, out TVec e)
        where TVec : struct where TSimd : ISimd<TVec>
    {
        TVec d0 = TSimd.Load(ref q[0]), d1 = TSimd.Load(ref q[rs]), d2 = TSimd.Load(ref q[2 * rs]), d3 = TSimd.Load(ref q[3 * rs]);
        a = TSimd.Subtract(d0, d2); b = TSimd.Add(d1, d2); c = TSimd.Subtract(d2, d1); e = TSimd.Subtract(d1, d3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Row4<TVec, TSimd>(TVec d0, TVec d1, TVec d2, TVec d3, float* q, nint stride)
        where TVec : struct where TSimd : ISimd<TVec>
    {
        TSimd.Store(TSimd.Subtract(d0, d2), ref q[0]);
        TSimd.Store(TSimd.Add(d1, d2), ref q[stride]);
        TSimd.Store(TSimd.Subtract(d2, d1), ref q[2 * stride]);
        TSimd.Store(TSimd.Subtract(d1, d3), ref q[3 * stride]);
    }

    /// <summary>
    /// F(4×4)'s Bᵀ d B of one 6×6 block of vectors (element (i, j) at p + i·rs + j·cs), stored per position, Bᵀ =
    /// [[4, 0, −5, 0, 1, 0], [0, −4, −4, 1, 1, 0], [0, 4, −4, −1, 1, 0], [0, −2, −1, 2, 1, 0], [0, 2, −1, −2, 1, 0],
    /// [0, 4, 0, −5, 0, 1]]: each column of the block through Bᵀ into <paramref name="work"/>, then each row of that.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transform6x6<TVec, TSimd>(float* p, nint rs, nint cs, float* target, nint stride, float* work)
        where TVec : struct where TSimd : ISimd<TVec>
    {
        int w = TSimd.Count;
        for (int j = 0; j < 6; j++)
        {
            float* q = p + j * cs;
            // Column j's results go to work[i, j] (i = 0..5), 6 vectors a row.
            InputLine6<TVec, TSimd>(TSimd.Load(ref q[0]), TSimd.Load(ref q[rs]), TSimd.Load(ref q[2 * rs]), TSimd.Load(ref q[3 * rs]),
                TSimd.Load(ref q[4 * rs]), TSimd.Load(ref q[5 * rs]), work + j * w, 6 * w);
        }
        for (int i = 0; i < 6; i++)
        {
            float* q = work + i * 6 * w;
            InputLine6<TVec, TSimd>(TSimd.Load(ref q[0]), TSimd.Load(ref q[w]), TSimd.Load(ref q[2 * w]), TSimd.Load(ref q[3 * w]),
                TSimd.Load(ref q[4 * w]), TSimd.Load(ref q[5 * w]), target + 6 * i * stride, stride);
        }
    }

    /// <summary>Bᵀ·(d0..d5) of F(4×4), the six results at q, q + step, … q + 5·step.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void InputLine6<TVec, TSimd>(TVec d0, TVec d1, TVec d2, TVec d3, TVec d4, TVec d5, float* q, nint step)
        where TVec : struct where TSimd : ISimd<TVec>
    {
        TVec four = TSimd.Broadcast(4f), minusFour = TSimd.Broadcast(-4f), minusFive = TSimd.Broadcast(-5f), two = TSimd.Broadcast(2f);
        TVec a = TSimd.MultiplyAdd(minusFour, d2, d4), b = TSimd.MultiplyAdd(minusFour, d1, d3);
        TVec c = TSimd.Subtract(d4, d2), e = TSimd.Multiply(two, TSimd.Subtract(d3, d1));
        TSimd.Store(TSimd.MultiplyAdd(four, d0, TSimd.MultiplyAdd(minusFive, d2, d4)), ref q[0]);
        TSimd.Store(TSimd.Add(a, b), ref q[step]);
        TSimd.Store(TSimd.Subtract(a, b), ref q[2 * step]);
        TSimd.Store(TSimd.Add(c, e), ref q[3 * step]);
        TSimd.Store(TSimd.Subtract(c, e), ref q[4 * step]);
        TSimd.Store(TSimd.MultiplyAdd(four, d1, TSimd.MultiplyAdd(minusFive, d3, d5)), ref q[5 * step]);
    }

    /// <summary>F(2×2)'s 2×2 outputs of each tile, Aᵀ M A with Aᵀ = [[1, 1, 1, 0], [0, 1, −1, −1]], clipped at the map's edge.</summary>
    private void TransformOutput2<TVec, TSimd, TAct>(float* m, float* y, float* bias, float* z, TAct act, bool accumulate, int first, int count, int stride)
        where TVec : struct where TSimd : ISimd<TVec> where TAct : struct, IUnaryOperator
    {
        int perImage = _tileRows * _tileColumns, w = TSimd.Count;
        for (int t = 0; t < count; t++)
        {
            int tile = first + t, image = tile / perImage, inImage = tile - image * perImage;
            int row = inImage / _tileColumns * 2, column = inImage % _tileColumns * 2;
            nint imageAt = (nint)image * _height * _width * _out;
            bool right = column + 1 < _width, below = row + 1 < _height;
            for (int o = 0; o < _out; o += w)
            {
                float* s = m + (nint)t * _out + o;
                // Rows: Aᵀ M (2×4), column j of M at s + j·stride, s + (4 + j)·stride, ….
                TVec r00, r01, r02, r03, r10, r11, r12, r13;
                OutputColumn2<TVec, TSimd>(s, stride, out r00, out r10);
                OutputColumn2<TVec, TSimd>(s + stride, stride, out r01, out r11);
                OutputColumn2<TVec, TSimd>(s + 2 * stride, stride, out r02, out r12);
                OutputColumn2<TVec, TSimd>(s + 3 * stride, stride, out r03, out r13);
                TVec b = bias == null ? TSimd.Zero : TSimd.Load(ref bias[o]);
                nint at = imageAt + ((nint)row * _width + column) * _out + o, down = (nint)_width * _out;
                Put<TVec, TSimd, TAct>(TSimd.Add(TSimd.Add(TSimd.Add(r00, r01), r02), b), y + at, z == null ? null : z + at, act, accumulate);
                if (right) Put<TVec, TSimd, TAct>(TSimd.Add(TSimd.Subtract(TSimd.Subtract(r01, r02), r03), b), y + at + _out, z == null ? null : z + at + _out, act, accumulate);
                if (below) Put<TVec, TSimd, TAct>(TSimd.Add(TSimd.Add(TSimd.Add(r10, r11), r12), b), y + at + down, z == null ? null : z + at + down, act, accumulate);
                if (right && below) Put<TVec, TSimd, TAct>(TSimd.Add(TSimd.Subtract(TSimd.Subtract(r11, r12), r13), b), y + at + down + _out, z == null ? null : z + at + down + _out, act, accumulate);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void OutputColumn2<TVec, TSimd>(float* s, nint stride, out TVec top, out TVec bottom) where TVec : struct where TSimd : ISimd<TVec>
    {
        TVec m0 = TSimd.Load(ref s[0]), m4 = TSimd.Load(ref s[4 * stride]), m8 = TSimd.Load(ref s[8 * stride]), m12 = TSimd.Load(ref s[12 * stride]);
        top = TSimd.Add(TSimd.Add(m0, m4), m8);
        bottom = TSimd.Subtract(TSimd.Subtract(m4, m8), m12);
    }

    /// <summary>
    /// F(4×4)'s 4×4 outputs of each tile, Aᵀ M A with Aᵀ = [[1, 1, 1, 1, 1, 0], [0, 1, −1, 2, −2, 0], [0, 1, 1, 4, 4, 0],
    /// [0, 1, −1, 8, −8, 1]], clipped at the map's edge: each column of M through Aᵀ into <paramref name="work"/>, then
    /// each of the 4 rows of that.
    /// </summary>
    private void TransformOutput4<TVec, TSimd, TAct>(float* m, float* y, float* bias, float* z, TAct act, bool accumulate, int first, int count, int stride,
        float* work)
        where TVec : struct where TSimd : ISimd<TVec> where TAct : struct, IUnaryOperator
    {
        int perImage = _tileRows * _tileColumns, w = TSimd.Count;
        for (int t = 0; t < count; t++)
        {
            int tile = first + t, image = tile / perImage, inImage = tile - image * perImage;
            int row = inImage / _tileColumns * 4, column = inImage % _tileColumns * 4;
            int rows = Math.Min(4, _height - row), columns = Math.Min(4, _width - column);
            nint imageAt = (nint)image * _height * _width * _out, down = (nint)_width * _out;
            for (int o = 0; o < _out; o += w)
            {
                float* s = m + (nint)t * _out + o;
                for (int j = 0; j < 6; j++)
                {
                    float* q = s + j * (nint)stride;
                    OutputLine6<TVec, TSimd>(TSimd.Load(ref q[0]), TSimd.Load(ref q[6 * (nint)stride]), TSimd.Load(ref q[12 * (nint)stride]),
                        TSimd.Load(ref q[18 * (nint)stride]), TSimd.Load(ref q[24 * (nint)stride]), TSimd.Load(ref q[30 * (nint)stride]),
                        out TVec s0, out TVec s1, out TVec s2, out TVec s3);
                    TSimd.Store(s0, ref work[j * w]);
                    TSimd.Store(s1, ref work[(6 + j) * w]);
                    TSimd.Store(s2, ref work[(12 + j) * w]);
                    TSimd.Store(s3, ref work[(18 + j) * w]);
                }
                TVec b = bias == null ? TSimd.Zero : TSimd.Load(ref bias[o]);
                for (int r = 0; r < rows; r++)
                {
                    float* q = work + r * 6 * w;
                    OutputLine6<TVec, TSimd>(TSimd.Load(ref q[0]), TSimd.Load(ref q[w]), TSimd.Load(ref q[2 * w]), TSimd.Load(ref q[3 * w]),
                        TSimd.Load(ref q[4 * w]), TSimd.Load(ref q[5 * w]), out TVec y0, out TVec y1, out TVec y2, out TVec y3);
                    nint at = imageAt + ((nint)(row + r) * _width + column) * _out + o;
                    float* zr = z == null ? null : z + at;
                    Put<TVec, TSimd, TAct>(TSimd.Add(y0, b), y + at, zr, act, accumulate);
                    if (columns > 1) Put<TVec, TSimd, TAct>(TSimd.Add(y1, b), y + at + _out, zr == null ? null : zr + _out, act, accumulate);
                    if (columns > 2) Put<TVec, TSimd, TAct>(TSimd.Add(y2, b), y + at + 2 * _out, zr == null ? null : zr + 2 * _out, act, accumulate);
                    if (columns > 3) Put<TVec, TSimd, TAct>(TSimd.Add(y3, b), y + at + 3 * _out, zr == null ? null : zr + 3 * _out, act, accumulate);
                }
            }
        }
    }

    /// <summary>Aᵀ·(m0..m5) of F(4×4).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void OutputLine6<TVec, TSimd>(TVec m0, TVec m1, TVec m2, TVec m3, TVec m4, TVec m5, out TVec s0, out TVec s1, out TVec s2, out TVec s3)
        where TVec : struct where TSimd : ISimd<TVec>
    {
        TVec p = TSimd.Add(m1, m2), q = TSimd.Subtract(m1, m2), r = TSimd.Add(m3, m4), u = TSimd.Subtract(m3, m4);
        s0 = TSimd.Add(TSimd.Add(m0, p), r);
        s1 = TSimd.MultiplyAdd(TSimd.Broadcast(2f), u, q);
        s2 = TSimd.MultiplyAdd(TSimd.Broadcast(4f), r, p);
        s3 = TSimd.Add(TSimd.MultiplyAdd(TSimd.Broadcast(8f), u, q), m5);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Put<TVec, TSimd, TAct>(TVec value, float* y, float* z, TAct act, bool accumulate)
        where TVec : struct where TSimd : ISimd<TVec> where TAct : struct, IUnaryOperator
    {
        if (accumulate)
        {
            TSimd.Store(TSimd.Add(TSimd.Load(ref y[0]), value), ref y[0]);
            return;
        }
        if (z != null) TSimd.Store(value, ref z[0]);
        TSimd.Store(act.Invoke<TVec, TSimd>(value), ref y[0]);
    }
}
