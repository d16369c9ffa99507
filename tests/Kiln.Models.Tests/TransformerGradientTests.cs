using System;
using System.Linq;
using Kiln.Testing;
using Xunit;
using static Kiln.Models.Tests.GradientTests;
using static Kiln.Models.Tests.RefOps;
using P = System.Collections.Generic.IReadOnlyDictionary<string, double[]>;

namespace Kiln.Models.Tests;

/// <summary>
/// The generated backward of the Transformer ops — embedding plus learned positions, pre-LN blocks repeated with their
/// own weights (LayerNorm, causal multi-head self-attention, RMSNorm, a GELU feed-forward, residuals), a post-LN layer
/// with sinusoidal positions and attention without biases — against central finite differences of a double-precision
/// reference forward, as <see cref="GradientTests"/> does.
/// </summary>
public class TransformerGradientTests
{
    /// <summary>nn.MultiheadAttention over x [n, T, D] as query, key and value, from its parameters under <paramref name="name"/>.</summary>
    internal static double[] SelfAttention(double[] x, P p, string name, int n, int T, int D, int heads, bool causal, bool bias = true, int[]? lengths = null)
    {
        double[] qkv = Dense(x, p[name + ".in_proj_weight"], bias ? p[name + ".in_proj_bias"] : null, D, 3 * D);
        double[] o = ReferenceAttention.Attention(qkv, 0, 3 * D, qkv, D, 2 * D, 3 * D, n, heads, D / heads, T, T, causal, lengths, null);
        return Dense(o, p[name + ".out_proj.weight"], bias ? p[name + ".out_proj.bias"] : null, D, D);
    }

    private static double[] LayerNorm(double[] x, P p, string name, int width) =>
        ReferenceAttention.LayerNorm(x, x.Length / width, width, p[name + ".weight"], p[name + ".bias"], 1e-5);

    [Fact]
    public void TinyGpt_EmbeddingPositions_PreLnBlocks_LayerNorm_Logits()
    {
        using var model = new TinyGpt(seed: 3);
        const int n = 3, T = 5, D = 6;
        int[] tokens = RnnGradientTests.Tokens(n * T, 7, 4), labels = RnnGradientTests.Tokens(n * T, 7, 5);
        float loss = model.ComputeGradients(tokens, labels);
        Check(model.Parameters, model.Gradients, loss, p =>
        {
            double[] h = ReferenceRecurrent.Embedding(tokens, p["Embedded.0.weight"], D);
            double[] table = p["Embedded.1.weight"];
            Assert.Equal(8 * D, table.Length); // Length = 8: the first 5 rows are used
            for (int i = 0; i < h.Length; i++) h[i] += table[i % (T * D)];
            for (int b = 0; b < 2; b++)
            {
                string block = $"Blocks.{b}.";
                h = Add(h, SelfAttention(LayerNorm(h, p, block + "Attn.0", D), p, block + "Attn.1", n, T, D, 2, causal: true));
                double[] r = ReferenceAttention.RmsNorm(h, n * T, D, p[block + "Mlp.0.weight"], 1e-6);
                double[] f = Dense(Map(Dense(r, p, block + "Mlp.1", D, 8), Gelu), p, block + "Mlp.3", 8, D);
                h = Add(h, f);
            }
            return CrossEntropy(Dense(LayerNorm(h, p, "Logits.0", D), p, "Logits.1", D, 7), labels, 7);
        });
    }

    /// <summary>Cross-attention: queries of x [n, Tq, D] attend over memory [n, Tk, Dm] through q_proj, kv_proj, out_proj.</summary>
    internal static double[] CrossAttention(double[] x, double[] memory, P p, string name, int n, int tq, int tk, int D, int dm, int heads, int[]? lengths = null)
    {
        double[] q = Dense(x, p[name + ".q_proj.weight"], p[name + ".q_proj.bias"], D, D);
        double[] kv = Dense(memory, p[name + ".kv_proj.weight"], p[name + ".kv_proj.bias"], dm, 2 * D);
        double[] o = ReferenceAttention.Attention(q, 0, D, kv, 0, D, 2 * D, n, heads, D / heads, tq, tk, false, lengths, null);
        return Dense(o, p[name + ".out_proj.weight"], p[name + ".out_proj.bias"], D, D);
    }

    /// <summary>The logits [n, 4, 7] of the tiny encoder-decoders (<see cref="TinySeq2Seq"/>, <see cref="PaddedSeq2Seq"/>):
    /// source tokens [n, 5] through an encoder of width 4, target tokens [n, 4] through two decoder blocks of width 6;
    /// with key lengths, the padded keys hidden in every attention.</summary>
    private static double[] Seq2SeqLogits(P p, int[] source, int[] target, int n, int[]? sourceLengths = null, int[]? targetLengths = null)
    {
        const int S = 5, T = 4, E = 4, D = 6;
        float[] sinusoids = Kiln.Kernels.Positions.Sinusoidal(S, E);
        double[] m = ReferenceRecurrent.Embedding(source, p["SourceEmbedded.weight"], E);
        for (int i = 0; i < m.Length; i++) m[i] += sinusoids[i % (S * E)];
        m = Add(m, SelfAttention(m, p, "Encoded.0", n, S, E, 2, causal: false, lengths: sourceLengths));
        m = LayerNorm(m, p, "Encoded.2", E);
        double[] h = ReferenceRecurrent.Embedding(target, p["TargetEmbedded.0.weight"], D);
        double[] table = p["TargetEmbedded.1.weight"];
        for (int i = 0; i < h.Length; i++) h[i] += table[i % (T * D)];
        for (int b = 0; b < 2; b++)
        {
            string block = $"Blocks.{b}.";
            h = Add(h, SelfAttention(LayerNorm(h, p, block + "Self.0", D), p, block + "Self.1", n, T, D, 2, causal: true, lengths: targetLengths));
            h = Add(h, CrossAttention(LayerNorm(h, p, block + "Cross.0", D), m, p, block + "Cross.1", n, T, S, D, E, 2, sourceLengths));
            double[] f = Dense(Map(Dense(LayerNorm(h, p, block + "Mlp.0", D), p, block + "Mlp.1", D, 8), Gelu), p, block + "Mlp.3", 8, D);
            h = Add(h, f);
        }
        return Dense(LayerNorm(h, p, "Logits.0", D), p, "Logits.1", D, 7);
    }

    [Fact]
    public void TinySeq2Seq_TwoInputs_AnEncoder_DecoderBlocksWithCrossAttention()
    {
        using var model = new TinySeq2Seq(seed: 9);
        const int n = 2;
        int[] source = RnnGradientTests.Tokens(n * 5, 7, 10), target = RnnGradientTests.Tokens(n * 4, 7, 11), labels = RnnGradientTests.Tokens(n * 4, 7, 12);
        float loss = model.ComputeGradients(source, target, labels);
        Check(model.Parameters, model.Gradients, loss, p => CrossEntropy(Seq2SeqLogits(p, source, target, n), labels, 7));
    }

    /// <summary>Right-padded batches of the tiny encoder-decoder (token 0 pads; a sample's length is its first 0, whatever
    /// follows): the padded keys hidden in the encoder's self-attention, the decoder's causal self-attention and its
    /// cross-attention, and the padded target steps labelled −100, which the loss ignores.</summary>
    internal static readonly int[] PaddedSources = { 3, 5, 0, 0, 0, /**/ 1, 2, 3, 4, 5, /**/ 4, 0, 6, 2, 0 };
    internal static readonly int[] PaddedTargets = { 1, 2, 0, 0, /**/ 6, 5, 4, 3, /**/ 2, 3, 4, 0 };
    internal static readonly int[] PaddedLabels = { 5, 1, -100, -100, /**/ 2, 6, 3, 1, /**/ 4, 4, 2, -100 };

    [Fact]
    public void PaddedSeq2Seq_KeyPaddingInEveryAttention_IgnoredLabels()
    {
        using var model = new PaddedSeq2Seq(seed: 4);
        float loss = model.ComputeGradients(PaddedSources, PaddedTargets, PaddedLabels);
        // Only the rows that count: the mean over the 9 labelled steps.
        int[] kept = Enumerable.Range(0, PaddedLabels.Length).Where(i => PaddedLabels[i] != -100).ToArray();
        Check(model.Parameters, model.Gradients, loss, p =>
        {
            double[] logits = Seq2SeqLogits(p, PaddedSources, PaddedTargets, 3, sourceLengths: new[] { 2, 5, 1 }, targetLengths: new[] { 2, 4, 3 });
            return CrossEntropy(kept.SelectMany(i => logits.Skip(i * 7).Take(7)).ToArray(), kept.Select(i => PaddedLabels[i]).ToArray(), 7);
        });
    }

    [Fact]
    public void PostLnEncoder_SinusoidalPositions_AttentionWithoutBiases()
    {
        using var model = new PostLnEncoder(seed: 6);
        const int n = 2, T = 4, D = 6;
        float[] x = Inputs(n * T * D, 7), t = Inputs(n * T * 4, 8, 1f);
        float loss = model.ComputeGradients(x, t);
        float[] pe = Kiln.Kernels.Positions.Sinusoidal(T, D);
        Check(model.Parameters, model.Gradients, loss, p =>
        {
            double[] h = ToDouble(x);
            for (int i = 0; i < h.Length; i++) h[i] += pe[i % (T * D)];
            h = Add(h, SelfAttention(h, p, "Attn.0", n, T, D, 3, causal: false, bias: false));
            h = ReferenceAttention.LayerNorm(h, n * T, D, null, null, 1e-5);
            return Mse(Dense(h, p, "Out", D, 4), t);
        });
    }
}
