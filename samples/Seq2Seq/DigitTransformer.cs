namespace Kiln.Samples.Seq2Seq;

/// <summary>An encoder layer (pre-LN): self-attention over the whole source with 4 heads of 16, then a GELU
/// feed-forward of 128, each with a residual connection.</summary>
[Block]
public partial class EncoderLayer
{
    [LayerNorm, SelfAttention(4), Residual]             public partial Node Attn { get; }
    [LayerNorm, Dense(128), Gelu, Dense(64), Residual]  public partial Node Mlp { get; }
}

/// <summary>A decoder layer (pre-LN): causal self-attention over the target so far, cross-attention over the
/// encoder's output (the model's node "Encoded"; a block names a model's node as a string), a GELU feed-forward.</summary>
[Block]
public partial class DecoderLayer
{
    [LayerNorm, SelfAttention(4, Causal = true), Residual]          public partial Node Self { get; }
    [LayerNorm, CrossAttention(4, Memory = "Encoded"), Residual]    public partial Node Cross { get; }
    [LayerNorm, Dense(128), Gelu, Dense(64), Residual]              public partial Node Mlp { get; }
}

/// <summary>
/// An encoder-decoder Transformer with two inputs: the source, 8 digits; and the target so far, a start token (10)
/// followed by the first 7 output digits (teacher forcing). At every target step the logits of the next output digit.
/// Two encoder layers and two decoder layers of width 64, learned positions on both sides.
/// </summary>
[Model(Batch = 32)]
public partial class DigitTransformer
{
    [Input(8, Of = typeof(int))]                  public partial Node Source { get; }
    [Embedding(11, 64), LearnedPositions]         public partial Node SourceEmbedded { get; }
    [Repeat(typeof(EncoderLayer), 2)]             public partial Node EncoderLayers { get; }
    [LayerNorm]                                   public partial Node Encoded { get; }
    [Input(8, Of = typeof(int))]                  public partial Node Target { get; }
    [Embedding(11, 64), LearnedPositions]         public partial Node TargetEmbedded { get; }
    [Repeat(typeof(DecoderLayer), 2)]             public partial Node DecoderLayers { get; }
    [LayerNorm, Dense(10)]                        public partial Node Logits { get; }
    [SoftmaxCrossEntropy]                         public partial Node Loss { get; }
}
