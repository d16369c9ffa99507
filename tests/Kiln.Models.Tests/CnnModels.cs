using Kiln;

namespace Kiln.Models.Tests;

// Small image models, one or two new ops each, for the finite-difference gradient checks (GradientTests.Cnn*) and
// the shape and mode behaviour tests. Their reference forwards live in CnnGradientTests.

[Model(Batch = 3)]
public partial class ConvPoolNet
{
    [Input(2, 6, 4)] public partial Node X { get; }
    [Conv2d(4, 3, Padding = 1), Relu] public partial Node C1 { get; }
    [MaxPool2d(2)] public partial Node P1 { get; }
    [Conv2d(3, 3, Stride = 2, Padding = 1)] public partial Node C2 { get; }
    [Flatten, Dense(3)] public partial Node Out { get; }
    [MeanSquaredError] public partial Node Loss { get; }
}

[Model(Batch = 2)]
public partial class ConvVariantsNet
{
    [Input(4, 7, 7)] public partial Node X { get; }
    [Conv2d(4, 3, Groups = 2, Dilation = 2, Padding = 2, Bias = false), LeakyRelu(0.1)] public partial Node Grouped { get; }
    [Conv2d(6, 1, Stride = 2)] public partial Node Pointwise { get; }
    [AvgPool2d(2, Stride = 1, Padding = 1, CountIncludePad = false)] public partial Node Avg { get; }
    [Conv2d(6, 3, Groups = 6, Padding = 1), Tanh] public partial Node Depthwise { get; }
    [AvgPool2d(3, Stride = 2, Padding = 1), GlobalAvgPool, Dense(2)] public partial Node Out { get; }
    [MeanSquaredError] public partial Node Loss { get; }
}

[Model(Batch = 4)]
public partial class BatchNormNet
{
    [Input(3, 5, 5)] public partial Node X { get; }
    [Conv2d(4, 3, Padding = Padding.Same, Bias = false), BatchNorm, Relu] public partial Node C1 { get; }
    [Flatten, BatchNorm(Momentum = 0.2, Epsilon = 1e-3)] public partial Node Features { get; }
    [Dense(3)] public partial Node Out { get; }
    [MeanSquaredError] public partial Node Loss { get; }
}

/// <summary>ResNet's basic block: two 3×3 convolutions with batch norm, the input added back before the last ReLU.</summary>
[Block]
public partial class BasicBlock
{
    [Conv2d(4, 3, Padding = 1, Bias = false), BatchNorm, Relu, Conv2d(4, 3, Padding = 1, Bias = false), BatchNorm, Residual, Relu]
    public partial Node Body { get; }
}

[Model(Batch = 3)]
public partial class ResidualNet
{
    [Input(2, 4, 4)] public partial Node X { get; }
    [Conv2d(4, 3, Padding = 1)] public partial Node Stem { get; }
    [Repeat(typeof(BasicBlock), 2)] public partial Node Blocks { get; }
    [GlobalAvgPool, Dense(3)] public partial Node Logits { get; }
    [SoftmaxCrossEntropy] public partial Node Loss { get; }
}

/// <summary>A DenseNet layer: batch norm, ReLU, a 3×3 convolution adding 3 channels, concatenated onto its input.</summary>
[Block]
public partial class DenseLayer
{
    [BatchNorm, Relu, Conv2d(3, 3, Padding = 1), Concat] public partial Node Layer { get; }
}

[Model(Batch = 2)]
public partial class DenseNet
{
    [Input(2, 4, 4)] public partial Node X { get; }
    [Conv2d(4, 3, Padding = 1)] public partial Node Stem { get; }
    [Repeat(typeof(DenseLayer), 3)] public partial Node Dense { get; }
    [AvgPool2d(2), Flatten, Dense(3)] public partial Node Out { get; }
    [MeanSquaredError] public partial Node Loss { get; }
}

/// <summary>A loss on an image: the prediction is compared channels-first, as the targets are laid out.</summary>
[Model(Batch = 2)]
public partial class ImageRegression
{
    [Input(2, 3, 3)] public partial Node X { get; }
    [Conv2d(3, 3, Padding = 1)] public partial Node Y { get; }
    [MeanSquaredError] public partial Node Loss { get; }
}

/// <summary>No loss, an image out: Forward returns it channels-first.</summary>
[Model(Batch = 2)]
public partial class ImageFilter
{
    [Input(2, 3, 4)] public partial Node X { get; }
    [Conv2d(3, 3, Padding = 1), Relu] public partial Node Y { get; }
}
