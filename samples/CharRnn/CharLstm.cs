namespace Kiln.Samples.CharRnn;

/// <summary>Zoo model Z3: a character-level LSTM language model — 64 characters in, an embedding of 64, an LSTM of 128,
/// and at every step the logits of the next character over a vocabulary of 65; batch 32.</summary>
[Model(Batch = 32)]
public partial class CharLstm
{
    [Input(64, Of = typeof(int))]     public partial Node Tokens { get; }
    [Embedding(65, 64)]               public partial Node Embed { get; }
    [Lstm(128)]                       public partial Node Lstm { get; }
    [Dense(65)]                       public partial Node Logits { get; }
    [SoftmaxCrossEntropy]             public partial Node Loss { get; }
}

/// <summary>Z3 one character at a time (batch 1, one step) for generation: the same parameters under the same names,
/// its state carried from step to step.</summary>
[Model(Batch = 1)]
public partial class CharLstmStep
{
    [Input(1, Of = typeof(int))]      public partial Node Tokens { get; }
    [Embedding(65, 64)]               public partial Node Embed { get; }
    [Lstm(128)]                       public partial Node Lstm { get; }
    [Dense(65)]                       public partial Node Logits { get; }
}
