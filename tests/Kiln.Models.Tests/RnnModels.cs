namespace Kiln.Models.Tests;

/// <summary>Tokens → embedding → 2-layer LSTM → a Dense at every step → per-step cross-entropy (a language model in small).</summary>
[Model(Batch = 4)]
public partial class TokenLstmNet
{
    [Input(5, Of = typeof(int))]            public partial Node Tokens { get; }
    [Embedding(7, 3, PaddingIndex = 0)]     public partial Node Embed { get; }
    [Lstm(4, Layers = 2)]                   public partial Node Lstm { get; }
    [Dense(7)]                              public partial Node Logits { get; }
    [SoftmaxCrossEntropy]                   public partial Node Loss { get; }
}

/// <summary>A float sequence → GRU, last step only (many-to-one) → Dense → MSE.</summary>
[Model(Batch = 4)]
public partial class GruLastNet
{
    [Input(4, 3)]                                   public partial Node Series { get; }
    [Gru(5, ReturnSequences = false)]               public partial Node Gru { get; }
    [Dense(2)]                                      public partial Node Out { get; }
    [MeanSquaredError]                              public partial Node Loss { get; }
}

/// <summary>Two vanilla RNNs (tanh, then ReLU without biases, last step) with a time-distributed Dense and tanh between.</summary>
[Model(Batch = 4)]
public partial class RnnStackNet
{
    [Input(3, 2)]                                                                           public partial Node Series { get; }
    [Rnn(4)]                                                                                public partial Node First { get; }
    [Dense(3), Tanh]                                                                        public partial Node PerStep { get; }
    [Rnn(3, Nonlinearity = RnnNonlinearity.Relu, Bias = false, ReturnSequences = false)]    public partial Node Second { get; }
    [Dense(2)]                                                                              public partial Node Out { get; }
    [MeanSquaredError]                                                                      public partial Node Loss { get; }
}

/// <summary>A stacked GRU with dropout between its layers, whose output sequence is the model's output.</summary>
[Model(Batch = 8)]
public partial class GruDropoutNet
{
    [Input(6, 4)]                                   public partial Node Series { get; }
    [Gru(8, Layers = 3, Dropout = 0.5)]             public partial Node Gru { get; }
}
