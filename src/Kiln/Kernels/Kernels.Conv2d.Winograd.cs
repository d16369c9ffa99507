using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Kiln.Kernels;

/// <summary>
/// Winograd's F(2×2, 3×3) for a 3×3 convolution with stride 1, dilation 1 and padding 1 over channels-last images
/// (Lavin &amp; Gray, 2016): each 2×2 block of output pixels (a tile) is computed from the 4×4 block of input pixels
/// around it as Y = Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A, so the 36 multiply-adds per channel pair of a direct 2×2 block become 16
/// — 2.25× fewer. Over channels, the element-wise product is 16 matrix products, one per position ξ of the 4×4
/// transformed tile: M[ξ] = V[ξ]·U[ξ] with V[ξ] [tiles, in] the transformed input and U[ξ] [in, out] the transformed
/// weight, run on the packed GEMM's register tiles. Tiles go in blocks small enough that V and M stay in L2; threads
/// take whole blocks. The transforms run on 8-lane vectors along the channels, so both channel counts must be
/// multiples of 8. The input gradient of such a layer is the same computation on dY with the weight turned by 180°
/// and its in/out swapped (<see cref="Prepare"/> with <c>transposed</c>); the weight gradient sums V ⊙ (A dY Aᵀ) over
/// the tiles, 16 products along the tiles, and turns the sums back with Gᵀ·G (<see cref="WeightGradient"/>).
/// </summary>
internal sealed unsafe class Winograd3x3
{
    private const int Positions = 16;

    private readonly int _in, _out, _height, _width, _tileRows, _tileColumns;
    private readonly float[] _u;

    [ThreadStatic] private static float[]? t_scratch;

    /// <param name="inChannels">Channels read (the layer's input, or its output for the input gradient).</param>
    /// <param name="outChannels">Channels written.</param>
    /// <param name="height">The map's height (input and output: stride 1, padding 1).</param>
    /// <param name="width">The map's width.</param>
    public Winograd3x3(int inChannels, int outChannels, int height, int width)
    {
        (_in, _out, _height, _width) = (inChannels, outChannels, height, width);
        (_tileRows, _tileColumns) = ((height + 1) / 2, (width + 1) / 2);
        _u = GC.AllocateUninitializedArray<float>(Positions * inChannels * outChannels, pinned: true);
    }

    /// <summary>Whether a layer's geometry runs this way (and its input gradient, which has the same geometry).</summary>
    public static bool Applies(ConvGeometry g) =>
        g.KernelHeight == 3 && g.KernelWidth == 3 && g.StrideHeight == 1 && g.StrideWidth == 1 && g.DilationHeight == 1 && g.DilationWidth == 1
        && g.Groups == 1 && g.PadTop == 1 && g.PadBottom == 1 && g.PadLeft == 1 && g.PadRight == 1
        && g.InChannels % 8 == 0 && g.OutChannels % 8 == 0 && g.InHeight >= 2 && g.InWidth >= 2;

    /// <summary>The most tiles per block (a multiple of the 6-row register tile). For the weight gradient, whose
    /// products run along the tiles, 384 (a longer depth per product call) measured no faster on Z2.</summary>
    public const int MaxTilesPerBlock = 96;

    public int Tiles(int images) => images * _tileRows * _tileColumns;

    /// <summary>How a call splits: tiles per block (at most <see cref="MaxTilesPerBlock"/>, a multiple of 6, fewer
    /// when that would leave one of <paramref name="wantedParts"/> threads without a block — a small batch), the block
    /// count and the parts (threads) actually used.</summary>
    public (int Parts, int TilesPerBlock, int Blocks) Plan(int images, int wantedParts)
    {
        int tiles = Tiles(images);
        int parts = Math.Max(1, Math.Min(wantedParts, (tiles + 5) / 6));
        int perPart = (tiles + parts - 1) / parts;
        int tilesPerBlock = Math.Clamp((perPart + 5) / 6 * 6, 6, MaxTilesPerBlock);
        int blocks = (tiles + tilesPerBlock - 1) / tilesPerBlock;
        return (Math.Min(parts, blocks), tilesPerBlock, blocks);
    }

    /// <summary>Floats between the 16 positions' matrices of a block: the matrix, plus one cache line, so that the 16
    /// do not all fall on the same L1 sets (a block of 96 tiles × 32 channels is 12 KB, a multiple of 4 KB: the
    /// transforms, which touch all 16 at once, measured twice as slow without the pad).</summary>
    private static int PositionStride(int tilesPerBlock, int channels) => tilesPerBlock * channels + 16;

    /// <summary>This thread's scratch for V and M (or D) of a block of <paramref name="tilesPerBlock"/> tiles.</summary>
    private float[] Scratch(int tilesPerBlock)
    {
        int floats = Positions * (PositionStride(tilesPerBlock, _in) + PositionStride(tilesPerBlock, _out)) + 16;
        return t_scratch is { } s && s.Length >= floats ? s : (t_scratch = GC.AllocateUninitializedArray<float>(floats, pinned: true));
    }

    private float[]? _preparedFrom;
    private bool _preparedTransposed;

    /// <summary>
    /// U[ξ][in, out] = G g Gᵀ for each channel pair of the PyTorch weight [out, in, 3, 3], or with
    /// <paramref name="transposed"/> of the weight [in', out', 3, 3] turned by 180° (the input gradient's: its "in" is the
    /// layer's out).
    /// </summary>
    public void Prepare(ReadOnlySpan<float> weight, bool transposed)
    {
        // Inference calls again and again with the same weight: transform only when it changed.
        if (_preparedFrom is { } previous && _preparedTransposed == transposed && weight.SequenceEqual(previous)) return;
        _preparedFrom ??= GC.AllocateUninitializedArray<float>(weight.Length);
        weight.CopyTo(_preparedFrom);
        _preparedTransposed = transposed;
        Span<float> g = stackalloc float[9];
        Span<float> t = stackalloc float[12];
        for (int i = 0; i < _in; i++)
            for (int o = 0; o < _out; o++)
            {
                // g[kh, kw]: forward W[o, i, kh, kw]; transposed W[i, o, 2 − kh, 2 − kw] (i indexes the layer's out).
                ReadOnlySpan<float> source = transposed ? weight.Slice((i * _out + o) * 9, 9) : weight.Slice((o * _in + i) * 9, 9);
                for (int k = 0; k < 9; k++) g[k] = transposed ? source[8 - k] : source[k];
                // t = G g (4×3), then U = t Gᵀ (4×4); G = [[1, 0, 0], [½, ½, ½], [½, −½, ½], [0, 0, 1]].
                for (int c = 0; c < 3; c++)
                {
                    float g0 = g[c], g1 = g[3 + c], g2 = g[6 + c];
                    t[c] = g0;
                    t[3 + c] = 0.5f * (g0 + g1 + g2);
                    t[6 + c] = 0.5f * (g0 - g1 + g2);
                    t[9 + c] = g2;
                }
                for (int r = 0; r < 4; r++)
                {
                    float t0 = t[3 * r], t1 = t[3 * r + 1], t2 = t[3 * r + 2];
                    int at = i * _out + o;
                    _u[(4 * r + 0) * _in * _out + at] = t0;
                    _u[(4 * r + 1) * _in * _out + at] = 0.5f * (t0 + t1 + t2);
                    _u[(4 * r + 2) * _in * _out + at] = 0.5f * (t0 - t1 + t2);
                    _u[(4 * r + 3) * _in * _out + at] = t2;
                }
            }
    }

    /// <summary>
    /// y[images, H, W, out] = act(conv + bias) (or y += conv with <paramref name="accumulate"/>, no bias or activation),
    /// for blocks [firstBlock, lastBlock) of tiles; <paramref name="z"/>, when not null, receives conv + bias.
    /// </summary>
    public void Run<TAct>(KernelIsa isa, float* x, float* y, float* bias, float* z, TAct act, bool accumulate, int images, int tilesPerBlock,
        int firstBlock, int lastBlock)
        where TAct : struct, IUnaryOperator
    {
        float[] scratch = Scratch(tilesPerBlock);
        int tiles = Tiles(images);
        fixed (float* ps = scratch, pu = _u)
        {
            int vStride = PositionStride(tilesPerBlock, _in), mStride = PositionStride(tilesPerBlock, _out);
            float* v = (float*)(((nint)ps + 63) & ~(nint)63), m = v + Positions * vStride;
            for (int block = firstBlock; block < lastBlock; block++)
            {
                int first = block * tilesPerBlock, count = Math.Min(tilesPerBlock, tiles - first);
                if (count <= 0) break;
                TransformInput(x, v, first, count, vStride);
                for (int xi = 0; xi < Positions; xi++)
                {
                    var a = new RowMajorA(v + (nint)xi * vStride, _in);
                    var b = new MatrixB(GemmForm.Nn, pu + (nint)xi * _in * _out, _out, _in);
                    GemmPacked.RunSources(isa, a, b, m + (nint)xi * mStride, _out, count, _out, _in, false, null, default(IdentityOp), null, 0, _out);
                }
                TransformOutput(m, y, bias, z, act, accumulate, first, count, mStride);
            }
        }
    }

    /// <summary>
    /// The weight gradient's transformed sums over tiles [first block, last block): Ũ[ξ][in, out] += Σ_t V[ξ][t, in] ·
    /// D[ξ][t, out], V the transformed input tiles (as the forward's), D = A dY Aᵀ the output gradient's 2×2 blocks
    /// (zero past the map's edge) taken to 4×4, A = [[1, 0], [1, 1], [1, −1], [0, −1]]. <see cref="FinishWeightGradient"/>
    /// turns Ũ into dW = Gᵀ Ũ G. This object is the forward's (in = the layer's in).
    /// </summary>
    public void WeightGradient(KernelIsa isa, float* x, float* dy, float* accumulator, int images, int tilesPerBlock, int firstBlock, int lastBlock)
    {
        float[] scratch = Scratch(tilesPerBlock);
        int tiles = Tiles(images);
        fixed (float* ps = scratch)
        {
            int vStride = PositionStride(tilesPerBlock, _in), dStride = PositionStride(tilesPerBlock, _out);
            float* v = (float*)(((nint)ps + 63) & ~(nint)63), d = v + Positions * vStride;
            for (int block = firstBlock; block < lastBlock; block++)
            {
                int first = block * tilesPerBlock, count = Math.Min(tilesPerBlock, tiles - first);
                if (count <= 0) break;
                TransformInput(x, v, first, count, vStride);
                TransformOutputGradient(dy, d, first, count, dStride);
                for (int xi = 0; xi < Positions; xi++)
                {
                    var a = new KMajorA(v + (nint)xi * vStride, _in);
                    var b = new MatrixB(GemmForm.Tn, d + (nint)xi * dStride, _out, count);
                    GemmPacked.RunSources(isa, a, b, accumulator + (nint)xi * _in * _out, _out, _in, _out, count, true, null, default(IdentityOp), null, 0, _out);
                }
            }
        }
    }

    /// <summary>D[ξ][t, o] = (A dY Aᵀ)[ξ] of each tile's 2×2 output-gradient block (zeros past the map's edge).</summary>
    private void TransformOutputGradient(float* dy, float* d, int first, int count, nint stride)
    {
        int perImage = _tileRows * _tileColumns;
        for (int t = 0; t < count; t++)
        {
            int tile = first + t, image = tile / perImage, inImage = tile - image * perImage;
            int row = inImage / _tileColumns * 2, column = inImage % _tileColumns * 2;
            bool right = column + 1 < _width, below = row + 1 < _height;
            float* source = dy + (nint)image * _height * _width * _out + ((nint)row * _width + column) * _out;
            nint down = (nint)_width * _out;
            float* target = d + (nint)t * _out;
            for (int o = 0; o < _out; o += 8)
            {
                Vector256<float> y00 = Vector256.Load(source + o);
                Vector256<float> y01 = right ? Vector256.Load(source + _out + o) : Vector256<float>.Zero;
                Vector256<float> y10 = below ? Vector256.Load(source + down + o) : Vector256<float>.Zero;
                Vector256<float> y11 = right && below ? Vector256.Load(source + down + _out + o) : Vector256<float>.Zero;
                // Rows: A y (4×2): (y0, y0 + y1, y0 − y1, −y1) down each column.
                Vector256<float> a0 = y00, a1 = y01;
                Vector256<float> b0 = y00 + y10, b1 = y01 + y11;
                Vector256<float> c0 = y00 - y10, c1 = y01 - y11;
                Vector256<float> e0 = -y10, e1 = -y11;
                // Columns: (A y) Aᵀ, each row (r0, r1) → (r0, r0 + r1, r0 − r1, −r1).
                float* q = target + o;
                a0.Store(q); (a0 + a1).Store(q + stride); (a0 - a1).Store(q + 2 * stride); (-a1).Store(q + 3 * stride);
                q += 4 * stride;
                b0.Store(q); (b0 + b1).Store(q + stride); (b0 - b1).Store(q + 2 * stride); (-b1).Store(q + 3 * stride);
                q += 4 * stride;
                c0.Store(q); (c0 + c1).Store(q + stride); (c0 - c1).Store(q + 2 * stride); (-c1).Store(q + 3 * stride);
                q += 4 * stride;
                e0.Store(q); (e0 + e1).Store(q + stride); (e0 - e1).Store(q + 2 * stride); (-e1).Store(q + 3 * stride);
            }
        }
    }

    /// <summary>dW[out, in, 3, 3] (+)= Gᵀ Ũ[·][in, out] G, Gᵀ = [[1, ½, ½, 0], [0, ½, −½, 0], [0, ½, ½, 1]].</summary>
    public void FinishWeightGradient(ReadOnlySpan<float> accumulator, Span<float> dweight, bool accumulate)
    {
        Span<float> u = stackalloc float[16];
        Span<float> t = stackalloc float[12];
        int pairs = _in * _out;
        for (int i = 0; i < _in; i++)
            for (int o = 0; o < _out; o++)
            {
                for (int xi = 0; xi < 16; xi++) u[xi] = accumulator[xi * pairs + i * _out + o];
                for (int j = 0; j < 4; j++)
                {
                    float u0 = u[j], u1 = u[4 + j], u2 = u[8 + j], u3 = u[12 + j];
                    t[j] = u0 + 0.5f * (u1 + u2);
                    t[4 + j] = 0.5f * (u1 - u2);
                    t[8 + j] = 0.5f * (u1 + u2) + u3;
                }
                Span<float> target = dweight.Slice((o * _in + i) * 9, 9);
                for (int r = 0; r < 3; r++)
                {
                    float t0 = t[4 * r], t1 = t[4 * r + 1], t2 = t[4 * r + 2], t3 = t[4 * r + 3];
                    float w0 = t0 + 0.5f * (t1 + t2), w1 = 0.5f * (t1 - t2), w2 = 0.5f * (t1 + t2) + t3;
                    if (accumulate) { target[3 * r] += w0; target[3 * r + 1] += w1; target[3 * r + 2] += w2; }
                    else { target[3 * r] = w0; target[3 * r + 1] = w1; target[3 * r + 2] = w2; }
                }
            }
    }

    /// <summary>V[ξ][t, c] = (Bᵀ d B)[ξ] for tiles [first, first + count), d the 4×4 input block at (2·row − 1, 2·column − 1),
    /// zero outside the image; Bᵀ = [[1, 0, −1, 0], [0, 1, 1, 0], [0, −1, 1, 0], [0, 1, 0, −1]]. Tiles inside the image
    /// read their 16 vectors directly; border tiles copy theirs, zero-padded, into a 4×4 block first.</summary>
    private void TransformInput(float* x, float* v, int first, int count, int stride)
    {
        int perImage = _tileRows * _tileColumns, rowStride = _width * _in;
        float* padded = stackalloc float[16 * 8];
        for (int t = 0; t < count; t++)
        {
            int tile = first + t, image = tile / perImage, inImage = tile - image * perImage;
            int row = inImage / _tileColumns * 2 - 1, column = inImage % _tileColumns * 2 - 1;
            float* source = x + (nint)image * _height * _width * _in;
            bool inside = row >= 0 && column >= 0 && row + 4 <= _height && column + 4 <= _width;
            float* target = v + (nint)t * _in;
            for (int c = 0; c < _in; c += 8)
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
                    for (int i = 0; i < 4; i++)
                        for (int j = 0; j < 4; j++)
                        {
                            int r = row + i, q = column + j;
                            ((uint)r < (uint)_height && (uint)q < (uint)_width ? Vector256.Load(source + ((nint)r * _width + q) * _in + c) : Vector256<float>.Zero)
                                .Store(padded + (4 * i + j) * 8);
                        }
                    p = padded;
                    rs = 32;
                    cs = 8;
                }
                Transform4x4(p, rs, cs, target + c, stride);
            }
        }
    }

    /// <summary>Bᵀ d B of one 4×4 block of 8-channel vectors (element (i, j) at p + i·rs + j·cs), stored per position.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transform4x4(float* p, nint rs, nint cs, float* target, nint stride)
    {
        // Rows first (Bᵀ d), one column of the block at a time, then each row of the result (· B).
        Vector256<float> a0, a1, a2, a3, b0, b1, b2, b3, c0, c1, c2, c3, e0, e1, e2, e3;
        {
            Vector256<float> d0 = Vector256.Load(p), d1 = Vector256.Load(p + rs), d2 = Vector256.Load(p + 2 * rs), d3 = Vector256.Load(p + 3 * rs);
            a0 = d0 - d2; b0 = d1 + d2; c0 = d2 - d1; e0 = d1 - d3;
        }
        {
            float* q = p + cs;
            Vector256<float> d0 = Vector256.Load(q), d1 = Vector256.Load(q + rs), d2 = Vector256.Load(q + 2 * rs), d3 = Vector256.Load(q + 3 * rs);
            a1 = d0 - d2; b1 = d1 + d2; c1 = d2 - d1; e1 = d1 - d3;
        }
        {
            float* q = p + 2 * cs;
            Vector256<float> d0 = Vector256.Load(q), d1 = Vector256.Load(q + rs), d2 = Vector256.Load(q + 2 * rs), d3 = Vector256.Load(q + 3 * rs);
            a2 = d0 - d2; b2 = d1 + d2; c2 = d2 - d1; e2 = d1 - d3;
        }
        {
            float* q = p + 3 * cs;
            Vector256<float> d0 = Vector256.Load(q), d1 = Vector256.Load(q + rs), d2 = Vector256.Load(q + 2 * rs), d3 = Vector256.Load(q + 3 * rs);
            a3 = d0 - d2; b3 = d1 + d2; c3 = d2 - d1; e3 = d1 - d3;
        }
        (a0 - a2).Store(target); (a1 + a2).Store(target + stride); (a2 - a1).Store(target + 2 * stride); (a1 - a3).Store(target + 3 * stride);
        float* t4 = target + 4 * stride;
        (b0 - b2).Store(t4); (b1 + b2).Store(t4 + stride); (b2 - b1).Store(t4 + 2 * stride); (b1 - b3).Store(t4 + 3 * stride);
        float* t8 = target + 8 * stride;
        (c0 - c2).Store(t8); (c1 + c2).Store(t8 + stride); (c2 - c1).Store(t8 + 2 * stride); (c1 - c3).Store(t8 + 3 * stride);
        float* t12 = target + 12 * stride;
        (e0 - e2).Store(t12); (e1 + e2).Store(t12 + stride); (e2 - e1).Store(t12 + 2 * stride); (e1 - e3).Store(t12 + 3 * stride);
    }

    /// <summary>The 2×2 outputs of each tile, Aᵀ M A with Aᵀ = [[1, 1, 1, 0], [0, 1, −1, −1]], clipped at the map's edge.</summary>
    private void TransformOutput<TAct>(float* m, float* y, float* bias, float* z, TAct act, bool accumulate, int first, int count, int stride)
        where TAct : struct, IUnaryOperator
    {
        int perImage = _tileRows * _tileColumns;
        for (int t = 0; t < count; t++)
        {
            int tile = first + t, image = tile / perImage, inImage = tile - image * perImage;
            int row = inImage / _tileColumns * 2, column = inImage % _tileColumns * 2;
            nint imageAt = (nint)image * _height * _width * _out;
            for (int o = 0; o < _out; o += 8)
            {
                float* source = m + (nint)t * _out + o;
                // Rows: Aᵀ M (2×4).
                Vector256<float> r00, r01, r02, r03, r10, r11, r12, r13;
                {
                    Vector256<float> m0 = Vector256.Load(source), m4 = Vector256.Load(source + 4 * stride), m8 = Vector256.Load(source + 8 * stride), m12 = Vector256.Load(source + 12 * stride);
                    r00 = m0 + m4 + m8; r10 = m4 - m8 - m12;
                    Vector256<float> m1 = Vector256.Load(source + stride), m5 = Vector256.Load(source + 5 * stride), m9 = Vector256.Load(source + 9 * stride), m13 = Vector256.Load(source + 13 * stride);
                    r01 = m1 + m5 + m9; r11 = m5 - m9 - m13;
                    Vector256<float> m2 = Vector256.Load(source + 2 * stride), m6 = Vector256.Load(source + 6 * stride), m10 = Vector256.Load(source + 10 * stride), m14 = Vector256.Load(source + 14 * stride);
                    r02 = m2 + m6 + m10; r12 = m6 - m10 - m14;
                    Vector256<float> m3 = Vector256.Load(source + 3 * stride), m7 = Vector256.Load(source + 7 * stride), m11 = Vector256.Load(source + 11 * stride), m15 = Vector256.Load(source + 15 * stride);
                    r03 = m3 + m7 + m11; r13 = m7 - m11 - m15;
                }
                Vector256<float> b = bias == null ? Vector256<float>.Zero : Vector256.Load(bias + o);
                nint at = imageAt + ((nint)row * _width + column) * _out + o, down = (nint)_width * _out;
                bool right = column + 1 < _width, below = row + 1 < _height;
                Put(r00 + r01 + r02 + b, y + at, z == null ? null : z + at, act, accumulate);
                if (right) Put(r01 - r02 - r03 + b, y + at + _out, z == null ? null : z + at + _out, act, accumulate);
                if (below) Put(r10 + r11 + r12 + b, y + at + down, z == null ? null : z + at + down, act, accumulate);
                if (right && below) Put(r11 - r12 - r13 + b, y + at + down + _out, z == null ? null : z + at + down + _out, act, accumulate);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Put<TAct>(Vector256<float> value, float* y, float* z, TAct act, bool accumulate) where TAct : struct, IUnaryOperator
    {
        if (accumulate)
        {
            (Vector256.Load(y) + value).Store(y);
            return;
        }
        if (z != null) value.Store(z);
        act.Invoke<Vector256<float>, Simd256>(value).Store(y);
    }
}
