using System;
using System.Collections.Generic;
using System.IO;
using Kiln.IO;
using Kiln.Optimizers;
using Kiln.Samples.Mnist;
using Xunit;

namespace Kiln.Models.Tests;

/// <summary>
/// Kiln against PyTorch on the same weights and data (Parity/export.py wrote the reference files with PyTorch 1.13,
/// float32, CPU): the loss, every parameter gradient, the loss of 3 Adam steps (lr 1e−3) and the one after them,
/// and the parameters after the steps. The initial weights load through the model's own <c>Load</c> (PyTorch names
/// and layouts). Tolerances, float32 against float32 with a different summation order, set at 10–20× the errors
/// seen (2026-11-21: losses 1.3e−7 relative, gradients 2.5e−7 of the tensor's largest magnitude, parameters after
/// the steps about 1e−9): losses within 2e−6 relative; a gradient tensor's max absolute error within 5e−6 of its
/// largest magnitude; parameters after the steps within 1e−6 absolute (an Adam step here moves one by up to 1e−3, so
/// a wrong update direction or a wrong bias correction fails it).
/// </summary>
public class ParityTests
{
    private const double LossTolerance = 2e-6, GradientTolerance = 5e-6, ParameterTolerance = 1e-6;

    /// <summary>What the test needs from a generated model.</summary>
    private sealed record Case(string Name, ParameterSet Parameters, ParameterSet Gradients, Action<string> Load,
        Func<float[], float[], float> ComputeGradients, Func<float[], float[], Optimizer, float> TrainStep, Func<float[], float[], float> Evaluate)
    {
        /// <summary>Batch norm's running statistics (empty without batch norm), compared after the gradient pass and
        /// after the Adam steps, and the mode switch for the evaluation-mode loss at the end.</summary>
        public ParameterSet? Buffers { get; init; }
        public Action<bool>? SetTraining { get; init; }

        /// <summary>The optimizer of the 3-step trajectory, as Parity/export.py ran it: Adam (lr 1e−3) unless a case
        /// says otherwise.</summary>
        public Func<ParameterSet, Optimizer> Optimizer { get; init; } = parameters => new Adam(parameters, lr: 1e-3f);
    }

    /// <summary>The case of any generated model (every one implements <see cref="ITrainable{TInput, TTarget}"/>).</summary>
    private static Case Of<TTarget>(string name, ITrainable<float, TTarget> m, Func<float[], TTarget[]> targets) where TTarget : unmanaged =>
        new(name, m.Parameters, m.Gradients, m.Load, (x, t) => m.ComputeGradients(x, targets(t)), (x, t, o) => m.TrainStep(x, targets(t), o),
            (x, t) => m.Evaluate(x, targets(t)))
        { Buffers = m.Buffers, SetTraining = training => m.Training = training };

    private static Case Of(string name, ITrainable<float, float> m) => Of(name, m, t => t);

    private static Case Of(string name, ITrainable<float, int> m) => Of(name, m, Labels);

    /// <summary>A model of integer tokens (the reference files store them as float32, exactly).</summary>
    private static Case Of(string name, ITrainable<int, int> m) =>
        new(name, m.Parameters, m.Gradients, m.Load, (x, t) => m.ComputeGradients(Labels(x), Labels(t)), (x, t, o) => m.TrainStep(Labels(x), Labels(t), o),
            (x, t) => m.Evaluate(Labels(x), Labels(t)))
        { Buffers = m.Buffers, SetTraining = training => m.Training = training };

    private static int[] Labels(float[] values) => Array.ConvertAll(values, v => checked((int)v));

    [Fact]
    public void Z1_MatchesPyTorch()
    {
        using var m = new MnistMlp(seed: 5);
        Check(Of("z1", m));
    }

    [Fact]
    public void Dense_WithMeanSquaredError_MatchesPyTorch()
    {
        using var m = new DenseMse(seed: 5);
        Check(Of("dense_mse", m));
    }

    [Fact]
    public void Relu_AndDenseWithoutBias_MatchPyTorch()
    {
        using var m = new ReluNet(seed: 5);
        Check(Of("relu_nobias", m));
    }

    [Fact]
    public void LeakyRelu_MatchesPyTorch()
    {
        using var m = new LeakyReluNet(seed: 5);
        Check(Of("leaky_relu", m));
    }

    [Fact]
    public void Sigmoid_MatchesPyTorch()
    {
        using var m = new SigmoidNet(seed: 5);
        Check(Of("sigmoid", m));
    }

    [Fact]
    public void Tanh_MatchesPyTorch()
    {
        using var m = new TanhNet(seed: 5);
        Check(Of("tanh", m));
    }

    [Fact]
    public void Gelu_ExactAndTanh_MatchPyTorch()
    {
        using var m = new GeluNet(seed: 5);
        Check(Of("gelu", m));
    }

    [Fact]
    public void Softmax_MatchesPyTorch()
    {
        using var m = new SoftmaxNet(seed: 5);
        Check(Of("softmax", m));
    }

    [Fact]
    public void SkipConnection_AndFanOut_MatchPyTorch()
    {
        using var m = new SkipNet(seed: 5);
        Check(Of("skip", m));
    }

    [Fact]
    public void SoftmaxCrossEntropy_MatchesPyTorch()
    {
        using var m = new Classifier(seed: 5);
        Check(Of("classifier", m));
    }

    [Fact]
    public void L1Loss_MatchesPyTorch()
    {
        using var m = new L1Net(seed: 5);
        Check(Of("l1", m));
    }

    [Fact]
    public void HuberLoss_MatchesPyTorch()
    {
        using var m = new HuberNet(seed: 5);
        Check(Of("huber", m));
    }

    [Fact]
    public void MeanSquaredError_Summed_MatchesPyTorch()
    {
        using var m = new MseSumNet(seed: 5);
        Check(Of("mse_sum", m));
    }

    [Fact]
    public void BinaryCrossEntropyWithLogits_MatchesPyTorch()
    {
        using var m = new BceNet(seed: 5);
        Check(Of("bce_logits", m));
    }

    [Fact]
    public void BinaryFocalLoss_MatchesTorchvisionsDefinition()
    {
        using var m = new BinaryFocalNet(seed: 5);
        Check(Of("binary_focal", m));
    }

    [Fact]
    public void FocalLoss_MatchesTheDefinitionInPyTorch()
    {
        using var m = new FocalNet(seed: 5);
        Check(Of("focal", m));
    }

    [Fact]
    public void CrossEntropy_LabelSmoothing_Summed_MatchesPyTorch()
    {
        using var m = new SmoothedClassifier(seed: 5);
        Check(Of("smoothed_ce_sum", m));
    }

    [Fact]
    public void CrossEntropy_SoftTargets_MatchesPyTorch()
    {
        using var m = new SoftTargetClassifier(seed: 5);
        Check(Of("soft_ce", m));
    }

    // ---- convolutional networks (CnnParityModels.cs, CnnModels.cs, samples/Cifar) ----

    [Fact]
    public void Conv2d_Plain_Strided_Dilated_Grouped_Depthwise_Same_Rectangular_Pointwise_MatchPyTorch()
    {
        using var m = new ConvParityNet(seed: 5);
        Check(Of("conv_variants", m));
    }

    [Fact]
    public void MaxPool_AvgPool_WithStridePaddingAndCountIncludePad_GlobalAveragePool_MatchPyTorch()
    {
        using var m = new PoolParityNet(seed: 5);
        Check(Of("pooling", m));
    }

    [Fact]
    public void BatchNorm2d_And1d_TrainingRunningStatisticsAndEvaluation_MatchPyTorch()
    {
        using var m = new BatchNormNet(seed: 5);
        Check(Of("batchnorm", m));
    }

    [Fact]
    public void ResNetBasicBlocks_MatchPyTorch()
    {
        using var m = new ResidualNet(seed: 5);
        Check(Of("resnet_blocks", m));
    }

    [Fact]
    public void DenseNetLayers_WithConcat_MatchPyTorch()
    {
        using var m = new DenseNet(seed: 5);
        Check(Of("densenet_blocks", m));
    }

    [Fact]
    public void Z2_MatchesPyTorch()
    {
        // The trajectory is SGD with momentum (lr 0.1, 0.9), not Adam: Adam's 1/√v turns the float32 rounding of Z2's
        // near-zero gradients into whole steps — PyTorch float32 against PyTorch float64 differ by up to 1.1e−3 in a
        // parameter after 3 Adam steps on this case — where SGD moves each parameter by its gradient, so the common
        // tolerances hold.
        using var m = new Kiln.Samples.Cifar.CifarCnn(seed: 5);
        Check(Of("z2", m) with { Optimizer = parameters => new Sgd(parameters, lr: 0.1f, momentum: 0.9f) });
    }

    // ---- recurrent networks (RnnParityModels.cs, samples/CharRnn) ----

    [Fact]
    public void Embedding_WithPaddingRow_AndTanhRnn_OverEveryStep_MatchPyTorch()
    {
        using var m = new EmbeddingRnnParityNet(seed: 5);
        Check(Of("embedding_rnn", m));
    }

    [Fact]
    public void Rnn_Relu_TwoLayers_WithoutBias_LastStep_MatchesPyTorch()
    {
        using var m = new RnnReluParityNet(seed: 5);
        Check(Of("rnn_relu_2layers_last", m));
    }

    [Fact]
    public void Lstm_TwoLayers_EveryStep_MatchesPyTorch()
    {
        using var m = new Lstm2ParityNet(seed: 5);
        Check(Of("lstm_2layers", m));
    }

    [Fact]
    public void Lstm_LastStep_MatchesPyTorch()
    {
        using var m = new LstmLastParityNet(seed: 5);
        Check(Of("lstm_last", m));
    }

    [Fact]
    public void Gru_TwoLayers_LastStep_MatchesPyTorch()
    {
        using var m = new Gru2ParityNet(seed: 5);
        Check(Of("gru_2layers_last", m));
    }

    [Fact]
    public void Gru_WithoutBias_EveryStep_MatchesPyTorch()
    {
        using var m = new GruSequenceParityNet(seed: 5);
        Check(Of("gru_sequence", m));
    }

    [Fact]
    public void Z3_MatchesPyTorch()
    {
        using var m = new Kiln.Samples.CharRnn.CharLstm(seed: 5);
        Check(Of("z3", m) with { Optimizer = parameters => new Sgd(parameters, lr: 0.1f, momentum: 0.9f) }); // as Z2: see Parity/export.py
    }

    [Fact]
    public void Z4_MatchesPyTorch()
    {
        using var m = new Kiln.Samples.CharRnn.CharGru(seed: 5);
        Check(Of("z4", m) with { Optimizer = parameters => new Sgd(parameters, lr: 0.1f, momentum: 0.9f) }); // as Z2: see Parity/export.py
    }

    // ---- Transformers (TransformerParityModels.cs, samples/Gpt) ----

    [Fact]
    public void LayerNorm_WithEpsilonAndWithoutAffine_AndRmsNorm_MatchPyTorch()
    {
        using var m = new NormsParityNet(seed: 5);
        Check(Of("norms", m));
    }

    [Fact]
    public void SelfAttention_WithBiases_MatchesNnMultiheadAttention()
    {
        // SGD with momentum (see Parity/export.py): the key bias's gradient is zero up to rounding, which Adam would amplify.
        using var m = new AttentionParityNet(seed: 5);
        Check(Of("attention", m) with { Optimizer = parameters => new Sgd(parameters, lr: 0.1f, momentum: 0.9f) });
    }

    [Fact]
    public void SinusoidalPositions_AndCausalSelfAttention_WithoutBiases_MatchNnMultiheadAttention()
    {
        using var m = new CausalAttentionParityNet(seed: 5);
        Check(Of("attention_causal", m));
    }

    [Fact]
    public void CrossAttention_OverAMemoryOfAnotherWidth_MatchesPyTorchsMultiHeadAttention()
    {
        // Two inputs: the reference stores each row as the queries' 18 values, then the memory's 20.
        using var m = new CrossAttentionParityNet(seed: 5);
        (float[] Memory, float[] Queries) Split(float[] x)
        {
            int rows = x.Length / 38;
            var memory = new float[rows * 20];
            var queries = new float[rows * 18];
            for (int r = 0; r < rows; r++)
            {
                x.AsSpan(r * 38, 18).CopyTo(queries.AsSpan(r * 18));
                x.AsSpan(r * 38 + 18, 20).CopyTo(memory.AsSpan(r * 20));
            }
            return (memory, queries);
        }
        Check(new Case("cross_attention", m.Parameters, m.Gradients, m.Load,
            (x, t) => { var (a, b) = Split(x); return m.ComputeGradients(a, b, t); },
            (x, t, o) => { var (a, b) = Split(x); return m.TrainStep(a, b, t, o); },
            (x, t) => { var (a, b) = Split(x); return m.Evaluate(a, b, t); })
        {
            Buffers = m.Buffers, SetTraining = training => m.Training = training,
            Optimizer = parameters => new Sgd(parameters, lr: 0.1f, momentum: 0.9f), // as "attention"
        });
    }

    [Fact]
    public void KeyPaddingMasks_AndIgnoredLabels_MatchPyTorchsKeyPaddingMaskAndIgnoreIndex()
    {
        // Two token inputs: the reference stores each row as the source's 5 tokens, then the target's 4; the labels of
        // padded target steps are −100.
        using var m = new PaddedSeq2Seq(seed: 5);
        (int[] Source, int[] Target) Split(float[] x)
        {
            int rows = x.Length / 9;
            var source = new int[rows * 5];
            var target = new int[rows * 4];
            for (int r = 0; r < rows; r++)
            {
                for (int i = 0; i < 5; i++) source[r * 5 + i] = checked((int)x[r * 9 + i]);
                for (int i = 0; i < 4; i++) target[r * 4 + i] = checked((int)x[r * 9 + 5 + i]);
            }
            return (source, target);
        }
        Check(new Case("padding", m.Parameters, m.Gradients, m.Load,
            (x, t) => { var (a, b) = Split(x); return m.ComputeGradients(a, b, Labels(t)); },
            (x, t, o) => { var (a, b) = Split(x); return m.TrainStep(a, b, Labels(t), o); },
            (x, t) => { var (a, b) = Split(x); return m.Evaluate(a, b, Labels(t)); })
        {
            Buffers = m.Buffers, SetTraining = training => m.Training = training,
            Optimizer = parameters => new Sgd(parameters, lr: 0.1f, momentum: 0.9f), // as "attention"
        });
    }

    [Fact]
    public void Z5_MatchesPyTorch()
    {
        using var m = new Kiln.Samples.Gpt.GptMini(seed: 5);
        Check(Of("z5", m) with { Optimizer = parameters => new Sgd(parameters, lr: 0.1f, momentum: 0.9f) }); // as "attention"
    }

    /// <summary>Truncated BPTT: chunk 1 from a zero state, chunk 2 from chunk 1's final state (carried, detached): the
    /// state after each chunk, chunk 2's loss and every gradient of chunk 2, against PyTorch doing the same.</summary>
    [Theory]
    [InlineData("z3")]
    [InlineData("z4")]
    public void TruncatedBptt_ASecondChunkFromTheCarriedState_MatchesPyTorch(string name)
    {
        using var lstm = new Kiln.Samples.CharRnn.CharLstm(seed: 5) { CarryState = true };
        using var gru = new Kiln.Samples.CharRnn.CharGru(seed: 5) { CarryState = true };
        ITrainable<int, int> m = name == "z3" ? lstm : gru;
        RecurrentState state = name == "z3" ? lstm.States[0] : gru.States[0];
        m.Load(PathOf($"{name}_tbptt.weights.safetensors"));
        var expected = SafeTensors.ReadAll(PathOf($"{name}_tbptt.expected.safetensors"));
        int[] Ints(string key) => Labels(expected[key].Values);

        AssertRelative(expected["loss1"].Values[0], m.ComputeGradients(Ints("input1"), Ints("target1")), LossTolerance, $"{name}: chunk 1 loss");
        AssertState(expected["hidden1"].Values, state.HiddenOf(0, 4), "hidden state after chunk 1");
        if (state.HasCell) AssertState(expected["cell1"].Values, state.CellOf(0, 4), "cell state after chunk 1");

        AssertRelative(expected["loss2"].Values[0], m.ComputeGradients(Ints("input2"), Ints("target2")), LossTolerance, $"{name}: chunk 2 loss, from the carried state");
        AssertState(expected["hidden2"].Values, state.HiddenOf(0, 4), "hidden state after chunk 2");
        if (state.HasCell) AssertState(expected["cell2"].Values, state.CellOf(0, 4), "cell state after chunk 2");
        foreach (TensorSlice slice in m.Gradients.Tensors)
        {
            float[] reference = expected[$"grad.{slice.Name}"].Values;
            ReadOnlySpan<float> actual = m.Gradients[slice];
            double scale = 0, error = 0;
            for (int i = 0; i < reference.Length; i++)
            {
                scale = Math.Max(scale, Math.Abs(reference[i]));
                error = Math.Max(error, Math.Abs(actual[i] - reference[i]));
            }
            Assert.True(error <= GradientTolerance * scale + 1e-9, $"{name}: chunk 2 gradient of {slice.Name}: max error {error:E2} against {scale:E2}");
        }

        void AssertState(float[] reference, ReadOnlySpan<float> actual, string what)
        {
            Assert.Equal(reference.Length, actual.Length);
            for (int i = 0; i < reference.Length; i++)
                Assert.True(Math.Abs(actual[i] - reference[i]) <= 2e-6, $"{name}: {what}[{i}] is {actual[i]:R}, PyTorch {reference[i]:R}");
        }
    }

    /// <summary>
    /// The other direction: Kiln writes the PyTorch weights back out, byte for byte the committed
    /// <c>z1.kiln-written.safetensors</c>, which <c>Parity/export.py</c> reads into PyTorch tensors and compares with
    /// the state_dict it saved (and checks the layout the reference reader demands). On a mismatch the new bytes are
    /// written beside the fixture as <c>.received.safetensors</c>.
    /// </summary>
    [Fact]
    public void KilnWritesPyTorchsWeights_AsTheCommittedFileThatPyTorchReadsBack()
    {
        using var m = new MnistMlp(seed: 5);
        m.Load(PathOf("z1.weights.safetensors"));
        string written = Path.Combine(Path.GetTempPath(), $"kiln-z1-{Guid.NewGuid():N}.safetensors");
        try
        {
            m.Save(written);
            byte[] bytes = File.ReadAllBytes(written);
            byte[] fixture = File.Exists(PathOf("z1.kiln-written.safetensors")) ? File.ReadAllBytes(PathOf("z1.kiln-written.safetensors")) : Array.Empty<byte>();
            if (!bytes.AsSpan().SequenceEqual(fixture))
            {
                File.WriteAllBytes(PathOf("z1.kiln-written.received.safetensors"), bytes);
                Assert.Fail("Kiln no longer writes the committed z1.kiln-written.safetensors; the new file is beside it as .received.safetensors.");
            }
            var torch = SafeTensors.ReadAll(PathOf("z1.weights.safetensors"));
            var kiln = SafeTensors.ReadAll(fixture);
            Assert.Equal(torch.Keys, kiln.Keys);
            foreach (var (name, (shape, values)) in torch)
            {
                Assert.Equal(shape, kiln[name].Shape);
                Assert.Equal(values, kiln[name].Values);
            }
        }
        finally
        {
            File.Delete(written);
        }
    }

    private static string PathOf(string file) => Path.Combine(AppContext.BaseDirectory, "Parity", file);

    private static void Check(Case c)
    {
        c.Load(PathOf($"{c.Name}.weights.safetensors"));
        IReadOnlyDictionary<string, (long[] Shape, float[] Values)> expected = SafeTensors.ReadAll(PathOf($"{c.Name}.expected.safetensors"));
        float[] x = expected["input"].Values, target = expected["target"].Values;

        float loss = c.ComputeGradients(x, target);
        AssertRelative(expected["loss"].Values[0], loss, LossTolerance, $"{c.Name}: loss");
        foreach (TensorSlice slice in c.Gradients.Tensors)
        {
            // Large tensors (Z2's) keep every 97th gradient value.
            int stride = expected.ContainsKey($"grad_every97.{slice.Name}") ? 97 : 1;
            Assert.True(expected.TryGetValue(stride == 1 ? $"grad.{slice.Name}" : $"grad_every97.{slice.Name}", out var grad), $"{c.Name}: no PyTorch gradient for {slice.Name}");
            Assert.Equal((slice.Length + stride - 1) / stride, grad.Values.Length);
            ReadOnlySpan<float> actual = c.Gradients[slice];
            double scale = 0, error = 0;
            for (int i = 0; i < grad.Values.Length; i++)
            {
                scale = Math.Max(scale, Math.Abs(grad.Values[i]));
                error = Math.Max(error, Math.Abs(actual[i * stride] - grad.Values[i]));
            }
            Assert.True(error <= GradientTolerance * scale + 1e-9,
                $"{c.Name}: gradient of {slice.Name}: max error {error:E2} against a largest magnitude of {scale:E2} (relative {error / scale:E2}, allowed {GradientTolerance:E0})");
        }

        CheckBuffers(c, expected, "buffer", "after the gradient pass");

        float[] trajectory = expected["trajectory"].Values;
        using Optimizer optimizer = c.Optimizer(c.Parameters);
        for (int step = 0; step < 3; step++)
            AssertRelative(trajectory[step], c.TrainStep(x, target, optimizer), LossTolerance, $"{c.Name}: loss of optimizer step {step + 1}");
        AssertRelative(trajectory[3], c.Evaluate(x, target), LossTolerance, $"{c.Name}: loss after 3 optimizer steps");
        CheckBuffers(c, expected, "after_buffer", "after 3 Adam steps");
        if (expected.TryGetValue("eval_loss", out var evalLoss) && c.SetTraining is { } setTraining)
        {
            setTraining(false);
            AssertRelative(evalLoss.Values[0], c.Evaluate(x, target), LossTolerance, $"{c.Name}: loss in evaluation mode");
            setTraining(true);
        }

        foreach (TensorSlice slice in c.Parameters.Tensors)
        {
            ReadOnlySpan<float> actual = c.Parameters[slice];
            bool whole = expected.TryGetValue($"after.{slice.Name}", out var after);
            float[] reference = whole ? after.Values : expected[$"after_head.{slice.Name}"].Values;
            for (int i = 0; i < reference.Length; i++)
                Assert.True(Math.Abs(actual[i] - reference[i]) <= ParameterTolerance,
                    $"{c.Name}: {slice.Name}[{i}] after 3 optimizer steps is {actual[i]:R}, PyTorch {reference[i]:R}");
            if (!whole)
            {
                double norm = 0;
                foreach (float v in actual) norm += (double)v * v;
                AssertRelative(expected[$"after_norm.{slice.Name}"].Values[0], Math.Sqrt(norm), LossTolerance, $"{c.Name}: L2 norm of {slice.Name} after 3 optimizer steps");
            }
        }
    }

    /// <summary>Every buffer (running mean and variance, num_batches_tracked) against PyTorch's at the same point;
    /// a model without buffers must have a reference without them.</summary>
    private static void CheckBuffers(Case c, IReadOnlyDictionary<string, (long[] Shape, float[] Values)> expected, string prefix, string when)
    {
        int references = 0;
        foreach (string key in expected.Keys) if (key.StartsWith(prefix + ".", StringComparison.Ordinal)) references++;
        Assert.Equal(references, c.Buffers?.Tensors.Count ?? 0);
        if (c.Buffers is null) return;
        foreach (TensorSlice slice in c.Buffers.Tensors)
        {
            Assert.True(expected.TryGetValue($"{prefix}.{slice.Name}", out var reference), $"{c.Name}: no PyTorch value for buffer {slice.Name}");
            ReadOnlySpan<float> actual = c.Buffers[slice];
            Assert.Equal(reference.Values.Length, actual.Length);
            for (int i = 0; i < actual.Length; i++)
                Assert.True(Math.Abs(actual[i] - reference.Values[i]) <= 2e-6 * Math.Max(1, Math.Abs(reference.Values[i])),
                    $"{c.Name}: {slice.Name}[{i}] {when} is {actual[i]:R}, PyTorch {reference.Values[i]:R}");
        }
    }

    private static void AssertRelative(double expected, double actual, double tolerance, string what) =>
        Assert.True(Math.Abs(actual - expected) <= tolerance * Math.Abs(expected) + 1e-7,
            $"{what}: {actual:R}, PyTorch {expected:R} (relative error {Math.Abs(actual - expected) / Math.Abs(expected):E2}, allowed {tolerance:E0})");
}
