using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Kiln.Kernels;

/// <summary>
/// A 2-D convolution layer's kernels over channels-last (NHWC) images, with the weight in PyTorch's layout
/// [out, in / groups, kh, kw]. Built once per layer: the geometry is turned into tables of where each tap of each
/// pixel reads (or −1 where it falls in the padding), then every pass runs on the packed GEMM's register tiles with
/// the im2col matrix gathered one micro-panel at a time instead of materialised:
/// <list type="bullet">
/// <item>forward: Y[pixels, out] = act(im2col(X)·W + b), W permuted to [tap, in, out] (a k-major B);</item>
/// <item>input gradient: dX[pixels, in] = im2col'(dY)·W', the transposed convolution gathered from dY through the
/// reverse table (each input pixel's taps find the output pixel that read it), W' = [tap, out, in];</item>
/// <item>weight gradient: dW'[out, (tap, in)] = dYᵀ·im2col(X), the gathered im2col as B, then permuted back to
/// PyTorch's layout; bias gradient: column sums of dY.</item>
/// </list>
/// A 3×3 convolution with stride 1, padding 1 and channel counts that are multiples of 8 runs as Winograd instead
/// (<see cref="Winograd3x3"/>): all three passes as F(4×4, 3×3) (4× fewer multiplies); <see cref="Algorithm"/> forces
/// F(2×2, 3×3) (2.25×), or im2col.
/// A 1×1 convolution with stride 1 and no padding is a plain matrix product over pixels (the dense layer's kernels).
/// Groups run one product each on their slice of channels. The portable variant is a direct scalar loop over the
/// same tables.
/// </summary>
public sealed unsafe class Conv2d
{
    private readonly int[] _forwardTable;
    private int[]? _backwardTable;
    private float[]? _forwardWeights, _backwardWeights, _weightGradient;

    public Conv2d(ConvGeometry geometry)
    {
        ArgumentNullException.ThrowIfNull(geometry);
        Geometry = geometry;
        _forwardTable = ForwardTable(geometry);
    }

    public ConvGeometry Geometry { get; }

    /// <summary>The instruction set the kernels use (the machine's best by default; tests set each supported one).</summary>
    public KernelIsa Isa { get; init; } = KernelInfo.Best;

    /// <summary>How the passes compute (<see cref="ConvAlgorithm.Auto"/>: Winograd where it applies, else im2col).</summary>
    public ConvAlgorithm Algorithm { get; init; } = ConvAlgorithm.Auto;

    /// <summary>Whether the forward, the input gradient and the weight gradient run as Winograd F(2×2, 3×3).</summary>
    public bool UsesWinograd => Algorithm != ConvAlgorithm.Im2col && Isa != KernelIsa.Portable && Winograd3x3.Applies(Geometry);

    /// <summary>The output tile of the Winograd passes: 4 (F(4×4, 3×3)), or 2 when forced.</summary>
    private int WinogradTile => Algorithm == ConvAlgorithm.Winograd2x2 ? 2 : 4;

    private Winograd3x3? _winograd, _winogradBackward, _winogradWeights;
    private float[]? _winogradGradient;

    // ---- tables ----

    /// <summary>[out pixel, tap] → the input pixel's offset (pixel · InChannels) in its image, or −1 in the padding.</summary>
    private static int[] ForwardTable(ConvGeometry g)
    {
        var table = GC.AllocateUninitializedArray<int>(checked(g.OutPixels * g.Taps), pinned: true);
        int i = 0;
        for (int oh = 0; oh < g.OutHeight; oh++)
            for (int ow = 0; ow < g.OutWidth; ow++)
                for (int kh = 0; kh < g.KernelHeight; kh++)
                    for (int kw = 0; kw < g.KernelWidth; kw++)
                    {
                        int ih = oh * g.StrideHeight - g.PadTop + kh * g.DilationHeight;
                        int iw = ow * g.StrideWidth - g.PadLeft + kw * g.DilationWidth;
                        table[i++] = (uint)ih < (uint)g.InHeight && (uint)iw < (uint)g.InWidth ? (ih * g.InWidth + iw) * g.InChannels : -1;
                    }
        return table;
    }

    /// <summary>[in pixel, tap] → the offset (pixel · OutChannels) of the output pixel whose tap reads this input pixel,
    /// or −1 when none does.</summary>
    private static int[] BackwardTable(ConvGeometry g)
    {
        var table = GC.AllocateUninitializedArray<int>(checked(g.InPixels * g.Taps), pinned: true);
        int i = 0;
        for (int ih = 0; ih < g.InHeight; ih++)
            for (int iw = 0; iw < g.InWidth; iw++)
                for (int kh = 0; kh < g.KernelHeight; kh++)
                    for (int kw = 0; kw < g.KernelWidth; kw++)
                    {
                        int nh = ih + g.PadTop - kh * g.DilationHeight, nw = iw + g.PadLeft - kw * g.DilationWidth;
                        int oh = nh / g.StrideHeight, ow = nw / g.StrideWidth;
                        bool valid = nh >= 0 && nw >= 0 && nh % g.StrideHeight == 0 && nw % g.StrideWidth == 0 && oh < g.OutHeight && ow < g.OutWidth;
                        table[i++] = valid ? (oh * g.OutWidth + ow) * g.OutChannels : -1;
                    }
        return table;
    }

    // ---- forward ----

    /// <summary>y[images, OutH, OutW, Out] = x[images, InH, InW, In] ⊛ W + b. An empty <paramref name="bias"/> means none.</summary>
    public void Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, Span<float> y, int images, int threads = 1) =>
        Forward(x, weight, bias, y, images, default(IdentityOp), default, threads);

    /// <summary>
    /// y = act(x ⊛ W + b) with bias and activation applied to each register tile before it is stored;
    /// <paramref name="preActivation"/>, when not empty, receives x ⊛ W + b.
    /// </summary>
    public void Forward<TAct>(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, Span<float> y, int images,
        TAct activation, Span<float> preActivation, int threads = 1)
        where TAct : struct, IUnaryOperator
    {
        ConvGeometry g = Geometry;
        CheckImages(images);
        Guard.Length(x.Length, images, g.InputSize, nameof(x));
        Guard.Length(weight.Length, g.WeightSize, 1, nameof(weight));
        Guard.Length(y.Length, images, g.OutputSize, nameof(y));
        if (!bias.IsEmpty) Guard.Length(bias.Length, g.OutChannels, 1, nameof(bias));
        if (!preActivation.IsEmpty) Guard.Length(preActivation.Length, images, g.OutputSize, nameof(preActivation));
        if (images == 0) return;
        if (g.IsPointwise)
        {
            Gemm.Run(Isa, GemmKernel.Auto, GemmForm.Nt, x, weight, y, images * g.OutPixels, g.OutChannels, g.InChannels, false, bias, activation, preActivation, threads);
            return;
        }
        if (Isa == KernelIsa.Portable)
        {
            ForwardScalar(x, weight, bias, y, images, activation, preActivation);
            return;
        }
        if (UsesWinograd)
        {
            Winograd3x3 winograd = _winograd ??= new Winograd3x3(WinogradTile, g.InChannels, g.OutChannels, g.InHeight, g.InWidth, Isa);
            winograd.Prepare(weight, transposed: false);
            fixed (float* px = x, pb = bias, py = y, pz = preActivation)
                RunWinograd(winograd, px, py, bias.IsEmpty ? null : pb, preActivation.IsEmpty ? null : pz, activation, false, images, threads);
            return;
        }
        float[] permuted = _forwardWeights ??= Pinned(g.WeightSize);
        PermuteWeights(weight, permuted, outerIsOut: false);
        if (UsesPaddedRows)
        {
            float[] padded = Pad(x, images);
            fixed (float* pp = padded, pw = permuted, pb = bias, py = y, pz = preActivation)
            {
                var work = new PaddedForwardWork<TAct>(this, pp, pw, bias.IsEmpty ? null : pb, py, preActivation.IsEmpty ? null : pz, activation);
                int rows = images * g.OutPixels;
                int parts = Parts(threads, images * g.MultiplyAdds, rows);
                RowJob<PaddedForwardWork<TAct>>.Run(work, rows, parts);
            }
            return;
        }
        fixed (float* px = x, pw = permuted, pb = bias, py = y, pz = preActivation)
        fixed (int* table = _forwardTable)
        {
            var work = new ForwardWork<TAct>(this, px, pw, bias.IsEmpty ? null : pb, py, preActivation.IsEmpty ? null : pz, table, activation);
            int rows = images * g.OutPixels;
            int parts = Parts(threads, images * g.MultiplyAdds, rows);
            RowJob<ForwardWork<TAct>>.Run(work, rows, parts);
        }
    }

    /// <summary>
    /// Whether the forward gathers its im2col rows from a zero-padded copy of the input (<see cref="PaddedRowsA"/>)
    /// rather than through the tap table: for few input channels (a first layer), where the table's runs are short.
    /// With dilation 1 and one group, each kernel row of an output pixel's window is one contiguous run of
    /// KernelWidth·InChannels floats in the padded image, copied as whole 8-float vectors; the depth must fit one depth block.
    /// </summary>
    internal bool UsesPaddedRows
    {
        get
        {
            ConvGeometry g = Geometry;
            return Isa != KernelIsa.Portable && !g.IsPointwise && !UsesWinograd && g.Groups == 1 && g.DilationHeight == 1 && g.DilationWidth == 1
                && g.KernelWidth * g.InChannels <= PaddedWindows.MaxRun && g.Taps * g.InChannels <= GemmPacked.Avx512.KC;
        }
    }

    private float[]? _padded;

    /// <summary>x copied into the middle of a zeroed [images, InH + pads, InW + pads, In] buffer (plus a vector of slack for
    /// the whole-vector copies): the buffer is allocated zeroed and only its middle is ever written, so the border stays 0.</summary>
    private float[] Pad(ReadOnlySpan<float> x, int images)
    {
        ConvGeometry g = Geometry;
        int paddedWidth = g.InWidth + g.PadLeft + g.PadRight, paddedHeight = g.InHeight + g.PadTop + g.PadBottom;
        int imageFloats = paddedHeight * paddedWidth * g.InChannels, rowFloats = g.InWidth * g.InChannels;
        long needed = (long)images * imageFloats + PaddedWindows.MaxRun;
        if (_padded is null || _padded.Length < needed)
            _padded = GC.AllocateArray<float>(checked((int)needed), pinned: true);
        for (int image = 0; image < images; image++)
            for (int h = 0; h < g.InHeight; h++)
                x.Slice((image * g.InHeight + h) * rowFloats, rowFloats)
                    .CopyTo(_padded.AsSpan(image * imageFloats + ((h + g.PadTop) * paddedWidth + g.PadLeft) * g.InChannels, rowFloats));
        return _padded;
    }

    /// <summary>Rows [begin, end) of the forward from the padded input (<see cref="UsesPaddedRows"/>).</summary>
    private readonly struct PaddedForwardWork<TAct>(Conv2d conv, float* padded, float* w, float* bias, float* y, float* z, TAct act) : IRowWork
        where TAct : struct, IUnaryOperator
    {
        public void Rows(int begin, int end)
        {
            ConvGeometry g = conv.Geometry;
            int depth = g.Taps * g.InChannels;
            var a = new PaddedRowsA(padded, g, begin);
            var b = new MatrixB(GemmForm.Nn, w, g.OutChannels, depth);
            nint at = (nint)begin * g.OutChannels;
            GemmPacked.RunSources(conv.Isa, a, b, y + at, g.OutChannels, end - begin, g.OutChannels, depth, false, bias, act, z == null ? null : z + at, 0, g.OutChannels);
        }
    }

    /// <summary>Rows (output pixels over the batch) [begin, end) of the forward, every group.</summary>
    private readonly struct ForwardWork<TAct>(Conv2d conv, float* x, float* w, float* bias, float* y, float* z, int* table, TAct act) : IRowWork
        where TAct : struct, IUnaryOperator
    {
        public void Rows(int begin, int end)
        {
            ConvGeometry g = conv.Geometry;
            int cin = g.GroupInChannels, cout = g.GroupOutChannels, depth = g.Taps * cin;
            for (int group = 0; group < g.Groups; group++)
            {
                var a = new ImageRowsA(x, table, g.OutPixels, g.Taps, cin, g.InputSize, group * cin, begin);
                var b = new MatrixB(GemmForm.Nn, w + (nint)group * depth * cout, cout, depth);
                nint at = (nint)begin * g.OutChannels + group * cout;
                GemmPacked.RunSources(conv.Isa, a, b, y + at, g.OutChannels, end - begin, cout, depth, false,
                    bias == null ? null : bias + group * cout, act, z == null ? null : z + at, 0, cout);
            }
        }
    }

    /// <summary>Winograd over every tile, the tiles split evenly between the threads (whole groups of 4).</summary>
    private void RunWinograd<TAct>(Winograd3x3 winograd, float* x, float* y, float* bias, float* z, TAct act, bool accumulate, int images, int threads)
        where TAct : struct, IUnaryOperator
    {
        var (parts, tilesPerBlock) = winograd.Plan(images, Parts(threads, images * Geometry.MultiplyAdds, int.MaxValue));
        var work = new WinogradWork<TAct>(winograd, x, y, bias, z, act, accumulate, images, tilesPerBlock);
        RowJob<WinogradWork<TAct>>.Run(work, winograd.Tiles(images), parts, align: 4);
    }

    private readonly struct WinogradWork<TAct>(Winograd3x3 winograd, float* x, float* y, float* bias, float* z, TAct act, bool accumulate,
        int images, int tilesPerBlock) : IRowWork where TAct : struct, IUnaryOperator
    {
        public void Rows(int begin, int end) => winograd.Run(x, y, bias, z, act, accumulate, images, tilesPerBlock, begin, end);
    }

    // ---- input gradient ----

    /// <summary>dx[images, InH, InW, In] (+)= the transposed convolution of dy[images, OutH, OutW, Out] with W.</summary>
    public void BackwardInput(ReadOnlySpan<float> dy, ReadOnlySpan<float> weight, Span<float> dx, int images, bool accumulate, int threads = 1)
    {
        ConvGeometry g = Geometry;
        CheckImages(images);
        Guard.Length(dy.Length, images, g.OutputSize, nameof(dy));
        Guard.Length(weight.Length, g.WeightSize, 1, nameof(weight));
        Guard.Length(dx.Length, images, g.InputSize, nameof(dx));
        if (images == 0) return;
        if (g.IsPointwise)
        {
            Gemm.Run(Isa, GemmKernel.Auto, GemmForm.Nn, dy, weight, dx, images * g.InPixels, g.InChannels, g.OutChannels, accumulate, default, default(IdentityOp), default, threads);
            return;
        }
        if (UsesWinograd)
        {
            Winograd3x3 winograd = _winogradBackward ??= new Winograd3x3(WinogradTile, g.OutChannels, g.InChannels, g.InHeight, g.InWidth, Isa);
            winograd.Prepare(weight, transposed: true);
            fixed (float* pdy = dy, pdx = dx)
                RunWinograd(winograd, pdy, pdx, null, null, default(IdentityOp), accumulate, images, threads);
            return;
        }
        int[] backwardTable = _backwardTable ??= BackwardTable(g);
        if (Isa == KernelIsa.Portable)
        {
            BackwardInputScalar(dy, weight, dx, images, accumulate, backwardTable);
            return;
        }
        float[] permuted = _backwardWeights ??= Pinned(g.WeightSize);
        PermuteWeights(weight, permuted, outerIsOut: true);
        fixed (float* pdy = dy, pw = permuted, pdx = dx)
        fixed (int* table = backwardTable)
        {
            var work = new BackwardInputWork(this, pdy, pw, pdx, table, accumulate);
            int rows = images * g.InPixels;
            int parts = Parts(threads, images * g.MultiplyAdds, rows);
            RowJob<BackwardInputWork>.Run(work, rows, parts);
        }
    }

    private readonly struct BackwardInputWork(Conv2d conv, float* dy, float* w, float* dx, int* table, bool accumulate) : IRowWork
    {
        public void Rows(int begin, int end)
        {
            ConvGeometry g = conv.Geometry;
            int cin = g.GroupInChannels, cout = g.GroupOutChannels, depth = g.Taps * cout;
            for (int group = 0; group < g.Groups; group++)
            {
                var a = new ImageRowsA(dy, table, g.InPixels, g.Taps, cout, g.OutputSize, group * cout, begin);
                var b = new MatrixB(GemmForm.Nn, w + (nint)group * depth * cin, cin, depth);
                GemmPacked.RunSources(conv.Isa, a, b, dx + (nint)begin * g.InChannels + group * cin, g.InChannels, end - begin, cin, depth,
                    accumulate, null, default(IdentityOp), null, 0, cin);
            }
        }
    }

    // ---- parameter gradients ----

    /// <summary>dW[out, in/groups, kh, kw] (+)= Σ over images and pixels of dy ⊗ the input each tap read;
    /// db[out] (+)= Σ dy (skipped when <paramref name="dbias"/> is empty).</summary>
    public void BackwardParameters(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dweight, Span<float> dbias, int images, bool accumulate, int threads = 1)
    {
        ConvGeometry g = Geometry;
        CheckImages(images);
        Guard.Length(x.Length, images, g.InputSize, nameof(x));
        Guard.Length(dy.Length, images, g.OutputSize, nameof(dy));
        Guard.Length(dweight.Length, g.WeightSize, 1, nameof(dweight));
        if (!dbias.IsEmpty) Guard.Length(dbias.Length, g.OutChannels, 1, nameof(dbias));
        if (!dbias.IsEmpty) Reductions.ColumnSums(Isa, dy, images * g.OutPixels, g.OutChannels, dbias, accumulate);
        if (images == 0)
        {
            if (!accumulate) dweight.Clear();
            return;
        }
        if (g.IsPointwise)
        {
            Gemm.Run(Isa, GemmKernel.Auto, GemmForm.Tn, dy, x, dweight, g.OutChannels, g.InChannels, images * g.OutPixels, accumulate, default, default(IdentityOp), default, threads);
            return;
        }
        if (Isa == KernelIsa.Portable)
        {
            BackwardParametersScalar(x, dy, dweight, images, accumulate);
            return;
        }
        if (UsesWinograd)
        {
            BackwardParametersWinograd(x, dy, dweight, images, accumulate, threads);
            return;
        }
        int depth = g.Taps * g.GroupInChannels;
        // Threads split the images: each part sums its own images into its own dW' (reading only its share of x and
        // dy), then the parts are added. One part per image at most.
        int parts = Math.Min(Parts(threads, images * g.MultiplyAdds, int.MaxValue), images);
        if (_weightGradient is null || _weightGradient.Length < parts * g.WeightSize)
            _weightGradient = Pinned(Math.Max(parts, Math.Min(KernelThreads.MaxThreads, 2)) * g.WeightSize);
        float[] gradient = _weightGradient;
        // Few input channels: the im2col columns are copied from the padded input as the forward's rows are.
        float[]? padded = UsesPaddedRows ? Pad(x, images) : null;
        fixed (float* px = x, pdy = dy, pg = gradient, pp = padded)
        fixed (int* table = _forwardTable)
        {
            var work = new WeightWork(this, px, pdy, pg, table, pp, images, parts);
            RowJob<WeightWork>.Run(work, parts, parts, align: 1);
            Span<float> sum = gradient.AsSpan(0, g.WeightSize);
            for (int part = 1; part < parts; part++)
                System.Numerics.Tensors.TensorPrimitives.Add(sum, gradient.AsSpan(part * g.WeightSize, g.WeightSize), sum);
        }
        // dW'[group][out][tap, in] → dW[out][in][tap].
        int taps = g.Taps, cin = g.GroupInChannels, cout = g.GroupOutChannels;
        for (int group = 0; group < g.Groups; group++)
            for (int o = 0; o < cout; o++)
            {
                int row = group * cout + o;
                ReadOnlySpan<float> source = gradient.AsSpan((group * cout + o) * depth, depth);
                Span<float> target = dweight.Slice(row * cin * taps, cin * taps);
                for (int t = 0; t < taps; t++)
                    for (int i = 0; i < cin; i++)
                    {
                        float v = source[t * cin + i];
                        if (accumulate) target[i * taps + t] += v;
                        else target[i * taps + t] = v;
                    }
            }
    }

    /// <summary>The weight gradient as Winograd: each thread sums its blocks of tiles into its own Ũ, then
    /// the parts are added and transformed back to 3×3.</summary>
    private void BackwardParametersWinograd(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dweight, int images, bool accumulate, int threads)
    {
        ConvGeometry g = Geometry;
        Winograd3x3 winograd = _winogradWeights ??= new Winograd3x3(WinogradTile, g.InChannels, g.OutChannels, g.InHeight, g.InWidth, Isa);
        int size = winograd.Positions * g.InChannels * g.OutChannels;
        var (parts, tilesPerBlock) = winograd.Plan(images, Parts(threads, images * g.MultiplyAdds, int.MaxValue), weights: true);
        if (_winogradGradient is null || _winogradGradient.Length < parts * size)
            _winogradGradient = Pinned(Math.Max(parts, Math.Min(KernelThreads.MaxThreads, 2)) * size);
        float[] sums = _winogradGradient;
        sums.AsSpan(0, parts * size).Clear();
        fixed (float* px = x, pdy = dy, ps = sums)
        {
            var work = new WinogradWeightWork(winograd, px, pdy, ps, size, images, tilesPerBlock, parts);
            RowJob<WinogradWeightWork>.Run(work, parts, parts, align: 1);
        }
        Span<float> total = sums.AsSpan(0, size);
        for (int part = 1; part < parts; part++)
            System.Numerics.Tensors.TensorPrimitives.Add(total, sums.AsSpan(part * size, size), total);
        winograd.FinishWeightGradient(total, dweight, accumulate);
    }

    /// <summary>Part p of the Winograd weight gradient: its share of the tile blocks into its own Ũ.</summary>
    private readonly struct WinogradWeightWork(Winograd3x3 winograd, float* x, float* dy, float* sums, int size, int images,
        int tilesPerBlock, int parts) : IRowWork
    {
        public void Rows(int begin, int end)
        {
            for (int part = begin; part < end; part++)
            {
                var (first, last) = winograd.PartTiles(images, part, parts);
                winograd.WeightGradient(x, dy, sums + (nint)part * size, images, tilesPerBlock, first, last);
            }
        }
    }

    /// <summary>Parts [begin, end) of dW' for every group: part p sums dW'[out, ·] = dYᵀ·im2col(X) over its share of
    /// the images into its own slice of <c>gradient</c>.</summary>
    private readonly struct WeightWork(Conv2d conv, float* x, float* dy, float* gradient, int* table, float* padded, int images, int parts) : IRowWork
    {
        public void Rows(int begin, int end)
        {
            ConvGeometry g = conv.Geometry;
            int cin = g.GroupInChannels, cout = g.GroupOutChannels, depth = g.Taps * cin;
            for (int part = begin; part < end; part++)
            {
                int first = (int)((long)images * part / parts), last = (int)((long)images * (part + 1) / parts);
                if (first == last) continue;
                float* partX = x + (nint)first * g.InputSize, partDy = dy + (nint)first * g.OutputSize, partGradient = gradient + (nint)part * g.WeightSize;
                if (padded != null)
                {
                    // One group (UsesPaddedRows): the columns from the padded images of this part.
                    var a = new KMajorA(partDy, g.OutChannels);
                    var b = new PackedB<PaddedColumnsB>(new PaddedColumnsB(padded, g, first));
                    GemmPacked.RunSources(conv.Isa, a, b, partGradient, depth, cout, depth, (last - first) * g.OutPixels, false, null, default(IdentityOp), null, 0, depth);
                    continue;
                }
                for (int group = 0; group < g.Groups; group++)
                {
                    var a = new KMajorA(partDy + group * cout, g.OutChannels);
                    var b = new PackedB<ImageColumnsB>(new ImageColumnsB(partX, table, g.OutPixels, g.Taps, cin, g.InputSize, group * cin));
                    GemmPacked.RunSources(conv.Isa, a, b, partGradient + (nint)group * cout * depth, depth, cout, depth, (last - first) * g.OutPixels,
                        false, null, default(IdentityOp), null, 0, depth);
                }
            }
        }
    }

    // ---- helpers ----

    /// <summary>
    /// W[out, in, tap] (PyTorch) → per group [tap, in, out] (the forward's k-major B), or with
    /// <paramref name="outerIsOut"/> per group [tap, out, in] (the input gradient's).
    /// </summary>
    private void PermuteWeights(ReadOnlySpan<float> weight, float[] permuted, bool outerIsOut)
    {
        ConvGeometry g = Geometry;
        int taps = g.Taps, cin = g.GroupInChannels, cout = g.GroupOutChannels, groupSize = taps * cin * cout;
        for (int group = 0; group < g.Groups; group++)
        {
            Span<float> target = permuted.AsSpan(group * groupSize, groupSize);
            for (int o = 0; o < cout; o++)
            {
                ReadOnlySpan<float> filter = weight.Slice((group * cout + o) * cin * taps, cin * taps);
                for (int i = 0; i < cin; i++)
                    for (int t = 0; t < taps; t++)
                        target[outerIsOut ? (t * cout + o) * cin + i : (t * cin + i) * cout + o] = filter[i * taps + t];
            }
        }
    }

    private static float[] Pinned(int length) => GC.AllocateUninitializedArray<float>(length, pinned: true);

    private static void CheckImages(int images)
    {
        if (images < 0) throw new ArgumentOutOfRangeException(nameof(images), images, "The image count cannot be negative.");
    }

    /// <summary>The work (FLOP, direct-equivalent) from which a convolution splits between threads: a quarter of the
    /// GEMM's threshold, as a convolution's gathers and transforms make each FLOP slower (Z2's first layer at batch 1,
    /// 1.8 MFLOP: 26 → 14 µs on 2 threads).</summary>
    internal const long ParallelFlops = 1_000_000;

    /// <summary>Threads worth using: one per <see cref="ParallelFlops"/> of work at least, never more rows per part than there are.</summary>
    private int Parts(int threads, long multiplyAdds, int rows)
    {
        if (threads <= 1 || Isa == KernelIsa.Portable || 2 * multiplyAdds < ParallelFlops) return 1;
        return Math.Max(1, Math.Min(Math.Min(threads, KernelThreads.MaxThreads), rows / 16));
    }

    // ---- portable ----

    private void ForwardScalar<TAct>(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, Span<float> y, int images,
        TAct act, Span<float> z) where TAct : struct, IUnaryOperator
    {
        ConvGeometry g = Geometry;
        int taps = g.Taps, cin = g.GroupInChannels, cout = g.GroupOutChannels;
        for (int n = 0; n < images; n++)
        {
            ReadOnlySpan<float> image = x.Slice(n * g.InputSize, g.InputSize);
            for (int p = 0; p < g.OutPixels; p++)
            {
                ReadOnlySpan<int> offsets = _forwardTable.AsSpan(p * taps, taps);
                int at = (n * g.OutPixels + p) * g.OutChannels;
                for (int o = 0; o < g.OutChannels; o++)
                {
                    int group = o / cout;
                    ReadOnlySpan<float> filter = weight.Slice(o * cin * taps, cin * taps);
                    float sum = 0;
                    for (int t = 0; t < taps; t++)
                    {
                        if (offsets[t] < 0) continue;
                        ReadOnlySpan<float> pixel = image.Slice(offsets[t] + group * cin, cin);
                        for (int i = 0; i < cin; i++) sum = MathF.FusedMultiplyAdd(pixel[i], filter[i * taps + t], sum);
                    }
                    if (!bias.IsEmpty) sum += bias[o];
                    if (!z.IsEmpty) z[at + o] = sum;
                    y[at + o] = typeof(TAct) == typeof(IdentityOp) ? sum : act.Invoke<float, SimdScalar>(sum);
                }
            }
        }
    }

    private void BackwardInputScalar(ReadOnlySpan<float> dy, ReadOnlySpan<float> weight, Span<float> dx, int images, bool accumulate, int[] table)
    {
        ConvGeometry g = Geometry;
        int taps = g.Taps, cin = g.GroupInChannels, cout = g.GroupOutChannels;
        for (int n = 0; n < images; n++)
        {
            ReadOnlySpan<float> gradient = dy.Slice(n * g.OutputSize, g.OutputSize);
            for (int p = 0; p < g.InPixels; p++)
            {
                ReadOnlySpan<int> offsets = table.AsSpan(p * taps, taps);
                int at = (n * g.InPixels + p) * g.InChannels;
                for (int c = 0; c < g.InChannels; c++)
                {
                    int group = c / cin, i = c - group * cin;
                    float sum = 0;
                    for (int t = 0; t < taps; t++)
                    {
                        if (offsets[t] < 0) continue;
                        for (int o = 0; o < cout; o++)
                            sum = MathF.FusedMultiplyAdd(gradient[offsets[t] + group * cout + o], weight[((group * cout + o) * cin + i) * taps + t], sum);
                    }
                    dx[at + c] = accumulate ? dx[at + c] + sum : sum;
                }
            }
        }
    }

    private void BackwardParametersScalar(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dweight, int images, bool accumulate)
    {
        ConvGeometry g = Geometry;
        int taps = g.Taps, cin = g.GroupInChannels, cout = g.GroupOutChannels;
        if (!accumulate) dweight.Clear();
        for (int n = 0; n < images; n++)
        {
            ReadOnlySpan<float> image = x.Slice(n * g.InputSize, g.InputSize);
            for (int p = 0; p < g.OutPixels; p++)
            {
                ReadOnlySpan<int> offsets = _forwardTable.AsSpan(p * taps, taps);
                ReadOnlySpan<float> gradient = dy.Slice((n * g.OutPixels + p) * g.OutChannels, g.OutChannels);
                for (int t = 0; t < taps; t++)
                {
                    if (offsets[t] < 0) continue;
                    for (int o = 0; o < g.OutChannels; o++)
                    {
                        int group = o / cout;
                        ReadOnlySpan<float> pixel = image.Slice(offsets[t] + group * cin, cin);
                        Span<float> filter = dweight.Slice(o * cin * taps, cin * taps);
                        for (int i = 0; i < cin; i++) filter[i * taps + t] = MathF.FusedMultiplyAdd(pixel[i], gradient[o], filter[i * taps + t]);
                    }
                }
            }
        }
    }
}

/// <summary>A pass over a range of rows (or columns), run whole or split between threads by <see cref="RowJob{TWork}"/>.</summary>
internal interface IRowWork
{
    void Rows(int begin, int end);
}

/// <summary>Splits <see cref="IRowWork"/> into parts of whole <c>align</c>-row blocks; reused per calling thread (no allocation per call).</summary>
internal sealed class RowJob<TWork> : IParallelWork where TWork : struct, IRowWork
{
    [ThreadStatic] private static RowJob<TWork>? t_job;

    public static RowJob<TWork> ForThisThread => t_job ??= new RowJob<TWork>();

    /// <summary>Rows [0, rows) of <paramref name="work"/>: on this thread when <paramref name="parts"/> is 1, else split
    /// into parts of whole <paramref name="align"/>-row blocks on the kernel threads.</summary>
    public static void Run(TWork work, int rows, int parts, int align = 16)
    {
        if (parts == 1)
        {
            work.Rows(0, rows);
            return;
        }
        RowJob<TWork> job = ForThisThread;
        job.Set(work, rows, align);
        KernelThreads.Run(job, parts);
        job.Clear();
    }

    private TWork _work;
    private int _rows, _align;

    public void Set(TWork work, int rows, int align = 16)
    {
        _work = work;
        _rows = rows;
        _align = align;
    }

    public void Clear() => _work = default;

    public void Execute(int part, int parts)
    {
        int blocks = (_rows + _align - 1) / _align;
        int begin = Math.Min(_rows, (int)((long)blocks * part / parts) * _align);
        int end = part == parts - 1 ? _rows : Math.Min(_rows, (int)((long)blocks * (part + 1) / parts) * _align);
        if (begin < end) _work.Rows(begin, end);
    }
}

/// <summary>
/// The im2col matrix of an image batch as the GEMM's A, gathered one micro-panel at a time: row r is pixel r of the
/// batch (pixels per image <c>pixels</c>), its depth (tap, channel) read from the pixel the table names for that tap
/// (offset in floats within the image, −1 for padding: zeros). The panel is row-major, each row a run of vector
/// copies, one per tap.
/// </summary>
internal readonly unsafe struct ImageRowsA(float* source, int* table, int pixels, int taps, int depthPerTap, int imageFloats, int channelOffset, int rowOffset)
    : IASource
{
    public static bool Packed => false;

    public float* Panel(int ir, int rows, int pc, int kc, int m, float* scratch, out int lda)
    {
        lda = kc;
        int row = rowOffset + ir;
        int image = row / pixels, pixel = row - image * pixels;
        int t0 = pc / depthPerTap, c0 = pc - t0 * depthPerTap;
        for (int r = 0; r < rows; r++)
        {
            float* from = source + (nint)image * imageFloats + channelOffset;
            int* offsets = table + (nint)pixel * taps;
            float* to = scratch + (nint)r * kc;
            int t = t0, c = c0, left = kc;
            while (left > 0)
            {
                int run = Math.Min(depthPerTap - c, left);
                int offset = offsets[t], next = t + 1;
                // Taps that continue this one in memory (the next columns of a kernel row, channels-last) or are padding
                // like it join one run: with 3 input channels, 3 copies of 9 floats per pixel instead of 9 of 3.
                while (run < left && (offset < 0 ? offsets[next] < 0 : offsets[next] == offset + (next - t) * depthPerTap))
                {
                    run += Math.Min(depthPerTap, left - run);
                    next++;
                }
                if (offset < 0) Runs.Clear(to, run);
                else Runs.Copy(from + offset + c, to, run);
                to += run;
                left -= run;
                t = next;
                c = 0;
            }
            if (++pixel == pixels)
            {
                pixel = 0;
                image++;
            }
        }
        return scratch;
    }
}

/// <summary>
/// The output pixels' windows in a zero-padded copy of a convolution's input (dilation 1, one group): each window is
/// KernelHeight runs of KernelWidth·InChannels contiguous floats, one padded row apart. A cursor walks the windows of
/// consecutive output pixels of the batch; <see cref="Copy"/> copies one as whole 8-float vectors (the spill past each
/// run is overwritten by the next; past the last, at most 7 floats, the caller's buffer must hold). The padded buffer
/// has <see cref="MaxRun"/> floats of slack for the last read.
/// </summary>
internal unsafe struct PaddedWindows
{
    /// <summary>The longest run copied (4 vectors: a 7×7 kernel over 3 channels is 21).</summary>
    public const int MaxRun = 32;

    private readonly float* _padded;
    private readonly int _outWidth, _outHeight, _strideH, _strideW, _paddedWidth, _channels, _imageFloats;
    private readonly nint _down;
    private int _image, _oh, _ow;

    /// <param name="padded">The padded input batch (<c>Conv2d.Pad</c>).</param>
    /// <param name="g">The convolution.</param>
    /// <param name="pixel">The first output pixel of the batch (image · OutPixels + pixel in the image).</param>
    public PaddedWindows(float* padded, ConvGeometry g, int pixel)
    {
        _padded = padded;
        (_outWidth, _outHeight, _strideH, _strideW) = (g.OutWidth, g.OutHeight, g.StrideHeight, g.StrideWidth);
        _paddedWidth = g.InWidth + g.PadLeft + g.PadRight;
        _channels = g.InChannels;
        KernelHeight = g.KernelHeight;
        Run = g.KernelWidth * g.InChannels;
        _imageFloats = (g.InHeight + g.PadTop + g.PadBottom) * _paddedWidth * g.InChannels;
        _down = (nint)_paddedWidth * _channels;
        _image = pixel / g.OutPixels;
        int inImage = pixel - _image * g.OutPixels;
        _oh = inImage / _outWidth;
        _ow = inImage - _oh * _outWidth;
    }

    public int KernelHeight { get; }
    public int Run { get; }
    public int Depth => KernelHeight * Run;

    /// <summary>Copies the current window to <paramref name="to"/> (Depth floats, then up to 7 of spill) and moves on.</summary>
    public void Copy(float* to)
    {
        float* from = _padded + (nint)_image * _imageFloats + ((nint)_oh * _strideH * _paddedWidth + (nint)_ow * _strideW) * _channels;
        for (int kh = 0; kh < KernelHeight; kh++, from += _down, to += Run)
            for (int i = 0; i < Run; i += 8)
                Vector256.Store(Vector256.Load(from + i), to + i);
        if (++_ow == _outWidth)
        {
            _ow = 0;
            if (++_oh == _outHeight)
            {
                _oh = 0;
                _image++;
            }
        }
    }
}

/// <summary>
/// The im2col matrix of an image batch as the GEMM's A, gathered from a zero-padded copy of the input
/// (<see cref="PaddedWindows"/>): row r is output pixel r of the batch (from <c>rowOffset</c>), its depth the window.
/// The panel scratch has slack for the last row's spill.
/// </summary>
internal readonly unsafe struct PaddedRowsA(float* padded, ConvGeometry g, int rowOffset) : IASource
{
    public static bool Packed => false;

    public float* Panel(int ir, int rows, int pc, int kc, int m, float* scratch, out int lda)
    {
        var windows = new PaddedWindows(padded, g, rowOffset + ir);
        if (pc != 0 || kc != windows.Depth) throw new InvalidOperationException("A padded-rows panel is gathered whole (one depth block).");
        lda = kc;
        for (int r = 0; r < rows; r++) windows.Copy(scratch + (nint)r * kc);
        return scratch;
    }
}

/// <summary>
/// The im2col matrix as the GEMM's B[k = pixel of the batch, n = (tap, channel)] (the weight gradient's operand),
/// gathered from a zero-padded copy of the input (<see cref="PaddedWindows"/>). When a pixel's whole row is one panel
/// (a first layer: 27 columns), the window is copied straight into it and the panel's padding cleared after;
/// otherwise the row goes through a buffer and its columns to each panel.
/// </summary>
internal readonly unsafe struct PaddedColumnsB(float* padded, ConvGeometry g, int firstImage) : IBPacker
{
    public void Pack(int pc, int kc, int jc, int nc, int w, float* packed)
    {
        var windows = new PaddedWindows(padded, g, firstImage * g.OutPixels + pc);
        int nr = 2 * w, depth = windows.Depth, width = nc <= w ? w : nr;
        bool whole = jc == 0 && nc == depth && depth <= nr;
        float* row = stackalloc float[depth + PaddedWindows.MaxRun];
        for (int p = 0; p < kc; p++)
        {
            if (whole)
            {
                float* to = packed + (nint)p * width;
                windows.Copy(to);
                if (depth < width) Runs.Clear(to + depth, width - depth);
                continue;
            }
            windows.Copy(row);
            for (int jr = 0; jr < nc; jr += nr)
            {
                int cols = Math.Min(nr, nc - jr), panelWidth = cols <= w ? w : nr;
                float* panel = packed + (nint)jr * kc + (nint)p * panelWidth;
                Runs.Copy(row + jc + jr, panel, cols);
                if (cols < panelWidth) Runs.Clear(panel + cols, panelWidth - cols);
            }
        }
    }
}

/// <summary>
/// The im2col matrix as the GEMM's B[k = pixel of the batch, n = (tap, channel)], packed one block at a time into
/// k-major panels (the weight gradient's operand).
/// </summary>
internal readonly unsafe struct ImageColumnsB(float* source, int* table, int pixels, int taps, int depthPerTap, int imageFloats, int channelOffset)
    : IBPacker
{
    public void Pack(int pc, int kc, int jc, int nc, int w, float* packed)
    {
        int nr = 2 * w;
        for (int jr = 0; jr < nc; jr += nr)
        {
            int cols = Math.Min(nr, nc - jr), width = cols <= w ? w : nr;
            int j0 = jc + jr, t0 = j0 / depthPerTap, c0 = j0 - t0 * depthPerTap;
            float* panel = packed + (nint)jr * kc;
            int image = pc / pixels, pixel = pc - image * pixels;
            for (int p = 0; p < kc; p++, panel += width)
            {
                float* from = source + (nint)image * imageFloats + channelOffset;
                int* offsets = table + (nint)pixel * taps;
                float* to = panel;
                int t = t0, c = c0, left = cols;
                while (left > 0)
                {
                    int run = Math.Min(depthPerTap - c, left);
                    int offset = offsets[t];
                    if (offset < 0) Runs.Clear(to, run);
                    else Runs.Copy(from + offset + c, to, run);
                    to += run;
                    left -= run;
                    t++;
                    c = 0;
                }
                if (cols < width) Runs.Clear(to, width - cols);
                if (++pixel == pixels)
                {
                    pixel = 0;
                    image++;
                }
            }
        }
    }
}

/// <summary>Short copies and clears with 256-bit vectors (masked for the last few floats; nothing past the run is touched).</summary>
internal static unsafe class Runs
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Copy(float* from, float* to, int count)
    {
        int i = 0;
        for (; i + 8 <= count; i += 8) Vector256.Store(Vector256.Load(from + i), to + i);
        if (i < count) Simd256.StoreFirst(Simd256.LoadFirst(ref from[i], count - i), ref to[i], count - i);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Clear(float* to, int count)
    {
        int i = 0;
        for (; i + 8 <= count; i += 8) Vector256.Store(Vector256<float>.Zero, to + i);
        if (i < count) Simd256.StoreFirst(Vector256<float>.Zero, ref to[i], count - i);
    }
}
