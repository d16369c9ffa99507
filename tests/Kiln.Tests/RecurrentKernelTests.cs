using System;
using System.Collections.Generic;
using System.Linq;
using Kiln.Kernels;
using Kiln.Testing;
using Xunit;
using Cell = Kiln.Testing.ReferenceRecurrent.Cell;

namespace Kiln.Tests;

/// <summary>
/// The recurrent layers' kernels on every ISA against the double-precision reference: the forward (every step or the
/// last, from a zero or a given state, with and without biases, hidden sizes that are and are not whole vectors) and
/// the backward — every weight, bias and input gradient against central finite differences of the reference, through
/// the loss Σ y ⊙ w for a fixed random w. Also the embedding's lookup and scatter-add.
/// </summary>
public class RecurrentKernelTests
{
    /// <summary>(rows, T, F, H): H = 5 is all tail, 16 two AVX2 vectors, 19 a vector and a tail; 2·T·rows rows in the input GEMM.</summary>
    private static readonly (int Rows, int T, int F, int H)[] Sizes = { (2, 3, 4, 5), (3, 4, 6, 16), (1, 5, 3, 19) };

    public static IEnumerable<object[]> Cases() =>
        from isa in KernelInfo.Supported
        from cell in new[] { RecurrentCell.RnnTanh, RecurrentCell.RnnRelu, RecurrentCell.Lstm, RecurrentCell.Gru }
        from size in Enumerable.Range(0, Sizes.Length)
        from sequences in new[] { true, false }
        select new object[] { isa, cell, size, sequences };

    private static Cell Ref(RecurrentCell cell) => (Cell)(int)cell;

    private sealed class Setup
    {
        public required RecurrentLayer Layer;
        public required int Rows, T, F, H, GH;
        public required float[] X, WIh, WHh, BIh, BHh, H0, C0;
        public bool Bias = true, Initial = true;

        public double[] Reference(double[] x, double[] wIh, double[] wHh, double[]? bIh, double[]? bHh, out double[] hT, out double[] cT) =>
            ReferenceRecurrent.Forward(Ref(Layer.Cell), x, Rows, T, F, H, wIh, wHh, Bias ? bIh : null, Bias ? bHh : null, Layer.ReturnSequences,
                Initial ? D(H0) : null, Initial && Layer.Cell == RecurrentCell.Lstm ? D(C0) : null, out hT, out cT);
    }

    private static double[] D(float[] v) => v.Select(x => (double)x).ToArray();

    private static Setup Create(KernelIsa isa, RecurrentCell cell, int size, bool sequences)
    {
        var (rows, t, f, h) = Sizes[size];
        int gh = RecurrentLayer.GateCount(cell) * h;
        float scale = 1f / MathF.Sqrt(h);
        return new Setup
        {
            Layer = new RecurrentLayer(cell, t, f, h, sequences) { Isa = isa },
            Rows = rows, T = t, F = f, H = h, GH = gh,
            X = Reference.Random(rows * t * f, 1), WIh = Scale(Reference.Random(gh * f, 2), scale), WHh = Scale(Reference.Random(gh * h, 3), scale),
            BIh = Scale(Reference.Random(gh, 4), scale), BHh = Scale(Reference.Random(gh, 5), scale),
            H0 = Scale(Reference.Random(rows * h, 6), 0.5f), C0 = Scale(Reference.Random(rows * h, 7), 0.5f),
        };
    }

    private static float[] Scale(float[] v, float s) => v.Select(x => x * s).ToArray();

    [Theory]
    [MemberData(nameof(Cases))]
    public void Forward_MatchesTheReference_FromZeroAndFromAGivenState(KernelIsa isa, RecurrentCell cell, int size, bool sequences)
    {
        foreach (bool initial in new[] { false, true })
        foreach (bool bias in new[] { true, false })
        {
            Setup s = Create(isa, cell, size, sequences);
            s.Initial = initial;
            s.Bias = bias;
            int outWidth = sequences ? s.T * s.H : s.H;
            var y = new float[s.Rows * outWidth];
            var saved = new float[s.Layer.SavedFloats(s.Rows)];
            var hT = new float[s.Rows * s.H];
            var cT = new float[cell == RecurrentCell.Lstm ? s.Rows * s.H : 0];
            s.Layer.Forward(s.X, s.WIh, s.WHh, bias ? s.BIh : default, bias ? s.BHh : default, y, saved,
                initial ? s.H0 : default, initial && cell == RecurrentCell.Lstm ? s.C0 : default, hT, cT, s.Rows);
            double[] expected = s.Reference(D(s.X), D(s.WIh), D(s.WHh), D(s.BIh), D(s.BHh), out double[] refH, out double[] refC);
            Reference.AssertClose(expected, y, "y");
            Reference.AssertClose(refH, hT, "final hidden");
            if (cell == RecurrentCell.Lstm) Reference.AssertClose(refC, cT, "final cell");
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Backward_MatchesFiniteDifferences_OfEveryWeightBiasAndInput(KernelIsa isa, RecurrentCell cell, int size, bool sequences)
    {
        Setup s = Create(isa, cell, size, sequences);
        int outWidth = sequences ? s.T * s.H : s.H;
        float[] w = Reference.Random(s.Rows * outWidth, 11);
        var y = new float[s.Rows * outWidth];
        var saved = new float[s.Layer.SavedFloats(s.Rows)];
        s.Layer.Forward(s.X, s.WIh, s.WHh, s.BIh, s.BHh, y, saved, s.H0, cell == RecurrentCell.Lstm ? s.C0 : default, default, default, s.Rows);

        var dx = new float[s.X.Length];
        Array.Fill(dx, 0.25f); // accumulated onto
        var dWIh = new float[s.WIh.Length];
        var dWHh = new float[s.WHh.Length];
        var dBIh = new float[s.GH];
        var dBHh = new float[s.GH];
        var scratch = new float[s.Layer.ScratchFloats(s.Rows)];
        s.Layer.Backward(w, s.WIh, s.WHh, saved, scratch, dx, dWIh, dWHh, dBIh, dBHh, s.Rows, accumulateInput: true);

        double[] x = D(s.X), wIh = D(s.WIh), wHh = D(s.WHh), bIh = D(s.BIh), bHh = D(s.BHh);
        double Loss()
        {
            double[] yy = s.Reference(x, wIh, wHh, bIh, bHh, out _, out _);
            double total = 0;
            for (int i = 0; i < yy.Length; i++) total += yy[i] * w[i];
            return total;
        }
        Reference.CheckGradient(x, dx.Select(v => v - 0.25f).ToArray(), Loss, "dx");
        Reference.CheckGradient(wIh, dWIh, Loss, "dweight_ih");
        Reference.CheckGradient(wHh, dWHh, Loss, "dweight_hh");
        Reference.CheckGradient(bIh, dBIh, Loss, "dbias_ih");
        Reference.CheckGradient(bHh, dBHh, Loss, "dbias_hh");
    }

    [Fact]
    public void Backward_WithoutBiases_OrInputGradient_LeavesThemAlone()
    {
        Setup s = Create(KernelInfo.Best, RecurrentCell.Gru, 1, sequences: true);
        var y = new float[s.Rows * s.T * s.H];
        var saved = new float[s.Layer.SavedFloats(s.Rows)];
        s.Layer.Forward(s.X, s.WIh, s.WHh, default, default, y, saved, default, default, default, default, s.Rows);
        var dWIh = new float[s.WIh.Length];
        var dWHh = new float[s.WHh.Length];
        s.Layer.Backward(Reference.Random(y.Length, 3), s.WIh, s.WHh, saved, new float[s.Layer.ScratchFloats(s.Rows)], default, dWIh, dWHh, default, default, s.Rows, accumulateInput: false);
        Assert.Contains(dWIh, v => v != 0);
        Assert.Contains(dWHh, v => v != 0);
    }

    [Fact]
    public void WrongLengths_AreRejected_NamingTheSpan()
    {
        Setup s = Create(KernelInfo.Best, RecurrentCell.Lstm, 0, sequences: true);
        var y = new float[s.Rows * s.T * s.H];
        var saved = new float[s.Layer.SavedFloats(s.Rows)];
        var e = Assert.Throws<ArgumentException>(() => s.Layer.Forward(s.X, s.WIh, s.WHh, default, default, y, saved.AsSpan(1), default, default, default, default, s.Rows));
        Assert.Equal("saved", e.ParamName);
        e = Assert.Throws<ArgumentException>(() => s.Layer.Forward(s.X, s.WIh, s.WHh, default, default, y, saved, new float[3], default, default, default, s.Rows));
        Assert.Equal("initialHidden", e.ParamName);
    }

    [Fact]
    public void Embedding_LooksUpRows_AndScattersGradients_ButNotIntoThePaddingRow()
    {
        int[] tokens = { 2, 0, 2, 3 };
        float[] table = Reference.Random(4 * 3, 1);
        var y = new float[tokens.Length * 3];
        Embedding.Forward(tokens, table, y, 4, 3);
        Assert.Equal(ReferenceRecurrent.Embedding(tokens, D(table), 3).Select(v => (float)v), y);

        float[] dy = Reference.Random(y.Length, 2);
        var dw = new float[table.Length];
        Array.Fill(dw, 9f); // overwritten
        Embedding.Backward(tokens, dy, dw, 4, 3, paddingIndex: 0, accumulate: false);
        for (int c = 0; c < 3; c++)
        {
            Assert.Equal(0f, dw[0 * 3 + c]);                               // padding: no gradient
            Assert.Equal(0f, dw[1 * 3 + c]);                               // never read
            Assert.Equal(dy[0 * 3 + c] + dy[2 * 3 + c], dw[2 * 3 + c], 6); // read twice: summed
            Assert.Equal(dy[3 * 3 + c], dw[3 * 3 + c]);
        }
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Embedding.Forward(new[] { 1, 4 }, table, new float[6], 4, 3));
        Assert.Contains("Token 1 is 4", e.Message);
        Assert.Contains("[0, 4)", e.Message);
    }
}
