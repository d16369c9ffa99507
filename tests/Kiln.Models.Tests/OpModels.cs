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

// ---- losses (one model per loss and option) ----

[Model(Batch = 4)]
public partial class L1Net
{
    [Input(5)] public partial Node X { get; }
    [Dense(3)] public partial Node Out { get; }
    [L1Loss(Width = 3)] public partial Node Loss { get; }
}

[Model(Batch = 4)]
public partial class HuberNet
{
    [Input(5)] public partial Node X { get; }
    [Dense(3)] public partial Node Out { get; }
    [HuberLoss(Delta = 0.5)] public partial Node Loss { get; }
}

[Model(Batch = 4)]
public partial class MseSumNet
{
    [Input(5)] public partial Node X { get; }
    [Dense(3)] public partial Node Out { get; }
    [MeanSquaredError(Reduction = Reduction.Sum)] public partial Node Loss { get; }
}

[Model(Batch = 4)]
public partial class BceNet
{
    [Input(5)] public partial Node X { get; }
    [Dense(6), Tanh] public partial Node H { get; }
    [Dense(3)] public partial Node Logits { get; }
    [BinaryCrossEntropyWithLogits] public partial Node Loss { get; }
}

[Model(Batch = 4)]
public partial class BinaryFocalNet
{
    [Input(5)] public partial Node X { get; }
    [Dense(3)] public partial Node Logits { get; }
    [BinaryFocalLoss(Gamma = 2, Alpha = 0.25)] public partial Node Loss { get; }
}

[Model(Batch = 4)]
public partial class FocalNet
{
    [Input(5)] public partial Node X { get; }
    [Dense(8), Tanh] public partial Node H { get; }
    [Dense(4)] public partial Node Logits { get; }
    [FocalLoss(Classes = 4, Gamma = 2, Alpha = 0.5)] public partial Node Loss { get; }
}

[Model(Batch = 4)]
public partial class SmoothedClassifier
{
    [Input(5)] public partial Node X { get; }
    [Dense(4)] public partial Node Logits { get; }
    [SoftmaxCrossEntropy(LabelSmoothing = 0.2, Reduction = Reduction.Sum)] public partial Node Loss { get; }
}

[Model(Batch = 4)]
public partial class SoftTargetClassifier
{
    [Input(5)] public partial Node X { get; }
    [Dense(4)] public partial Node Logits { get; }
    [SoftmaxCrossEntropy(SoftTargets = true, LabelSmoothing = 0.1)] public partial Node Loss { get; }
}

// ---- regularizers ----

[Model(Batch = 4)]
public partial class DropoutNet
{
    [Input(5)] public partial Node X { get; }
    [Dense(8), Tanh, Dropout(0.3)] public partial Node H { get; }
    [Dense(3)] public partial Node Out { get; }
    [MeanSquaredError] public partial Node Loss { get; }
}

[Model(Batch = 4)]
public partial class NoiseNet
{
    [Input(5)] public partial Node X { get; }
    [GaussianNoise(0.2)] public partial Node Noisy { get; }
    [Dense(3)] public partial Node Out { get; }
    [MeanSquaredError] public partial Node Loss { get; }
}

/// <summary>A small digit classifier with soft targets and dropout: the trainer's mixup and resume tests.</summary>
[Model(Batch = 32)]
public partial class SoftDigits
{
    [Input(784)] public partial Node Pixels { get; }
    [Dense(64), Relu, Dropout(0.2)] public partial Node Hidden { get; }
    [Dense(10)] public partial Node Logits { get; }
    [SoftmaxCrossEntropy(SoftTargets = true)] public partial Node Loss { get; }
}
