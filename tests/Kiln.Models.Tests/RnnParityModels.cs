using Kiln;

namespace Kiln.Models.Tests;

// The recurrent parity cases (ParityTests; Parity/export.py defines the same models in PyTorch, batch first, with the
// same names). The whole-model cases are Z3 and Z4 (samples/CharRnn).

/// <summary>Embedding with a padding row → tanh RNN over every step → Linear at every step → per-step cross-entropy.</summary>
[Model(Batch = 3)]
public partial class EmbeddingRnnParityNet
{
    [Input(5, Of = typeof(int))] public partial Node Tokens { get; }
    [Embedding(9, 4, PaddingIndex = 0)] public partial Node Embed { get; }
    [Rnn(6)] public partial Node Rnn { get; }
    [Dense(5)] public partial Node Logits { get; }
    [SoftmaxCrossEntropy] public partial Node Loss { get; }
}

/// <summary>A 2-layer ReLU RNN without biases, last step only → Linear → MSE.</summary>
[Model(Batch = 3)]
public partial class RnnReluParityNet
{
    [Input(4, 3)] public partial Node X { get; }
    [Rnn(5, Layers = 2, Nonlinearity = RnnNonlinearity.Relu, Bias = false, ReturnSequences = false)] public partial Node Rnn { get; }
    [Dense(2)] public partial Node Out { get; }
    [MeanSquaredError] public partial Node Loss { get; }
}

/// <summary>A 2-layer LSTM over every step → Linear at every step → MSE.</summary>
[Model(Batch = 2)]
public partial class Lstm2ParityNet
{
    [Input(6, 3)] public partial Node X { get; }
    [Lstm(5, Layers = 2)] public partial Node Lstm { get; }
    [Dense(2)] public partial Node Out { get; }
    [MeanSquaredError] public partial Node Loss { get; }
}

/// <summary>An LSTM, last step → Linear → cross-entropy.</summary>
[Model(Batch = 4)]
public partial class LstmLastParityNet
{
    [Input(5, 4)] public partial Node X { get; }
    [Lstm(6, ReturnSequences = false)] public partial Node Lstm { get; }
    [Dense(3)] public partial Node Logits { get; }
    [SoftmaxCrossEntropy] public partial Node Loss { get; }
}

/// <summary>A 2-layer GRU, last step → Linear → MSE.</summary>
[Model(Batch = 3)]
public partial class Gru2ParityNet
{
    [Input(4, 3)] public partial Node X { get; }
    [Gru(5, Layers = 2, ReturnSequences = false)] public partial Node Gru { get; }
    [Dense(2)] public partial Node Out { get; }
    [MeanSquaredError] public partial Node Loss { get; }
}

/// <summary>A GRU without biases over every step → Linear at every step → per-step cross-entropy.</summary>
[Model(Batch = 2)]
public partial class GruSequenceParityNet
{
    [Input(5, 4)] public partial Node X { get; }
    [Gru(6, Bias = false)] public partial Node Gru { get; }
    [Dense(3)] public partial Node Logits { get; }
    [SoftmaxCrossEntropy] public partial Node Loss { get; }
}
