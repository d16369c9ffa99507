using System;
using System.IO;
using System.Linq;
using Kiln.Data;
using Kiln.Optimizers;
using Kiln.Samples.Mnist;
using Xunit;

namespace Kiln.Models.Tests;

/// <summary>
/// A generated model's <c>PackWeights</c>: inference with the packed weights gives what it gives without them, and
/// every way the parameters change — a write through their span, a training step, a load, an initialization — ends
/// the packs' use, so that no later pass reads stale weights.
/// </summary>
public class PackWeightsTests
{
    private static readonly Dataset Test = SyntheticDigits.Generate(300, seed: 4);

    [Fact]
    public void Inference_WithPackedWeights_MatchesInferenceWithout_AtEveryRowCount()
    {
        using var model = new MnistMlp(seed: 1);
        TrainingTests.Train(model, 10);
        foreach (int rows in new[] { 1, 2, 5, 64, 130, 300 })
        {
            ReadOnlySpan<float> x = Test.Features.AsSpan(0, rows * MnistMlp.InputSize);
            var plain = new float[rows * MnistMlp.OutputSize];
            var packed = new float[rows * MnistMlp.OutputSize];
            model.ReleasePackedWeights();
            Assert.False(model.WeightsPacked);
            model.Forward(x, plain);
            model.PackWeights();
            Assert.True(model.WeightsPacked);
            model.Forward(x, packed);
            for (int i = 0; i < plain.Length; i++)
                Assert.True(Math.Abs(plain[i] - packed[i]) <= 1e-4f * Math.Max(1f, Math.Abs(plain[i])), $"rows {rows}, logit {i}: {packed[i]:R} packed, {plain[i]:R} not");
        }
        var classes = new int[Test.Count];
        var classesPacked = new int[Test.Count];
        model.ReleasePackedWeights();
        model.Predict(Test.Features, classes);
        float loss = model.Evaluate(Test.Features, Test.Labels);
        model.PackWeights();
        model.Predict(Test.Features, classesPacked);
        Assert.Equal(classes, classesPacked);
        Assert.Equal(loss, model.Evaluate(Test.Features, Test.Labels), 4);
        Assert.True(model.WeightsPacked);
    }

    [Fact]
    public void WriteThroughTheParameters_EndsThePacks_AndTheNextPassSeesIt()
    {
        using var model = new MnistMlp(seed: 2);
        using var twin = new MnistMlp(seed: 3);
        ReadOnlySpan<float> x = Test.Features.AsSpan(0, 64 * MnistMlp.InputSize);
        var before = new float[64 * MnistMlp.OutputSize];
        var after = new float[before.Length];
        var expected = new float[before.Length];
        model.PackWeights();
        model.Forward(x, before);

        // Reading the parameters (a save, Values) keeps the packs in use.
        string path = Path.Combine(Path.GetTempPath(), $"kiln-pack-{Guid.NewGuid():N}.safetensors");
        try
        {
            model.Save(path);
            _ = model.Parameters.Values[0];
            Assert.True(model.WeightsPacked);

            Span<float> hidden1 = model.Parameters["Hidden1.weight"];
            Assert.False(model.WeightsPacked);
            for (int i = 0; i < hidden1.Length; i += 7) hidden1[i] += 0.05f;
            model.Forward(x, after);
            model.Parameters.Values.CopyTo(twin.Parameters.Span);
            twin.Forward(x, expected);
            Assert.Equal(expected, after);
            Assert.NotEqual(before, after);

            // A load ends them too: the file's weights are the ones used.
            model.PackWeights();
            model.Load(path);
            Assert.False(model.WeightsPacked);
            model.Forward(x, after);
            for (int i = 0; i < before.Length; i++)
                Assert.True(Math.Abs(before[i] - after[i]) <= 1e-4f * Math.Max(1f, Math.Abs(before[i])), $"logit {i} after the load: {after[i]:R}, saved {before[i]:R}");
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void TrainingStepAndInitialization_EndThePacks()
    {
        using var model = new MnistMlp(seed: 5);
        using var adam = new Adam(model.Parameters, lr: 1e-3f);
        var y = new int[MnistMlp.Batch];
        var x = new float[MnistMlp.Batch * MnistMlp.InputSize];
        Test.Gather(Enumerable.Range(0, MnistMlp.Batch).ToArray(), x, y);
        model.PackWeights();
        model.TrainStep(x, y, adam);
        Assert.False(model.WeightsPacked);

        var trained = new float[MnistMlp.Batch * MnistMlp.OutputSize];
        model.Forward(x, trained);
        model.PackWeights();
        var packed = new float[trained.Length];
        model.Forward(x, packed);
        for (int i = 0; i < trained.Length; i++)
            Assert.True(Math.Abs(trained[i] - packed[i]) <= 1e-4f * Math.Max(1f, Math.Abs(trained[i])), $"logit {i}: {packed[i]:R} packed after the step, {trained[i]:R} not");

        model.InitializeParameters(9);
        Assert.False(model.WeightsPacked);
    }
}
