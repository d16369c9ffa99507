using System;
using Kiln.Optimizers;
using Xunit;

namespace Kiln.Tests;

/// <summary>Schedules at hand-computed steps, composition, and argument checks (PyTorch's values: ScheduleParityTests).</summary>
public class ScheduleTests
{
    [Fact]
    public void Schedules_GiveTheirFormulaAtKnownSteps()
    {
        Assert.Equal(0.05f, new ConstantSchedule(0.05f).At(1000));
        Assert.Equal(0.1f * 0.5f * 0.5f, new StepSchedule(0.1f, 10, 0.5f).At(25), 6);
        Assert.Equal(0.1f * 0.1f, new MultiStepSchedule(0.1f, new long[] { 3, 8 }).At(3), 6);
        Assert.Equal(0.1 * Math.Pow(0.9, 7), new ExponentialSchedule(0.1f, 0.9f).At(7), 6);
        var cosine = new CosineSchedule(1f, 100, 0.1f);
        Assert.Equal(1f, cosine.At(0), 6);
        Assert.Equal(0.55f, cosine.At(50), 6);
        Assert.Equal(0.1f, cosine.At(100), 6);
        var restarts = new CosineRestartsSchedule(1f, 4, 2);
        Assert.Equal(1f, restarts.At(4), 6);  // a restart after 4 steps
        Assert.Equal(1f, restarts.At(12), 6); // the next after 8 more
        Assert.Equal(0.5f, restarts.At(8), 6); // half-way through the second cycle
        var warm = new WarmupCosineSchedule(1f, 10, 110, 0f, startFactor: 0.1f);
        Assert.Equal(0.1f, warm.At(0), 6);
        Assert.Equal(0.55f, warm.At(5), 6);
        Assert.Equal(1f, warm.At(10), 6);
        Assert.Equal(0.5f, warm.At(60), 6);
        var oneCycle = new OneCycleSchedule(1f, 100, pctStart: 0.25f, divFactor: 10f, finalDivFactor: 100f);
        Assert.Equal(0.1f, oneCycle.At(0), 6);
        Assert.Equal(1f, oneCycle.At(24), 6);
        Assert.Equal(0.001f, oneCycle.At(99), 6);
    }

    [Fact]
    public void Apply_SetsTheRateForTheOptimizersNextStep_AndThenSwitchesSchedules()
    {
        using var memory = new AlignedBuffer(16);
        var set = new ParameterSet(memory, 0, 4, new[] { new TensorSlice("w", new[] { 4 }, 0) });
        using var sgd = new Sgd(set, lr: 1f);
        LearningRateSchedule schedule = new ConstantSchedule(0.5f).Then(new ExponentialSchedule(0.2f, 0.5f), 3);
        var rates = new float[6];
        for (int step = 0; step < 6; step++)
        {
            schedule.Apply(sgd);
            rates[step] = sgd.LearningRate;
            sgd.Step(set.Span, new float[4]);
        }
        Assert.Equal(new[] { 0.5f, 0.5f, 0.5f, 0.2f, 0.1f, 0.05f }, rates);
    }

    [Fact]
    public void BadArguments_AreRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new StepSchedule(0.1f, 0));
        Assert.Throws<ArgumentException>(() => new MultiStepSchedule(0.1f, new long[] { 5, 5 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new WarmupCosineSchedule(0.1f, 10, 10));
        Assert.Throws<ArgumentOutOfRangeException>(() => new OneCycleSchedule(0.1f, 10, pctStart: 1f));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CosineSchedule(float.NaN, 10));
        Assert.Throws<ArgumentException>(() => new Sequential(new LearningRateSchedule[] { new ConstantSchedule(1f) }, new long[] { 3 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ConstantSchedule(1f).At(-1));
    }
}
