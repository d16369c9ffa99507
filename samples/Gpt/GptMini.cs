namespace Kiln.Samples.Gpt;

/// <summary>A pre-LN Transformer decoder block over [64, 128]: causal self-attention with 4 heads of 32, then a GELU
/// feed-forward of 512, each with a residual connection around it.</summary>
[Block]
public partial class DecoderBlock
{
    [LayerNorm, SelfAttention(Heads = 4, Causal = true), Residual]  public partial Node Attn { get; }
    [LayerNorm, Dense(512), Gelu, Dense(128), Residual]             public partial Node Mlp { get; }
}

/// <summary>Zoo model Z5: GPT-mini — a context of 64 characters over a vocabulary of 65, d_model 128 with learned
/// positions, two pre-LN causal blocks, a final layer norm and the logits of the next character at every step; batch 16.</summary>
[Model(Batch = 16)]
public partial class GptMini
{
    [Input(64, Of = typeof(int))]               public partial Node Tokens { get; }
    [Embedding(65, 128), LearnedPositions]      public partial Node Embedded { get; }
    [Repeat(typeof(DecoderBlock), 2)]           public partial Node Blocks { get; }
    [LayerNorm, Dense(65)]                      public partial Node Logits { get; }
    [SoftmaxCrossEntropy]                       public partial Node Loss { get; }
}
