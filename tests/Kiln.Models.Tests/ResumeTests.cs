using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using Kiln.Data;
using Kiln.Optimizers;
using Kiln.Samples.Mnist;
using Xunit;

namespace Kiln.Models.Tests;

/// <summary>A run stopped at a checkpoint and resumed in fresh objects continues with bit-identical losses.</summary>
public sealed class ResumeTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("kiln-resume-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static readonly Dataset Train = SyntheticDigits.Generate(400, seed: 11);
    private static readonly LearningRateSchedule Schedule = new WarmupCosineSchedule(2e-3f, warmupSteps: 5, totalSteps: 40);

    /// <summary>Runs <paramref name="steps"/> steps of Z1 with AdamW, a schedule and a shuffled iterator; returns the losses.</summary>
    private static List<float> Run(MnistMlp model, Optimizer optimizer, BatchIterator batches, int steps)
    {
        var x = new float[MnistMlp.Batch * MnistMlp.InputSize];
        var y = new int[MnistMlp.Batch];
        var losses = new List<float>();
        while (losses.Count < steps)
        {
            if (!batches.Next(x, y, out int rows)) continue; // a new epoch
            Schedule.Apply(optimizer);
            losses.Add(model.TrainStep(x.AsSpan(0, rows * MnistMlp.InputSize), y.AsSpan(0, rows), optimizer));
        }
        return losses;
    }

    [Fact]
    public void ResumeAfterACheckpoint_ContinuesWithBitIdenticalLosses()
    {
        List<float> uninterrupted;
        using (var model = new MnistMlp(seed: 3))
        using (var optimizer = new AdamW(model.Parameters, lr: 2e-3f))
            uninterrupted = Run(model, optimizer, new BatchIterator(Train, MnistMlp.Batch, seed: 4), 30);

        string path = Path.Combine(_directory, "step12.safetensors");
        List<float> first;
        using (var model = new MnistMlp(seed: 3))
        using (var optimizer = new AdamW(model.Parameters, lr: 2e-3f))
        {
            var batches = new BatchIterator(Train, MnistMlp.Batch, seed: 4);
            first = Run(model, optimizer, batches, 12);
            model.Save(path, optimizer, new Dictionary<string, string>
            {
                ["epoch"] = batches.Epoch.ToString(CultureInfo.InvariantCulture),
                ["position"] = batches.Position.ToString(CultureInfo.InvariantCulture),
            });
        }

        // A fresh process would start here: other initial weights, a fresh optimizer and iterator.
        using (var model = new MnistMlp(seed: 99))
        using (var optimizer = new AdamW(model.Parameters, lr: 1f))
        {
            var metadata = model.Load(path, optimizer);
            var batches = new BatchIterator(Train, MnistMlp.Batch, seed: 4);
            batches.Restore(int.Parse(metadata["epoch"], CultureInfo.InvariantCulture), int.Parse(metadata["position"], CultureInfo.InvariantCulture));
            Assert.Equal(12, optimizer.StepCount);
            List<float> rest = Run(model, optimizer, batches, 18);
            first.AddRange(rest);
        }
        Assert.Equal(uninterrupted.ConvertAll(BitConverter.SingleToInt32Bits), first.ConvertAll(BitConverter.SingleToInt32Bits));
        Assert.True(uninterrupted[^1] < uninterrupted[0], "the run should learn");
    }

    [Fact]
    public void ResumeWithDropout_DrawsTheSameMasks_AndContinuesBitIdentically()
    {
        var random = new KilnRandom(5);
        float[] x = Enumerable.Range(0, 4 * 5).Select(_ => random.Uniform(-1, 1)).ToArray(), t = Enumerable.Range(0, 4 * 3).Select(_ => random.Uniform(-1, 1)).ToArray();
        List<float> uninterrupted = new(), resumed = new();
        using (var model = new DropoutNet(seed: 2))
        using (var adam = new Adam(model.Parameters, lr: 0.01f))
            for (int i = 0; i < 8; i++) uninterrupted.Add(model.TrainStep(x, t, adam));

        string path = Path.Combine(_directory, "dropout.safetensors");
        using (var model = new DropoutNet(seed: 2))
        using (var adam = new Adam(model.Parameters, lr: 0.01f))
        {
            for (int i = 0; i < 3; i++) resumed.Add(model.TrainStep(x, t, adam));
            model.Save(path, adam);
        }
        using (var model = new DropoutNet(seed: 77))
        using (var adam = new Adam(model.Parameters, lr: 0.01f))
        {
            model.Load(path, adam);
            for (int i = 0; i < 5; i++) resumed.Add(model.TrainStep(x, t, adam));
        }
        Assert.Equal(uninterrupted.ConvertAll(BitConverter.SingleToInt32Bits), resumed.ConvertAll(BitConverter.SingleToInt32Bits));
    }
}
