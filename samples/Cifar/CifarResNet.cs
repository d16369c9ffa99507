namespace Kiln.Samples.Cifar;

/// <summary>ResNet's basic block at 16 channels: two 3×3 convolutions with batch norm, the block's input added back
/// (the identity shortcut) before the last ReLU.</summary>
[Block]
public partial class BasicBlock16
{
    [Conv2d(16, 3, Padding = 1, Bias = false), BatchNorm, Relu, Conv2d(16, 3, Padding = 1, Bias = false), BatchNorm, Residual, Relu]
    public partial Node Body { get; }
}

/// <summary>The same block at 32 channels.</summary>
[Block]
public partial class BasicBlock32
{
    [Conv2d(32, 3, Padding = 1, Bias = false), BatchNorm, Relu, Conv2d(32, 3, Padding = 1, Bias = false), BatchNorm, Residual, Relu]
    public partial Node Body { get; }
}

/// <summary>
/// A small ResNet for 32×32 images (after He et al.'s CIFAR ResNets): a 16-channel stem, two basic blocks at
/// 32×32, a down-sampling block to 32 channels at 16×16 whose shortcut is a strided 1×1 convolution (the
/// projection shortcut), one more basic block, global average pooling and 10 logits.
/// </summary>
[Model(Batch = 32)]
public partial class CifarResNet
{
    [Input(3, 32, 32)]                                            public partial Node Image { get; }
    [Conv2d(16, 3, Padding = 1, Bias = false), BatchNorm, Relu]   public partial Node Stem { get; }
    [Repeat(typeof(BasicBlock16), 2)]                             public partial Node Stage1 { get; }
    [Conv2d(32, 3, Stride = 2, Padding = 1, Bias = false), BatchNorm, Relu, Conv2d(32, 3, Padding = 1, Bias = false), BatchNorm]
    public partial Node Down { get; }
    [Conv2d(32, 1, Stride = 2, Bias = false, From = nameof(Stage1)), BatchNorm, Add(nameof(Down)), Relu]
    public partial Node Shortcut { get; }
    [Repeat(typeof(BasicBlock32))]                                public partial Node Stage2 { get; }
    [GlobalAvgPool, Dense(10)]                                    public partial Node Logits { get; }
    [SoftmaxCrossEntropy]                                         public partial Node Loss { get; }
}
