using System;

namespace Kiln.Training;

/// <summary>
/// Early stopping on a validation metric: training stops after <see cref="Patience"/> epochs without an improvement
/// larger than <see cref="MinDelta"/>; the parameters of the best epoch are kept (one copy, made on each improvement)
/// and <see cref="RestoreBest(ParameterSet, ParameterSet)"/> puts them back.
/// </summary>
public sealed class EarlyStopping
{
    private float[]? _best, _bestBuffers;

    public EarlyStopping(int patience, float minDelta = 0f, bool higherIsBetter = false, bool restoreBestWeights = true)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(patience);
        if (!(minDelta >= 0f)) throw new ArgumentOutOfRangeException(nameof(minDelta), minDelta, "The minimum improvement must be ≥ 0.");
        Patience = patience;
        MinDelta = minDelta;
        HigherIsBetter = higherIsBetter;
        RestoreBestWeights = restoreBestWeights;
        Best = higherIsBetter ? float.NegativeInfinity : float.PositiveInfinity;
    }

    /// <summary>Epochs without improvement tolerated.</summary>
    public int Patience { get; }
    public float MinDelta { get; }
    /// <summary>Whether a larger metric is better (accuracy) or a smaller one (loss).</summary>
    public bool HigherIsBetter { get; }
    public bool RestoreBestWeights { get; }

    /// <summary>The best value seen.</summary>
    public float Best { get; private set; }

    /// <summary>The epoch (the count of <see cref="Update(float, ParameterSet, ParameterSet)"/> calls before it) of the best value, or −1.</summary>
    public int BestEpoch { get; private set; } = -1;

    /// <summary>Epochs since the last improvement.</summary>
    public int EpochsWithoutImprovement { get; private set; }

    public bool ShouldStop => EpochsWithoutImprovement > Patience;

    private int _epochs;

    /// <summary>Records an epoch's metric; on an improvement, copies the parameters. Returns true when training should stop.</summary>
    public bool Update(float value, ParameterSet parameters) => Update(value, parameters, null);

    /// <summary>As <see cref="Update(float, ParameterSet)"/>, keeping the buffers (batch norm's running statistics) of the best epoch too.</summary>
    public bool Update(float value, ParameterSet parameters, ParameterSet? buffers)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        bool improved = !float.IsNaN(value) && (HigherIsBetter ? value > Best + MinDelta : value < Best - MinDelta);
        if (improved)
        {
            Best = value;
            BestEpoch = _epochs;
            EpochsWithoutImprovement = 0;
            if (RestoreBestWeights)
            {
                _best ??= new float[parameters.Count];
                parameters.Values.CopyTo(_best);
                if (buffers is not null)
                {
                    _bestBuffers ??= new float[buffers.Count];
                    buffers.Values.CopyTo(_bestBuffers);
                }
            }
        }
        else
        {
            EpochsWithoutImprovement++;
        }
        _epochs++;
        return ShouldStop;
    }

    /// <summary>The state a checkpoint keeps so that a resumed run stops, and restores, exactly as an uninterrupted one.</summary>
    internal (float Best, int BestEpoch, int EpochsWithoutImprovement, int Epochs, float[]? BestParameters, float[]? BestBuffers) State
    {
        get => (Best, BestEpoch, EpochsWithoutImprovement, _epochs, _best, _bestBuffers);
        set => (Best, BestEpoch, EpochsWithoutImprovement, _epochs, _best, _bestBuffers) = value;
    }

    /// <summary>Puts back the parameters of the best epoch (nothing if none was kept).</summary>
    public bool RestoreBest(ParameterSet parameters) => RestoreBest(parameters, null);

    /// <summary>Puts back the parameters, and the buffers if they were kept, of the best epoch (nothing if none was kept).</summary>
    public bool RestoreBest(ParameterSet parameters, ParameterSet? buffers)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (_best is null) return false;
        if (_best.Length != parameters.Count) throw new ArgumentException($"The best parameters were {_best.Length} values; this set has {parameters.Count}.", nameof(parameters));
        if (buffers is not null && _bestBuffers is not null && _bestBuffers.Length != buffers.Count)
            throw new ArgumentException($"The best buffers were {_bestBuffers.Length} values; this set has {buffers.Count}.", nameof(buffers));
        _best.CopyTo(parameters.Span);
        if (buffers is not null && _bestBuffers is not null) _bestBuffers.CopyTo(buffers.Span);
        return true;
    }
}
