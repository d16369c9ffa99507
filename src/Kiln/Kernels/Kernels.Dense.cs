using System;
using System.Numerics.Tensors;


namespace Kiln.Kernels;

/// <summary>A fully connected layer over [rows, in] with W [out, in] (PyTorch's layout) and b [out].</summary>
public static class Dense
{
    /// <summary>y[rows, out] = x[rows, in]·Wᵀ + b. Pass an empty <paramref name="bias"/> for a layer without one.</summary>
    public static void Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, Span<float> y, int rows, int inFeatures, int outFeatures, int threads = 1,
        WeightPack packed = default) =>
        Forward(x, weight, bias, y, rows, inFeatures, outFeatures, default(IdentityOp), default, threads, packed);

    /// <summary>
    /// y = act(x·Wᵀ + b) in one pass: bias and activation are applied to each tile of the product while it is in
    /// registers. <paramref name="preActivation"/>, when not empty, receives x·Wᵀ + b (what the backward of GELU
    /// and leaky ReLU reads). <paramref name="packed"/>, when given (<see cref="PackedWeights.For"/>), is
    /// <paramref name="weight"/> packed beforehand: a product the packed engine takes reads it instead of packing the
    /// weight again (the others — a matrix-vector product, a narrow head — read the weight as they do without it).
    /// </summary>
    public static void Forward<TAct>(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, Span<float> y, int rows, int inFeatures, int outFeatures,
        TAct activation, Span<float> preActivation, int threads = 1, WeightPack packed = default)
        where TAct : struct, IUnaryOperator
    {
        Guard.Length(x.Length, rows, inFeatures, nameof(x));
        Guard.Length(weight.Length, outFeatures, inFeatures, nameof(weight));
        Guard.Length(y.Length, rows, outFeatures, nameof(y));
        if (!bias.IsEmpty) Guard.Length(bias.Length, outFeatures, 1, nameof(bias));
        if (!preActivation.IsEmpty) Guard.Length(preActivation.Length, rows, outFeatures, nameof(preActivation));
        KernelIsa isa = KernelInfo.Best;
        if (packed.Fits(isa, outFeatures, inFeatures) && Gemm.UsesPackedEngine(isa, Gemm.Kernel, GemmForm.Nt, rows, outFeatures, inFeatures, threads))
            Gemm.RunPacked(isa, x, packed.Values, y, rows, outFeatures, inFeatures, false, bias, activation, preActivation, threads);
        else
            Gemm.Run(isa, Gemm.Kernel, GemmForm.Nt, x, weight, y, rows, outFeatures, inFeatures, false, bias, activation, preActivation, threads);
    }

    /// <summary>dx[rows, in] (+)= dy[rows, out]·W.</summary>
    public static void BackwardInput(ReadOnlySpan<float> dy, ReadOnlySpan<float> weight, Span<float> dx, int rows, int inFeatures, int outFeatures, bool accumulate, int threads = 1)
    {
        Guard.Length(dy.Length, rows, outFeatures, nameof(dy));
        Guard.Length(dx.Length, rows, inFeatures, nameof(dx));
        Gemm.Run(KernelInfo.Best, Gemm.Kernel, GemmForm.Nn, dy, weight, dx, rows, inFeatures, outFeatures, accumulate, default, default(IdentityOp), default, threads);
    }

    /// <summary>dW[out, in] (+)= dyᵀ·x; db[out] (+)= Σ_rows dy (skipped when <paramref name="dbias"/> is empty).</summary>
    public static void BackwardParameters(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dweight, Span<float> dbias, int rows, int inFeatures, int outFeatures, bool accumulate, int threads = 1)
    {
        Guard.Length(x.Length, rows, inFeatures, nameof(x));
        Guard.Length(dy.Length, rows, outFeatures, nameof(dy));
        Guard.Length(dweight.Length, outFeatures, inFeatures, nameof(dweight));
        Gemm.Run(KernelInfo.Best, Gemm.Kernel, GemmForm.Tn, dy, x, dweight, outFeatures, inFeatures, rows, accumulate, default, default(IdentityOp), default, threads);
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
