using System;
using System.Linq;
using Kiln.Testing;
using Xunit;
using static Kiln.Models.Tests.GradientTests;
using static Kiln.Models.Tests.RefOps;
using Cell = Kiln.Testing.ReferenceRecurrent.Cell;
using P = System.Collections.Generic.IReadOnlyDictionary<string, double[]>;

namespace Kiln.Models.Tests;

/// <summary>
/// The generated backward of the sequence ops — Embedding (with a padding row), stacked LSTM, GRU many-to-one, RNN
/// (tanh and ReLU, without biases), a time-distributed Dense between recurrent layers, per-step cross-entropy — against
/// central finite differences of a double-precision reference forward, as <see cref="GradientTests"/> does; and
/// truncated backpropagation through time: a second chunk started from the first one's final state.
/// </summary>
public class RnnGradientTests
{
    internal static double[] Recurrent(Cell cell, double[] x, P p, string prefix, int layer, int n, int T, int F, int H, bool sequences = true, bool bias = true,
        double[]? h0 = null, double[]? c0 = null) =>
        Recurrent(cell, x, p, prefix, layer, n, T, F, H, sequences, bias, h0, c0, out _, out _);

    internal static double[] Recurrent(Cell cell, double[] x, P p, string prefix, int layer, int n, int T, int F, int H, bool sequences, bool bias,
        double[]? h0, double[]? c0, out double[] hT, out double[] cT)
    {
        string l = "_l" + layer;
        return ReferenceRecurrent.Forward(cell, x, n, T, F, H, p[prefix + ".weight_ih" + l], p[prefix + ".weight_hh" + l],
            bias ? p[prefix + ".bias_ih" + l] : null, bias ? p[prefix + ".bias_hh" + l] : null, sequences, h0, c0, out hT, out cT);
    }

    internal static int[] Tokens(int count, int vocabulary, int seed)
    {
        var random = new KilnRandom(seed);
        return Enumerable.Range(0, count).Select(_ => random.Next(vocabulary)).ToArray();
    }

    private static double TokenLstm(int[] tokens, int[] labels, P p, int n, double[]? h0 = null, double[]? c0 = null)
    {
        // The padding row is a constant (PyTorch: it gets no gradient): zero, as initialised.
        double[] table = p["Embed.weight"].ToArray();
        Array.Clear(table, 0, 3);
        double[] h = ReferenceRecurrent.Embedding(tokens, table, 3);
        h = Recurrent(Cell.Lstm, h, p, "Lstm", 0, n, 5, 3, 4, h0: h0?[..(n * 4)], c0: c0?[..(n * 4)]);
        h = Recurrent(Cell.Lstm, h, p, "Lstm", 1, n, 5, 4, 4, h0: h0?[(n * 4)..], c0: c0?[(n * 4)..]);
        return CrossEntropy(Dense(h, p, "Logits", 4, 7), labels, 7);
    }

    [Fact]
    public void Embedding_StackedLstm_TimeDistributedDense_SequenceCrossEntropy()
    {
        using var model = new TokenLstmNet(seed: 1);
        const int n = 3;
        int[] tokens = Tokens(n * 5, 7, 2), labels = Tokens(n * 5, 7, 3);
        tokens[4] = 0; // the padding token: its row is zero and gets no gradient
        float loss = model.ComputeGradients(tokens, labels);
        Assert.All(model.Parameters["Embed.weight"][..3].ToArray(), v => Assert.Equal(0f, v));
        Assert.All(model.Gradients["Embed.weight"][..3].ToArray(), v => Assert.Equal(0f, v));
        Check(model.Parameters, model.Gradients, loss, p => TokenLstm(tokens, labels, p, n));
    }

    [Fact]
    public void Gru_LastStepOnly()
    {
        using var model = new GruLastNet(seed: 4);
        const int n = 4;
        float[] x = Inputs(n * 12, 5), t = Inputs(n * 2, 6, 1f);
        float loss = model.ComputeGradients(x, t);
        Check(model.Parameters, model.Gradients, loss, p =>
            Mse(Dense(Recurrent(Cell.Gru, ToDouble(x), p, "Gru", 0, n, 4, 3, 5, sequences: false), p, "Out", 5, 2), t));
    }

    [Fact]
    public void Rnn_Tanh_ThenDense_ThenRnnRelu_WithoutBiases()
    {
        using var model = new RnnStackNet(seed: 7);
        const int n = 2;
        float[] x = Inputs(n * 6, 8), t = Inputs(n * 2, 9, 1f);
        float loss = model.ComputeGradients(x, t);
        Check(model.Parameters, model.Gradients, loss, p =>
        {
            double[] h = Recurrent(Cell.RnnTanh, ToDouble(x), p, "First", 0, n, 3, 2, 4);
            h = Map(Dense(h, p, "PerStep", 4, 3), Math.Tanh);
            h = Recurrent(Cell.RnnRelu, h, p, "Second", 0, n, 3, 3, 3, sequences: false, bias: false);
            return Mse(Dense(h, p, "Out", 3, 2), t);
        });
    }

    [Fact]
    public void TruncatedBptt_TheSecondChunkStartsFromTheFirstsState_AndItsGradientStopsThere()
    {
        using var model = new TokenLstmNet(seed: 11) { CarryState = true };
        const int n = 4;
        int[] first = Tokens(n * 5, 6, 12).Select(v => v + 1).ToArray(), second = Tokens(n * 5, 6, 13).Select(v => v + 1).ToArray();
        int[] labels1 = Tokens(n * 5, 7, 14), labels2 = Tokens(n * 5, 7, 15);
        model.ComputeGradients(first, labels1);

        // The first chunk's final state, from the reference, is what the second chunk starts from.
        var p0 = model.Parameters.Tensors.ToDictionary(t => t.Name, t => ToDouble(model.Parameters[t]));
        double[] e = ReferenceRecurrent.Embedding(first, p0["Embed.weight"], 3);
        double[] y0 = Recurrent(Cell.Lstm, e, p0, "Lstm", 0, n, 5, 3, 4, true, true, null, null, out double[] h0, out double[] c0);
        Recurrent(Cell.Lstm, y0, p0, "Lstm", 1, n, 5, 4, 4, true, true, null, null, out double[] h1, out double[] c1);
        var state = model.States[nameof(TokenLstmNet.Lstm)];
        for (int i = 0; i < n * 4; i++)
        {
            Assert.Equal(h0[i], state.Hidden[i], 5);
            Assert.Equal(h1[i], state.Hidden[4 * 4 + i], 5);   // layer 1 starts after Batch (4) rows of layer 0
            Assert.Equal(c1[i], state.Cell[4 * 4 + i], 5);
        }

        float loss = model.ComputeGradients(second, labels2);
        double[] hs = h0.Concat(h1).ToArray(), cs = c0.Concat(c1).ToArray();
        Check(model.Parameters, model.Gradients, loss, p => TokenLstm(second, labels2, p, n, hs, cs));

        // Reset: the next pass starts from zeros again, as without CarryState.
        model.States.Reset();
        float fromZero = model.Evaluate(second, labels2);
        model.CarryState = false;
        Assert.Equal(model.Evaluate(second, labels2), fromZero);
    }
}
