using System;
using System.IO;
using System.Linq;
using Kiln.Data;
using Kiln.IO;
using Kiln.Optimizers;
using Kiln.Samples.Mnist;
using Xunit;

namespace Kiln.Models.Tests;

/// <summary>Z1 trains: convergence on the built-in data, bit-identical reruns, no allocation per step, clear
/// errors for wrong spans, batch-size independence of inference, and checkpoints.</summary>
public class TrainingTests
{
    private static readonly Lazy<(Dataset Train, Dataset Test)> Data = new(() =>
        (SyntheticDigits.Generate(6000, seed: 1), SyntheticDigits.Generate(1000, seed: 2)));

    /// <summary>Trains Z1 with Adam (lr 1e−3) for <paramref name="steps"/> steps of 64, seeded; returns every loss.</summary>
    internal static float[] Train(MnistMlp model, int steps, int seed = 1)
    {
        Dataset train = Data.Value.Train;
        using var adam = new Adam(model.Parameters, lr: 1e-3f);
        var random = new KilnRandom(seed);
        var order = Enumerable.Range(0, train.Count).ToArray();
        var x = new float[MnistMlp.Batch * MnistMlp.InputSize];
        var y = new int[MnistMlp.Batch];
        var losses = new float[steps];
        int perEpoch = train.Count / MnistMlp.Batch;
        for (int step = 0; step < steps; step++)
        {
            if (step % perEpoch == 0) random.Shuffle(order);
            train.Gather(order.AsSpan(step % perEpoch * MnistMlp.Batch, MnistMlp.Batch), x, y);
            losses[step] = model.TrainStep(x, y, adam);
        }
        return losses;
    }

    internal static float Accuracy(MnistMlp model, Dataset data)
    {
        var predicted = new int[data.Count];
        model.Predict(data.Features, predicted);
        return predicted.Zip(data.Labels).Count(p => p.First == p.Second) / (float)data.Count;
    }

    [Fact]
    public void Z1_ReachesNinetyPercentTestAccuracy_Within300Steps()
    {
        using var model = new MnistMlp(seed: 1);
        float before = Accuracy(model, Data.Value.Test);
        float[] losses = Train(model, 300);
        float accuracy = Accuracy(model, Data.Value.Test);
        Assert.InRange(before, 0f, 0.3f); // untrained: near chance
        Assert.True(losses[^20..].Average() < losses[..20].Average() / 4, $"loss fell only from {losses[..20].Average()} to {losses[^20..].Average()}");
        Assert.True(accuracy >= 0.90f, $"test accuracy after 300 steps is {accuracy:P2}");
    }

    [Fact]
    public void Z1_SameSeed_GivesBitIdenticalLosses()
    {
        using var first = new MnistMlp(seed: 3);
        using var second = new MnistMlp(seed: 3);
        float[] a = Train(first, 60, seed: 5), b = Train(second, 60, seed: 5);
        Assert.Equal(a.Select(BitConverter.SingleToInt32Bits), b.Select(BitConverter.SingleToInt32Bits));
        Assert.Equal(first.Parameters.Span.ToArray(), second.Parameters.Span.ToArray());
        using var other = new MnistMlp(seed: 4);
        Assert.NotEqual(first.Parameters.Span.ToArray(), other.Parameters.Span.ToArray());
    }

    [Fact]
    public void Z1_TrainingStep_AllocatesNothing_AfterWarmUp()
    {
        using var model = new MnistMlp(seed: 1);
        using var adam = new Adam(model.Parameters);
        Dataset train = Data.Value.Train;
        float[] x = train.Features.AsSpan(0, MnistMlp.Batch * MnistMlp.InputSize).ToArray();
        int[] y = train.Labels.AsSpan(0, MnistMlp.Batch).ToArray();
        var logits = new float[MnistMlp.Batch * MnistMlp.OutputSize];
        var classes = new int[MnistMlp.Batch];
        for (int i = 0; i < 5; i++)
        {
            model.TrainStep(x, y, adam);
            model.Forward(x, logits);
            model.Forward(x.AsSpan(0, MnistMlp.InputSize), logits.AsSpan(0, MnistMlp.OutputSize));
            model.Predict(x, classes);
            model.Evaluate(x, y);
        }
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 20; i++)
        {
            model.TrainStep(x, y, adam);
            model.Forward(x.AsSpan(0, MnistMlp.InputSize), logits.AsSpan(0, MnistMlp.OutputSize));
            model.Predict(x, classes);
            model.Evaluate(x, y);
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void WrongSpanLengths_ThrowArgumentException_NamingTheShape()
    {
        using var model = new MnistMlp();
        using var adam = new Adam(model.Parameters);
        var e = Assert.Throws<ArgumentException>(() => model.Forward(new float[783], new float[10]));
        Assert.Contains("[rows, 784]", e.Message);
        Assert.Equal("pixels", e.ParamName);
        e = Assert.Throws<ArgumentException>(() => model.Forward(new float[784 * 2], new float[10]));
        Assert.Contains("[2, 10]", e.Message);
        e = Assert.Throws<ArgumentException>(() => model.TrainStep(new float[784 * 65], new int[65], adam));
        Assert.Contains("at most 64", e.Message);
        e = Assert.Throws<ArgumentException>(() => model.TrainStep(new float[784 * 2], new int[3], adam));
        Assert.Contains("[2]", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => model.TrainStep(new float[784], new[] { 10 }, adam));
        Assert.Throws<ArgumentException>(() => model.Forward(Array.Empty<float>(), Array.Empty<float>()));
    }

    [Fact]
    public void Inference_DoesNotDependOnBatching()
    {
        using var model = new MnistMlp(seed: 2);
        Train(model, 30);
        Dataset test = Data.Value.Test;
        const int rows = 150; // more than two chunks of 64
        float[] x = test.Features.AsSpan(0, rows * 784).ToArray();
        var all = new float[rows * 10];
        model.Forward(x, all);
        var one = new float[10];
        for (int r = 0; r < rows; r++)
        {
            model.Forward(x.AsSpan(r * 784, 784), one);
            for (int j = 0; j < 10; j++)
                Assert.True(Math.Abs(one[j] - all[r * 10 + j]) <= 1e-4f * (1 + Math.Abs(one[j])), $"row {r}: batch 1 gives {one[j]}, batched {all[r * 10 + j]}");
        }
        var classes = new int[rows];
        model.Predict(x, classes);
        for (int r = 0; r < rows; r++)
            Assert.Equal(Array.IndexOf(all, all.AsSpan(r * 10, 10).ToArray().Max(), r * 10) - r * 10, classes[r]);
    }

    [Fact]
    public void Checkpoint_RoundTripIsBitExact_AndAWrongModelIsRejected()
    {
        string path = Path.Combine(Path.GetTempPath(), $"kiln-z1-{Guid.NewGuid():N}.safetensors");
        try
        {
            using var model = new MnistMlp(seed: 5);
            Train(model, 10);
            model.Save(path);
            using var loaded = new MnistMlp(seed: 6);
            loaded.Load(path);
            foreach (TensorSlice tensor in model.Parameters.Tensors)
                Assert.Equal(model.Parameters[tensor].ToArray(), loaded.Parameters[tensor].ToArray());

            using var other = new Classifier();
            var e = Assert.Throws<CheckpointException>(() => other.Load(path));
            Assert.Contains("H.weight", e.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void GeneratedSurface_ExposesShapesParametersAndExplanation()
    {
        Assert.Equal(64, MnistMlp.Batch);
        Assert.Equal(784, MnistMlp.InputSize);
        Assert.Equal(10, MnistMlp.OutputSize);
        Assert.Equal(784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10, MnistMlp.ParameterCount);
        Assert.True(MnistMlp.WorkspaceBytes > 0);
        using var model = new MnistMlp();
        Assert.Equal(new[] { "Hidden1.weight", "Hidden1.bias", "Hidden2.weight", "Hidden2.bias", "Logits.weight", "Logits.bias" },
            model.Parameters.Tensors.Select(t => t.Name));
        Assert.Equal(new[] { 256, 784 }, model.Parameters.Find("Hidden1.weight").Shape);
        Assert.Equal(new[] { "Pixels", "Hidden1", "Hidden2", "Logits", "Loss" }, MnistMlp.Nodes.Select(n => n.Name));
        Assert.Equal("Dense(256) -> Relu", model.Hidden1.Op);
        Assert.Equal(new[] { 256 }, model.Hidden1.Shape);
        Assert.Contains("Hidden1  Dense(256) -> Relu", MnistMlp.Summary);
        // The workspace column's total is the planned workspace (Z1 at batch 64: between 10 KB and 1 MB, shown in whole KB).
        Assert.InRange(MnistMlp.WorkspaceBytes, 10 * 1024, 1024 * 1024 - 1);
        string planned = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{MnistMlp.WorkspaceBytes / 1024.0:0} KB");
        Assert.EndsWith(planned, MnistMlp.Summary.Split('\n').Single(l => l.StartsWith("total", StringComparison.Ordinal)));
        Assert.Contains($"planned into {planned})", MnistMlp.Summary);
        // He initialisation: the first layer's weights are bounded by √2·√(3/784).
        float bound = MathF.Sqrt(2f) * MathF.Sqrt(3f / 784);
        Assert.All(model.Parameters["Hidden1.weight"].ToArray(), w => Assert.InRange(w, -bound, bound));
        Assert.All(model.Parameters["Hidden1.bias"].ToArray(), b => Assert.Equal(0f, b));
    }
}
