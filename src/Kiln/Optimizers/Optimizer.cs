using System;

namespace Kiln.Optimizers;

/// <summary>
/// Updates a model's parameters from its gradients in one pass over the flat buffers. State (moments,
/// momentum) is one aligned buffer sized to the parameter set the optimizer was made for.
/// </summary>
public abstract class Optimizer : IDisposable
{
    protected Optimizer(ParameterSet parameters, float learningRate)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (!(learningRate >= 0f) || float.IsInfinity(learningRate))
            throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "The learning rate must be a finite number ≥ 0.");
        ParameterCount = parameters.Count;
        LearningRate = learningRate;
    }

    /// <summary>The number of parameters this optimizer updates.</summary>
    public int ParameterCount { get; }

    /// <summary>The learning rate of the next step (schedules set it).</summary>
    public float LearningRate { get; set; }

    /// <summary>Steps taken so far.</summary>
    public long StepCount { get; private set; }

    /// <summary>Applies one update.</summary>
    public void Step(Span<float> parameters, ReadOnlySpan<float> gradients)
    {
        Guard.Length(parameters.Length, ParameterCount, 1, nameof(parameters));
        Guard.Length(gradients.Length, ParameterCount, 1, nameof(gradients));
        StepCount++;
        Update(parameters, gradients, StepCount);
    }

    /// <summary>The update rule; <paramref name="step"/> counts from 1.</summary>
    protected abstract void Update(Span<float> parameters, ReadOnlySpan<float> gradients, long step);

    public virtual void Dispose() => GC.SuppressFinalize(this);
}
