namespace Kiln.Samples.Cifar;

/// <summary>Zoo model Z2: a VGG-style CNN on 3×32×32 images — two 3×3 convolutions of 32 channels, max pooling, two
/// of 64, max pooling, a 256-unit hidden layer and 10 logits; padding 1 keeps each stage's map size; batch 32.</summary>
[Model(Batch = 32)]
public partial class CifarCnn
{
    [Input(3, 32, 32)]                                public partial Node Image { get; }
    [Conv2d(32, 3, Padding = 1), Relu]                public partial Node Conv1 { get; }
    [Conv2d(32, 3, Padding = 1), Relu, MaxPool2d(2)]  public partial Node Conv2 { get; }
    [Conv2d(64, 3, Padding = 1), Relu]                public partial Node Conv3 { get; }
    [Conv2d(64, 3, Padding = 1), Relu, MaxPool2d(2)]  public partial Node Conv4 { get; }
    [Flatten, Dense(256), Relu]                       public partial Node Hidden { get; }
    [Dense(10)]                                       public partial Node Logits { get; }
    [SoftmaxCrossEntropy]                             public partial Node Loss { get; }
}
