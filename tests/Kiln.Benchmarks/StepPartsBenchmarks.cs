using BenchmarkDotNet.Attributes;
using Kiln.Data;
using Kiln.Optimizers;
using Kiln.Samples.Mnist;

namespace Kiln.Benchmarks;

/// <summary>Where a Z1 training step goes: forward + loss + backward (ComputeGradients) and the Adam update.</summary>
public class StepPartsBenchmarks
{
    private MnistMlp _model = null!;
    private Adam _adam = null!;
    private float[] _pixels = null!;
    private int[] _labels = null!;

    [GlobalSetup]
    public void Setup()
    {
        Dataset data = SyntheticDigits.Generate(MnistMlp.Batch, seed: 1);
        _model = new MnistMlp(seed: 1);
        _adam = new Adam(_model.Parameters, lr: 1e-3f);
        _pixels = data.Features;
        _labels = data.Labels;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _adam.Dispose();
        _model.Dispose();
    }

    [Benchmark(Description = "Z1 forward + backward, batch 64")]
    public float ComputeGradients() => _model.ComputeGradients(_pixels, _labels);

    [Benchmark(Description = "Adam step over Z1's 235,146 parameters")]
    public void AdamStep() => _adam.Step(_model.Parameters.Span, _model.Gradients.Span);
}
