using System;
using System.Collections.Generic;
using System.Linq;

namespace Kiln.Optimizers;

/// <summary>
/// A learning rate as a function of the step, queried before each update: <c>schedule.Apply(optimizer)</c> sets
/// <see cref="Optimizer.LearningRate"/> to <c>At(optimizer.StepCount)</c> (step 0 is the first update). Each
/// schedule follows the formula of its PyTorch namesake in <c>torch.optim.lr_scheduler</c>, counted in steps rather
/// than epochs; schedules compose with <see cref="Sequential"/> (one after another, as <c>SequentialLR</c>) and
/// <see cref="Chained"/> (factors multiplied, as <c>ChainedScheduler</c>). Node learning rates set with
/// <see cref="Optimizer.SetLearningRate"/> follow, as ratios to the base.
/// </summary>
public abstract class LearningRateSchedule
{
    /// <summary>The learning rate for the update at <paramref name="step"/> (0-based).</summary>
    public abstract float At(long step);

    /// <summary>Sets the optimizer's rate for its next update (call before <c>TrainStep</c>).</summary>
    public void Apply(Optimizer optimizer)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        optimizer.LearningRate = At(optimizer.StepCount);
    }

    /// <summary>This schedule for <paramref name="steps"/> steps, then <paramref name="next"/> counted from 0.</summary>
    public LearningRateSchedule Then(LearningRateSchedule next, long steps) => new Sequential(new[] { this, next }, new[] { steps });

    protected static void CheckRate(double value, string name)
    {
        if (!(value >= 0) || double.IsInfinity(value)) throw new ArgumentOutOfRangeException(name, value, "A learning rate must be a finite number ≥ 0.");
    }

    protected static void CheckSteps(long value, string name)
    {
        if (value <= 0) throw new ArgumentOutOfRangeException(name, value, "A number of steps must be > 0.");
    }

    protected static void CheckStep(long step)
    {
        if (step < 0) throw new ArgumentOutOfRangeException(nameof(step), step, "Steps count from 0.");
    }
}

/// <summary>The same rate at every step.</summary>
public sealed class ConstantSchedule(float learningRate) : LearningRateSchedule
{
    public float LearningRate { get; } = learningRate;

    public override float At(long step)
    {
        CheckStep(step);
        return LearningRate;
    }
}

/// <summary><c>StepLR</c>: lr·γ^⌊t / stepSize⌋.</summary>
public sealed class StepSchedule : LearningRateSchedule
{
    public StepSchedule(float learningRate, long stepSize, float gamma = 0.1f)
    {
        CheckRate(learningRate, nameof(learningRate));
        CheckSteps(stepSize, nameof(stepSize));
        (LearningRate, StepSize, Gamma) = (learningRate, stepSize, gamma);
    }

    public float LearningRate { get; }
    public long StepSize { get; }
    public float Gamma { get; }

    public override float At(long step)
    {
        CheckStep(step);
        return (float)(LearningRate * Math.Pow(Gamma, step / StepSize));
    }
}

/// <summary><c>MultiStepLR</c>: lr·γ^(number of milestones ≤ t).</summary>
public sealed class MultiStepSchedule : LearningRateSchedule
{
    private readonly long[] _milestones;

    public MultiStepSchedule(float learningRate, IEnumerable<long> milestones, float gamma = 0.1f)
    {
        CheckRate(learningRate, nameof(learningRate));
        ArgumentNullException.ThrowIfNull(milestones);
        _milestones = milestones.ToArray();
        for (int i = 0; i < _milestones.Length; i++)
            if (_milestones[i] <= 0 || (i > 0 && _milestones[i] <= _milestones[i - 1]))
                throw new ArgumentException($"Milestones must be positive and increasing; got {string.Join(", ", _milestones)}.", nameof(milestones));
        (LearningRate, Gamma) = (learningRate, gamma);
    }

    public float LearningRate { get; }
    public float Gamma { get; }
    public IReadOnlyList<long> Milestones => _milestones;

    public override float At(long step)
    {
        CheckStep(step);
        int passed = _milestones.Count(m => m <= step);
        return (float)(LearningRate * Math.Pow(Gamma, passed));
    }
}

/// <summary><c>ExponentialLR</c>: lr·γ^t.</summary>
public sealed class ExponentialSchedule : LearningRateSchedule
{
    public ExponentialSchedule(float learningRate, float gamma)
    {
        CheckRate(learningRate, nameof(learningRate));
        (LearningRate, Gamma) = (learningRate, gamma);
    }

    public float LearningRate { get; }
    public float Gamma { get; }

    public override float At(long step)
    {
        CheckStep(step);
        return (float)(LearningRate * Math.Pow(Gamma, step));
    }
}

/// <summary><c>CosineAnnealingLR</c>: η_min + (lr − η_min)·(1 + cos(π·t / T_max)) / 2 (past T_max the cosine goes on, as PyTorch's).</summary>
public sealed class CosineSchedule : LearningRateSchedule
{
    public CosineSchedule(float learningRate, long maxSteps, float minimum = 0f)
    {
        CheckRate(learningRate, nameof(learningRate));
        CheckSteps(maxSteps, nameof(maxSteps));
        CheckRate(minimum, nameof(minimum));
        (LearningRate, MaxSteps, Minimum) = (learningRate, maxSteps, minimum);
    }

    public float LearningRate { get; }
    public long MaxSteps { get; }
    public float Minimum { get; }

    public override float At(long step)
    {
        CheckStep(step);
        return (float)(Minimum + (LearningRate - (double)Minimum) * (1 + Math.Cos(Math.PI * step / MaxSteps)) / 2);
    }
}

/// <summary>
/// <c>CosineAnnealingWarmRestarts</c>: cosine annealing restarted every cycle, the first cycle T₀ steps long and
/// each next one <c>multiplier</c> times longer.
/// </summary>
public sealed class CosineRestartsSchedule : LearningRateSchedule
{
    public CosineRestartsSchedule(float learningRate, long firstCycle, int multiplier = 1, float minimum = 0f)
    {
        CheckRate(learningRate, nameof(learningRate));
        CheckSteps(firstCycle, nameof(firstCycle));
        if (multiplier < 1) throw new ArgumentOutOfRangeException(nameof(multiplier), multiplier, "The cycle multiplier must be ≥ 1.");
        CheckRate(minimum, nameof(minimum));
        (LearningRate, FirstCycle, Multiplier, Minimum) = (learningRate, firstCycle, multiplier, minimum);
    }

    public float LearningRate { get; }
    public long FirstCycle { get; }
    public int Multiplier { get; }
    public float Minimum { get; }

    public override float At(long step)
    {
        CheckStep(step);
        long position = step, length = FirstCycle;
        while (position >= length)
        {
            position -= length;
            length *= Multiplier;
        }
        return (float)(Minimum + (LearningRate - (double)Minimum) * (1 + Math.Cos(Math.PI * position / length)) / 2);
    }
}

/// <summary>
/// Linear warm-up then cosine annealing, as PyTorch's <c>SequentialLR(LinearLR(start_factor, total_iters = warm-up),
/// CosineAnnealingLR(T_max = total − warm-up, η_min), milestones = [warm-up])</c>: lr·(s + (1 − s)·t / warm-up) during
/// the warm-up, then the cosine from lr down to η_min at the last step.
/// </summary>
public sealed class WarmupCosineSchedule : LearningRateSchedule
{
    public WarmupCosineSchedule(float learningRate, long warmupSteps, long totalSteps, float minimum = 0f, float startFactor = 1f / 3)
    {
        CheckRate(learningRate, nameof(learningRate));
        CheckSteps(warmupSteps, nameof(warmupSteps));
        if (totalSteps <= warmupSteps) throw new ArgumentOutOfRangeException(nameof(totalSteps), totalSteps, $"The schedule must run longer than its warm-up of {warmupSteps} steps.");
        if (!(startFactor > 0f && startFactor <= 1f)) throw new ArgumentOutOfRangeException(nameof(startFactor), startFactor, "The start factor must lie in (0, 1].");
        CheckRate(minimum, nameof(minimum));
        (LearningRate, WarmupSteps, TotalSteps, Minimum, StartFactor) = (learningRate, warmupSteps, totalSteps, minimum, startFactor);
    }

    public float LearningRate { get; }
    public long WarmupSteps { get; }
    public long TotalSteps { get; }
    public float Minimum { get; }
    public float StartFactor { get; }

    public override float At(long step)
    {
        CheckStep(step);
        if (step < WarmupSteps)
            return (float)(LearningRate * (StartFactor + (1 - (double)StartFactor) * step / WarmupSteps));
        long t = step - WarmupSteps, tMax = TotalSteps - WarmupSteps;
        return (float)(Minimum + (LearningRate - (double)Minimum) * (1 + Math.Cos(Math.PI * t / tMax)) / 2);
    }
}

/// <summary>
/// <c>OneCycleLR</c> (cosine annealing, two phases): from max/div up to max over the first <c>pctStart</c> of the
/// steps, then down to max/(div·finalDiv) at the last step.
/// </summary>
public sealed class OneCycleSchedule : LearningRateSchedule
{
    public OneCycleSchedule(float maxLearningRate, long totalSteps, float pctStart = 0.3f, float divFactor = 25f, float finalDivFactor = 1e4f)
    {
        CheckRate(maxLearningRate, nameof(maxLearningRate));
        CheckSteps(totalSteps, nameof(totalSteps));
        if (!(pctStart > 0f && pctStart < 1f)) throw new ArgumentOutOfRangeException(nameof(pctStart), pctStart, "The warm-up share must lie in (0, 1).");
        if (!(divFactor > 0f) || !(finalDivFactor > 0f)) throw new ArgumentOutOfRangeException(nameof(divFactor), "The division factors must be > 0.");
        (MaxLearningRate, TotalSteps, PctStart, DivFactor, FinalDivFactor) = (maxLearningRate, totalSteps, pctStart, divFactor, finalDivFactor);
    }

    public float MaxLearningRate { get; }
    public long TotalSteps { get; }
    public float PctStart { get; }
    public float DivFactor { get; }
    public float FinalDivFactor { get; }

    public override float At(long step)
    {
        CheckStep(step);
        double initial = MaxLearningRate / (double)DivFactor, final = initial / FinalDivFactor;
        // PyTorch's phase ends: pct_start·total − 1 and total − 1 (float).
        double end1 = (double)PctStart * TotalSteps - 1, end2 = TotalSteps - 1;
        if (step <= end1) return (float)Anneal(initial, MaxLearningRate, step / end1);
        return (float)Anneal(MaxLearningRate, final, (step - end1) / (end2 - end1));
    }

    private static double Anneal(double start, double end, double fraction) => end + (start - end) / 2 * (Math.Cos(Math.PI * fraction) + 1);
}

/// <summary>Schedules one after another (<c>SequentialLR</c>): schedule i+1 starts counting from 0 at milestone i.</summary>
public sealed class Sequential : LearningRateSchedule
{
    private readonly LearningRateSchedule[] _schedules;
    private readonly long[] _milestones;

    public Sequential(IReadOnlyList<LearningRateSchedule> schedules, IReadOnlyList<long> milestones)
    {
        ArgumentNullException.ThrowIfNull(schedules);
        ArgumentNullException.ThrowIfNull(milestones);
        if (schedules.Count == 0 || milestones.Count != schedules.Count - 1)
            throw new ArgumentException($"{schedules.Count} schedules need {Math.Max(0, schedules.Count - 1)} milestones; got {milestones.Count}.", nameof(milestones));
        for (int i = 0; i < milestones.Count; i++)
            if (milestones[i] <= 0 || (i > 0 && milestones[i] <= milestones[i - 1]))
                throw new ArgumentException("Milestones must be positive and increasing.", nameof(milestones));
        _schedules = schedules.ToArray();
        _milestones = milestones.ToArray();
    }

    public override float At(long step)
    {
        CheckStep(step);
        long start = 0;
        int i = 0;
        while (i < _milestones.Length && step >= _milestones[i]) start = _milestones[i++];
        return _schedules[i].At(step - start);
    }
}

/// <summary>Schedules multiplied (<c>ChainedScheduler</c>): the first gives the rate, each other one a factor
/// At(t) / At(0) (so e.g. a step decay can be laid over a warm-up).</summary>
public sealed class Chained : LearningRateSchedule
{
    private readonly LearningRateSchedule[] _schedules;

    public Chained(params LearningRateSchedule[] schedules)
    {
        ArgumentNullException.ThrowIfNull(schedules);
        if (schedules.Length == 0) throw new ArgumentException("Chain at least one schedule.", nameof(schedules));
        _schedules = schedules;
    }

    public override float At(long step)
    {
        CheckStep(step);
        double rate = _schedules[0].At(step);
        for (int i = 1; i < _schedules.Length; i++)
        {
            double start = _schedules[i].At(0);
            rate *= start == 0 ? 0 : _schedules[i].At(step) / start;
        }
        return (float)rate;
    }
}
