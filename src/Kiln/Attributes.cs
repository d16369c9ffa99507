using System;

namespace Kiln;

// The declaration language. A model is a [Model] partial class; each `partial Node` property is one node of
// the graph, in data-flow order; the attributes on a property are applied left to right. A node's input is the
// node declared before it unless an attribute names another with From = nameof(X).
// These attributes live in the runtime assembly (not injected by the generator) so that two projects that
// both declare models never see duplicate attribute types (CS0436).

/// <summary>Marks a partial class as a Kiln model: the generator emits Forward, TrainStep, parameters and checkpoints.</summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class ModelAttribute : Attribute
{
    /// <summary>The training batch size, and the largest number of rows one inference call processes at once.</summary>
    public int Batch { get; set; }
}

/// <summary>How a layer's weights are initialised.</summary>
public enum Init
{
    /// <summary>Chosen from the activation that follows: He for the ReLU family, Xavier for sigmoid/tanh, else PyTorch's Linear default.</summary>
    Auto = 0,
    /// <summary>PyTorch's <c>nn.Linear</c> default: weight and bias uniform in ±1/sqrt(fan_in).</summary>
    PyTorchDefault,
    /// <summary>He/Kaiming uniform with the ReLU gain, bias zero.</summary>
    He,
    /// <summary>Xavier/Glorot uniform, bias zero.</summary>
    Xavier,
}

/// <summary>Base of every layer attribute: one op applied to the node's input.</summary>
public abstract class LayerAttribute : Attribute
{
    // Only the runtime defines layers: each one needs a shape rule, a VJP and a kernel in the compiler.
    private protected LayerAttribute() { }

    /// <summary>The node this op reads, when it is not the previous one (use <c>nameof</c>).</summary>
    public string? From { get; set; }
}

/// <summary>The model's input: <paramref name="width"/> features per sample.</summary>
[AttributeUsage(AttributeTargets.Property, Inherited = false)]
public sealed class InputAttribute(int width) : LayerAttribute
{
    public int Width { get; } = width;
    /// <summary>The element type of the input (float by default).</summary>
    public Type? Of { get; set; }
}

/// <summary>A fully connected layer, y = x·Wᵀ + b, with W laid out [units, in] as in PyTorch.</summary>
[AttributeUsage(AttributeTargets.Property, AllowMultiple = true, Inherited = false)]
public sealed class DenseAttribute(int units) : LayerAttribute
{
    public int Units { get; } = units;
    /// <summary>Whether the layer has a bias (default true).</summary>
    public bool Bias { get; set; } = true;
    /// <summary>The expected input width; checked against the previous node when set.</summary>
    public int In { get; set; }
    public Init Init { get; set; }
}

[AttributeUsage(AttributeTargets.Property, AllowMultiple = true, Inherited = false)]
public sealed class ReluAttribute : LayerAttribute { }

/// <summary>max(x, 0) + alpha·min(x, 0).</summary>
[AttributeUsage(AttributeTargets.Property, AllowMultiple = true, Inherited = false)]
public sealed class LeakyReluAttribute(double alpha = 0.01) : LayerAttribute
{
    public double Alpha { get; } = alpha;
}

[AttributeUsage(AttributeTargets.Property, AllowMultiple = true, Inherited = false)]
public sealed class SigmoidAttribute : LayerAttribute { }

[AttributeUsage(AttributeTargets.Property, AllowMultiple = true, Inherited = false)]
public sealed class TanhAttribute : LayerAttribute { }

/// <summary>GELU: the exact x·Φ(x) as PyTorch's default, or the tanh approximation when <see cref="Approximate"/> is set.</summary>
[AttributeUsage(AttributeTargets.Property, AllowMultiple = true, Inherited = false)]
public sealed class GeluAttribute : LayerAttribute
{
    public bool Approximate { get; set; }
}

/// <summary>Softmax over the last dimension.</summary>
[AttributeUsage(AttributeTargets.Property, AllowMultiple = true, Inherited = false)]
public sealed class SoftmaxAttribute : LayerAttribute { }

/// <summary>
/// Dropout: in training (the model's <c>Training</c>, true by default as in PyTorch) each value is zeroed with
/// probability p and the rest scaled by 1/(1 − p); in evaluation the identity.
/// </summary>
[AttributeUsage(AttributeTargets.Property, AllowMultiple = true, Inherited = false)]
public sealed class DropoutAttribute(double probability = 0.5) : LayerAttribute
{
    public double Probability { get; } = probability;
}

/// <summary>Gaussian noise: x + σ·N(0, 1) in training, the identity in evaluation (a regularizer on the input or a layer).</summary>
[AttributeUsage(AttributeTargets.Property, AllowMultiple = true, Inherited = false)]
public sealed class GaussianNoiseAttribute(double standardDeviation) : LayerAttribute
{
    public double StandardDeviation { get; } = standardDeviation;
}

/// <summary>Element-wise sum of the input and the node named by <see cref="Skip"/> (a skip connection).</summary>
[AttributeUsage(AttributeTargets.Property, AllowMultiple = true, Inherited = false)]
public sealed class AddAttribute(string skip) : LayerAttribute
{
    public string Skip { get; } = skip;
}

/// <summary>How a loss combines its terms: their mean (PyTorch's default 'mean') or their sum.</summary>
public enum Reduction
{
    /// <summary>The mean: over rows for the classification losses, over every element for the element-wise ones.</summary>
    Mean = 0,
    /// <summary>The sum of every term.</summary>
    Sum = 1,
}

/// <summary>
/// Loss: softmax then cross-entropy (PyTorch's <c>CrossEntropyLoss</c>), against integer class labels, or with
/// <see cref="SoftTargets"/> against a probability distribution per sample (what mixup and cutmix produce).
/// </summary>
[AttributeUsage(AttributeTargets.Property, Inherited = false)]
public sealed class SoftmaxCrossEntropyAttribute : LayerAttribute
{
    /// <summary>The number of classes; checked against the logits when set.</summary>
    public int Classes { get; set; }
    /// <summary>ε in [0, 1): the target becomes (1 − ε)·target + ε/classes (PyTorch's <c>label_smoothing</c>).</summary>
    public double LabelSmoothing { get; set; }
    /// <summary>Targets are float distributions [classes] per sample instead of integer labels.</summary>
    public bool SoftTargets { get; set; }
    public Reduction Reduction { get; set; }
}

/// <summary>Loss: mean squared error against float targets, averaged over every element (PyTorch's 'mean').</summary>
[AttributeUsage(AttributeTargets.Property, Inherited = false)]
public sealed class MeanSquaredErrorAttribute : LayerAttribute
{
    /// <summary>The number of target values per sample; checked against the prediction when set.</summary>
    public int Width { get; set; }
    public Reduction Reduction { get; set; }
}

/// <summary>Loss: |prediction − target| per element (PyTorch's <c>L1Loss</c>).</summary>
[AttributeUsage(AttributeTargets.Property, Inherited = false)]
public sealed class L1LossAttribute : LayerAttribute
{
    /// <summary>The number of target values per sample; checked against the prediction when set.</summary>
    public int Width { get; set; }
    public Reduction Reduction { get; set; }
}

/// <summary>Loss: ½d² for |d| &lt; δ, else δ(|d| − ½δ), d = prediction − target (PyTorch's <c>HuberLoss</c>).</summary>
[AttributeUsage(AttributeTargets.Property, Inherited = false)]
public sealed class HuberLossAttribute : LayerAttribute
{
    /// <summary>The number of target values per sample; checked against the prediction when set.</summary>
    public int Width { get; set; }
    /// <summary>δ &gt; 0, where the quadratic part meets the linear one (default 1).</summary>
    public double Delta { get; set; } = 1.0;
    public Reduction Reduction { get; set; }
}

/// <summary>Loss: binary cross-entropy on logits against float targets in [0, 1] (PyTorch's <c>BCEWithLogitsLoss</c>).</summary>
[AttributeUsage(AttributeTargets.Property, Inherited = false)]
public sealed class BinaryCrossEntropyWithLogitsAttribute : LayerAttribute
{
    /// <summary>The number of target values per sample; checked against the logits when set.</summary>
    public int Width { get; set; }
    public Reduction Reduction { get; set; }
}

/// <summary>Loss: multi-class focal loss, −α·(1 − p_y)^γ·log p_y with p = softmax(logits), against integer labels.</summary>
[AttributeUsage(AttributeTargets.Property, Inherited = false)]
public sealed class FocalLossAttribute : LayerAttribute
{
    /// <summary>The number of classes; checked against the logits when set.</summary>
    public int Classes { get; set; }
    /// <summary>γ ≥ 0 (default 2; 0 is cross-entropy).</summary>
    public double Gamma { get; set; } = 2.0;
    /// <summary>α &gt; 0, a weight on every term (default 1).</summary>
    public double Alpha { get; set; } = 1.0;
    public Reduction Reduction { get; set; }
}

/// <summary>Loss: binary focal loss on logits against float targets (torchvision's <c>sigmoid_focal_loss</c>).</summary>
[AttributeUsage(AttributeTargets.Property, Inherited = false)]
public sealed class BinaryFocalLossAttribute : LayerAttribute
{
    /// <summary>The number of target values per sample; checked against the logits when set.</summary>
    public int Width { get; set; }
    /// <summary>γ ≥ 0 (default 2).</summary>
    public double Gamma { get; set; } = 2.0;
    /// <summary>α in [0, 1] weighs the positives, 1 − α the negatives (default 0.25); a negative α turns the weighting off.</summary>
    public double Alpha { get; set; } = 0.25;
    public Reduction Reduction { get; set; }
}
