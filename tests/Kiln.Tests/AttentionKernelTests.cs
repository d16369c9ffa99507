using System;
using System.Collections.Generic;
using System.Linq;
using Kiln.Kernels;
using Kiln.Testing;
using Xunit;

namespace Kiln.Tests;

/// <summary>
/// The Transformer kernels against the double-precision reference: layer norm and RMS norm (forward; backward against
/// central finite differences of every input, weight and bias), the attention core on every ISA — self-attention read in
/// place from a fused [T, 3·D] Q/K/V buffer and cross-attention from separate buffers, causal and padding masks,
/// dropout on the weights, 1 and 2 threads — and the positional encodings. Gradients go through the loss Σ y ⊙ w for a
/// fixed random w.
/// </summary>
public class AttentionKernelTests
{
    private static double[] D(float[] v) => v.Select(x => (double)x).ToArray();

    // ---- layer norm and RMS norm ----

    public static IEnumerable<object[]> NormCases() =>
        from width in new[] { 5, 16, 37 }
        from affine in new[] { true, false }
        select new object[] { width, affine };

    /// <summary>Widths of whole vectors take the fused loops (24: AVX2's only; 128: Z5's), others the general one.</summary>
    public static IEnumerable<object[]> LayerNormCases() =>
        from isa in KernelInfo.Supported
        from width in new[] { 5, 16, 24, 37, 128 }
        from affine in new[] { true, false }
        select new object[] { isa, width, affine };

    [Theory]
    [MemberData(nameof(LayerNormCases))]
    public void LayerNorm_Forward_MatchesTheReference_AndTheBackward_FiniteDifferences(KernelIsa isa, int width, bool affine)
    {
        const int rows = 3;
        const float eps = 1e-5f;
        float[] x = Reference.Random(rows * width, 1, 2f).Select(v => v + 3f).ToArray(); // a mean far from 0
        float[] w = affine ? Reference.Random(width, 2) : Array.Empty<float>(), b = affine ? Reference.Random(width, 3) : Array.Empty<float>();
        var y = new float[x.Length];
        var saved = new float[rows * LayerNorm.SavedPerRow];
        LayerNorm.Forward(isa, x, w, b, y, saved, rows, width, eps);
        Reference.AssertClose(ReferenceAttention.LayerNorm(D(x), rows, width, affine ? D(w) : null, affine ? D(b) : null, eps), y, "y");

        float[] weights = Reference.Random(y.Length, 4);
        var dx = Enumerable.Repeat(0.25f, x.Length).ToArray();
        var dw = new float[affine ? width : 0];
        var db = new float[affine ? width : 0];
        LayerNorm.Backward(isa, x, weights, w, saved, dx, dw, db, rows, width, accumulate: true);
        double[] xd = D(x), wd = D(w), bd = D(b);
        double Loss() => Dot(ReferenceAttention.LayerNorm(xd, rows, width, affine ? wd : null, affine ? bd : null, eps), weights);
        Reference.CheckGradient(xd, dx.Select(v => v - 0.25f).ToArray(), Loss, "dx");
        if (affine)
        {
            Reference.CheckGradient(wd, dw, Loss, "dweight");
            Reference.CheckGradient(bd, db, Loss, "dbias");
        }
    }

    [Theory]
    [MemberData(nameof(NormCases))]
    public void RmsNorm_Forward_MatchesTheReference_AndTheBackward_FiniteDifferences(int width, bool affine)
    {
        const int rows = 3;
        const float eps = 1e-6f;
        float[] x = Reference.Random(rows * width, 5, 2f);
        float[] w = affine ? Reference.Random(width, 6) : Array.Empty<float>();
        var y = new float[x.Length];
        var saved = new float[rows * RmsNorm.SavedPerRow];
        RmsNorm.Forward(x, w, y, saved, rows, width, eps);
        Reference.AssertClose(ReferenceAttention.RmsNorm(D(x), rows, width, affine ? D(w) : null, eps), y, "y");

        float[] weights = Reference.Random(y.Length, 7);
        var dx = new float[x.Length];
        var dw = new float[affine ? width : 0];
        RmsNorm.Backward(x, weights, w, saved, dx, dw, rows, width, accumulate: false);
        double[] xd = D(x), wd = D(w);
        double Loss() => Dot(ReferenceAttention.RmsNorm(xd, rows, width, affine ? wd : null, eps), weights);
        Reference.CheckGradient(xd, dx, Loss, "dx");
        if (affine) Reference.CheckGradient(wd, dw, Loss, "dweight");
    }

    [Fact]
    public void LayerNorm_WrongLengths_AreRejected_NamingTheSpan()
    {
        var e = Assert.Throws<ArgumentException>(() => LayerNorm.Forward(new float[8], new float[3], default, new float[8], new float[4], 2, 4, 1e-5f));
        Assert.Equal("weight", e.ParamName);
        e = Assert.Throws<ArgumentException>(() => LayerNorm.Forward(new float[8], default, default, new float[8], new float[3], 2, 4, 1e-5f));
        Assert.Equal("saved", e.ParamName);
    }

    // ---- attention ----

    /// <summary>(rows, heads, d_k, T_q, T_k): d_k 3 is all tail, 8 one AVX2 vector, 16 one AVX-512 vector; T 1 is a single query.
    /// The fused path (d_k a whole number of vectors) meets partial tiles of rows (35 = 5·6 + 4 + 1), key panels past the
    /// first (35 keys: three AVX2 panels, two AVX-512 ones) and a last column panel of one vector (24 = 3 AVX2 vectors).</summary>
    private static readonly (int Rows, int Heads, int HeadSize, int Tq, int Tk)[] Sizes =
        { (2, 2, 3, 4, 4), (1, 3, 8, 7, 7), (2, 1, 16, 1, 1), (3, 2, 5, 6, 6), (2, 1, 16, 35, 35), (1, 2, 24, 13, 13) };

    public static IEnumerable<object[]> SelfCases() =>
        from isa in KernelInfo.Supported
        from size in Enumerable.Range(0, Sizes.Length)
        from causal in new[] { false, true }
        from padded in new[] { false, true }
        select new object[] { isa, size, causal, padded };

    /// <summary>Per-sample key lengths that cover 0 (a sample seeing nothing), a partial length and the full length.</summary>
    private static int[] Lengths(int rows, int tk) => Enumerable.Range(0, rows).Select(b => b switch { 0 => tk, 1 => Math.Max(0, tk / 2), _ => 0 }).ToArray();

    [Theory]
    [MemberData(nameof(SelfCases))]
    public void SelfAttention_FromAFusedQkvBuffer_MatchesTheReference_AndFiniteDifferences(KernelIsa isa, int size, bool causal, bool padded)
    {
        var (rows, heads, dk, t, _) = Sizes[size];
        int width = heads * dk, stride = 3 * width;
        var layer = new MultiHeadAttention(heads, dk, t, t, causal) { Isa = isa };
        float[] qkv = Reference.Random(rows * t * stride, 1, 1.5f);
        int[]? lengths = padded ? Lengths(rows, t) : null;
        var output = new float[rows * t * width];
        var saved = new float[layer.SavedFloats(rows)];
        ReadOnlySpan<float> all = qkv;
        layer.Forward(all, stride, all.Slice(width), all.Slice(2 * width), stride, output, saved, rows, lengths);
        double[] Ref(double[] source) =>
            ReferenceAttention.Attention(source, 0, stride, source, width, 2 * width, stride, rows, heads, dk, t, t, causal, lengths, null);
        Reference.AssertClose(Ref(D(qkv)), output, "output");

        float[] weights = Reference.Random(output.Length, 2);
        var dqkv = Enumerable.Repeat(0.25f, qkv.Length).ToArray(); // added to
        Span<float> d = dqkv;
        layer.Backward(weights, all, stride, all.Slice(width), all.Slice(2 * width), stride, saved, d, d.Slice(width), d.Slice(2 * width), rows,
            accumulate: true, lengths);
        double[] theta = D(qkv);
        Reference.CheckGradient(theta, dqkv.Select(v => v - 0.25f).ToArray(), () => Dot(Ref(theta), weights), "dqkv");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void CrossAttention_FromSeparateBuffers_OfAnotherLength_MatchesTheReference_AndFiniteDifferences(bool padded)
    {
        foreach (KernelIsa isa in KernelInfo.Supported)
        {
            const int rows = 2, heads = 2, dk = 4, tq = 3, tk = 5;
            int width = heads * dk;
            var layer = new MultiHeadAttention(heads, dk, tq, tk, causal: false) { Isa = isa };
            float[] q = Reference.Random(rows * tq * width, 3), kv = Reference.Random(rows * tk * 2 * width, 4);
            int[]? lengths = padded ? new[] { 2, 5 } : null;
            var output = new float[rows * tq * width];
            var saved = new float[layer.SavedFloats(rows)];
            ReadOnlySpan<float> kvs = kv;
            layer.Forward(q, width, kvs, kvs.Slice(width), 2 * width, output, saved, rows, lengths);
            double[] Ref(double[] qd, double[] kvd) =>
                ReferenceAttention.Attention(qd, 0, width, kvd, 0, width, 2 * width, rows, heads, dk, tq, tk, false, lengths, null);
            Reference.AssertClose(Ref(D(q), D(kv)), output, "output");

            float[] weights = Reference.Random(output.Length, 5);
            var dq = new float[q.Length];
            var dkv = new float[kv.Length];
            Span<float> dkvs = dkv;
            layer.Backward(weights, q, width, kvs, kvs.Slice(width), 2 * width, saved, dq, dkvs, dkvs.Slice(width), rows, accumulate: false, lengths);
            double[] qd = D(q), kvd = D(kv);
            Reference.CheckGradient(qd, dq, () => Dot(Ref(qd, kvd), weights), $"{isa} dq");
            Reference.CheckGradient(kvd, dkv, () => Dot(Ref(qd, kvd), weights), $"{isa} dkv");
        }
    }

    /// <summary>
    /// Z5's attention (4 heads of 32 over 64 positions) with padding and a causal mask, and a cross-attention with
    /// fewer queries than keys: the fused path against the double-precision reference forward, and its backward
    /// (which skips the products the masks make zero) against the general path's, itself checked by finite
    /// differences above. Either backward also follows the other path's forward (they save the same probabilities).
    /// </summary>
    [Theory]
    [InlineData(64, 64, true)]
    [InlineData(64, 64, false)]
    [InlineData(20, 45, false)]
    [InlineData(20, 45, true)]
    public void FusedPath_MatchesTheReference_AndTheGeneralPath_AtModelSizes(int tq, int tk, bool causal)
    {
        const int rows = 3, heads = 4, dk = 32, width = heads * dk;
        foreach (KernelIsa isa in KernelInfo.Supported.Where(i => i != KernelIsa.Portable))
        {
            float[] q = Reference.Random(rows * tq * 3 * width, 11, 2f), kv = Reference.Random(rows * tk * 2 * width, 12, 2f);
            float[] dOutput = Reference.Random(rows * tq * width, 13);
            int[] lengths = { tk, tk / 2 + 1, 3 };
            var fused = new MultiHeadAttention(heads, dk, tq, tk, causal) { Isa = isa };
            var general = new MultiHeadAttention(heads, dk, tq, tk, causal) { Isa = isa, Fused = false };
            Assert.True(fused.Fused);

            (float[] Output, float[] Saved, float[] Dq, float[] Dkv) Run(MultiHeadAttention forward, MultiHeadAttention backward)
            {
                ReadOnlySpan<float> kvs = kv;
                var output = new float[rows * tq * width];
                var saved = new float[forward.SavedFloats(rows)];
                forward.Forward(q, 3 * width, kvs, kvs.Slice(width), 2 * width, output, saved, rows, lengths);
                // Accumulating onto a constant: what is added, not assigned, is checked.
                float[] dq = Enumerable.Repeat(0.5f, q.Length).ToArray(), dkv = Enumerable.Repeat(0.5f, kv.Length).ToArray();
                Span<float> dkvs = dkv;
                backward.Backward(dOutput, q, 3 * width, kvs, kvs.Slice(width), 2 * width, saved, dq, dkvs, dkvs.Slice(width), rows, accumulate: true, lengths);
                return (output, saved, dq, dkv);
            }

            var f = Run(fused, fused);
            var g = Run(general, general);
            double[] expected = ReferenceAttention.Attention(D(q), 0, 3 * width, D(kv), 0, width, 2 * width, rows, heads, dk, tq, tk, causal, lengths, null);
            Reference.AssertClose(expected, f.Output, $"{isa} fused output");
            Reference.AssertClose(D(g.Saved), f.Saved, 1e-5, 1e-6, $"{isa} saved probabilities");
            Reference.AssertClose(D(g.Dq), f.Dq, 1e-4, 1e-5, $"{isa} dq");
            Reference.AssertClose(D(g.Dkv), f.Dkv, 1e-4, 1e-5, $"{isa} dkv");
            // Past each sample's length the keys and values get nothing: their gradient stays what was there.
            for (int j = lengths[2]; j < tk; j++)
                Assert.All(f.Dkv.AsSpan((2 * tk + j) * 2 * width, 2 * width).ToArray(), x => Assert.Equal(0.5f, x));
            var mixed = Run(general, fused);
            Reference.AssertClose(D(g.Dkv), mixed.Dkv, 1e-4, 1e-5, $"{isa} fused backward after the general forward");
        }
    }

    /// <summary>Scores that grow by 60 a key: every query's hidden (future) keys score far above its visible ones, so a
    /// softmax shifted by a maximum that included them would underflow to 0/0. Each path, each ISA.</summary>
    [Fact]
    public void MaskedKeysWithHugeScores_DoNotUnderflowTheVisibleOnes()
    {
        const int t = 21, dk = 16;
        int stride = 3 * dk;
        var qkv = new float[t * stride];
        for (int i = 0; i < t; i++)
        {
            for (int d = 0; d < dk; d++)
            {
                qkv[i * stride + d] = 1f;                       // q = 1
                qkv[i * stride + dk + d] = 60f * (i + 1) / 4f;  // k: q·k/√16 = 60 (i + 1)
                qkv[i * stride + 2 * dk + d] = i + d * 0.01f;   // v
            }
        }
        foreach (KernelIsa isa in KernelInfo.Supported)
        foreach (bool fused in new[] { true, false })
        {
            var layer = new MultiHeadAttention(1, dk, t, t, causal: true) { Isa = isa, Fused = fused };
            var output = new float[t * dk];
            ReadOnlySpan<float> all = qkv;
            layer.Forward(all, stride, all.Slice(dk), all.Slice(2 * dk), stride, output, new float[layer.SavedFloats(1)], 1);
            double[] expected = ReferenceAttention.Attention(D(qkv), 0, stride, D(qkv), dk, 2 * dk, stride, 1, 1, dk, t, t, true, null, null);
            Reference.AssertClose(expected, output, $"{isa} fused={fused}");
        }
    }

    [Fact]
    public void Dropout_OnTheWeights_ActsInTrainingOnly_AndItsGradient_MatchesFiniteDifferences()
    {
        const int rows = 2, heads = 2, dk = 4, t = 5;
        const float p = 0.3f;
        int width = heads * dk, stride = 3 * width;
        var layer = new MultiHeadAttention(heads, dk, t, t, causal: true, dropout: p);
        float[] qkv = Reference.Random(rows * t * stride, 6);
        ReadOnlySpan<float> all = qkv;
        var output = new float[rows * t * width];
        var saved = new float[layer.SavedFloats(rows)];
        Assert.Equal(2 * rows * heads * t * t, saved.Length);

        // Evaluation: no dropout, the plain reference.
        layer.Forward(all, stride, all.Slice(width), all.Slice(2 * width), stride, output, saved, rows, training: false);
        double[] Ref(double[] source, double[]? keep) =>
            ReferenceAttention.Attention(source, 0, stride, source, width, 2 * width, stride, rows, heads, dk, t, t, true, null, keep);
        Reference.AssertClose(Ref(D(qkv), null), output, "evaluation output");

        // Training: the kept weights scaled by 1/(1 − p); the multipliers are read back from what was saved.
        layer.Forward(all, stride, all.Slice(width), all.Slice(2 * width), stride, output, saved, rows, training: true, random: new KilnRandom(9));
        int head = t * t;
        var keep = new double[rows * heads * head];
        int dropped = 0, visible = 0;
        for (int b = 0; b < rows; b++)
        for (int h = 0; h < heads; h++)
        for (int i = 0; i < head; i++)
        {
            float prob = saved[(b * 2 * heads + h) * head + i], kept = saved[(b * 2 * heads + heads + h) * head + i];
            if (prob == 0f) continue; // masked by causality
            visible++;
            keep[(b * heads + h) * head + i] = kept / prob;
            if (kept == 0f) dropped++;
            else Assert.Equal(1 / (1 - p), kept / prob, 4);
        }
        Assert.InRange(dropped, 1, visible - 1);
        Reference.AssertClose(Ref(D(qkv), keep), output, "training output");

        float[] weights = Reference.Random(output.Length, 7);
        var dqkv = new float[qkv.Length];
        Span<float> d = dqkv;
        layer.Backward(weights, all, stride, all.Slice(width), all.Slice(2 * width), stride, saved, d, d.Slice(width), d.Slice(2 * width), rows,
            accumulate: false, training: true);
        double[] theta = D(qkv);
        Reference.CheckGradient(theta, dqkv, () => Dot(Ref(theta, keep), weights), "dqkv");

        // The same generator state gives the same masks.
        var again = new float[output.Length];
        layer.Forward(all, stride, all.Slice(width), all.Slice(2 * width), stride, again, new float[saved.Length], rows, training: true, random: new KilnRandom(9));
        Assert.Equal(output, again);
    }

    [Fact]
    public void TwoThreads_GiveTheSameBitsAsOne()
    {
        const int rows = 6, heads = 4, dk = 32, t = 64;
        int width = heads * dk, stride = 3 * width;
        var layer = new MultiHeadAttention(heads, dk, t, t, causal: true, dropout: 0.1f);
        float[] qkv = Reference.Random(rows * t * stride, 8);
        float[] dout = Reference.Random(rows * t * width, 9);
        (float[] Output, float[] Grad) Run(int threads)
        {
            ReadOnlySpan<float> all = qkv;
            var output = new float[rows * t * width];
            var saved = new float[layer.SavedFloats(rows)];
            layer.Forward(all, stride, all.Slice(width), all.Slice(2 * width), stride, output, saved, rows, training: true, random: new KilnRandom(3), threads: threads);
            var grad = new float[qkv.Length];
            Span<float> g = grad;
            layer.Backward(dout, all, stride, all.Slice(width), all.Slice(2 * width), stride, saved, g, g.Slice(width), g.Slice(2 * width), rows,
                accumulate: false, training: true, threads: threads);
            return (output, grad);
        }
        var one = Run(1);
        var two = Run(2);
        Assert.Equal(one.Output, two.Output);
        Assert.Equal(one.Grad, two.Grad);
    }

    [Fact]
    public void WrongArguments_AreRejected_NamingWhatWasExpected()
    {
        var layer = new MultiHeadAttention(2, 4, 3, 3, causal: false);
        var output = new float[2 * 3 * 8];
        var saved = new float[layer.SavedFloats(2)];
        var qkv = new float[2 * 3 * 24];
        var e = Assert.Throws<ArgumentException>(() => layer.Forward(qkv.AsSpan(0, 127), 24, qkv, qkv, 24, output, saved, 2));
        Assert.Equal("q", e.ParamName);
        Assert.Contains("need at least", e.Message);
        var r = Assert.Throws<ArgumentOutOfRangeException>(() => layer.Forward(qkv, 4, qkv, qkv, 24, output, saved, 2));
        Assert.Contains("stride must be at least 8", r.Message);
        r = Assert.Throws<ArgumentOutOfRangeException>(() => layer.Forward(qkv, 24, qkv, qkv, 24, output, saved, 2, new[] { 3, 4 }));
        Assert.Contains("Sample 1 has key length 4", r.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new MultiHeadAttention(2, 4, 3, 3, false, dropout: 1f));
        Assert.Throws<ArgumentNullException>(() => new MultiHeadAttention(2, 4, 3, 3, false, dropout: 0.5f)
            .Forward(qkv, 24, qkv, qkv, 24, output, new float[2 * 2 * 2 * 9], 2, training: true));
    }

    // ---- incremental decoding ----

    [Theory]
    [InlineData(1, 2, 4, 7)]
    [InlineData(3, 4, 32, 64)]
    [InlineData(2, 3, 5, 9)]
    public void Decode_StepByStep_MatchesTheReference_AndTheFullCausalForward(int rows, int heads, int dk, int t)
    {
        int width = heads * dk, stride = 3 * width;
        var layer = new MultiHeadAttention(heads, dk, t, t, causal: true);
        // Sequences of t positions, [rows, t, 3·width]; the reference attends over all of them at once.
        float[] qkv = Reference.Random(rows * t * stride, 4, 1.5f);
        double[] expected = ReferenceAttention.Attention(D(qkv), 0, stride, D(qkv), width, 2 * width, stride, rows, heads, dk, t, t, true, null, null);
        var full = new float[rows * t * width];
        ReadOnlySpan<float> all = qkv;
        layer.Forward(all, stride, all.Slice(width), all.Slice(2 * width), stride, full, new float[layer.SavedFloats(rows)], rows);

        var keys = new float[rows * t * width];
        var values = new float[rows * t * width];
        var stepped = new float[rows * t * width];
        var row = new float[rows * stride];
        var output = new float[rows * width];
        for (int position = 0; position < t; position++)
        {
            // One position of every sequence, [rows, 3·width].
            for (int r = 0; r < rows; r++) qkv.AsSpan((r * t + position) * stride, stride).CopyTo(row.AsSpan(r * stride));
            ReadOnlySpan<float> step = row;
            layer.Decode(step, stride, step.Slice(width), step.Slice(2 * width), stride, keys, values, position, output, rows);
            for (int r = 0; r < rows; r++) output.AsSpan(r * width, width).CopyTo(stepped.AsSpan((r * t + position) * width));
        }
        Reference.AssertClose(expected, stepped, "decoded outputs");
        for (int i = 0; i < full.Length; i++) Assert.True(Math.Abs(full[i] - stepped[i]) <= 1e-5f * (1 + Math.Abs(full[i])), $"value {i}: forward {full[i]}, decoded {stepped[i]}");
    }

    [Fact]
    public void Decode_RejectsANonCausalLayer_APositionPastTheCache_AndShortCaches()
    {
        var row = new float[12];
        var cache = new float[3 * 4];
        var output = new float[4];
        var open = new MultiHeadAttention(2, 2, 3, 3, causal: false);
        var e = Assert.Throws<InvalidOperationException>(() => open.Decode(row, 12, row.AsSpan(4), row.AsSpan(8), 12, cache, cache, 0, output, 1));
        Assert.Contains("causal", e.Message);
        var causal = new MultiHeadAttention(2, 2, 3, 3, causal: true);
        var r = Assert.Throws<ArgumentOutOfRangeException>(() => causal.Decode(row, 12, row.AsSpan(4), row.AsSpan(8), 12, cache, cache, 3, output, 1));
        Assert.Contains("positions 0..2", r.Message);
        var a = Assert.Throws<ArgumentException>(() => causal.Decode(row, 12, row.AsSpan(4), row.AsSpan(8), 12, cache.AsSpan(1), cache, 0, output, 1));
        Assert.Equal("keyCache", a.ParamName);
    }

    [Fact]
    public void KeyLengths_AreEachSamplesFirstPaddingToken_OrItsLength()
    {
        int[] tokens = { 3, 5, 0, 0, /**/ 1, 2, 3, 4, /**/ 0, 7, 7, 7, /**/ 4, 0, 6, 0 };
        var lengths = new int[4];
        MultiHeadAttention.KeyLengths(tokens, 4, 0, lengths);
        Assert.Equal(new[] { 2, 4, 0, 1 }, lengths);
        MultiHeadAttention.KeyLengths(tokens, 4, 7, lengths);
        Assert.Equal(new[] { 4, 4, 1, 4 }, lengths);
        // A span of tokens that is not one row per length names what was expected.
        var e = Assert.Throws<ArgumentException>(() => MultiHeadAttention.KeyLengths(tokens.AsSpan(1), 4, 0, lengths));
        Assert.Equal("tokens", e.ParamName);
        Assert.Contains("[4, 4]", e.Message);
    }

    [Fact]
    public void Positions_ForwardAt_AddsOneRowOfTheTable_ToEveryRow()
    {
        float[] table = Reference.Random(4 * 3, 1), x = Reference.Random(2 * 3, 2);
        var y = new float[6];
        Positions.ForwardAt(x, table, y, 2, 2, 3);
        for (int i = 0; i < 6; i++) Assert.Equal(x[i] + table[6 + i % 3], y[i]);
        Assert.Throws<ArgumentOutOfRangeException>(() => Positions.ForwardAt(x, table, y, 2, 4, 3));
    }

    // ---- positions ----

    [Fact]
    public void Positions_AddTheTableToEverySample_AndSumItsGradientOverThem()
    {
        float[] table = Reference.Random(6, 1), x = Reference.Random(18, 2);
        var y = new float[18];
        Positions.Forward(x, table, y, 3);
        for (int i = 0; i < 18; i++) Assert.Equal(x[i] + table[i % 6], y[i]);
        float[] dy = Reference.Random(18, 3);
        var dt = Enumerable.Repeat(5f, 6).ToArray();
        Positions.BackwardTable(dy, dt, 3, accumulate: false);
        for (int c = 0; c < 6; c++) Assert.Equal(dy[c] + dy[6 + c] + dy[12 + c], dt[c], 5);
    }

    [Fact]
    public void Sinusoidal_FollowsVaswani()
    {
        float[] pe = Positions.Sinusoidal(50, 6);
        for (int c = 0; c < 6; c++) Assert.Equal(c % 2 == 0 ? 0f : 1f, pe[c]); // t = 0: sin 0, cos 0
        Assert.Equal((float)Math.Sin(1), pe[6 + 0]);
        Assert.Equal((float)Math.Cos(1), pe[6 + 1]);
        Assert.Equal((float)Math.Sin(49 / Math.Pow(10000, 4 / 6.0)), pe[49 * 6 + 4]);
        Assert.Equal((float)Math.Cos(49 / Math.Pow(10000, 4 / 6.0)), pe[49 * 6 + 5]);
    }

    // ---- helpers ----

    private static double Dot(double[] y, float[] w)
    {
        double total = 0;
        for (int i = 0; i < y.Length; i++) total += y[i] * w[i];
        return total;
    }
}
