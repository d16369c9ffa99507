namespace Kiln.Samples.CharRnn;

/// <summary>Zoo model Z4: Z3 with a GRU of 128 in place of the LSTM.</summary>
[Model(Batch = 32)]
public partial class CharGru
{
    [Input(64, Of = typeof(int))]     public partial Node Tokens { get; }
    [Embedding(65, 64)]               public partial Node Embed { get; }
    [Gru(128)]                        public partial Node Gru { get; }
    [Dense(65)]                       public partial Node Logits { get; }
    [SoftmaxCrossEntropy]             public partial Node Loss { get; }
}

/// <summary>Z4 one character at a time (batch 1, one step) for generation.</summary>
[Model(Batch = 1)]
public partial class CharGruStep
{
    [Input(1, Of = typeof(int))]      public partial Node Tokens { get; }
    [Embedding(65, 64)]               public partial Node Embed { get; }
    [Gru(128)]                        public partial Node Gru { get; }
    [Dense(65)]                       public partial Node Logits { get; }
}
