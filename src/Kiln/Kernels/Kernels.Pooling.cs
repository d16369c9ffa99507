using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Kiln.Kernels;

/// <summary>
/// The static shape of a 2-D pooling window (PyTorch's <c>MaxPool2d</c> / <c>AvgPool2d</c>, floor mode): each of
/// <see cref="Channels"/> maps [InHeight, InWidth] → [OutHeight, OutWidth], the window <c>Kernel</c>, moved by
/// <c>Stride</c>, over an input padded by <c>Padding</c> on every side (at most half the window, as PyTorch requires).
/// </summary>
public sealed record PoolGeometry
{
    public PoolGeometry(int channels, int inHeight, int inWidth, int kernelHeight, int kernelWidth, int strideHeight, int strideWidth, int padHeight, int padWidth)
    {
        if (channels < 1 || inHeight < 1 || inWidth < 1 || kernelHeight < 1 || kernelWidth < 1 || strideHeight < 1 || strideWidth < 1)
            throw new ArgumentOutOfRangeException(nameof(channels), "Channels, sizes, kernel and stride must be at least 1.");
        if (padHeight < 0 || padWidth < 0 || 2 * padHeight > kernelHeight || 2 * padWidth > kernelWidth)
            throw new ArgumentOutOfRangeException(nameof(padHeight), $"Padding {padHeight}x{padWidth} must lie between 0 and half the window {kernelHeight}x{kernelWidth}.");
        Channels = channels; InHeight = inHeight; InWidth = inWidth; KernelHeight = kernelHeight; KernelWidth = kernelWidth;
        StrideHeight = strideHeight; StrideWidth = strideWidth; PadHeight = padHeight; PadWidth = padWidth;
        OutHeight = ConvGeometry.WindowCount(inHeight, kernelHeight, strideHeight, 2 * padHeight, 1);
        OutWidth = ConvGeometry.WindowCount(inWidth, kernelWidth, strideWidth, 2 * padWidth, 1);
        if (OutHeight < 1 || OutWidth < 1)
            throw new ArgumentException($"The pooling would produce a {OutHeight}x{OutWidth} map: input {inHeight}x{inWidth}, window {kernelHeight}x{kernelWidth}, stride {strideHeight}x{strideWidth}, padding {padHeight}x{padWidth}.");
    }

    /// <summary>A square window; the stride defaults to the window (PyTorch's default).</summary>
    public static PoolGeometry Square(int channels, int inHeight, int inWidth, int kernel, int stride = 0, int padding = 0) =>
        new(channels, inHeight, inWidth, kernel, kernel, stride == 0 ? kernel : stride, stride == 0 ? kernel : stride, padding, padding);

    public int Channels { get; }
    public int InHeight { get; }
    public int InWidth { get; }
    public int OutHeight { get; }
    public int OutWidth { get; }
    public int KernelHeight { get; }
    public int KernelWidth { get; }
    public int StrideHeight { get; }
    public int StrideWidth { get; }
    public int PadHeight { get; }
    public int PadWidth { get; }
    public int InputSize => InHeight * InWidth * Channels;
    public int OutputSize => OutHeight * OutWidth * Channels;
}

/// <summary>
/// Max pooling over channels-last images, vectorized across channels. The backward re-finds each window's maximum
/// (the first position, in row-major window order, whose value equals the output — PyTorch's choice among ties)
/// instead of keeping indices, and sends the gradient there.
/// </summary>
public static class MaxPool
{
    /// <summary>y = each window's maximum; the images split between <paramref name="threads"/> when there is enough work.</summary>
    public static void Forward(PoolGeometry g, ReadOnlySpan<float> x, Span<float> y, int images, int threads = 1) =>
        Forward(KernelInfo.Best, g, x, y, images, threads);

    public static void Forward(KernelIsa isa, PoolGeometry g, ReadOnlySpan<float> x, Span<float> y, int images, int threads = 1)
    {
        Check(g, x.Length, y.Length, images);
        Pool.Forward<MaxReduce>(isa, g, x, y, images, threads);
    }

    /// <summary>dx (+)= the gradient of each output sent to its window's maximum.</summary>
    public static void Backward(PoolGeometry g, ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx, int images, bool accumulate) =>
        Backward(KernelInfo.Best, g, x, y, dy, dx, images, accumulate);

    public static void Backward(KernelIsa isa, PoolGeometry g, ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx, int images, bool accumulate)
    {
        Check(g, x.Length, y.Length, images);
        Guard.Length(dy.Length, images, g.OutputSize, nameof(dy));
        Guard.Length(dx.Length, images, g.InputSize, nameof(dx));
        if (!accumulate) dx.Clear();
        switch (isa)
        {
            case KernelIsa.Avx512: BackwardVectors<Vector512<float>, Simd512>(g, x, y, dy, dx, images); break;
            case KernelIsa.Avx2: BackwardVectors<Vector256<float>, Simd256>(g, x, y, dy, dx, images); break;
            default: BackwardVectors<float, SimdScalar>(g, x, y, dy, dx, images); break;
        }
    }

    private static void BackwardVectors<TVec, TSimd>(PoolGeometry g, ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx, int images)
        where TVec : struct where TSimd : ISimd<TVec>
    {
        int w = TSimd.Count, channels = g.Channels;
        int vectorEnd = channels / w * w;
        ref float rx = ref MemoryMarshal.GetReference(x);
        ref float ry = ref MemoryMarshal.GetReference(y);
        ref float rdy = ref MemoryMarshal.GetReference(dy);
        ref float rdx = ref MemoryMarshal.GetReference(dx);
        Span<int> window = stackalloc int[g.KernelHeight * g.KernelWidth];
        for (int n = 0; n < images; n++)
        {
            int inBase = n * g.InputSize, outBase = n * g.OutputSize;
            for (int oh = 0; oh < g.OutHeight; oh++)
                for (int ow = 0; ow < g.OutWidth; ow++)
                {
                    int positions = Pool.Window(g, oh, ow, window);
                    int at = outBase + (oh * g.OutWidth + ow) * channels;
                    for (int c = 0; c < vectorEnd; c += w)
                    {
                        TVec max = TSimd.Load(ref Unsafe.Add(ref ry, at + c));
                        TVec grad = TSimd.Load(ref Unsafe.Add(ref rdy, at + c));
                        TVec left = grad; // the gradient not yet routed: zeroed lane by lane as each lane's maximum is found
                        for (int i = 0; i < positions; i++)
                        {
                            int from = inBase + window[i] + c;
                            TVec hit = Equal<TVec, TSimd>(TSimd.Load(ref Unsafe.Add(ref rx, from)), max, left);
                            ref float target = ref Unsafe.Add(ref rdx, from);
                            TSimd.Store(TSimd.Add(TSimd.Load(ref target), hit), ref target);
                            left = TSimd.Subtract(left, hit);
                        }
                    }
                    for (int c = vectorEnd; c < channels; c++)
                    {
                        float max = Unsafe.Add(ref ry, at + c);
                        for (int i = 0; i < positions; i++)
                        {
                            int from = inBase + window[i] + c;
                            if (Unsafe.Add(ref rx, from) == max)
                            {
                                Unsafe.Add(ref rdx, from) += Unsafe.Add(ref rdy, at + c);
                                break;
                            }
                        }
                    }
                }
        }
    }

    /// <summary>Lanes where <paramref name="value"/> equals <paramref name="max"/> and the gradient is not yet routed: the
    /// gradient there, zero elsewhere. (A lane whose gradient is exactly 0 routes nothing, which changes nothing.)</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TVec Equal<TVec, TSimd>(TVec value, TVec max, TVec left) where TVec : struct where TSimd : ISimd<TVec>
    {
        if (typeof(TVec) == typeof(Vector256<float>))
        {
            Vector256<float> mask = Vector256.Equals((Vector256<float>)(object)value, (Vector256<float>)(object)max);
            return (TVec)(object)((Vector256<float>)(object)left & mask);
        }
        if (typeof(TVec) == typeof(Vector512<float>))
        {
            Vector512<float> mask = Vector512.Equals((Vector512<float>)(object)value, (Vector512<float>)(object)max);
            return (TVec)(object)((Vector512<float>)(object)left & mask);
        }
        return (float)(object)value == (float)(object)max ? left : TSimd.Zero;
    }

    private static void Check(PoolGeometry g, int x, int y, int images)
    {
        ArgumentNullException.ThrowIfNull(g);
        ArgumentOutOfRangeException.ThrowIfNegative(images);
        Guard.Length(x, images, g.InputSize, "x");
        Guard.Length(y, images, g.OutputSize, "y");
    }
}

/// <summary>
/// Average pooling over channels-last images: the window's sum divided by the window's area including the padding
/// (PyTorch's default <c>count_include_pad=True</c>), or by the positions inside the image.
/// </summary>
public static class AvgPool
{
    /// <summary>y = each window's mean; the images split between <paramref name="threads"/> when there is enough work.</summary>
    public static void Forward(PoolGeometry g, ReadOnlySpan<float> x, Span<float> y, int images, bool countIncludePad = true, int threads = 1) =>
        Forward(KernelInfo.Best, g, x, y, images, countIncludePad, threads);

    public static void Forward(KernelIsa isa, PoolGeometry g, ReadOnlySpan<float> x, Span<float> y, int images, bool countIncludePad = true, int threads = 1)
    {
        ArgumentNullException.ThrowIfNull(g);
        ArgumentOutOfRangeException.ThrowIfNegative(images);
        Guard.Length(x.Length, images, g.InputSize, nameof(x));
        Guard.Length(y.Length, images, g.OutputSize, nameof(y));
        if (countIncludePad) Pool.Forward<MeanReduce>(isa, g, x, y, images, threads);
        else Pool.Forward<MeanInsideReduce>(isa, g, x, y, images, threads);
    }

    /// <summary>dx (+)= each output's gradient divided by its window's divisor, at every position of the window.</summary>
    public static void Backward(PoolGeometry g, ReadOnlySpan<float> dy, Span<float> dx, int images, bool accumulate, bool countIncludePad = true) =>
        Backward(KernelInfo.Best, g, dy, dx, images, accumulate, countIncludePad);

    public static void Backward(KernelIsa isa, PoolGeometry g, ReadOnlySpan<float> dy, Span<float> dx, int images, bool accumulate, bool countIncludePad = true)
    {
        ArgumentNullException.ThrowIfNull(g);
        ArgumentOutOfRangeException.ThrowIfNegative(images);
        Guard.Length(dy.Length, images, g.OutputSize, nameof(dy));
        Guard.Length(dx.Length, images, g.InputSize, nameof(dx));
        if (!accumulate) dx.Clear();
        switch (isa)
        {
            case KernelIsa.Avx512: BackwardVectors<Vector512<float>, Simd512>(g, dy, dx, images, countIncludePad); break;
            case KernelIsa.Avx2: BackwardVectors<Vector256<float>, Simd256>(g, dy, dx, images, countIncludePad); break;
            default: BackwardVectors<float, SimdScalar>(g, dy, dx, images, countIncludePad); break;
        }
    }

    private static void BackwardVectors<TVec, TSimd>(PoolGeometry g, ReadOnlySpan<float> dy, Span<float> dx, int images, bool countIncludePad)
        where TVec : struct where TSimd : ISimd<TVec>
    {
        int w = TSimd.Count, channels = g.Channels, vectorEnd = channels / w * w;
        ref float rdy = ref MemoryMarshal.GetReference(dy);
        ref float rdx = ref MemoryMarshal.GetReference(dx);
        Span<int> window = stackalloc int[g.KernelHeight * g.KernelWidth];
        for (int n = 0; n < images; n++)
        {
            int inBase = n * g.InputSize, outBase = n * g.OutputSize;
            for (int oh = 0; oh < g.OutHeight; oh++)
                for (int ow = 0; ow < g.OutWidth; ow++)
                {
                    int positions = Pool.Window(g, oh, ow, window);
                    float scale = 1f / (countIncludePad ? g.KernelHeight * g.KernelWidth : positions);
                    int at = outBase + (oh * g.OutWidth + ow) * channels;
                    TVec s = TSimd.Broadcast(scale);
                    for (int c = 0; c < vectorEnd; c += w)
                    {
                        TVec grad = TSimd.Multiply(TSimd.Load(ref Unsafe.Add(ref rdy, at + c)), s);
                        for (int i = 0; i < positions; i++)
                        {
                            ref float target = ref Unsafe.Add(ref rdx, inBase + window[i] + c);
                            TSimd.Store(TSimd.Add(TSimd.Load(ref target), grad), ref target);
                        }
                    }
                    for (int c = vectorEnd; c < channels; c++)
                    {
                        float grad = Unsafe.Add(ref rdy, at + c) * scale;
                        for (int i = 0; i < positions; i++) Unsafe.Add(ref rdx, inBase + window[i] + c) += grad;
                    }
                }
        }
    }
}

/// <summary>Global average pooling: [H, W, C] → [C], the mean of each channel over the map.</summary>
public static class GlobalAvgPool
{
    public static void Forward(ReadOnlySpan<float> x, Span<float> y, int images, int pixels, int channels) =>
        Forward(KernelInfo.Best, x, y, images, pixels, channels);

    public static void Forward(KernelIsa isa, ReadOnlySpan<float> x, Span<float> y, int images, int pixels, int channels)
    {
        Guard.Length(x.Length, images, pixels * channels, nameof(x));
        Guard.Length(y.Length, images, channels, nameof(y));
        for (int n = 0; n < images; n++)
        {
            Span<float> mean = y.Slice(n * channels, channels);
            Reductions.ColumnSums(isa, x.Slice(n * pixels * channels, pixels * channels), pixels, channels, mean, accumulate: false);
            System.Numerics.Tensors.TensorPrimitives.Multiply(mean, 1f / pixels, mean);
        }
    }

    /// <summary>dx[p, c] (+)= dy[c] / pixels.</summary>
    public static void Backward(ReadOnlySpan<float> dy, Span<float> dx, int images, int pixels, int channels, bool accumulate)
    {
        Guard.Length(dy.Length, images, channels, nameof(dy));
        Guard.Length(dx.Length, images, pixels * channels, nameof(dx));
        Span<float> share = channels <= 1024 ? stackalloc float[channels] : new float[channels];
        for (int n = 0; n < images; n++)
        {
            System.Numerics.Tensors.TensorPrimitives.Multiply(dy.Slice(n * channels, channels), 1f / pixels, share);
            for (int p = 0; p < pixels; p++)
            {
                Span<float> target = dx.Slice((n * pixels + p) * channels, channels);
                if (accumulate) System.Numerics.Tensors.TensorPrimitives.Add(target, share, target);
                else share.CopyTo(target);
            }
        }
    }
}

/// <summary>How a pooling window's values combine.</summary>
internal interface IPoolReduce
{
    static abstract TVec Start<TVec, TSimd>() where TVec : struct where TSimd : ISimd<TVec>;
    static abstract TVec Combine<TVec, TSimd>(TVec acc, TVec value) where TVec : struct where TSimd : ISimd<TVec>;
    static abstract float Scale(PoolGeometry g, int positions);
}

internal readonly struct MaxReduce : IPoolReduce
{
    public static TVec Start<TVec, TSimd>() where TVec : struct where TSimd : ISimd<TVec> => TSimd.Broadcast(float.NegativeInfinity);
    public static TVec Combine<TVec, TSimd>(TVec acc, TVec value) where TVec : struct where TSimd : ISimd<TVec> => TSimd.Max(acc, value);
    public static float Scale(PoolGeometry g, int positions) => 1f;
}

internal readonly struct MeanReduce : IPoolReduce
{
    public static TVec Start<TVec, TSimd>() where TVec : struct where TSimd : ISimd<TVec> => TSimd.Zero;
    public static TVec Combine<TVec, TSimd>(TVec acc, TVec value) where TVec : struct where TSimd : ISimd<TVec> => TSimd.Add(acc, value);
    public static float Scale(PoolGeometry g, int positions) => 1f / (g.KernelHeight * g.KernelWidth);
}

internal readonly struct MeanInsideReduce : IPoolReduce
{
    public static TVec Start<TVec, TSimd>() where TVec : struct where TSimd : ISimd<TVec> => TSimd.Zero;
    public static TVec Combine<TVec, TSimd>(TVec acc, TVec value) where TVec : struct where TSimd : ISimd<TVec> => TSimd.Add(acc, value);
    public static float Scale(PoolGeometry g, int positions) => 1f / positions;
}

internal static unsafe class Pool
{
    /// <summary>Threads worth using for a pass that reads <paramref name="values"/> floats over <paramref name="images"/>
    /// images: whole images each, from 2¹⁶ values (about 10 µs on one thread; a batch of one stays on one).</summary>
    public static int Parts(int threads, int images, long values) =>
        threads <= 1 || values < 1 << 16 ? 1 : Math.Max(1, Math.Min(Math.Min(threads, KernelThreads.MaxThreads), images));

    /// <summary>The forward on the ISA's vectors, the images split between threads.</summary>
    public static void Forward<TReduce>(KernelIsa isa, PoolGeometry g, ReadOnlySpan<float> x, Span<float> y, int images, int threads)
        where TReduce : struct, IPoolReduce
    {
        int parts = Parts(threads, images, (long)images * g.OutputSize * g.KernelHeight * g.KernelWidth);
        fixed (float* px = x, py = y)
            RowJob<ForwardWork<TReduce>>.Run(new ForwardWork<TReduce>(isa, g, px, py), images, parts, align: 1);
    }

    private readonly struct ForwardWork<TReduce>(KernelIsa isa, PoolGeometry g, float* x, float* y) : IRowWork where TReduce : struct, IPoolReduce
    {
        public void Rows(int begin, int end)
        {
            int images = end - begin;
            var xs = new ReadOnlySpan<float>(x + (nint)begin * g.InputSize, images * g.InputSize);
            var ys = new Span<float>(y + (nint)begin * g.OutputSize, images * g.OutputSize);
            switch (isa)
            {
                case KernelIsa.Avx512: Forward<Vector512<float>, Simd512, TReduce>(g, xs, ys, images); break;
                case KernelIsa.Avx2: Forward<Vector256<float>, Simd256, TReduce>(g, xs, ys, images); break;
                default: Forward<float, SimdScalar, TReduce>(g, xs, ys, images); break;
            }
        }
    }

    /// <summary>The offsets (pixel · channels, within the image) of the window positions of output (oh, ow) that lie
    /// inside the image, in row-major window order; returns their count.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Window(PoolGeometry g, int oh, int ow, Span<int> offsets)
    {
        int count = 0;
        for (int kh = 0; kh < g.KernelHeight; kh++)
        {
            int ih = oh * g.StrideHeight - g.PadHeight + kh;
            if ((uint)ih >= (uint)g.InHeight) continue;
            for (int kw = 0; kw < g.KernelWidth; kw++)
            {
                int iw = ow * g.StrideWidth - g.PadWidth + kw;
                if ((uint)iw >= (uint)g.InWidth) continue;
                offsets[count++] = (ih * g.InWidth + iw) * g.Channels;
            }
        }
        return count;
    }

    public static void Forward<TVec, TSimd, TReduce>(PoolGeometry g, ReadOnlySpan<float> x, Span<float> y, int images)
        where TVec : struct where TSimd : ISimd<TVec> where TReduce : struct, IPoolReduce
    {
        int w = TSimd.Count, channels = g.Channels, vectorEnd = channels / w * w;
        ref float rx = ref MemoryMarshal.GetReference(x);
        ref float ry = ref MemoryMarshal.GetReference(y);
        Span<int> window = stackalloc int[g.KernelHeight * g.KernelWidth];
        if (g.PadHeight == 0 && g.PadWidth == 0 && vectorEnd == channels)
        {
            // No padding: every window lies inside the image, at the same offsets from its corner, found once (Z2's two
            // 2×2 pools at batch 32, one thread: 440 → 150–220 µs; scratch loop, best of 60).
            Inside<TVec, TSimd, TReduce>(g, ref rx, ref ry, images, window.Slice(0, Window(g, 0, 0, window)));
            return;
        }
        for (int n = 0; n < images; n++)
        {
            int inBase = n * g.InputSize, outBase = n * g.OutputSize;
            for (int oh = 0; oh < g.OutHeight; oh++)
                for (int ow = 0; ow < g.OutWidth; ow++)
                {
                    int positions = Pool.Window(g, oh, ow, window);
                    float scale = TReduce.Scale(g, positions);
                    int at = outBase + (oh * g.OutWidth + ow) * channels;
                    for (int c = 0; c < vectorEnd; c += w)
                    {
                        TVec acc = TReduce.Start<TVec, TSimd>();
                        for (int i = 0; i < positions; i++)
                            acc = TReduce.Combine<TVec, TSimd>(acc, TSimd.Load(ref Unsafe.Add(ref rx, inBase + window[i] + c)));
                        if (scale != 1f) acc = TSimd.Multiply(acc, TSimd.Broadcast(scale));
                        TSimd.Store(acc, ref Unsafe.Add(ref ry, at + c));
                    }
                    for (int c = vectorEnd; c < channels; c++)
                    {
                        float acc = TReduce.Start<float, SimdScalar>();
                        for (int i = 0; i < positions; i++)
                            acc = TReduce.Combine<float, SimdScalar>(acc, Unsafe.Add(ref rx, inBase + window[i] + c));
                        Unsafe.Add(ref ry, at + c) = scale != 1f ? acc * scale : acc;
                    }
                }
        }
    }

    /// <summary>The forward without padding: each output pixel's window is <paramref name="offsets"/> from the input
    /// pixel at (oh·stride, ow·stride); whole vectors of channels only.</summary>
    private static void Inside<TVec, TSimd, TReduce>(PoolGeometry g, ref float x, ref float y, int images, ReadOnlySpan<int> offsets)
        where TVec : struct where TSimd : ISimd<TVec> where TReduce : struct, IPoolReduce
    {
        int w = TSimd.Count, channels = g.Channels, positions = offsets.Length;
        float scale = TReduce.Scale(g, positions);
        int rowStep = g.StrideHeight * g.InWidth * channels, columnStep = g.StrideWidth * channels;
        for (int n = 0; n < images; n++)
        {
            int inBase = n * g.InputSize, at = n * g.OutputSize;
            for (int oh = 0; oh < g.OutHeight; oh++)
            {
                int corner = inBase + oh * rowStep;
                for (int ow = 0; ow < g.OutWidth; ow++, corner += columnStep)
                    for (int c = 0; c < channels; c += w, at += w)
                    {
                        ref float first = ref Unsafe.Add(ref x, corner + c);
                        TVec acc = TReduce.Combine<TVec, TSimd>(TReduce.Start<TVec, TSimd>(), TSimd.Load(ref Unsafe.Add(ref first, offsets[0])));
                        for (int i = 1; i < positions; i++)
                            acc = TReduce.Combine<TVec, TSimd>(acc, TSimd.Load(ref Unsafe.Add(ref first, offsets[i])));
                        if (scale != 1f) acc = TSimd.Multiply(acc, TSimd.Broadcast(scale));
                        TSimd.Store(acc, ref Unsafe.Add(ref y, at));
                    }
            }
        }
    }
}
