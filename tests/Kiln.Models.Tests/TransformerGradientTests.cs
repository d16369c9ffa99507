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
    internal static double[] SelfAttention(double[] x, P p, string name, int n, int T, int D, int heads, bool causal, bool bias = true)
    {
        double[] qkv = Dense(x, p[name + ".in_proj_weight"], bias ? p[name + ".in_proj_bias"] : null, D, 3 * D);
        double[] o = ReferenceAttention.Attention(qkv, 0, 3 * D, qkv, D, 2 * D, 3 * D, n, heads, D / heads, T, T, causal, null, null);
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
    internal static double[] CrossAttention(double[] x, double[] memory, P p, string name, int n, int tq, int tk, int D, int dm, int heads)
    {
        double[] q = Dense(x, p[name + ".q_proj.weight"], p[name + ".q_proj.bias"], D, D);
        double[] kv = Dense(memory, p[name + ".kv_proj.weight"], p[name + ".kv_proj.bias"], dm, 2 * D);
        double[] o = ReferenceAttention.Attention(q, 0, D, kv, 0, D, 2 * D, n, heads, D / heads, tq, tk, false, null, null);
        return Dense(o, p[name + ".out_proj.weight"], p[name + ".out_proj.bias"], D, D);
    }

    [Fact]
    public void TinySeq2Seq_TwoInputs_AnEncoder_DecoderBlocksWithCrossAttention()
    {
        using var model = new TinySeq2Seq(seed: 9);
        const int n = 2, S = 5, T = 4, E = 4, D = 6;
        int[] source = RnnGradientTests.Tokens(n * S, 7, 10), target = RnnGradientTests.Tokens(n * T, 7, 11), labels = RnnGradientTests.Tokens(n * T, 7, 12);
        float loss = model.ComputeGradients(source, target, labels);
        float[] sinusoids = Kiln.Kernels.Positions.Sinusoidal(S, E);
        Check(model.Parameters, model.Gradients, loss, p =>
        {
            double[] m = ReferenceRecurrent.Embedding(source, p["SourceEmbedded.weight"], E);
            for (int i = 0; i < m.Length; i++) m[i] += sinusoids[i % (S * E)];
            m = Add(m, SelfAttention(m, p, "Encoded.0", n, S, E, 2, causal: false));
            m = LayerNorm(m, p, "Encoded.2", E);
            double[] h = ReferenceRecurrent.Embedding(target, p["TargetEmbedded.0.weight"], D);
            double[] table = p["TargetEmbedded.1.weight"];
            for (int i = 0; i < h.Length; i++) h[i] += table[i % (T * D)];
            for (int b = 0; b < 2; b++)
            {
                string block = $"Blocks.{b}.";
                h = Add(h, SelfAttention(LayerNorm(h, p, block + "Self.0", D), p, block + "Self.1", n, T, D, 2, causal: true));
                h = Add(h, CrossAttention(LayerNorm(h, p, block + "Cross.0", D), m, p, block + "Cross.1", n, T, S, D, E, 2));
                double[] f = Dense(Map(Dense(LayerNorm(h, p, block + "Mlp.0", D), p, block + "Mlp.1", D, 8), Gelu), p, block + "Mlp.3", 8, D);
                h = Add(h, f);
            }
            return CrossEntropy(Dense(LayerNorm(h, p, "Logits.0", D), p, "Logits.1", D, 7), labels, 7);
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
