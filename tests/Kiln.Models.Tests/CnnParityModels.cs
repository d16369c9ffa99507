using Kiln;

namespace Kiln.Models.Tests;

// The CNN parity cases (ParityTests; Parity/export.py defines the same models in PyTorch with the same names). The
// blocks cases reuse ResidualNet and DenseNet of CnnModels.cs; the whole-model case is Z2 (samples/Cifar).

/// <summary>Every convolution variant: plain, strided, dilated without bias, grouped, depthwise with "same"
/// padding, a rectangular kernel, pointwise.</summary>
[Model(Batch = 2)]
public partial class ConvParityNet
{
    [Input(4, 7, 7)] public partial Node X { get; }
    [Conv2d(6, 3, Padding = 1), Relu] public partial Node Plain { get; }
    [Conv2d(6, 3, Stride = 2, Padding = 1)] public partial Node Strided { get; }
    [Conv2d(4, 3, Dilation = 2, Padding = 2, Bias = false), Tanh] public partial Node Dilated { get; }
    [Conv2d(6, 3, Groups = 2, Padding = 1)] public partial Node Grouped { get; }
    [Conv2d(6, 3, Groups = 6, Padding = Padding.Same), LeakyRelu(0.1)] public partial Node Depthwise { get; }
    [Conv2d(5, 3, KernelWidth = 1, Padding = Padding.Same)] public partial Node Tall { get; }
    [Conv2d(3, 1)] public partial Node Pointwise { get; }
    [Flatten, Dense(2)] public partial Node Out { get; }
    [MeanSquaredError] public partial Node Loss { get; }
}

/// <summary>Max and average pooling with stride and padding (average with and without the padding counted), global
/// average pooling.</summary>
[Model(Batch = 3)]
public partial class PoolParityNet
{
    [Input(2, 10, 10)] public partial Node X { get; }
    [Conv2d(3, 3, Padding = 1), MaxPool2d(2)] public partial Node A { get; }
    [Conv2d(4, 3, Padding = 1), AvgPool2d(3, Stride = 2, Padding = 1)] public partial Node B { get; }
    [Conv2d(4, 1), AvgPool2d(2, Stride = 1, Padding = 1, CountIncludePad = false)] public partial Node C { get; }
    [MaxPool2d(2, Stride = 2, Padding = 1)] public partial Node D { get; }
    [GlobalAvgPool, Dense(3)] public partial Node Out { get; }
    [SoftmaxCrossEntropy] public partial Node Loss { get; }
}
