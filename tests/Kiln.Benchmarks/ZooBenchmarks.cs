using System;
using BenchmarkDotNet.Attributes;
using Kiln.Data;
using Kiln.Kernels;
using Kiln.Optimizers;
using Kiln.Samples.Mnist;

namespace Kiln.Benchmarks;

/// <summary>
/// Zoo model Z1 (784-256-128-10, batch 64): one training step (forward + backward + Adam) and inference at
/// batch 1 and 64 (at 64 also with the weights packed once, <c>PackWeights</c>). FLOPs per call for fractions of the FMA peak: training ≈ 64 × 1,006,144
/// (forward 469,888 + dW 469,888 + dX of the upper two layers 66,368 per sample); inference 469,888 per sample.
/// </summary>
[MemoryDiagnoser]
public class ZooBenchmarks
{
    /// <summary>The foundation's kernels (the "before" of the fast-kernels issue) and the packed ones, in one run.</summary>
    [Params(GemmKernel.RegisterBlocked, GemmKernel.Auto)]
    public GemmKernel Kernel { get; set; }

    /// <summary>The model's thread setting (the large products split across this many threads).</summary>
    [Params(1, 2)]
    public int Threads { get; set; }

    private MnistMlp _model = null!;
    private MnistMlp _packed = null!;
    private Adam _adam = null!;
    private float[] _pixels = null!;
    private int[] _labels = null!;
    private float[] _logits = null!;

    [GlobalSetup]
    public void Setup()
    {
        Gemm.Kernel = Kernel;
        Dataset data = SyntheticDigits.Generate(MnistMlp.Batch, seed: 1);
        _model = new MnistMlp(seed: 1) { Threads = Threads };
        _adam = new Adam(_model.Parameters, lr: 1e-3f);
        // The same weights, packed once for inference (PackWeights); the training steps on _model leave it alone.
        _packed = new MnistMlp(seed: 1) { Threads = Threads };
        _packed.PackWeights();
        _pixels = data.Features;
        _labels = data.Labels;
        _logits = new float[MnistMlp.Batch * MnistMlp.OutputSize];
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _adam.Dispose();
        _model.Dispose();
        _packed.Dispose();
    }

    [Benchmark(Description = "Z1 train step, batch 64")]
    public float TrainStep() => _model.TrainStep(_pixels, _labels, _adam);

    [Benchmark(Description = "Z1 inference, batch 64")]
    public void Inference64() => _model.Forward(_pixels, _logits);

    [Benchmark(Description = "Z1 inference, batch 64, packed weights")]
    public void Inference64Packed() => _packed.Forward(_pixels, _logits);

    [Benchmark(Description = "Z1 inference, batch 1")]
    public void Inference1() => _model.Forward(_pixels.AsSpan(0, MnistMlp.InputSize), _logits.AsSpan(0, MnistMlp.OutputSize));
}
