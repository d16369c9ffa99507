using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using Kiln.Data;
using Kiln.Optimizers;

namespace Kiln.Training;

/// <summary>How a <see cref="Trainer{TTarget}"/> runs.</summary>
public sealed class TrainerOptions
{
    /// <summary>Epochs to train (an epoch is one pass over the training data).</summary>
    public int Epochs { get; init; } = 10;

    /// <summary>Seed of the data order (each epoch a new permutation).</summary>
    public long Seed { get; init; } = 1;

    /// <summary>The learning rate per step; null keeps the optimizer's.</summary>
    public LearningRateSchedule? Schedule { get; init; }

    /// <summary>Clips the gradients to this global L2 norm before each update.</summary>
    public float? ClipGradientNorm { get; init; }

    /// <summary>Stops on the validation loss (or accuracy, if it is set to higher-is-better) and restores the best weights.</summary>
    public EarlyStopping? EarlyStopping { get; init; }

    /// <summary>Applied to the features of each training batch first (augmentation: random crop, flip, cutout);
    /// works with any targets. Validation batches are not augmented.</summary>
    public IFeatureTransform? Augmentation { get; init; }

    /// <summary>Applied to each training batch after <see cref="Augmentation"/> (mixup, cutmix; float targets only).</summary>
    public IBatchTransform? BatchTransform { get; init; }

    /// <summary>A checkpoint (parameters, optimizer, data position, generators) is written here every
    /// <see cref="CheckpointEvery"/> steps and at the end of every epoch; <see cref="Resume"/> continues from it.</summary>
    public string? CheckpointPath { get; init; }

    public int CheckpointEvery { get; init; }

    /// <summary>Continue from <see cref="CheckpointPath"/> when the file exists: the same losses as an uninterrupted run.</summary>
    public bool Resume { get; init; }

    /// <summary>A CSV line per epoch: epoch, step, train_loss, val_loss, val_accuracy, learning_rate, seconds.</summary>
    public string? LogPath { get; init; }

    /// <summary>Told after every step and every validation (synchronously, on the training thread).</summary>
    public IProgress<TrainingProgress>? Progress { get; init; }
}

/// <summary>Where training is, for a progress bar.</summary>
public readonly record struct TrainingProgress(int Epoch, int Epochs, int BatchInEpoch, int BatchesPerEpoch, long Step,
    float Loss, float LearningRate, double SamplesPerSecond, float? ValidationLoss, float? ValidationAccuracy);

/// <summary>One epoch of the history.</summary>
public sealed record EpochResult(int Epoch, long Step, float TrainLoss, float? ValidationLoss, float? ValidationAccuracy, float LearningRate, double Seconds);

/// <summary>What a run did.</summary>
public sealed record TrainingResult(IReadOnlyList<EpochResult> History, bool StoppedEarly, int BestEpoch, bool Resumed);

/// <summary>
/// The training loop the samples use: epochs over seeded shuffled batches (no allocation per batch), a schedule,
/// gradient clipping, a batch transform (mixup, cutmix), validation loss and accuracy after each epoch (in evaluation
/// mode), early stopping that restores the best weights, checkpoints every N steps from which a run resumes
/// exactly, a CSV log and progress reports.
/// </summary>
public sealed class Trainer<TTarget> where TTarget : unmanaged
{
    private readonly ITrainable<float, TTarget> _model;
    private readonly Optimizer _optimizer;
    private readonly TrainerOptions _options;

    public Trainer(ITrainable<float, TTarget> model, Optimizer optimizer, TrainerOptions? options = null)
    {
        _model = model ?? throw new ArgumentNullException(nameof(model));
        _optimizer = optimizer ?? throw new ArgumentNullException(nameof(optimizer));
        _options = options ?? new TrainerOptions();
        if (_options.Epochs < 0) throw new ArgumentOutOfRangeException(nameof(options), _options.Epochs, "Epochs must be ≥ 0.");
        if (_options.CheckpointEvery < 0) throw new ArgumentOutOfRangeException(nameof(options), _options.CheckpointEvery, "CheckpointEvery must be ≥ 0.");
        if (_options.Resume && _options.CheckpointPath is null) throw new ArgumentException("Resume needs a CheckpointPath.", nameof(options));
        if (_options.BatchTransform is not null && typeof(TTarget) != typeof(float))
            throw new ArgumentException("Mixup and cutmix make soft targets: train a soft-target model on float targets (e.g. OneHotData).", nameof(options));
    }

    public TrainingResult Fit(ITrainingData<TTarget> train, ITrainingData<TTarget>? validation = null)
    {
        ArgumentNullException.ThrowIfNull(train);
        CheckData(train, nameof(train));
        if (validation is not null) CheckData(validation, nameof(validation));
        int batch = _model.BatchSize, features = _model.InputWidth, targets = _model.TargetWidth;
        var x = new float[batch * features];
        var y = new TTarget[batch * targets];
        var output = new float[batch * _model.OutputWidth];
        var batches = new BatchIterator(train.Count, batch, _options.Seed);
        var history = new List<EpochResult>();
        long step = 0;
        int startEpoch = 0;
        bool resumed = false;
        // The running sums of the epoch in progress: a checkpoint taken mid-epoch keeps them, so the epoch's mean loss
        // after a resume is the uninterrupted run's.
        double lossSum = 0;
        int lossRows = 0, batchInEpoch = 0;
        long logBytes = -1;

        if (_options.Resume && File.Exists(_options.CheckpointPath))
        {
            var tensors = new Dictionary<string, float[]>(StringComparer.Ordinal);
            IReadOnlyDictionary<string, string> meta = _model.Load(_options.CheckpointPath!, _optimizer, tensors);
            startEpoch = Int(meta, "epoch");
            batches.Restore(startEpoch, Int(meta, "position"));
            step = Long(meta, "step");
            RestoreState(meta, BatchTransformKey, _options.BatchTransform?.Random);
            RestoreState(meta, AugmentationKey, _options.Augmentation?.Random);
            if (meta.TryGetValue(EpochKey, out string? epochState))
            {
                string[] parts = epochState.Split(',');
                if (parts.Length != 3 || !double.TryParse(parts[0], NumberStyles.Float, CultureInfo.InvariantCulture, out lossSum)
                    || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out lossRows)
                    || !int.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out batchInEpoch))
                    throw new IO.CheckpointException($"{_options.CheckpointPath}: the epoch state '{epochState}' is not 'loss sum,rows,batches'.");
            }
            if (meta.ContainsKey(LogKey)) logBytes = Long(meta, LogKey);
            if (_options.EarlyStopping is { } early) RestoreEarlyStopping(early, meta, tensors);
            resumed = true;
        }

        using StreamWriter? log = OpenLog(resumed, logBytes);
        bool stopped = false;
        for (int epoch = startEpoch; epoch < _options.Epochs && !stopped; epoch++)
        {
            var clock = Stopwatch.StartNew();
            _model.Training = true;
            if (epoch != startEpoch || !resumed) (lossSum, lossRows, batchInEpoch) = (0, 0, 0);
            while (true)
            {
                ReadOnlySpan<int> indices = batches.NextIndices();
                if (indices.IsEmpty) break;
                int rows = indices.Length;
                train.Gather(indices, x, y);
                _options.Augmentation?.Apply(x, rows);
                if (_options.BatchTransform is { } transform)
                    transform.Apply(x, System.Runtime.InteropServices.MemoryMarshal.Cast<TTarget, float>(y.AsSpan()), rows);
                _options.Schedule?.Apply(_optimizer);
                float loss = _model.ComputeGradients(x.AsSpan(0, rows * features), y.AsSpan(0, rows * targets));
                if (_options.ClipGradientNorm is float norm) GradientClipping.ClipByGlobalNorm(_model.Gradients.Span, norm);
                _optimizer.Step(_model.Parameters.Span, _model.Gradients.Span);
                step++;
                batchInEpoch++;
                lossSum += (double)loss * rows;
                lossRows += rows;
                _options.Progress?.Report(new TrainingProgress(epoch, _options.Epochs, batchInEpoch, batches.BatchesPerEpoch, step, loss,
                    _optimizer.LearningRate, lossRows / Math.Max(clock.Elapsed.TotalSeconds, 1e-9), null, null));
                if (_options.CheckpointEvery > 0 && step % _options.CheckpointEvery == 0) Checkpoint(batches, step, (lossSum, lossRows, batchInEpoch), log);
            }

            float? validationLoss = null, validationAccuracy = null;
            if (validation is not null) (validationLoss, validationAccuracy) = Validate(validation, x, y, output);
            float trainLoss = lossRows == 0 ? float.NaN : (float)(lossSum / lossRows);
            var result = new EpochResult(epoch, step, trainLoss, validationLoss, validationAccuracy, _optimizer.LearningRate, clock.Elapsed.TotalSeconds);
            history.Add(result);
            log?.WriteLine(string.Join(",", epoch, step, F(trainLoss), F(validationLoss), F(validationAccuracy), F(_optimizer.LearningRate), F((float)result.Seconds)));
            log?.Flush();
            _options.Progress?.Report(new TrainingProgress(epoch, _options.Epochs, batchInEpoch, batches.BatchesPerEpoch, step, trainLoss,
                _optimizer.LearningRate, 0, validationLoss, validationAccuracy));

            if (_options.EarlyStopping is { } early)
            {
                float metric = early.HigherIsBetter ? validationAccuracy ?? float.NaN : validationLoss ?? trainLoss;
                stopped = early.Update(metric, _model.Parameters, _model.Buffers);
            }
            if (_options.CheckpointPath is not null) Checkpoint(batches, step, (0, 0, 0), log);
        }
        int best = -1;
        if (_options.EarlyStopping is { } stopping)
        {
            best = stopping.BestEpoch;
            if (stopping.RestoreBestWeights) stopping.RestoreBest(_model.Parameters, _model.Buffers);
        }
        _model.Training = true;
        return new TrainingResult(history, stopped, best, resumed);
    }

    /// <summary>Loss (mean per sample, or summed for a summed loss) and accuracy over the validation data, in evaluation mode.</summary>
    private (float Loss, float? Accuracy) Validate(ITrainingData<TTarget> data, float[] x, TTarget[] y, float[] output)
    {
        _model.Training = false;
        int batch = _model.BatchSize, classes = _model.OutputWidth;
        bool labels = typeof(TTarget) == typeof(int) && _model.TargetWidth == 1;
        bool distributions = typeof(TTarget) == typeof(float) && _model.TargetWidth == classes && classes > 1;
        double loss = 0;
        int right = 0;
        var order = new int[batch];
        for (int start = 0; start < data.Count; start += batch)
        {
            int rows = Math.Min(batch, data.Count - start);
            for (int i = 0; i < rows; i++) order[i] = start + i;
            data.Gather(order.AsSpan(0, rows), x, y);
            ReadOnlySpan<float> input = x.AsSpan(0, rows * _model.InputWidth);
            ReadOnlySpan<TTarget> target = y.AsSpan(0, rows * _model.TargetWidth);
            float chunk = _model.Evaluate(input, target);
            loss += _model.LossReduction == Reduction.Sum ? chunk : (double)chunk * rows;
            if (labels || distributions)
            {
                _model.Forward(input, output.AsSpan(0, rows * classes));
                float share = labels
                    ? Metrics.Accuracy(output.AsSpan(0, rows * classes), System.Runtime.InteropServices.MemoryMarshal.Cast<TTarget, int>(target), classes)
                    : Metrics.ArgMaxAgreement(output.AsSpan(0, rows * classes), System.Runtime.InteropServices.MemoryMarshal.Cast<TTarget, float>(target), classes);
                right += (int)Math.Round(share * rows);
            }
        }
        _model.Training = true;
        float mean = (float)(loss / Math.Max(1, data.Count));
        return (mean, labels || distributions ? right / (float)Math.Max(1, data.Count) : null);
    }

    /// <summary>Writes the checkpoint: the model, the optimizer, the data position, the generators, the epoch in progress
    /// (its loss sums), early stopping's state and best weights, and the log's length (a resume cuts off lines written after
    /// it, so that no epoch is logged twice).</summary>
    private void Checkpoint(BatchIterator batches, long step, (double Sum, int Rows, int Batches) epoch, StreamWriter? log)
    {
        if (_options.CheckpointPath is null) return;
        var meta = new Dictionary<string, string>
        {
            ["epoch"] = batches.Epoch.ToString(CultureInfo.InvariantCulture),
            ["position"] = batches.Position.ToString(CultureInfo.InvariantCulture),
            ["step"] = step.ToString(CultureInfo.InvariantCulture),
            [EpochKey] = string.Join(",", epoch.Sum.ToString("R", CultureInfo.InvariantCulture), epoch.Rows.ToString(CultureInfo.InvariantCulture), epoch.Batches.ToString(CultureInfo.InvariantCulture)),
        };
        if (log is not null)
        {
            log.Flush();
            meta[LogKey] = log.BaseStream.Length.ToString(CultureInfo.InvariantCulture);
        }
        SaveState(meta, BatchTransformKey, _options.BatchTransform?.Random);
        SaveState(meta, AugmentationKey, _options.Augmentation?.Random);
        Dictionary<string, float[]>? tensors = null;
        if (_options.EarlyStopping is { } early)
        {
            var state = early.State;
            meta[EarlyStoppingKey] = string.Join(",", state.Best.ToString("R", CultureInfo.InvariantCulture), state.BestEpoch.ToString(CultureInfo.InvariantCulture),
                state.EpochsWithoutImprovement.ToString(CultureInfo.InvariantCulture), state.Epochs.ToString(CultureInfo.InvariantCulture));
            tensors = new Dictionary<string, float[]>(StringComparer.Ordinal);
            if (state.BestParameters is not null) tensors[BestParametersTensor] = state.BestParameters;
            if (state.BestBuffers is not null) tensors[BestBuffersTensor] = state.BestBuffers;
        }
        _model.Save(_options.CheckpointPath, _optimizer, meta, tensors);
    }

    private void RestoreEarlyStopping(EarlyStopping early, IReadOnlyDictionary<string, string> meta, Dictionary<string, float[]> tensors)
    {
        if (!meta.TryGetValue(EarlyStoppingKey, out string? text))
            throw new IO.CheckpointException($"{_options.CheckpointPath}: holds no early-stopping state; was it written by a run without early stopping?");
        string[] parts = text.Split(',');
        if (parts.Length != 4 || !float.TryParse(parts[0], NumberStyles.Float, CultureInfo.InvariantCulture, out float best)
            || !int.TryParse(parts[1], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int bestEpoch)
            || !int.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out int without)
            || !int.TryParse(parts[3], NumberStyles.None, CultureInfo.InvariantCulture, out int epochs))
            throw new IO.CheckpointException($"{_options.CheckpointPath}: the early-stopping state '{text}' is not 'best,best epoch,epochs without improvement,epochs'.");
        tensors.TryGetValue(BestParametersTensor, out float[]? parameters);
        tensors.TryGetValue(BestBuffersTensor, out float[]? buffers);
        if (parameters is not null && parameters.Length != _model.Parameters.Count)
            throw new IO.CheckpointException($"{_options.CheckpointPath}: early stopping's best weights are {parameters.Length} values; the model has {_model.Parameters.Count}.");
        if (buffers is not null && buffers.Length != _model.Buffers.Count)
            throw new IO.CheckpointException($"{_options.CheckpointPath}: early stopping's best buffers are {buffers.Length} values; the model has {_model.Buffers.Count}.");
        early.State = (best, bestEpoch, without, epochs, parameters, buffers);
    }

    /// <summary>Opens the CSV log: a new one with its header, or, on a resume, the existing one cut back to the length the
    /// checkpoint recorded (lines written after the checkpoint are written again by the resumed run).</summary>
    private StreamWriter? OpenLog(bool append, long length)
    {
        if (_options.LogPath is null) return null;
        bool header = !append || !File.Exists(_options.LogPath);
        var stream = new FileStream(_options.LogPath, header ? FileMode.Create : FileMode.Open, FileAccess.Write, FileShare.Read);
        if (!header)
        {
            if (length >= 0 && length <= stream.Length) stream.SetLength(length);
            stream.Seek(0, SeekOrigin.End);
        }
        var writer = new StreamWriter(stream);
        if (header) writer.WriteLine("epoch,step,train_loss,val_loss,val_accuracy,learning_rate,seconds");
        return writer;
    }

    private void CheckData(ITrainingData<TTarget> data, string name)
    {
        if (data.FeatureSize != _model.InputWidth)
            throw new ArgumentException($"The data has {data.FeatureSize} features per sample; the model's input takes {_model.InputWidth}.", name);
        if (data.TargetSize != _model.TargetWidth)
            throw new ArgumentException($"The data has {data.TargetSize} target values per sample; the model's loss takes {_model.TargetWidth}.", name);
    }

    private static long Long(IReadOnlyDictionary<string, string> meta, string key) =>
        meta.TryGetValue(key, out string? text) && long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long value)
            ? value
            : throw new IO.CheckpointException($"The checkpoint has no '{key}' a trainer can resume from.");

    private static int Int(IReadOnlyDictionary<string, string> meta, string key) =>
        meta.TryGetValue(key, out string? text) && int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int value)
            ? value
            : throw new IO.CheckpointException($"The checkpoint has no '{key}' a trainer can resume from.");

    // Checkpoint metadata keys of the transforms' generators.
    private const string BatchTransformKey = "trainer.random", AugmentationKey = "trainer.augmentation.random";

    // Checkpoint metadata keys and tensors of the epoch in progress, the log and early stopping.
    private const string EpochKey = "trainer.epoch_loss", LogKey = "trainer.log_bytes", EarlyStoppingKey = "trainer.early_stopping";
    private const string BestParametersTensor = "trainer.best_parameters", BestBuffersTensor = "trainer.best_buffers";

    private static void SaveState(Dictionary<string, string> meta, string key, KilnRandom? random)
    {
        if (random is null) return;
        var (a, b, c, d) = random.State;
        meta[key] = string.Join(",", a, b, c, d);
    }

    private static void RestoreState(IReadOnlyDictionary<string, string> meta, string key, KilnRandom? random)
    {
        if (random is null || !meta.TryGetValue(key, out string? text)) return;
        string[] parts = text.Split(',');
        var words = new uint[4];
        if (parts.Length != 4 || !parts.Select((p, i) => uint.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out words[i])).All(ok => ok)
            || (words[0] | words[1] | words[2] | words[3]) == 0)
            throw new IO.CheckpointException($"The checkpoint's generator state '{key}' = '{text}' is not four non-zero numbers.");
        random.State = (words[0], words[1], words[2], words[3]);
    }

    private static string F(float? value) => value is float v ? v.ToString("R", CultureInfo.InvariantCulture) : "";
}
