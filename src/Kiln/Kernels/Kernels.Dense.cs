using System;
using System.Numerics.Tensors;

namespace Kiln.Kernels;

/// <summary>A fully connected layer over [rows, in] with W [out, in] (PyTorch's layout) and b [out].</summary>
public static class Dense
{
    /// <summary>y[rows, out] = x[rows, in]·Wᵀ + b. Pass an empty <paramref name="bias"/> for a layer without one.</summary>
    public static void Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, Span<float> y, int rows, int inFeatures, int outFeatures)
    {
        Guard.Length(x.Length, rows, inFeatures, nameof(x));
        Guard.Length(weight.Length, outFeatures, inFeatures, nameof(weight));
        Guard.Length(y.Length, rows, outFeatures, nameof(y));
        Gemm.Nt(x, weight, y, rows, outFeatures, inFeatures, accumulate: false);
        if (!bias.IsEmpty)
        {
            Guard.Length(bias.Length, outFeatures, 1, nameof(bias));
            for (int r = 0; r < rows; r++)
            {
                Span<float> row = y.Slice(r * outFeatures, outFeatures);
                TensorPrimitives.Add(row, bias, row);
            }
        }
    }

    /// <summary>dx[rows, in] (+)= dy[rows, out]·W.</summary>
    public static void BackwardInput(ReadOnlySpan<float> dy, ReadOnlySpan<float> weight, Span<float> dx, int rows, int inFeatures, int outFeatures, bool accumulate)
    {
        Guard.Length(dy.Length, rows, outFeatures, nameof(dy));
        Guard.Length(dx.Length, rows, inFeatures, nameof(dx));
        Gemm.Nn(dy, weight, dx, rows, inFeatures, outFeatures, accumulate);
    }

    /// <summary>dW[out, in] (+)= dyᵀ·x; db[out] (+)= Σ_rows dy (skipped when <paramref name="dbias"/> is empty).</summary>
    public static void BackwardParameters(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dweight, Span<float> dbias, int rows, int inFeatures, int outFeatures, bool accumulate)
    {
        Guard.Length(x.Length, rows, inFeatures, nameof(x));
        Guard.Length(dy.Length, rows, outFeatures, nameof(dy));
        Guard.Length(dweight.Length, outFeatures, inFeatures, nameof(dweight));
        Gemm.Tn(dy, x, dweight, outFeatures, inFeatures, rows, accumulate);
        if (!dbias.IsEmpty)
        {
            Guard.Length(dbias.Length, outFeatures, 1, nameof(dbias));
            if (!accumulate) dbias.Clear();
            for (int r = 0; r < rows; r++)
                TensorPrimitives.Add(dbias, dy.Slice(r * outFeatures, outFeatures), dbias);
        }
    }
}

/// <summary>Element-wise sum of two tensors (a skip connection) and the gradient it passes back.</summary>
public static class Add
{
    /// <summary>y = a + b.</summary>
    public static void Forward(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y) => TensorPrimitives.Add(a, b, y);

    /// <summary>dx (+)= dy: the gradient of a sum flows unchanged to both inputs.</summary>
    public static void Backward(ReadOnlySpan<float> dy, Span<float> dx, bool accumulate)
    {
        if (accumulate) TensorPrimitives.Add(dx, dy, dx);
        else dy.CopyTo(dx);
    }
}
