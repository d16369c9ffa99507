using System;
using System.IO;
using Kiln.IO;
using Kiln.Optimizers;
using Xunit;

namespace Kiln.Models.Tests;

/// <summary>
/// Every optimizer against PyTorch's own values (Parity/export.py: each torch.optim optimizer driven by the same
/// given gradients, 6 steps on 37 parameters): the parameters after every step within 2e−6 (float32 against float32;
/// a step moves a parameter by up to lr).
/// </summary>
public class OptimizerParityTests
{
    private const int Count = 37, Steps = 6;

    public static TheoryData<string> Names => new()
    {
        "adam", "adamw", "sgd_momentum", "sgd_nesterov", "rmsprop", "rmsprop_centered_momentum", "adagrad", "adadelta",
    };

    private static Optimizer Create(string name, ParameterSet set) => name switch
    {
        "adam" => new Adam(set, lr: 0.01f, weightDecay: 0.05f),
        "adamw" => new AdamW(set, lr: 0.01f, weightDecay: 0.1f),
        "sgd_momentum" => new Sgd(set, lr: 0.1f, momentum: 0.9f, dampening: 0.1f, weightDecay: 0.01f),
        "sgd_nesterov" => new Sgd(set, lr: 0.1f, momentum: 0.9f, weightDecay: 0.01f, nesterov: true),
        "rmsprop" => new RmsProp(set, lr: 0.01f, weightDecay: 0.01f),
        "rmsprop_centered_momentum" => new RmsProp(set, lr: 0.01f, momentum: 0.9f, centered: true),
        "adagrad" => new Adagrad(set, lr: 0.05f, learningRateDecay: 0.1f, weightDecay: 0.02f, initialAccumulatorValue: 0.5f),
        "adadelta" => new Adadelta(set, lr: 1f, rho: 0.9f, weightDecay: 0.05f),
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [MemberData(nameof(Names))]
    public void Optimizer_MatchesPyTorch_StepByStep(string name)
    {
        var expected = SafeTensors.ReadAll(Path.Combine(AppContext.BaseDirectory, "Parity", "optimizers.expected.safetensors"));
        float[] grads = expected["grads"].Values, after = expected[$"{name}.after"].Values;
        using var memory = new AlignedBuffer(64);
        var set = new ParameterSet(memory, 0, Count, new[] { new TensorSlice("w", new[] { Count }, 0) });
        expected["p0"].Values.CopyTo(set.Span);
        using Optimizer optimizer = Create(name, set);
        for (int t = 0; t < Steps; t++)
        {
            optimizer.Step(set.Span, grads.AsSpan(t * Count, Count));
            for (int i = 0; i < Count; i++)
            {
                float torch = after[t * Count + i], kiln = set.Span[i];
                Assert.True(Math.Abs(kiln - torch) <= 2e-6f, $"{name}, step {t + 1}, parameter {i}: Kiln {kiln:R}, PyTorch {torch:R}");
            }
        }
    }
}
