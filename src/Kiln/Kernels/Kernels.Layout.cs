using System;
using System.Numerics.Tensors;

namespace Kiln.Kernels;

/// <summary>
/// Layout changes at the edges of an image model: Kiln keeps images channels-last ([H, W, C] per image, a pixel's
/// channels contiguous) while callers, checkpoints and <c>Flatten</c> use PyTorch's channels-first [C, H, W].
/// Each is a per-image transpose of a [C, H·W] matrix.
/// </summary>
public static unsafe class Layout
{
    /// <summary>[images, C, H·W] → [images, H·W, C]; the images split between <paramref name="threads"/> when there is enough work.</summary>
    public static void ToChannelsLast(ReadOnlySpan<float> x, Span<float> y, int images, int channels, int pixels, int threads = 1) =>
        Run(x, y, images, channels, pixels, accumulate: false, threads);

    /// <summary>[images, H·W, C] → [images, C, H·W].</summary>
    public static void ToChannelsFirst(ReadOnlySpan<float> x, Span<float> y, int images, int channels, int pixels, int threads = 1) =>
        Run(x, y, images, pixels, channels, accumulate: false, threads);

    /// <summary>dx[images, H·W, C] (+)= dy[images, C, H·W] transposed back (the backward of <see cref="ToChannelsFirst"/>).</summary>
    public static void ToChannelsFirstBackward(ReadOnlySpan<float> dy, Span<float> dx, int images, int channels, int pixels, bool accumulate, int threads = 1) =>
        Run(dy, dx, images, channels, pixels, accumulate, threads);

    /// <summary>dx[images, C, H·W] (+)= dy[images, H·W, C] transposed back (the backward of <see cref="ToChannelsLast"/>).</summary>
    public static void ToChannelsLastBackward(ReadOnlySpan<float> dy, Span<float> dx, int images, int channels, int pixels, bool accumulate, int threads = 1) =>
        Run(dy, dx, images, pixels, channels, accumulate, threads);

    /// <summary>Per image, out[c, r] (+)= in[r, c] for in [rows, cols].</summary>
    private static void Run(ReadOnlySpan<float> input, Span<float> output, int images, int rows, int cols, bool accumulate, int threads)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(images);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rows);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(cols);
        int size = rows * cols;
        Guard.Length(input.Length, images, size, nameof(input));
        Guard.Length(output.Length, images, size, nameof(output));
        int parts = Pool.Parts(threads, images, (long)images * size);
        fixed (float* pi = input, po = output)
            RowJob<TransposeWork>.Run(new TransposeWork(pi, po, rows, cols, accumulate), images, parts, align: 1);
    }

    /// <summary>Images [begin, end) of a layout change.</summary>
    private readonly struct TransposeWork(float* input, float* output, int rows, int cols, bool accumulate) : IRowWork
    {
        public void Rows(int begin, int end)
        {
            int size = rows * cols;
            for (int n = begin; n < end; n++)
            {
                var from = new ReadOnlySpan<float>(input + (nint)n * size, size);
                var to = new Span<float>(output + (nint)n * size, size);
                if (!accumulate)
                {
                    Transpose.Run(from, rows, cols, to);
                    continue;
                }
                for (int r = 0; r < rows; r++)
                    for (int c = 0; c < cols; c++)
                        to[c * rows + r] += from[r * cols + c];
            }
        }
    }
}

/// <summary>
/// Concatenation along the last (channel) dimension: y[r] = [a[r] | b[r]] for every row r — a pixel of a channels-last
/// image or a sample of a feature vector (DenseNet's feature reuse).
/// </summary>
public static class Concat
{
    public static void Forward(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y, int rows, int widthA, int widthB)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        Guard.Length(a.Length, rows, widthA, nameof(a));
        Guard.Length(b.Length, rows, widthB, nameof(b));
        int width = widthA + widthB;
        Guard.Length(y.Length, rows, width, nameof(y));
        for (int r = 0; r < rows; r++)
        {
            a.Slice(r * widthA, widthA).CopyTo(y.Slice(r * width, widthA));
            b.Slice(r * widthB, widthB).CopyTo(y.Slice(r * width + widthA, widthB));
        }
    }

    /// <summary>da (+)= the first <paramref name="widthA"/> values of each row of dy; db (+)= the rest. Either may be empty (no gradient needed).</summary>
    public static void Backward(ReadOnlySpan<float> dy, Span<float> da, Span<float> db, int rows, int widthA, int widthB, bool accumulateA, bool accumulateB)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        int width = widthA + widthB;
        Guard.Length(dy.Length, rows, width, nameof(dy));
        if (!da.IsEmpty) Guard.Length(da.Length, rows, widthA, nameof(da));
        if (!db.IsEmpty) Guard.Length(db.Length, rows, widthB, nameof(db));
        for (int r = 0; r < rows; r++)
        {
            if (!da.IsEmpty) Part(dy.Slice(r * width, widthA), da.Slice(r * widthA, widthA), accumulateA);
            if (!db.IsEmpty) Part(dy.Slice(r * width + widthA, widthB), db.Slice(r * widthB, widthB), accumulateB);
        }

        static void Part(ReadOnlySpan<float> from, Span<float> to, bool accumulate)
        {
            if (accumulate) TensorPrimitives.Add(to, from, to);
            else from.CopyTo(to);
        }
    }
}
