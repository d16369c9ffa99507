using System;
using System.Collections.Generic;
using Kiln.Optimizers;

namespace Kiln;

/// <summary>
/// What every generated model with a loss offers, so that code such as <see cref="Training.Trainer{TTarget}"/> can train
/// any of them: <typeparamref name="TInput"/> is the input's element type (float), <typeparamref name="TTarget"/> the
/// loss's target type (int class labels, or float targets). The sizes are the model's constants (<c>Batch</c>,
/// <c>InputSize</c>, <c>OutputSize</c>); the methods are the generated ones.
/// </summary>
public interface ITrainable<TInput, TTarget> : IDisposable where TInput : unmanaged where TTarget : unmanaged
{
    /// <summary>Samples per training step, and the most rows one inference chunk processes (<c>Batch</c>).</summary>
    int BatchSize { get; }

    /// <summary>Values per sample of the input (<c>InputSize</c>).</summary>
    int InputWidth { get; }

    /// <summary>Values per sample of the output (<c>OutputSize</c>).</summary>
    int OutputWidth { get; }

    /// <summary>Target values per sample: 1 for class labels, else the output width.</summary>
    int TargetWidth { get; }

    /// <summary>How the loss combines its terms (mean or sum).</summary>
    Reduction LossReduction { get; }

    ParameterSet Parameters { get; }

    ParameterSet Gradients { get; }

    /// <summary>State saved with the parameters but not trained (batch norm's running statistics); may be empty.</summary>
    ParameterSet Buffers { get; }

    int Threads { get; set; }

    /// <summary>Training mode (dropout and noise act) or evaluation.</summary>
    bool Training { get; set; }

    /// <summary>Check mode: the first NaN or infinity in a parameter, the input, an activation, the loss or a gradient throws a
    /// <see cref="NonFiniteException"/> naming the node, the tensor and the step. Off by default.</summary>
    bool CheckFinite { get; set; }

    void Forward(ReadOnlySpan<TInput> input, Span<float> output);

    float ComputeGradients(ReadOnlySpan<TInput> input, ReadOnlySpan<TTarget> targets);

    float TrainStep(ReadOnlySpan<TInput> input, ReadOnlySpan<TTarget> targets, Optimizer optimizer);

    float Evaluate(ReadOnlySpan<TInput> input, ReadOnlySpan<TTarget> targets);

    void Save(string path);

    void Load(string path);

    /// <summary>A training checkpoint: parameters, buffers, the optimizer's state, the random generator's state, the caller's
    /// metadata and the caller's own tensors (for example early stopping's best weights), written atomically.</summary>
    void Save(string path, Optimizer optimizer, IReadOnlyDictionary<string, string>? metadata = null, IReadOnlyDictionary<string, float[]>? tensors = null);

    /// <summary>Resumes from a checkpoint; its own tensors go into <paramref name="tensors"/> when given.</summary>
    IReadOnlyDictionary<string, string> Load(string path, Optimizer optimizer, IDictionary<string, float[]>? tensors = null);
}
