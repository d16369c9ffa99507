using Kiln;

namespace Kiln.Models.Tests;

// The Transformer parity cases (ParityTests; Parity/export.py defines the same models in PyTorch, batch first, with
// the same names). The whole-model case is Z5 (samples/Gpt).

/// <summary>LayerNorm (ε 1e−3) → Linear → RMSNorm → LayerNorm without affine → Linear at every step → MSE.</summary>
[Model(Batch = 3)]
public partial class NormsParityNet
{
    [Input(4, 6)] public partial Node X { get; }
    [LayerNorm(Epsilon = 1e-3)] public partial Node A { get; }
    [Dense(6)] public partial Node H { get; }
    [RmsNorm] public partial Node R { get; }
    [LayerNorm(Affine = false)] public partial Node N { get; }
    [Dense(3)] public partial Node Out { get; }
    [MeanSquaredError] public partial Node Loss { get; }
}

/// <summary>Self-attention, 2 heads of 4, with biases → Linear at every step → MSE (nn.MultiheadAttention).</summary>
[Model(Batch = 3)]
public partial class AttentionParityNet
{
    [Input(5, 8)] public partial Node X { get; }
    [SelfAttention(2)] public partial Node Attn { get; }
    [Dense(3)] public partial Node Out { get; }
    [MeanSquaredError] public partial Node Loss { get; }
}

/// <summary>Sinusoidal positions → causal self-attention, 4 heads of 2, no biases → Linear → per-step cross-entropy.</summary>
[Model(Batch = 2)]
public partial class CausalAttentionParityNet
{
    [Input(6, 8)] public partial Node X { get; }
    [SinusoidalPositions, SelfAttention(4, Causal = true, Bias = false)] public partial Node Attn { get; }
    [Dense(5)] public partial Node Logits { get; }
    [SoftmaxCrossEntropy] public partial Node Loss { get; }
}

// ---- models of the gradient tests (TransformerGradientTests) ----

/// <summary>A pre-LN decoder block over [5, 6]: LayerNorm, causal self-attention with 2 heads, residual; RMSNorm, a GELU
/// feed-forward of 8, residual.</summary>
[Block]
public partial class TinyDecoderBlock
{
    [LayerNorm, SelfAttention(2, Causal = true), Residual] public partial Node Attn { get; }
    [RmsNorm, Dense(8), Gelu, Dense(6), Residual] public partial Node Mlp { get; }
}

/// <summary>A tiny GPT: tokens, embedding plus a learned table longer than the context, two decoder blocks, LayerNorm,
/// logits at every step, per-step cross-entropy.</summary>
[Model(Batch = 3)]
public partial class TinyGpt
{
    [Input(5, Of = typeof(int))] public partial Node Tokens { get; }
    [Embedding(7, 6), LearnedPositions(Length = 8)] public partial Node Embedded { get; }
    [Repeat(typeof(TinyDecoderBlock), 2)] public partial Node Blocks { get; }
    [LayerNorm, Dense(7)] public partial Node Logits { get; }
    [SoftmaxCrossEntropy] public partial Node Loss { get; }
}

/// <summary>A post-LN encoder layer over a float sequence: sinusoidal positions, self-attention with 3 heads and no
/// biases, residual, LayerNorm without affine; a Dense at every step, MSE.</summary>
[Model(Batch = 2)]
public partial class PostLnEncoder
{
    [Input(4, 6)] public partial Node X { get; }
    [SinusoidalPositions] public partial Node Positions { get; }
    [SelfAttention(3, Bias = false), Residual, LayerNorm(Affine = false)] public partial Node Attn { get; }
    [Dense(4)] public partial Node Out { get; }
    [MeanSquaredError] public partial Node Loss { get; }
}

/// <summary>Self-attention with dropout on its weights (TransformerModelTests).</summary>
[Model(Batch = 2)]
public partial class DroppingAttentionNet
{
    [Input(5, 8)] public partial Node X { get; }
    [SelfAttention(2, Dropout = 0.5)] public partial Node Attn { get; }
    [Dense(3)] public partial Node Out { get; }
    [MeanSquaredError] public partial Node Loss { get; }
}

/// <summary>A decoder-only model for the decoder tests: sinusoidal positions, dropout on the embedding, on the attention
/// weights and on a residual path (identity when decoding), RMSNorm, an unfused ReLU between products, and a node named
/// <c>Decoder</c> (so the generated decoder class is <c>KilnDecoder</c>).</summary>
[Model(Batch = 2)]
public partial class DecodingGpt
{
    [Input(6, Of = typeof(int))] public partial Node Tokens { get; }
    [Embedding(9, 8), SinusoidalPositions, Dropout(0.1)] public partial Node Embedded { get; }
    [LayerNorm, SelfAttention(2, Causal = true, Dropout = 0.2), Dropout(0.1), Residual] public partial Node Decoder { get; }
    [RmsNorm, Dense(12), Relu, Dropout(0.1), Dense(8), Residual] public partial Node Mlp { get; }
    [Dense(9)] public partial Node Logits { get; }
    [SoftmaxCrossEntropy] public partial Node Loss { get; }
}

/// <summary>A decoder block of an encoder-decoder: causal self-attention, cross-attention over the model's "Encoded"
/// node (named as a string: a block cannot say nameof of a model's node), a GELU feed-forward; pre-LN, residuals.</summary>
[Block]
public partial class TinyCrossBlock
{
    [LayerNorm, SelfAttention(2, Causal = true), Residual] public partial Node Self { get; }
    [LayerNorm, CrossAttention(2, Memory = "Encoded"), Residual] public partial Node Cross { get; }
    [LayerNorm, Dense(8), Gelu, Dense(6), Residual] public partial Node Mlp { get; }
}

/// <summary>A tiny encoder-decoder with two inputs: source tokens [5] through an encoder of width 4 (a different width
/// from the decoder's 6, so the key/value projection maps 4 to 2·6), target tokens [4] through two decoder blocks that
/// attend over the encoder's output; logits of the next target token at every step.</summary>
[Model(Batch = 2)]
public partial class TinySeq2Seq
{
    [Input(5, Of = typeof(int))] public partial Node Source { get; }
    [Embedding(7, 4), SinusoidalPositions] public partial Node SourceEmbedded { get; }
    [SelfAttention(2), Residual, LayerNorm] public partial Node Encoded { get; }
    [Input(4, Of = typeof(int))] public partial Node Target { get; }
    [Embedding(7, 6), LearnedPositions] public partial Node TargetEmbedded { get; }
    [Repeat(typeof(TinyCrossBlock), 2)] public partial Node Blocks { get; }
    [LayerNorm, Dense(7)] public partial Node Logits { get; }
    [SoftmaxCrossEntropy] public partial Node Loss { get; }
}

/// <summary>Cross-attention alone, two float inputs: queries [3, 6] attend over a memory [5, 4] of another width, 2
/// heads of 3, then a Dense at every step, MSE (Parity/export.py's "cross_attention").</summary>
[Model(Batch = 4)]
public partial class CrossAttentionParityNet
{
    [Input(5, 4)] public partial Node Memory { get; }
    [Input(3, 6)] public partial Node Queries { get; }
    [CrossAttention(2, Memory = nameof(Memory))] public partial Node Cross { get; }
    [Dense(3)] public partial Node Out { get; }
    [MeanSquaredError] public partial Node Loss { get; }
}

/// <summary>A decoder block whose attentions hide padded keys: causal self-attention over the target's tokens before its
/// first padding token, cross-attention over the encoder's output before the source's first padding token (both named
/// as strings: they are the model's nodes).</summary>
[Block]
public partial class TinyPaddedBlock
{
    [LayerNorm, SelfAttention(2, Causal = true, KeyPadding = "Target"), Residual] public partial Node Self { get; }
    [LayerNorm, CrossAttention(2, Memory = "Encoded", KeyPadding = "Source"), Residual] public partial Node Cross { get; }
    [LayerNorm, Dense(8), Gelu, Dense(6), Residual] public partial Node Mlp { get; }
}

/// <summary><see cref="TinySeq2Seq"/> with right-padded batches: token 0 pads both inputs, every attention hides the
/// padded keys (PyTorch's key_padding_mask), and the padded target steps are labelled −100, which the cross-entropy
/// ignores (Parity/export.py's "padding").</summary>
[Model(Batch = 3)]
public partial class PaddedSeq2Seq
{
    [Input(5, Of = typeof(int), PaddingToken = 0)] public partial Node Source { get; }
    [Embedding(7, 4), SinusoidalPositions] public partial Node SourceEmbedded { get; }
    [SelfAttention(2, KeyPadding = nameof(Source)), Residual, LayerNorm] public partial Node Encoded { get; }
    [Input(4, Of = typeof(int), PaddingToken = 0)] public partial Node Target { get; }
    [Embedding(7, 6), LearnedPositions] public partial Node TargetEmbedded { get; }
    [Repeat(typeof(TinyPaddedBlock), 2)] public partial Node Blocks { get; }
    [LayerNorm, Dense(7)] public partial Node Logits { get; }
    [SoftmaxCrossEntropy] public partial Node Loss { get; }
}
