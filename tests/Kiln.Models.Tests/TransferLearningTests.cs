using System;
using System.IO;
using System.Linq;
using Kiln.Data;
using Kiln.Optimizers;
using Kiln.Samples.Mnist;
using Xunit;

namespace Kiln.Models.Tests;

/// <summary>Transfer learning: pretrained weights loaded, the early nodes frozen (their bytes unchanged), the head trained
/// on a new task.</summary>
public sealed class TransferLearningTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("kiln-transfer-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void FrozenFeatureNodesKeepTheirBytes_WhileTheHeadLearnsANewTask()
    {
        Dataset train = SyntheticDigits.Generate(1200, seed: 21), test = SyntheticDigits.Generate(400, seed: 22);
        string pretrained = Path.Combine(_directory, "pretrained.safetensors");
        using (var source = new MnistMlp(seed: 1))
        using (var adam = new Adam(source.Parameters, lr: 2e-3f))
        {
            Train(source, adam, train, steps: 150, permute: false);
            source.Save(pretrained);
        }

        // The new task: the same images, the classes renamed (c -> 9 - c). The features carry over; the head must relearn.
        using var model = new MnistMlp(seed: 7);
        model.Load(pretrained);
        using var optimizer = new Adam(model.Parameters, lr: 5e-3f);
        optimizer.Freeze("Hidden1");
        optimizer.Freeze("Hidden2");
        float[] hidden1 = model.Parameters["Hidden1.weight"].ToArray(), hidden1Bias = model.Parameters["Hidden1.bias"].ToArray();
        float[] hidden2 = model.Parameters["Hidden2.weight"].ToArray();
        float[] head = model.Parameters["Logits.weight"].ToArray();
        float before = Accuracy(model, test, permute: true);

        Train(model, optimizer, train, steps: 120, permute: true);

        Assert.Equal(hidden1, model.Parameters["Hidden1.weight"].ToArray());
        Assert.Equal(hidden1Bias, model.Parameters["Hidden1.bias"].ToArray());
        Assert.Equal(hidden2, model.Parameters["Hidden2.weight"].ToArray());
        Assert.NotEqual(head, model.Parameters["Logits.weight"].ToArray());
        float after = Accuracy(model, test, permute: true);
        Assert.True(before < 0.3f, $"before retraining the head, the renamed classes should be near chance; accuracy {before:P1}");
        Assert.True(after > 0.85f, $"the head trained on frozen features reaches {after:P1} on the new task");
    }

    private static void Train(MnistMlp model, Optimizer optimizer, Dataset data, int steps, bool permute)
    {
        var batches = new BatchIterator(data, MnistMlp.Batch, seed: 3);
        var x = new float[MnistMlp.Batch * MnistMlp.InputSize];
        var y = new int[MnistMlp.Batch];
        for (int step = 0; step < steps;)
        {
            if (!batches.Next(x, y, out int rows)) continue;
            if (permute) for (int i = 0; i < rows; i++) y[i] = 9 - y[i];
            model.TrainStep(x.AsSpan(0, rows * MnistMlp.InputSize), y.AsSpan(0, rows), optimizer);
            step++;
        }
    }

    private static float Accuracy(MnistMlp model, Dataset data, bool permute)
    {
        var predicted = new int[data.Count];
        model.Predict(data.Features, predicted);
        return predicted.Where((p, i) => p == (permute ? 9 - data.Labels[i] : data.Labels[i])).Count() / (float)data.Count;
    }
}
