using System.Numerics.Tensors;
using BenchmarkDotNet.Attributes;
using Kiln.Kernels;

namespace Kiln.Benchmarks;

/// <summary>
/// Kiln's hand-written activation kernels (one generic body over ISimd) against System.Numerics.Tensors'
/// TensorPrimitives on the same 16,384 values (a [64, 256] activation of Z1), single thread.
/// </summary>
public class ElementWiseBenchmarks
{
    private readonly float[] _x = new float[64 * 256];
    private readonly float[] _y = new float[64 * 256];

    [GlobalSetup]
    public void Setup()
    {
        var random = new KilnRandom(1);
        random.FillUniform(_x, -4, 4);
    }

    [Benchmark(Description = "ReLU: Kiln")] public void ReluKiln() => Activations.ReluForward(_x, _y);
    [Benchmark(Description = "ReLU: TensorPrimitives.Max(x, 0)")] public void ReluTensorPrimitives() => TensorPrimitives.Max(_x, 0f, _y);
    [Benchmark(Description = "Sigmoid: Kiln")] public void SigmoidKiln() => Activations.SigmoidForward(_x, _y);
    [Benchmark(Description = "Sigmoid: TensorPrimitives")] public void SigmoidTensorPrimitives() => TensorPrimitives.Sigmoid(_x, _y);
    [Benchmark(Description = "Tanh: Kiln")] public void TanhKiln() => Activations.TanhForward(_x, _y);
    [Benchmark(Description = "Tanh: TensorPrimitives")] public void TanhTensorPrimitives() => TensorPrimitives.Tanh(_x, _y);
    [Benchmark(Description = "GELU: Kiln (erf)")] public void GeluKiln() => Activations.GeluForward(_x, _y, approximate: false);
    [Benchmark(Description = "Exp: Kiln (FastMath.Exp)")] public void ExpKiln() => ElementWise.Map(KernelInfo.Best, default(ExpOp), _x, _y);
    [Benchmark(Description = "Exp: TensorPrimitives")] public void ExpTensorPrimitives() => TensorPrimitives.Exp(_x, _y);

    private readonly struct ExpOp : IUnaryOperator
    {
        public TVec Invoke<TVec, TSimd>(TVec x) where TVec : struct where TSimd : ISimd<TVec> => TSimd.Exp(x);
    }
}
