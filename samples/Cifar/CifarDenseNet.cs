namespace Kiln.Samples.Cifar;

/// <summary>A DenseNet layer (growth rate 12): batch norm, ReLU and a 3×3 convolution making 12 new channels,
/// concatenated onto the layer's input — every later layer sees every earlier layer's features.</summary>
[Block]
public partial class DenseLayer12
{
    [BatchNorm, Relu, Conv2d(12, 3, Padding = 1, Bias = false), Concat] public partial Node Layer { get; }
}

/// <summary>
/// A small DenseNet for 32×32 images (after Huang et al.): a 24-channel stem, a dense block of 4 layers (24 → 72
/// channels), a transition (batch norm, ReLU, 1×1 convolution halving the channels, 2×2 average pooling), a second
/// dense block (36 → 84), then batch norm, ReLU, global average pooling and 10 logits.
/// </summary>
[Model(Batch = 32)]
public partial class CifarDenseNet
{
    [Input(3, 32, 32)]                                                  public partial Node Image { get; }
    [Conv2d(24, 3, Padding = 1, Bias = false)]                          public partial Node Stem { get; }
    [Repeat(typeof(DenseLayer12), 4)]                                   public partial Node Block1 { get; }
    [BatchNorm, Relu, Conv2d(36, 1, Bias = false), AvgPool2d(2)]        public partial Node Transition { get; }
    [Repeat(typeof(DenseLayer12), 4)]                                   public partial Node Block2 { get; }
    [BatchNorm, Relu, GlobalAvgPool, Dense(10)]                         public partial Node Logits { get; }
    [SoftmaxCrossEntropy]                                               public partial Node Loss { get; }
}
