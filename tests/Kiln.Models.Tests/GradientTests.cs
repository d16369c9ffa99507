using System;
using System.Collections.Generic;
using System.Linq;
using Kiln.Samples.Mnist;
using Xunit;
using static Kiln.Models.Tests.RefOps;

namespace Kiln.Models.Tests;

/// <summary>
/// The generated backward of every op, and of Z1 as a whole, against central finite differences of a
/// double-precision reference forward: relative error |g − fd| / max(|g|, |fd|, 1e−4) below 1e−3 for every
/// parameter checked. The reference also pins the generated float32 forward (the loss) to 1e−5.
/// </summary>
public class GradientTests
{
    private const double Step = 1e-5;
    private const double Tolerance = 1e-3;

    internal static float[] Inputs(int length, int seed, float scale = 1.5f)
    {
        var random = new KilnRandom(seed);
        return Enumerable.Range(0, length).Select(_ => random.Uniform(-scale, scale)).ToArray();
    }

    /// <summary>Runs the model's backward, then compares each parameter's gradient with finite differences.</summary>
    internal static void Check(ParameterSet parameters, ParameterSet gradients, float modelLoss,
        Func<IReadOnlyDictionary<string, double[]>, double> referenceLoss, int maxPerTensor = int.MaxValue)
    {
        var values = parameters.Tensors.ToDictionary(t => t.Name, t => ToDouble(parameters[t]));
        double loss = referenceLoss(values);
        Assert.True(Math.Abs(loss - modelLoss) <= 1e-5 * Math.Max(1, Math.Abs(loss)), $"forward: model loss {modelLoss:R}, reference {loss:R}");

        var random = new KilnRandom(17);
        foreach (TensorSlice tensor in parameters.Tensors)
        {
            double[] theta = values[tensor.Name];
            float[] analytic = gradients[tensor].ToArray();
            IEnumerable<int> indices = theta.Length <= maxPerTensor
                ? Enumerable.Range(0, theta.Length)
                : Enumerable.Range(0, maxPerTensor).Select(_ => random.Next(theta.Length)).Distinct();
            double worst = 0;
            foreach (int i in indices)
            {
                double saved = theta[i];
                theta[i] = saved + Step;
                double up = referenceLoss(values);
                theta[i] = saved - Step;
                double down = referenceLoss(values);
                theta[i] = saved;
                double fd = (up - down) / (2 * Step);
                double error = Math.Abs(analytic[i] - fd) / Math.Max(Math.Max(Math.Abs(analytic[i]), Math.Abs(fd)), 1e-4);
                worst = Math.Max(worst, error);
                Assert.True(error < Tolerance, $"{tensor.Name}[{i}]: backward {analytic[i]:R}, finite difference {fd:R} (relative error {error:E2})");
            }
            Assert.True(worst < Tolerance);
        }
    }

    private static float[] Targets(int rows, int width) => Inputs(rows * width, seed: 99, scale: 1f);

    [Fact]
    public void Dropout_InTraining_WithTheMaskItDrew()
    {
        using var model = new DropoutNet(seed: 9);
        float[] x = Inputs(4 * 5, 21), t = Targets(4, 3);
        var state = model.Random.State;
        float loss = model.ComputeGradients(x, t);
        // The same draws, in the reference: one mask value per element of H, in order.
        var mask = new float[4 * 8];
        Kernels.Dropout.DrawMask(mask, 0.3f, new KilnRandom(1) { State = state });
        Assert.Contains(mask, m => m == 0f);
        Check(model.Parameters, model.Gradients, loss,
            p => Mse(Dense(Map(Dense(ToDouble(x), p, "H", 5, 8), Math.Tanh).Select((h, i) => h * mask[i]).ToArray(), p, "Out", 8, 3), t));
    }

    [Fact]
    public void Dropout_AndNoise_InEvaluation_AreTheIdentity()
    {
        using var dropout = new DropoutNet(seed: 9) { Training = false };
        float[] x = Inputs(4 * 5, 22), t = Targets(4, 3);
        float loss = dropout.ComputeGradients(x, t);
        Check(dropout.Parameters, dropout.Gradients, loss, p => Mse(Dense(Map(Dense(ToDouble(x), p, "H", 5, 8), Math.Tanh), p, "Out", 8, 3), t));

        using var noise = new NoiseNet(seed: 10) { Training = false };
        loss = noise.ComputeGradients(x, t);
        Check(noise.Parameters, noise.Gradients, loss, p => Mse(Dense(ToDouble(x), p, "Out", 5, 3), t));
    }

    [Fact]
    public void GaussianNoise_InTraining_WithTheNoiseItDrew()
    {
        using var model = new NoiseNet(seed: 10);
        float[] x = Inputs(4 * 5, 23), t = Targets(4, 3);
        var random = new KilnRandom(1) { State = model.Random.State };
        double[] noisy = x.Select(v => (double)(v + 0.2f * random.Gaussian())).ToArray();
        float loss = model.ComputeGradients(x, t);
        Check(model.Parameters, model.Gradients, loss, p => Mse(Dense(noisy, p, "Out", 5, 3), t));
    }

    private static float[] Unit(int length, int seed) => Inputs(length, seed, 0.5f).Select(v => v + 0.5f).ToArray(); // in [0, 1)

    [Fact]
    public void L1Loss()
    {
        using var model = new L1Net(seed: 1);
        float[] x = Inputs(4 * 5, 11), t = Targets(4, 3);
        float loss = model.ComputeGradients(x, t);
        Check(model.Parameters, model.Gradients, loss, p => L1(Dense(ToDouble(x), p, "Out", 5, 3), t));
    }

    [Fact]
    public void HuberLoss_BothBranches()
    {
        using var model = new HuberNet(seed: 2);
        float[] x = Inputs(4 * 5, 12), t = Targets(4, 3);
        double[] prediction = Dense(ToDouble(x), model.Parameters.Tensors.ToDictionary(s => s.Name, s => ToDouble(model.Parameters[s])), "Out", 5, 3);
        Assert.Contains(prediction.Select((p, i) => Math.Abs(p - t[i])), d => d < 0.5);
        Assert.Contains(prediction.Select((p, i) => Math.Abs(p - t[i])), d => d > 0.5);
        float loss = model.ComputeGradients(x, t);
        Check(model.Parameters, model.Gradients, loss, p => Huber(Dense(ToDouble(x), p, "Out", 5, 3), t, 0.5));
    }

    [Fact]
    public void MeanSquaredError_Summed()
    {
        using var model = new MseSumNet(seed: 3);
        float[] x = Inputs(4 * 5, 13), t = Targets(4, 3);
        float loss = model.ComputeGradients(x, t);
        Check(model.Parameters, model.Gradients, loss, p => MseSum(Dense(ToDouble(x), p, "Out", 5, 3), t));
    }

    [Fact]
    public void BinaryCrossEntropy_OnLogits()
    {
        using var model = new BceNet(seed: 4);
        float[] x = Inputs(4 * 5, 14), t = Unit(4 * 3, 15);
        float loss = model.ComputeGradients(x, t);
        Check(model.Parameters, model.Gradients, loss, p => BinaryCrossEntropyWithLogits(Dense(Map(Dense(ToDouble(x), p, "H", 5, 6), Math.Tanh), p, "Logits", 6, 3), t));
    }

    [Fact]
    public void BinaryFocalLoss()
    {
        using var model = new BinaryFocalNet(seed: 5);
        float[] x = Inputs(4 * 5, 16), t = Unit(4 * 3, 17).Select(v => v > 0.5f ? 1f : 0f).ToArray();
        float loss = model.ComputeGradients(x, t);
        Check(model.Parameters, model.Gradients, loss, p => BinaryFocal(Dense(ToDouble(x), p, "Logits", 5, 3), t, 2, 0.25));
    }

    [Fact]
    public void FocalLoss_MultiClass()
    {
        using var model = new FocalNet(seed: 6);
        float[] x = Inputs(4 * 5, 18);
        int[] y = { 0, 3, 1, 2 };
        float loss = model.ComputeGradients(x, y);
        Check(model.Parameters, model.Gradients, loss, p => Focal(Dense(Map(Dense(ToDouble(x), p, "H", 5, 8), Math.Tanh), p, "Logits", 8, 4), y, 4, 2, 0.5));
    }

    [Fact]
    public void SoftmaxCrossEntropy_LabelSmoothing_Summed()
    {
        using var model = new SmoothedClassifier(seed: 7);
        float[] x = Inputs(4 * 5, 19);
        int[] y = { 2, 0, 3, 1 };
        float loss = model.ComputeGradients(x, y);
        Check(model.Parameters, model.Gradients, loss, p => SoftCrossEntropy(Dense(ToDouble(x), p, "Logits", 5, 4), OneHot(y, 4), 4, 0.2, sum: true));
    }

    [Fact]
    public void SoftmaxCrossEntropy_SoftTargets_Smoothed()
    {
        using var model = new SoftTargetClassifier(seed: 8);
        float[] x = Inputs(4 * 5, 20);
        float[] q = { 0.7f, 0.3f, 0, 0, 0, 0, 1, 0, 0.25f, 0.25f, 0.25f, 0.25f, 0, 0.5f, 0, 0.5f };
        float loss = model.ComputeGradients(x, q);
        Check(model.Parameters, model.Gradients, loss, p => SoftCrossEntropy(Dense(ToDouble(x), p, "Logits", 5, 4), ToDouble(q), 4, 0.1, sum: false));
    }

    [Fact]
    public void Dense_And_MeanSquaredError()
    {
        using var model = new DenseMse(seed: 1);
        float[] x = Inputs(4 * 5, 1), t = Targets(4, 3);
        float loss = model.ComputeGradients(x, t);
        Check(model.Parameters, model.Gradients, loss, p => Mse(Dense(ToDouble(x), p, "Out", 5, 3), t));
    }

    [Fact]
    public void Relu_And_DenseWithoutBias()
    {
        using var model = new ReluNet(seed: 2);
        float[] x = Inputs(4 * 5, 2), t = Targets(4, 3);
        float loss = model.ComputeGradients(x, t);
        Check(model.Parameters, model.Gradients, loss, p => Mse(Dense(Map(Dense(ToDouble(x), p, "H", 5, 6, bias: false), Relu), p, "Out", 6, 3), t));
    }

    [Fact]
    public void LeakyRelu()
    {
        using var model = new LeakyReluNet(seed: 3);
        float[] x = Inputs(4 * 5, 3), t = Targets(4, 3);
        float loss = model.ComputeGradients(x, t);
        Check(model.Parameters, model.Gradients, loss, p => Mse(Dense(Map(Dense(ToDouble(x), p, "H", 5, 6), v => v > 0 ? v : 0.2 * v), p, "Out", 6, 3), t));
    }

    [Fact]
    public void Sigmoid()
    {
        using var model = new SigmoidNet(seed: 4);
        float[] x = Inputs(4 * 5, 4), t = Targets(4, 3);
        float loss = model.ComputeGradients(x, t);
        Check(model.Parameters, model.Gradients, loss, p => Mse(Dense(Map(Dense(ToDouble(x), p, "H", 5, 6), RefOps.Sigmoid), p, "Out", 6, 3), t));
    }

    [Fact]
    public void Tanh()
    {
        using var model = new TanhNet(seed: 5);
        float[] x = Inputs(4 * 5, 5), t = Targets(4, 3);
        float loss = model.ComputeGradients(x, t);
        Check(model.Parameters, model.Gradients, loss, p => Mse(Dense(Map(Dense(ToDouble(x), p, "H", 5, 6), Math.Tanh), p, "Out", 6, 3), t));
    }

    [Fact]
    public void Gelu_ExactAndTanhApproximation()
    {
        using var model = new GeluNet(seed: 6);
        float[] x = Inputs(4 * 5, 6), t = Targets(4, 3);
        float loss = model.ComputeGradients(x, t);
        Check(model.Parameters, model.Gradients, loss, p =>
            Mse(Dense(Map(Dense(Map(Dense(ToDouble(x), p, "H", 5, 6), RefOps.Gelu), p, "H2", 6, 6), GeluTanh), p, "Out", 6, 3), t));
    }

    [Fact]
    public void Softmax()
    {
        using var model = new SoftmaxNet(seed: 7);
        float[] x = Inputs(4 * 5, 7, scale: 3f), t = Targets(4, 3);
        float loss = model.ComputeGradients(x, t);
        Check(model.Parameters, model.Gradients, loss, p => Mse(Dense(RefOps.Softmax(Dense(ToDouble(x), p, "H", 5, 6), 6), p, "Out", 6, 3), t));
    }

    [Fact]
    public void Add_WithFanOut()
    {
        using var model = new SkipNet(seed: 8);
        float[] x = Inputs(4 * 5, 8), t = Targets(4, 3);
        float loss = model.ComputeGradients(x, t);
        Check(model.Parameters, model.Gradients, loss, p =>
        {
            double[] a = Map(Dense(ToDouble(x), p, "A", 5, 6), Math.Tanh);
            double[] b = Dense(a, p, "B", 6, 6);
            double[] c = Map(a, Relu);
            return Mse(Dense(RefOps.Add(c, b), p, "Out", 6, 3), t);
        });
    }

    [Fact]
    public void SoftmaxCrossEntropy()
    {
        using var model = new Classifier(seed: 9);
        float[] x = Inputs(4 * 5, 9);
        int[] labels = { 3, 0, 2, 2 };
        float loss = model.ComputeGradients(x, labels);
        Check(model.Parameters, model.Gradients, loss, p => CrossEntropy(Dense(Map(Dense(ToDouble(x), p, "H", 5, 8), Math.Tanh), p, "Logits", 8, 4), labels, 4));
    }

    [Fact]
    public void PartialBatch_AveragesOverTheRowsGiven()
    {
        using var model = new Classifier(seed: 9);
        float[] x = Inputs(3 * 5, 10);
        int[] labels = { 1, 0, 3 };
        float loss = model.ComputeGradients(x, labels);
        Check(model.Parameters, model.Gradients, loss, p => CrossEntropy(Dense(Map(Dense(ToDouble(x), p, "H", 5, 8), Math.Tanh), p, "Logits", 8, 4), labels, 4));
    }

    [Fact]
    public void Z1_WholeModel()
    {
        using var model = new MnistMlp(seed: 10);
        const int rows = 16;
        float[] x = Inputs(rows * 784, 11, scale: 1f).Select(Math.Abs).ToArray();
        int[] labels = Enumerable.Range(0, rows).Select(i => (i * 7) % 10).ToArray();
        float loss = model.ComputeGradients(x, labels);
        Check(model.Parameters, model.Gradients, loss, p =>
        {
            double[] h1 = Map(Dense(ToDouble(x), p, "Hidden1", 784, 256), Relu);
            double[] h2 = Map(Dense(h1, p, "Hidden2", 256, 128), Relu);
            return CrossEntropy(Dense(h2, p, "Logits", 128, 10), labels, 10);
        }, maxPerTensor: 40);
    }
}
