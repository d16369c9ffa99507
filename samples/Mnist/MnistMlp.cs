namespace Kiln.Samples.Mnist;

/// <summary>Zoo model Z1: the 784-256-128-10 MLP with ReLU and softmax cross-entropy, batch 64.</summary>
[Model(Batch = 64)]
public partial class MnistMlp
{
    [Input(784)]          public partial Node Pixels { get; }
    [Dense(256), Relu]    public partial Node Hidden1 { get; }
    [Dense(128), Relu]    public partial Node Hidden2 { get; }
    [Dense(10)]           public partial Node Logits { get; }
    [SoftmaxCrossEntropy] public partial Node Loss { get; }
}
