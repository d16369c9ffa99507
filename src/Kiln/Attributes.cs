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

/// <summary>
/// The model's input: <c>width</c> features per sample (or, with <c>Of = typeof(int)</c>, <c>width</c> integer tokens for
/// an <see cref="EmbeddingAttribute"/>), a sequence of <c>steps</c> × <c>features</c>, or an image of <c>channels</c> × <c>height</c> × <c>width</c>
/// passed channels-first as PyTorch does ([batch, C, H, W], each channel's rows in turn).
/// </summary>
[AttributeUsage(AttributeTargets.Property, Inherited = false)]
public sealed class InputAttribute : LayerAttribute
{
    /// <summary>A vector of <paramref name="width"/> features per sample.</summary>
    public InputAttribute(int width) => Width = width;

    /// <summary>A sequence of <paramref name="steps"/> steps of <paramref name="features"/> values per sample ([batch, T, F],
    /// batch first as PyTorch's <c>batch_first=True</c>).</summary>
    public InputAttribute(int steps, int features)
    {
        Steps = steps;
        Features = features;
    }

    /// <summary>An image of <paramref name="channels"/> × <paramref name="height"/> × <paramref name="width"/> per sample.</summary>
    public InputAttribute(int channels, int height, int width)
    {
        Channels = channels;
        Height = height;
        Width = width;
    }

    public int Channels { get; }
    public int Height { get; }
    public int Width { get; }
    public int Steps { get; }
    public int Features { get; }
    /// <summary>The element type of the input (float by default).</summary>
    public Type? Of { get; set; }
    /// <summary>
    /// For integer tokens: the token that pads a sample to the declared length (−1, the default: none). Padding is
    /// trailing: a sample's length is the position of its first padding token (every step when there is none), and an
    /// attention whose <c>KeyPadding</c> names this input hides the keys from that position on — PyTorch's
    /// <c>key_padding_mask = tokens == pad</c> for right-padded batches.
    /// </summary>
    public int PaddingToken { get; set; } = -1;
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
    /// <summary>The label of a row that does not count (PyTorch's <c>ignore_index</c>, −100 by default, e.g. the padded
    /// steps of a sequence): it adds nothing to the loss and gets no gradient, and the mean is over the other rows.</summary>
    public int IgnoreIndex { get; set; } = -100;
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

/// <summary>Named padding values for <see cref="Conv2dAttribute.Padding"/>.</summary>
public static class Padding
{
    /// <summary>PyTorch's <c>padding="same"</c>: the output has the input's height and width (stride 1 only); an even
    /// kernel pads one more row and column at the bottom and right.</summary>
    public const int Same = -1;
}

/// <summary>
/// A 2-D convolution (PyTorch's <c>nn.Conv2d</c>) over an image [C, H, W]: <paramref name="channels"/> output channels,
/// a square <paramref name="kernel"/> (or <see cref="KernelWidth"/> wide). The weight is [channels, C / Groups, kernel,
/// kernel] and the bias [channels], as in PyTorch.
/// </summary>
[AttributeUsage(AttributeTargets.Property, AllowMultiple = true, Inherited = false)]
public sealed class Conv2dAttribute(int channels, int kernel) : LayerAttribute
{
    public int Channels { get; } = channels;
    public int Kernel { get; } = kernel;
    /// <summary>The kernel's width when it differs from its height (0: square).</summary>
    public int KernelWidth { get; set; }
    /// <summary>Step between windows (default 1).</summary>
    public int Stride { get; set; } = 1;
    /// <summary>Zeros added on every side (default 0), or <see cref="Kiln.Padding.Same"/>.</summary>
    public int Padding { get; set; }
    /// <summary>Spacing between kernel taps (default 1).</summary>
    public int Dilation { get; set; } = 1;
    /// <summary>Channel groups (default 1; the input channels for a depthwise convolution).</summary>
    public int Groups { get; set; } = 1;
    /// <summary>Whether the layer has a bias (default true; false before a BatchNorm).</summary>
    public bool Bias { get; set; } = true;
    /// <summary>The expected input channels; checked against the previous node when set.</summary>
    public int In { get; set; }
    public Init Init { get; set; }
}

/// <summary>Max pooling (PyTorch's <c>nn.MaxPool2d</c>, floor mode) over windows of <paramref name="kernel"/> × <paramref name="kernel"/>.</summary>
[AttributeUsage(AttributeTargets.Property, AllowMultiple = true, Inherited = false)]
public sealed class MaxPool2dAttribute(int kernel) : LayerAttribute
{
    public int Kernel { get; } = kernel;
    /// <summary>Step between windows (default: the kernel).</summary>
    public int Stride { get; set; }
    /// <summary>Implicit −∞ on every side, at most half the kernel (default 0).</summary>
    public int Padding { get; set; }
}

/// <summary>Average pooling (PyTorch's <c>nn.AvgPool2d</c>, floor mode) over windows of <paramref name="kernel"/> × <paramref name="kernel"/>.</summary>
[AttributeUsage(AttributeTargets.Property, AllowMultiple = true, Inherited = false)]
public sealed class AvgPool2dAttribute(int kernel) : LayerAttribute
{
    public int Kernel { get; } = kernel;
    /// <summary>Step between windows (default: the kernel).</summary>
    public int Stride { get; set; }
    /// <summary>Zeros on every side, at most half the kernel (default 0).</summary>
    public int Padding { get; set; }
    /// <summary>Divide by the whole window, padding included (PyTorch's default), rather than the positions inside the image.</summary>
    public bool CountIncludePad { get; set; } = true;
}

/// <summary>Global average pooling: an image [C, H, W] to its channel means [C] (PyTorch's <c>AdaptiveAvgPool2d(1)</c> then flatten).</summary>
[AttributeUsage(AttributeTargets.Property, AllowMultiple = true, Inherited = false)]
public sealed class GlobalAvgPoolAttribute : LayerAttribute { }

/// <summary>
/// Batch normalization: per channel of an image (PyTorch's <c>BatchNorm2d</c>) or per feature of a vector
/// (<c>BatchNorm1d</c>). Training uses the batch's statistics and updates the running ones; evaluation
/// (<c>Training = false</c>) uses the running ones. Parameters weight and bias, buffers running_mean, running_var and
/// num_batches_tracked, under PyTorch's names.
/// </summary>
[AttributeUsage(AttributeTargets.Property, AllowMultiple = true, Inherited = false)]
public sealed class BatchNormAttribute : LayerAttribute
{
    /// <summary>How far the running statistics move towards each batch's (default 0.1).</summary>
    public double Momentum { get; set; } = 0.1;
    /// <summary>Added to the variance (default 1e−5).</summary>
    public double Epsilon { get; set; } = 1e-5;
    /// <summary>Whether the layer has a learned scale and shift (default true).</summary>
    public bool Affine { get; set; } = true;
}

/// <summary>Flattens an image [C, H, W] to a vector [C·H·W] in PyTorch's order (channel, then row, then column).</summary>
[AttributeUsage(AttributeTargets.Property, AllowMultiple = true, Inherited = false)]
public sealed class FlattenAttribute : LayerAttribute { }

/// <summary>
/// Concatenation along channels (features): [input of this node, value so far] — DenseNet's feature reuse — or, with
/// <see cref="With"/>, [value so far, the named node]. Heights and widths must agree.
/// </summary>
[AttributeUsage(AttributeTargets.Property, AllowMultiple = true, Inherited = false)]
public sealed class ConcatAttribute : LayerAttribute
{
    /// <summary>The node appended after the value so far (use <c>nameof</c>); unset: the node's input goes first.</summary>
    public string? With { get; set; }
}

/// <summary>A residual connection: adds the node's input to the value so far (ResNet's identity shortcut).</summary>
[AttributeUsage(AttributeTargets.Property, AllowMultiple = true, Inherited = false)]
public sealed class ResidualAttribute : LayerAttribute { }

/// <summary>
/// Marks a partial class as a reusable block of nodes: used as a node of a model (or of another block) with
/// <see cref="RepeatAttribute"/>. Its first node reads the block's input; <c>Residual</c> and <c>Concat</c> in a node
/// refer to that node's input, and <c>From</c>/<c>With</c>/<c>Add</c> name nodes of the same block.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class BlockAttribute : Attribute { }

/// <summary>
/// The nodes of a <see cref="BlockAttribute"/> class applied <paramref name="count"/> times in sequence (PyTorch's
/// <c>nn.Sequential</c> of the block). Parameters are named <c>Node.i.BlockNode...</c>; shapes are checked for each
/// repetition, so a block whose channels grow (DenseNet) may be repeated.
/// </summary>
[AttributeUsage(AttributeTargets.Property, AllowMultiple = true, Inherited = false)]
public sealed class RepeatAttribute(Type block, int count = 1) : LayerAttribute
{
    public Type Block { get; } = block;
    public int Count { get; } = count;
}

/// <summary>
/// A lookup table (PyTorch's <c>nn.Embedding</c>): each integer token of a sequence [T] becomes row <c>token</c> of a
/// learned weight [<paramref name="count"/>, <paramref name="dimension"/>], giving [T, dimension]. It reads the
/// model's integer input, declared <c>[Input(T, Of = typeof(int))]</c>. Weights start N(0, 1), as PyTorch's.
/// </summary>
[AttributeUsage(AttributeTargets.Property, AllowMultiple = true, Inherited = false)]
public sealed class EmbeddingAttribute(int count, int dimension) : LayerAttribute
{
    /// <summary>The number of distinct tokens (rows of the table).</summary>
    public int Count { get; } = count;
    /// <summary>The width of each token's vector.</summary>
    public int Dimension { get; } = dimension;
    /// <summary>A token whose row stays zero and gets no gradient (PyTorch's <c>padding_idx</c>); −1 for none.</summary>
    public int PaddingIndex { get; set; } = -1;
}

/// <summary>The non-linearity of a vanilla RNN (PyTorch's <c>nonlinearity</c>).</summary>
public enum RnnNonlinearity
{
    Tanh = 0,
    Relu = 1,
}

/// <summary>
/// Base of the recurrent layers: a sequence [T, features] to every step's hidden state [T, hidden] (or, with
/// <see cref="ReturnSequences"/> = false, the last step's [hidden]). Weights and biases are named and laid out as
/// PyTorch's (<c>weight_ih_l0</c> [gates·hidden, in], <c>weight_hh_l0</c>, <c>bias_ih_l0</c>, <c>bias_hh_l0</c>, then
/// <c>_l1</c> … for stacked layers), initialised U(±1/√hidden) as PyTorch's. Each batch starts from a zero state,
/// or, with the model's <c>CarryState</c>, from the state the previous batch ended in (truncated backpropagation
/// through time: the carried state is a constant, as a detached tensor in PyTorch); the final state is in the
/// model's <c>States</c> after every pass.
/// </summary>
public abstract class RecurrentAttribute : LayerAttribute
{
    private protected RecurrentAttribute(int hidden) => Hidden = hidden;

    /// <summary>The hidden state's width.</summary>
    public int Hidden { get; }
    /// <summary>Stacked layers (PyTorch's <c>num_layers</c>, default 1): each reads the sequence of the one before.</summary>
    public int Layers { get; set; } = 1;
    /// <summary>Whether the layers have biases (default true).</summary>
    public bool Bias { get; set; } = true;
    /// <summary>Output every step (default, as PyTorch's output) or only the last step's hidden state (many-to-one).</summary>
    public bool ReturnSequences { get; set; } = true;
    /// <summary>Dropout on the outputs of every layer but the last, in training (PyTorch's <c>dropout</c>).</summary>
    public double Dropout { get; set; }
    /// <summary>The expected input features per step, checked against what arrives (0: not checked).</summary>
    public int In { get; set; }
    /// <summary>The expected sequence length, checked against what arrives (0: not checked).</summary>
    public int Steps { get; set; }
}

/// <summary>A vanilla (Elman) RNN: h' = tanh(W_ih x + b_ih + W_hh h + b_hh), or ReLU (PyTorch's <c>nn.RNN</c>).</summary>
[AttributeUsage(AttributeTargets.Property, AllowMultiple = true, Inherited = false)]
public sealed class RnnAttribute(int hidden) : RecurrentAttribute(hidden)
{
    public RnnNonlinearity Nonlinearity { get; set; }
}

/// <summary>A long short-term memory layer (PyTorch's <c>nn.LSTM</c>; gates i, f, g, o; a cell state beside the hidden one).</summary>
[AttributeUsage(AttributeTargets.Property, AllowMultiple = true, Inherited = false)]
public sealed class LstmAttribute(int hidden) : RecurrentAttribute(hidden) { }

/// <summary>A gated recurrent unit layer (PyTorch's <c>nn.GRU</c>; gates r, z, n).</summary>
[AttributeUsage(AttributeTargets.Property, AllowMultiple = true, Inherited = false)]
public sealed class GruAttribute(int hidden) : RecurrentAttribute(hidden) { }

/// <summary>
/// Layer normalization over the last dimension (PyTorch's <c>nn.LayerNorm(features)</c>): each row (each step of a
/// sequence) is centred and scaled to unit variance, then scaled and shifted by the learned <c>weight</c> (ones) and
/// <c>bias</c> (zeros). The same in training and evaluation.
/// </summary>
[AttributeUsage(AttributeTargets.Property, AllowMultiple = true, Inherited = false)]
public sealed class LayerNormAttribute : LayerAttribute
{
    /// <summary>Added to the variance (default 1e−5, PyTorch's).</summary>
    public double Epsilon { get; set; } = 1e-5;
    /// <summary>Whether the layer has a learned weight and bias (PyTorch's <c>elementwise_affine</c>, default true).</summary>
    public bool Affine { get; set; } = true;
}

/// <summary>
/// Root-mean-square normalization over the last dimension (LLaMA's RMSNorm; PyTorch's <c>nn.RMSNorm</c> from 2.4):
/// y = x / √(mean(x²) + ε) · weight, no centring and no bias.
/// </summary>
[AttributeUsage(AttributeTargets.Property, AllowMultiple = true, Inherited = false)]
public sealed class RmsNormAttribute : LayerAttribute
{
    /// <summary>Added to the mean square (default 1e−6).</summary>
    public double Epsilon { get; set; } = 1e-6;
    /// <summary>Whether the layer has a learned weight (default true).</summary>
    public bool Affine { get; set; } = true;
}

/// <summary>
/// Multi-head self-attention over a sequence [T, d_model] (PyTorch's <c>nn.MultiheadAttention(d_model, heads,
/// batch_first=True)</c> called with the same sequence as query, key and value): one fused projection to Q, K and V
/// (<c>in_proj_weight</c> [3·d_model, d_model], <c>in_proj_bias</c>), per head softmax(Q·Kᵀ/√d_k)·V with
/// d_k = d_model / heads, the heads side by side, and the output projection (<c>out_proj.weight</c>, <c>out_proj.bias</c>).
/// Initialised as PyTorch's: Xavier-uniform input projection, zero biases.
/// </summary>
[AttributeUsage(AttributeTargets.Property, AllowMultiple = true, Inherited = false)]
public sealed class SelfAttentionAttribute : LayerAttribute
{
    public SelfAttentionAttribute() { }

    public SelfAttentionAttribute(int heads) => Heads = heads;

    /// <summary>Attention heads; d_model must be a multiple of it.</summary>
    public int Heads { get; set; }
    /// <summary>Each step attends only to itself and the steps before it (a decoder's causal mask).</summary>
    public bool Causal { get; set; }
    /// <summary>Dropout on the attention weights in training (PyTorch's <c>dropout</c>, default 0).</summary>
    public double Dropout { get; set; }
    /// <summary>Whether the projections have biases (default true).</summary>
    public bool Bias { get; set; } = true;
    /// <summary>The expected sequence length, checked against what arrives (0: not checked).</summary>
    public int Steps { get; set; }
    /// <summary>An integer <see cref="InputAttribute"/> with a <see cref="InputAttribute.PaddingToken"/>, one token per key
    /// (e.g. <c>nameof(Source)</c>): the keys at and past each sample's first padding token are hidden from every query
    /// (PyTorch's <c>key_padding_mask</c>). A query that sees no key at all outputs zeros (PyTorch's would be NaN).</summary>
    public string? KeyPadding { get; set; }
}

/// <summary>
/// Multi-head cross-attention (an encoder-decoder's second attention): the queries come from the sequence so far
/// [T_q, d_model], the keys and values from <see cref="Memory"/>, another node's sequence [T_k, d_memory] (the encoder's
/// output; any length and width, as PyTorch's <c>kdim</c>/<c>vdim</c>). Per head softmax(Q·Kᵀ/√d_k)·V with
/// d_k = d_model / heads, the heads side by side, then the output projection. Parameters as <c>nn.Linear</c> modules:
/// <c>q_proj</c> [d_model, d_model], <c>kv_proj</c> [2·d_model, d_memory] (the keys' rows, then the values'), <c>out_proj</c>
/// [d_model, d_model], with biases. An <c>nn.MultiheadAttention</c> used as cross-attention (with d_memory = d_model)
/// loads by splitting its <c>in_proj_weight</c> and <c>in_proj_bias</c>: the first d_model rows are <c>q_proj</c>, the rest
/// <c>kv_proj</c>. Initialised as PyTorch's attention: Xavier-uniform projections, zero biases.
/// </summary>
[AttributeUsage(AttributeTargets.Property, AllowMultiple = true, Inherited = false)]
public sealed class CrossAttentionAttribute : LayerAttribute
{
    public CrossAttentionAttribute() { }

    public CrossAttentionAttribute(int heads) => Heads = heads;

    /// <summary>Attention heads; d_model must be a multiple of it.</summary>
    public int Heads { get; set; }
    /// <summary>The node whose sequence is attended over, e.g. <c>nameof(Encoder)</c>: declared before this node, in the
    /// model or (from a block) in the model that repeats the block.</summary>
    public string? Memory { get; set; }
    /// <summary>Dropout on the attention weights in training (PyTorch's <c>dropout</c>, default 0).</summary>
    public double Dropout { get; set; }
    /// <summary>Whether the projections have biases (default true).</summary>
    public bool Bias { get; set; } = true;
    /// <summary>The expected length of the query sequence, checked against what arrives (0: not checked).</summary>
    public int Steps { get; set; }
    /// <summary>An integer <see cref="InputAttribute"/> with a <see cref="InputAttribute.PaddingToken"/>, one token per key
    /// (e.g. <c>nameof(Source)</c>): the keys at and past each sample's first padding token are hidden from every query
    /// (PyTorch's <c>key_padding_mask</c>). A query that sees no key at all outputs zeros (PyTorch's would be NaN).</summary>
    public string? KeyPadding { get; set; }
}

/// <summary>
/// Learned positional encodings: a trained table [length, d_model] whose first T rows are added to a sequence
/// [T, d_model] (GPT's <c>wpe</c>, an <c>nn.Embedding(length, d_model)</c> over the positions 0..T−1). Starts N(0, 1)
/// as PyTorch's embedding.
/// </summary>
[AttributeUsage(AttributeTargets.Property, AllowMultiple = true, Inherited = false)]
public sealed class LearnedPositionsAttribute : LayerAttribute
{
    public LearnedPositionsAttribute() { }

    public LearnedPositionsAttribute(int length) => Length = length;

    /// <summary>Rows of the table, the longest sequence it encodes (0: the sequence length that arrives).</summary>
    public int Length { get; set; }
}

/// <summary>
/// Fixed sinusoidal positional encodings (Vaswani et al.): PE(t, 2i) = sin(t / 10000^(2i/d)), PE(t, 2i + 1) =
/// cos(t / 10000^(2i/d)), added to a sequence [T, d]. No parameters.
/// </summary>
[AttributeUsage(AttributeTargets.Property, AllowMultiple = true, Inherited = false)]
public sealed class SinusoidalPositionsAttribute : LayerAttribute { }
