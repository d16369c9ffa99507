using Kiln;

namespace Kiln.Models.Tests;

// One small model per op, for the finite-difference gradient checks. Each ends in a loss so that the generated
// backward of every op is exercised; the reference forward of each lives in GradientTests.

[Model(Batch = 4)]
public partial class DenseMse
{
    [Input(5)] public partial Node X { get; }
    [Dense(3)] public partial Node Out { get; }
    [MeanSquaredError] public partial Node Loss { get; }
}

[Model(Batch = 4)]
public partial class ReluNet
{
    [Input(5)] public partial Node X { get; }
    [Dense(6, Bias = false), Relu] public partial Node H { get; }
    [Dense(3)] public partial Node Out { get; }
    [MeanSquaredError] public partial Node Loss { get; }
}

[Model(Batch = 4)]
public partial class LeakyReluNet
{
    [Input(5)] public partial Node X { get; }
    [Dense(6), LeakyRelu(0.2)] public partial Node H { get; }
    [Dense(3)] public partial Node Out { get; }
    [MeanSquaredError] public partial Node Loss { get; }
}

[Model(Batch = 4)]
public partial class SigmoidNet
{
    [Input(5)] public partial Node X { get; }
    [Dense(6), Sigmoid] public partial Node H { get; }
    [Dense(3)] public partial Node Out { get; }
    [MeanSquaredError] public partial Node Loss { get; }
}

[Model(Batch = 4)]
public partial class TanhNet
{
    [Input(5)] public partial Node X { get; }
    [Dense(6), Tanh] public partial Node H { get; }
    [Dense(3)] public partial Node Out { get; }
    [MeanSquaredError] public partial Node Loss { get; }
}

[Model(Batch = 4)]
public partial class GeluNet
{
    [Input(5)] public partial Node X { get; }
    [Dense(6), Gelu] public partial Node H { get; }
    [Dense(6), Gelu(Approximate = true)] public partial Node H2 { get; }
    [Dense(3)] public partial Node Out { get; }
    [MeanSquaredError] public partial Node Loss { get; }
}

[Model(Batch = 4)]
public partial class SoftmaxNet
{
    [Input(5)] public partial Node X { get; }
    [Dense(6), Softmax] public partial Node H { get; }
    [Dense(3)] public partial Node Out { get; }
    [MeanSquaredError] public partial Node Loss { get; }
}

/// <summary>A skip connection and a fan-out: A feeds both B's Dense and C's ReLU, and Sum adds B back.</summary>
[Model(Batch = 4)]
public partial class SkipNet
{
    [Input(5)] public partial Node X { get; }
    [Dense(6), Tanh] public partial Node A { get; }
    [Dense(6)] public partial Node B { get; }
    [Relu(From = nameof(A))] public partial Node C { get; }
    [Add(nameof(B))] public partial Node Sum { get; }
    [Dense(3)] public partial Node Out { get; }
    [MeanSquaredError] public partial Node Loss { get; }
}

[Model(Batch = 4)]
public partial class Classifier
{
    [Input(5)] public partial Node X { get; }
    [Dense(8), Tanh] public partial Node H { get; }
    [Dense(4)] public partial Node Logits { get; }
    [SoftmaxCrossEntropy(Classes = 4)] public partial Node Loss { get; }
}
