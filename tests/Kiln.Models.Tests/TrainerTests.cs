using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Kiln.Data;
using Kiln.Optimizers;
using Kiln.Samples.Mnist;
using Kiln.Training;
using Xunit;

namespace Kiln.Models.Tests;

public sealed class TrainerTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("kiln-trainer-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static readonly Dataset Train = SyntheticDigits.Generate(2048, seed: 31);
    private static readonly Dataset Test = SyntheticDigits.Generate(256, seed: 32);

    private sealed class Recorder : IProgress<TrainingProgress>
    {
        public readonly List<TrainingProgress> Reports = new();
        public Action<TrainingProgress>? Then;

        public void Report(TrainingProgress value)
        {
            Reports.Add(value);
            Then?.Invoke(value);
        }
    }

    [Fact]
    public void Fit_TrainsZ1_ValidatesEachEpoch_LogsAndReports()
    {
        using var model = new MnistMlp(seed: 1);
        using var adam = new Adam(model.Parameters, lr: 3e-3f);
        var progress = new Recorder();
        string log = Path.Combine(_directory, "log.csv");
        var result = new Trainer<int>(model, adam, new TrainerOptions
        {
            Epochs = 5,
            Schedule = new CosineSchedule(3e-3f, maxSteps: 5 * 32), // 2048 samples in batches of 64
            ClipGradientNorm = 5f,
            LogPath = log,
            Progress = progress,
        }).Fit(Train, Test);

        Assert.Equal(5, result.History.Count);
        Assert.Equal(160, result.History[^1].Step);
        Assert.True(result.History[^1].ValidationAccuracy > 0.9f, $"validation accuracy {result.History[^1].ValidationAccuracy:P1}");
        Assert.True(result.History[^1].ValidationLoss < result.History[0].ValidationLoss);
        string[] lines = File.ReadAllLines(log);
        Assert.Equal("epoch,step,train_loss,val_loss,val_accuracy,learning_rate,seconds", lines[0]);
        Assert.Equal(6, lines.Length);
        Assert.StartsWith("4,160,", lines[5]);
        Assert.Equal(160 + 5, progress.Reports.Count); // every step, and every validation
        Assert.Equal(32, progress.Reports[31].BatchInEpoch);
        Assert.True(model.Training, "the trainer leaves the model in training mode");
    }

    [Fact]
    public void EarlyStopping_StopsWhenValidationWorsens_AndRestoresTheBestWeights()
    {
        // The validation set is the training images with the classes renamed: the better the model learns the
        // training labels, the worse its validation loss, so the best epoch is the first.
        var misleading = new Dataset(Train.Features, Train.Labels.Select(l => (l + 3) % 10).ToArray(), Train.FeatureSize, 10);
        using var model = new MnistMlp(seed: 2);
        using var adam = new Adam(model.Parameters, lr: 3e-3f);
        var stopping = new EarlyStopping(patience: 1);
        var result = new Trainer<int>(model, adam, new TrainerOptions { Epochs = 10, EarlyStopping = stopping }).Fit(Train, misleading);
        Assert.True(result.StoppedEarly);
        Assert.Equal(0, result.BestEpoch);
        Assert.Equal(3, result.History.Count);
        Assert.Equal(result.History[0].ValidationLoss!.Value, model.Evaluate(misleading.Features, misleading.Labels), 4);
    }

    [Fact]
    public void ACrashedRun_ResumesFromItsCheckpoint_WithBitIdenticalResults_IncludingMixupAndDropout()
    {
        var data = new OneHotData(SyntheticDigits.Generate(320, seed: 33));
        TrainerOptions Options(string path, Recorder progress) => new()
        {
            Epochs = 3,
            Seed = 7,
            Schedule = new WarmupCosineSchedule(3e-3f, warmupSteps: 5, totalSteps: 30),
            BatchTransform = new Mixup(SoftDigits.Batch, 784, 10, alpha: 0.4f, seed: 11),
            CheckpointPath = path,
            CheckpointEvery = 4,
            Resume = true,
            Progress = progress,
        };

        float[] uninterrupted;
        var straight = new Recorder();
        using (var model = new SoftDigits(seed: 3))
        using (var adam = new AdamW(model.Parameters, lr: 3e-3f))
        {
            new Trainer<float>(model, adam, Options(Path.Combine(_directory, "straight.safetensors"), straight)).Fit(data);
            uninterrupted = model.Parameters.Span.ToArray();
        }

        string path = Path.Combine(_directory, "crashed.safetensors");
        var first = new Recorder { Then = p => { if (p.Step == 14 && p.ValidationLoss is null) throw new InvalidOperationException("killed"); } };
        using (var model = new SoftDigits(seed: 3))
        using (var adam = new AdamW(model.Parameters, lr: 3e-3f))
            Assert.Throws<InvalidOperationException>(() => new Trainer<float>(model, adam, Options(path, first)).Fit(data));

        var second = new Recorder();
        using (var model = new SoftDigits(seed: 99))
        using (var adam = new AdamW(model.Parameters, lr: 1f))
        {
            TrainingResult result = new Trainer<float>(model, adam, Options(path, second)).Fit(data);
            Assert.True(result.Resumed);
            Assert.Equal(uninterrupted, model.Parameters.Span.ToArray());
        }
        // Steps 13 and 14 ran before the crash and again after the resume from step 12, with the same losses.
        float[] straightLosses = straight.Reports.Where(r => r.ValidationLoss is null && r.BatchInEpoch > 0 && r.SamplesPerSecond > 0).Select(r => r.Loss).ToArray();
        float[] resumedLosses = second.Reports.Where(r => r.SamplesPerSecond > 0).Select(r => r.Loss).ToArray();
        Assert.Equal(straightLosses.Skip(12).Select(BitConverter.SingleToInt32Bits), resumedLosses.Select(BitConverter.SingleToInt32Bits));
    }

    [Fact]
    public void Trainer_RejectsDataOfTheWrongShape_AndMixupOnIntegerLabels()
    {
        using var model = new MnistMlp(seed: 1);
        using var adam = new Adam(model.Parameters);
        var narrow = new Dataset(new float[10 * 5], new int[10], 5, 10);
        Assert.Contains("784", Assert.Throws<ArgumentException>(() => new Trainer<int>(model, adam).Fit(narrow)).Message);
        Assert.Throws<ArgumentException>(() => new Trainer<int>(model, adam, new TrainerOptions { BatchTransform = new Mixup(64, 784, 10) }));
    }
}
