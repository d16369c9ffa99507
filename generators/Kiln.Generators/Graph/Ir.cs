using System;
using System.Globalization;
using System.Linq;
using Kiln.Generators.Helpers;

namespace Kiln.Generators.Graph;

// The graph IR: a DAG of ops with fully static per-sample shapes (the batch dimension is implicit and
// decided at run time, up to the model's declared Batch). Pure data: no Roslyn types, no text emission.

public enum OpKind
{
    Input,
    Dense,
    Relu,
    LeakyRelu,
    Sigmoid,
    Tanh,
    Gelu,
    Softmax,
    Dropout,
    GaussianNoise,
    Add,
    SoftmaxCrossEntropy,
    MeanSquaredError,
    L1Loss,
    HuberLoss,
    BinaryCrossEntropyWithLogits,
    FocalLoss,
    BinaryFocalLoss,
    /// <summary>An image input [C, H, W] from the caller's channels-first layout to Kiln's channels-last one.</summary>
    ChannelsLast,
    /// <summary>An image back to channels-first [C, H, W] (what callers and losses see), same shape.</summary>
    ChannelsFirst,
    Conv2d,
    MaxPool2d,
    AvgPool2d,
    GlobalAvgPool,
    BatchNorm,
    /// <summary>An image [C, H, W] to a vector [C·H·W] in PyTorch's order (a transpose from channels-last), or a plain copy.</summary>
    Flatten,
    /// <summary>Concatenation along the last (channel) dimension of its two inputs.</summary>
    Concat,
    /// <summary>Integer tokens [T] to rows of a learned table [T, dimension].</summary>
    Embedding,
    /// <summary>One layer of an RNN, LSTM or GRU over a sequence [T, F]: [T, H] or the last step's [H].</summary>
    Recurrent,
    /// <summary>Layer normalization over the last dimension (weight and bias when affine).</summary>
    LayerNorm,
    /// <summary>RMS normalization over the last dimension (weight when affine).</summary>
    RmsNorm,
    /// <summary>The attention core: a fused Q/K/V projection [T, 3·D] to the heads' outputs [T, D] (the projections are Dense ops).</summary>
    Attention,
    /// <summary>Positional encodings added to a sequence [T, D]: a learned table or fixed sinusoids.</summary>
    Positions,
}

/// <summary>How a product's parameters start. The first four are what a user may ask for (Init = 0..3);
/// <see cref="LinearZeroBias"/> is PyTorch's linear default with a zero bias (nn.MultiheadAttention's out_proj).</summary>
public enum InitKind { None, PyTorchDefault, He, Xavier, LinearZeroBias }

/// <summary>The cell of a recurrent layer (the runtime's RecurrentCell, by the same numbers).</summary>
public enum RecurrentKind { RnnTanh = 0, RnnRelu = 1, Lstm = 2, Gru = 3 }

/// <summary>A per-sample shape, e.g. [784] or [64, 128].</summary>
public sealed record Shape(EquatableArray<int> Dimensions)
{
    public static readonly Shape Scalar = new(EquatableArray<int>.Empty);

    public static Shape Of(params int[] dimensions) => new(new EquatableArray<int>(dimensions));

    public int Rank => Dimensions.Count;

    /// <summary>The last dimension (the feature width a Dense or softmax acts on), 1 for a scalar.</summary>
    public int Last => Rank == 0 ? 1 : Dimensions[Rank - 1];

    /// <summary>Values per sample.</summary>
    public long Size => Dimensions.Aggregate(1L, (a, d) => a * d);

    /// <summary>An image [channels, height, width] (stored channels-last inside a model).</summary>
    public bool IsImage => Rank == 3;

    /// <summary>An image's channels (the first dimension).</summary>
    public int Channels => Dimensions[0];
    public int Height => Dimensions[1];
    public int Width => Dimensions[2];
    /// <summary>An image's height × width.</summary>
    public int Pixels => Dimensions[1] * Dimensions[2];

    /// <summary>The dimension operations act along: an image's channels, else the last dimension.</summary>
    public int ChannelWidth => IsImage ? Channels : Last;

    /// <summary>Rows per sample for an op acting along <see cref="ChannelWidth"/>: an image's pixels, else the leading dimensions.</summary>
    public long RowsPerSample => IsImage ? Pixels : Rank <= 1 ? 1 : Size / Last;

    /// <summary>The same shape with a new last dimension.</summary>
    public Shape WithLast(int last) =>
        Rank == 0 ? Of(last) : new(Dimensions.Take(Rank - 1).Concat(new[] { last }).ToEquatableArray());

    public override string ToString() => "[" + string.Join(", ", Dimensions.Select(d => d.ToString(CultureInfo.InvariantCulture))) + "]";

    /// <summary>With the batch dimension in front, for shape comments: [B, 784].</summary>
    public string WithBatch(string batch = "B") =>
        Rank == 0 ? "[]" : "[" + batch + ", " + string.Join(", ", Dimensions.Select(d => d.ToString(CultureInfo.InvariantCulture))) + "]";
}

/// <summary>A trainable tensor of an op, with its PyTorch-style name and layout.</summary>
public sealed record ParameterInfo(string Name, string Role, Shape Shape);

/// <summary>One op of the graph.</summary>
public sealed record Op(
    int Id,
    OpKind Kind,
    string Node,
    int Position,
    EquatableArray<int> Inputs,
    Shape Shape,
    string Label)
{
    /// <summary>Dense: output features; embedding: tokens; learned positions: rows of the table; attention: keys per sample (T_k).</summary>
    public int Units { get; init; }
    public bool HasBias { get; init; }
    /// <summary>LeakyReLU slope.</summary>
    public float Alpha { get; init; }
    /// <summary>GELU: tanh approximation.</summary>
    public bool Approximate { get; init; }
    public InitKind Init { get; init; }
    public float InitGain { get; init; } = 1f;
    /// <summary>PyTorch-style prefix of the op's parameters: "Hidden1", or "Mlp.2" when a node has several.</summary>
    public string ParameterPrefix { get; init; } = "";
    /// <summary>Whether this op is the last of its node (its output is the node's value).</summary>
    public bool IsNodeOutput { get; init; }
    /// <summary>Dense: the activation op fused into this op's epilogue (stage 5), or −1.</summary>
    public int FusedActivation { get; init; } = -1;
    /// <summary>Activation: the Dense op whose epilogue computes it (stage 5), or −1.</summary>
    public int FusedInto { get; init; } = -1;
    /// <summary>Loss: summed instead of averaged.</summary>
    public bool SumReduction { get; init; }
    /// <summary>Huber loss: δ.</summary>
    public float Delta { get; init; }
    /// <summary>Focal losses: γ (α is <see cref="Alpha"/>).</summary>
    public float Gamma { get; init; }
    /// <summary>Softmax cross-entropy: ε of label smoothing.</summary>
    public float LabelSmoothing { get; init; }
    /// <summary>Softmax cross-entropy: float target distributions instead of integer labels.</summary>
    public bool SoftTargets { get; init; }
    /// <summary>PyTorch's default ignore_index, which is also the runtime kernel's (Losses.DefaultIgnoreIndex).</summary>
    public const int DefaultIgnoreIndex = -100;
    /// <summary>Softmax cross-entropy: the label of a row that does not count (PyTorch's ignore_index).</summary>
    public int IgnoreIndex { get; init; } = DefaultIgnoreIndex;
    /// <summary>Dropout: the probability of zeroing a value; Gaussian noise: σ.</summary>
    public float Probability { get; init; }
    /// <summary>Convolution and pooling windows: kernel size, stride, padding (top, bottom, left, right), dilation.</summary>
    public int KernelHeight { get; init; }
    public int KernelWidth { get; init; }
    public int StrideHeight { get; init; } = 1;
    public int StrideWidth { get; init; } = 1;
    public int PadTop { get; init; }
    public int PadBottom { get; init; }
    public int PadLeft { get; init; }
    public int PadRight { get; init; }
    public int DilationHeight { get; init; } = 1;
    public int DilationWidth { get; init; } = 1;
    /// <summary>Convolution: channel groups.</summary>
    public int Groups { get; init; } = 1;
    /// <summary>Average pooling: divide by the whole window, padding included.</summary>
    public bool CountIncludePad { get; init; } = true;
    /// <summary>Batch norm: momentum of the running statistics and ε.</summary>
    public float Momentum { get; init; }
    public float Epsilon { get; init; }
    /// <summary>Input: the model reads integer tokens instead of floats.</summary>
    public bool IntegerInput { get; init; }
    /// <summary>Integer input: the token that pads a sample (trailing; the sample's length is its first position), or −1.</summary>
    public int PaddingToken { get; init; } = -1;
    /// <summary>Attention: the integer input whose padding hides keys (one token per key), or −1.</summary>
    public int KeyPadding { get; init; } = -1;
    /// <summary>Embedding: the row that stays zero and gets no gradient, or −1.</summary>
    public int PaddingIndex { get; init; } = -1;
    /// <summary>Recurrent: the cell, the layer's index in its stack (PyTorch's _l0, _l1 …) and whether every step is output.</summary>
    public RecurrentKind Cell { get; init; }
    public int Layer { get; init; }
    public bool ReturnSequences { get; init; }
    /// <summary>Attention: heads (d_k = width / heads) and whether each step sees only itself and the steps before it.</summary>
    public int Heads { get; init; }
    public bool Causal { get; init; }
    /// <summary>Positions: a learned table (of <see cref="Units"/> rows) instead of fixed sinusoids.</summary>
    public bool Learned { get; init; }
    /// <summary>Dense: the names of its weight and bias after the prefix (PyTorch's "weight" and "bias", or
    /// nn.MultiheadAttention's "in_proj_weight" and "in_proj_bias").</summary>
    public string WeightName { get; init; } = "weight";
    public string BiasName { get; init; } = "bias";

    /// <summary>Recurrent: gates per cell (RNN 1, LSTM 4, GRU 3).</summary>
    public int Gates => Cell switch { RecurrentKind.Lstm => 4, RecurrentKind.Gru => 3, _ => 1 };

    /// <summary>An op that draws from the model's random generator in training.</summary>
    public bool IsRandom => Kind is OpKind.Dropout or OpKind.GaussianNoise || (Kind == OpKind.Attention && Probability > 0);

    public bool IsLoss => Kind is OpKind.SoftmaxCrossEntropy or OpKind.MeanSquaredError or OpKind.L1Loss or OpKind.HuberLoss
        or OpKind.BinaryCrossEntropyWithLogits or OpKind.FocalLoss or OpKind.BinaryFocalLoss;

    /// <summary>A loss whose targets are integer class labels (one per sample).</summary>
    public bool UsesLabels => (Kind == OpKind.SoftmaxCrossEntropy && !SoftTargets) || Kind == OpKind.FocalLoss;

    /// <summary>A loss that keeps the softmax probabilities of its logits for the backward.</summary>
    public bool KeepsProbabilities => Kind is OpKind.SoftmaxCrossEntropy or OpKind.FocalLoss;

    /// <summary>An op with a weight (and bias) multiplied into its input: its activation can be fused into the product's epilogue.</summary>
    public bool IsProduct => Kind is OpKind.Dense or OpKind.Conv2d;

    /// <summary>An op whose forward differs between training and evaluation.</summary>
    public bool DependsOnMode => Kind is OpKind.Dropout or OpKind.GaussianNoise or OpKind.BatchNorm || (Kind == OpKind.Attention && Probability > 0);

    public EquatableArray<ParameterInfo> Parameters(Shape input)
    {
        if (Kind == OpKind.Recurrent)
        {
            // PyTorch's order and names: weight_ih_l0 [G·H, F], weight_hh_l0 [G·H, H], bias_ih_l0, bias_hh_l0.
            int gh = Gates * Units;
            string l = "_l" + Layer.ToString(CultureInfo.InvariantCulture);
            var ih = new ParameterInfo(ParameterPrefix + ".weight_ih" + l, "weight_ih", Shape.Of(gh, input.Last));
            var hh = new ParameterInfo(ParameterPrefix + ".weight_hh" + l, "weight_hh", Shape.Of(gh, Units));
            return HasBias
                ? EquatableArray.Create(ih, hh, new ParameterInfo(ParameterPrefix + ".bias_ih" + l, "bias_ih", Shape.Of(gh)), new ParameterInfo(ParameterPrefix + ".bias_hh" + l, "bias_hh", Shape.Of(gh)))
                : EquatableArray.Create(ih, hh);
        }
        if (Kind is OpKind.LayerNorm or OpKind.RmsNorm)
        {
            if (!HasBias) return EquatableArray<ParameterInfo>.Empty; // HasBias: affine
            var scale = new ParameterInfo(ParameterPrefix + ".weight", "weight", Shape.Of(input.Last));
            return Kind == OpKind.LayerNorm
                ? EquatableArray.Create(scale, new ParameterInfo(ParameterPrefix + ".bias", "bias", Shape.Of(input.Last)))
                : EquatableArray.Create(scale);
        }
        if (Kind == OpKind.Positions)
            return Learned ? EquatableArray.Create(new ParameterInfo(ParameterPrefix + ".weight", "weight", Shape.Of(Units, input.Last))) : EquatableArray<ParameterInfo>.Empty;
        Shape? weight = Kind switch
        {
            OpKind.Dense => Shape.Of(Units, input.Last),
            OpKind.Conv2d => Shape.Of(Units, input.Channels / Groups, KernelHeight, KernelWidth),
            OpKind.BatchNorm when HasBias => Shape.Of(input.ChannelWidth),
            OpKind.Embedding => Shape.Of(Units, Shape.Last),
            _ => null,
        };
        if (weight is null) return EquatableArray<ParameterInfo>.Empty;
        var weightInfo = new ParameterInfo(ParameterPrefix + "." + WeightName, "weight", weight);
        return HasBias
            ? EquatableArray.Create(weightInfo, new ParameterInfo(ParameterPrefix + "." + BiasName, "bias", Shape.Of(Kind == OpKind.BatchNorm ? input.ChannelWidth : Units)))
            : EquatableArray.Create(weightInfo);
    }

    /// <summary>State that is saved and loaded with the parameters but not trained (PyTorch's buffers): batch norm's
    /// running statistics and its count of training batches.</summary>
    public EquatableArray<ParameterInfo> Buffers(Shape input) => Kind == OpKind.BatchNorm
        ? EquatableArray.Create(
            new ParameterInfo(ParameterPrefix + ".running_mean", "running_mean", Shape.Of(input.ChannelWidth)),
            new ParameterInfo(ParameterPrefix + ".running_var", "running_var", Shape.Of(input.ChannelWidth)),
            new ParameterInfo(ParameterPrefix + ".num_batches_tracked", "num_batches_tracked", Shape.Scalar))
        : EquatableArray<ParameterInfo>.Empty;

    /// <summary>Forward multiply-adds ×2 per sample (FLOPs), for the explanation table.</summary>
    public long Flops(Shape input) => Kind switch
    {
        OpKind.Dense => 2L * (input.Size / Math.Max(1, input.Last)) * input.Last * Units,
        OpKind.Conv2d => 2L * Shape.Size * (input.Channels / Groups) * KernelHeight * KernelWidth,
        OpKind.MaxPool2d or OpKind.AvgPool2d => Shape.Size * KernelHeight * KernelWidth,
        OpKind.Input or OpKind.ChannelsLast or OpKind.ChannelsFirst or OpKind.Flatten or OpKind.Concat or OpKind.Embedding => 0,
        // Per step: the input and recurrent products of every gate.
        OpKind.Recurrent => 2L * input.Dimensions[0] * (input.Last + Units) * Gates * Units,
        // Q·Kᵀ and P·V per head: 2 · 2·T_q·T_k·d_k, over the heads 4·T_q·T_k·D (a causal mask does not skip the hidden half).
        OpKind.Attention => 4L * Shape.Dimensions[0] * Units * Shape.Last,
        OpKind.LayerNorm or OpKind.RmsNorm => 5 * input.Size,
        _ => input.Size,
    };
}

/// <summary>A declared node: a member of the model class and the ops it applies.</summary>
public sealed record NodeInfo(string Name, string Modifiers, int FirstOp, int LastOp, string Label);

/// <summary>A checked model graph: ops in data-flow order.</summary>
public sealed record ModelGraph(
    string Name,
    int Batch,
    EquatableArray<Op> Ops,
    EquatableArray<NodeInfo> Nodes,
    int InputOp,
    int OutputOp,
    int LossOp)
{
    public Op Input => Ops[InputOp];

    /// <summary>Every input op in declaration order: the first is <see cref="Input"/>; a model may read a second one
    /// (an encoder-decoder's source and target).</summary>
    public System.Collections.Generic.IEnumerable<Op> Inputs => Ops.Where(o => o.Kind == OpKind.Input);
    public Op Output => Ops[OutputOp];
    public Op? Loss => LossOp < 0 ? null : Ops[LossOp];

    /// <summary>The shape flowing into the first input of <paramref name="op"/>.</summary>
    public Shape InputShape(Op op) => op.Inputs.Count == 0 ? op.Shape : Ops[op.Inputs[0]].Shape;
}
