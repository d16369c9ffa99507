using System;
using System.IO;
using Kiln.IO;
using Kiln.Optimizers;
using Xunit;

namespace Kiln.Models.Tests;

/// <summary>Each schedule's rate at every step against PyTorch's scheduler (Parity/export.py, base rate 0.1): within
/// 1e−6 relative (PyTorch computes most of them recursively in float64, Kiln in closed form).</summary>
public class ScheduleParityTests
{
    public static TheoryData<string> Names => new() { "step", "multistep", "exponential", "cosine", "restarts", "warmup_cosine", "onecycle", "chained" };

    private static LearningRateSchedule Create(string name) => name switch
    {
        "step" => new StepSchedule(0.1f, stepSize: 7, gamma: 0.5f),
        "multistep" => new MultiStepSchedule(0.1f, new long[] { 5, 12, 20 }, gamma: 0.3f),
        "exponential" => new ExponentialSchedule(0.1f, gamma: 0.9f),
        "cosine" => new CosineSchedule(0.1f, maxSteps: 25, minimum: 0.001f),
        "restarts" => new CosineRestartsSchedule(0.1f, firstCycle: 5, multiplier: 2, minimum: 0.001f),
        "warmup_cosine" => new WarmupCosineSchedule(0.1f, warmupSteps: 5, totalSteps: 30, minimum: 0.001f, startFactor: 0.1f),
        "onecycle" => new OneCycleSchedule(0.1f, totalSteps: 30),
        "chained" => new Chained(new ExponentialSchedule(0.1f, 0.95f), new StepSchedule(0.1f, 10, 0.5f)),
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [MemberData(nameof(Names))]
    public void Schedule_MatchesPyTorch_AtEveryStep(string name)
    {
        float[] torch = SafeTensors.ReadAll(Path.Combine(AppContext.BaseDirectory, "Parity", "schedules.expected.safetensors"))[name].Values;
        LearningRateSchedule schedule = Create(name);
        for (int t = 0; t < torch.Length; t++)
        {
            float kiln = schedule.At(t);
            Assert.True(Math.Abs(kiln - torch[t]) <= 1e-6 * Math.Abs(torch[t]) + 1e-9, $"{name}, step {t}: Kiln {kiln:R}, PyTorch {torch[t]:R}");
        }
    }
}
