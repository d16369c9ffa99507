extern alias @unchecked;

using System;
using BenchmarkDotNet.Attributes;
using Kiln.Data;
using Kiln.Optimizers;
using Kiln.Samples.Gpt;
using Kiln.Samples.Mnist;
using UncheckedGpt = @unchecked::Kiln.Samples.Gpt.GptMini;
using UncheckedMlp = @unchecked::Kiln.Samples.Mnist.MnistMlp;

namespace Kiln.Benchmarks;

/// <summary>
/// What check mode (CheckFinite) costs: a Z1 and a Z5 training step with the checks compiled out (the same declarations
/// built with KILN_NO_FINITE_CHECKS in Kiln.Benchmarks.Unchecked), compiled in but off (the default), and on.
/// </summary>
[MemoryDiagnoser]
public class FiniteCheckBenchmarks
{
    private MnistMlp _mlp = null!, _mlpChecked = null!;
    private UncheckedMlp _mlpUnchecked = null!;
    private GptMini _gpt = null!, _gptChecked = null!;
    private UncheckedGpt _gptUnchecked = null!;
    private Optimizer _mlpSgd = null!, _mlpCheckedSgd = null!, _mlpUncheckedSgd = null!, _gptSgd = null!, _gptCheckedSgd = null!, _gptUncheckedSgd = null!;
    private float[] _pixels = null!;
    private int[] _labels = null!, _tokens = null!, _next = null!;

    [GlobalSetup]
    public void Setup()
    {
        Dataset data = SyntheticDigits.Generate(MnistMlp.Batch, seed: 1);
        (_pixels, _labels) = (data.Features, data.Labels);
        var random = new KilnRandom(3);
        _tokens = new int[GptMini.Batch * GptMini.InputSize];
        _next = new int[_tokens.Length];
        for (int i = 0; i < _tokens.Length; i++) (_tokens[i], _next[i]) = (random.Next(65), random.Next(65));
        // A tiny learning rate keeps every run finite and the three variants doing the same work.
        _mlp = new MnistMlp(1);
        _mlpChecked = new MnistMlp(1) { CheckFinite = true };
        _mlpUnchecked = new UncheckedMlp(1);
        _gpt = new GptMini(1);
        _gptChecked = new GptMini(1) { CheckFinite = true };
        _gptUnchecked = new UncheckedGpt(1);
        _mlpSgd = new Sgd(_mlp.Parameters, 1e-6f);
        _mlpCheckedSgd = new Sgd(_mlpChecked.Parameters, 1e-6f);
        _mlpUncheckedSgd = new Sgd(_mlpUnchecked.Parameters, 1e-6f);
        _gptSgd = new Sgd(_gpt.Parameters, 1e-6f);
        _gptCheckedSgd = new Sgd(_gptChecked.Parameters, 1e-6f);
        _gptUncheckedSgd = new Sgd(_gptUnchecked.Parameters, 1e-6f);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (IDisposable d in new IDisposable[] { _mlpSgd, _mlpCheckedSgd, _mlpUncheckedSgd, _gptSgd, _gptCheckedSgd, _gptUncheckedSgd, _mlp, _mlpChecked, _mlpUnchecked, _gpt, _gptChecked, _gptUnchecked })
            d.Dispose();
    }

    [Benchmark(Description = "Z1 step, checks compiled out", Baseline = true)]
    public float MlpCompiledOut() => _mlpUnchecked.TrainStep(_pixels, _labels, _mlpUncheckedSgd);

    [Benchmark(Description = "Z1 step, check mode off")]
    public float MlpOff() => _mlp.TrainStep(_pixels, _labels, _mlpSgd);

    [Benchmark(Description = "Z1 step, check mode on")]
    public float MlpOn() => _mlpChecked.TrainStep(_pixels, _labels, _mlpCheckedSgd);

    [Benchmark(Description = "Z5 step, checks compiled out")]
    public float GptCompiledOut() => _gptUnchecked.TrainStep(_tokens, _next, _gptUncheckedSgd);

    [Benchmark(Description = "Z5 step, check mode off")]
    public float GptOff() => _gpt.TrainStep(_tokens, _next, _gptSgd);

    [Benchmark(Description = "Z5 step, check mode on")]
    public float GptOn() => _gptChecked.TrainStep(_tokens, _next, _gptCheckedSgd);
}
