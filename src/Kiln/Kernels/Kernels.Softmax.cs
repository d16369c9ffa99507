using System;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

namespace Kiln.Kernels;

/// <summary>Softmax over the last dimension of [rows, width] and its backward.</summary>
public static class Softmax
{
    /// <summary>y = softmax(x) row by row (max subtracted first, so large logits do not overflow).</summary>
    public static void Forward(ReadOnlySpan<float> x, Span<float> y, int rows, int width)
    {
        Guard.Length(x.Length, rows, width, nameof(x));
        Guard.Length(y.Length, rows, width, nameof(y));
        for (int r = 0; r < rows; r++)
            Row(x.Slice(r * width, width), y.Slice(r * width, width));
    }

    /// <summary>One row: y = exp(x − max)/Σ; returns log Σ exp(x) (the log-sum-exp).</summary>
    internal static float Row(ReadOnlySpan<float> x, Span<float> y)
    {
        float max = TensorPrimitives.Max(x);
        TensorPrimitives.Subtract(x, max, y);
        TensorPrimitives.Exp(y, y);
        float sum = TensorPrimitives.Sum<float>(y);
        TensorPrimitives.Multiply(y, 1f / sum, y);
        return max + MathF.Log(sum);
    }

    /// <summary>dx (+)= y ⊙ (dy − Σ dy⊙y), row by row.</summary>
    public static void Backward(ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx, int rows, int width, bool accumulate) =>
        Backward(KernelInfo.Best, y, dy, dx, rows, width, accumulate);

    public static void Backward(KernelIsa isa, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx, int rows, int width, bool accumulate)
    {
        Guard.Length(y.Length, rows, width, nameof(y));
        Guard.Length(dy.Length, rows, width, nameof(dy));
        Guard.Length(dx.Length, rows, width, nameof(dx));
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> yr = y.Slice(r * width, width), dyr = dy.Slice(r * width, width);
            float dot = TensorPrimitives.Dot(yr, dyr);
            ElementWise.Zip(isa, new SoftmaxGradOp(dot), yr, dyr, dx.Slice(r * width, width), accumulate);
        }
    }

    public readonly struct SoftmaxGradOp(float dot) : IBinaryOperator
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public TVec Invoke<TVec, TSimd>(TVec y, TVec dy) where TVec : struct where TSimd : ISimd<TVec> =>
            TSimd.Multiply(y, TSimd.Subtract(dy, TSimd.Broadcast(dot)));
    }
}
