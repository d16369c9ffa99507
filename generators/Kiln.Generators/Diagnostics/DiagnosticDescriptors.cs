using System.Collections.Generic;
using System.Collections.Immutable;
using Microsoft.CodeAnalysis;

namespace Kiln.Generators.Diagnostics;

/// <summary>Every diagnostic the generator reports, in one table. Messages name both shapes and both nodes and
/// say how to fix it; each ID has a page under docs/diagnostics/.</summary>
public static class DiagnosticDescriptors
{
    private const string Usage = "Kiln.Usage";
    private const string Shape = "Kiln.Shape";
    private const string Unsupported = "Kiln.Unsupported";
    private const string HelpBase = "docs/diagnostics/";

    public static readonly DiagnosticDescriptor ModelNotPartial = Error(DiagnosticIds.ModelNotPartial, Usage,
        "Model class must be partial",
        "Model '{0}' must be declared 'partial' so that Kiln can generate its Forward, TrainStep and parameters; add the 'partial' modifier");

    public static readonly DiagnosticDescriptor ModelHasNoInput = Error(DiagnosticIds.ModelHasNoInput, Usage,
        "Model has no input",
        "Model '{0}' has no [Input] node; declare the first node as '[Input(width)] public partial Node X {{ get; }}'");

    public static readonly DiagnosticDescriptor NodeNotPartialNodeProperty = Error(DiagnosticIds.NodeNotPartialNodeProperty, Usage,
        "Layer attributes belong on partial Node properties",
        "'{0}' carries Kiln layer attributes but is not an instance 'partial Node' property with a getter only; declare it as 'public partial Node {0} {{ get; }}'");

    public static readonly DiagnosticDescriptor NodeWithoutOps = Error(DiagnosticIds.NodeWithoutOps, Usage,
        "Node has no layer",
        "Node '{0}' declares no layer attribute; add one such as [Dense(64)] or remove the property");

    public static readonly DiagnosticDescriptor NodeAfterLoss = Error(DiagnosticIds.NodeAfterLoss, Usage,
        "Node after the loss",
        "Node '{0}' comes after the loss '{1}'; the loss must be the model's last node: move '{0}' before '{1}' or remove it");

    public static readonly DiagnosticDescriptor UnknownNode = Error(DiagnosticIds.UnknownNode, Usage,
        "Unknown node",
        "'{0}' in node '{1}' names no node of model '{2}'; use nameof() with one of: {3}");

    public static readonly DiagnosticDescriptor NodeReferencesLaterNode = Error(DiagnosticIds.NodeReferencesLaterNode, Usage,
        "Node reads a node declared after it",
        "Node '{0}' reads '{1}', which is not declared before it; nodes run in declaration order, so move '{1}' above '{0}'");

    public static readonly DiagnosticDescriptor InputMisplaced = Error(DiagnosticIds.InputMisplaced, Usage,
        "Input must come first",
        "[Input] on '{0}' must be the first attribute of a node of the model (the first node, and at most one more); {1}");

    public static readonly DiagnosticDescriptor ContainingTypeNotPartial = Error(DiagnosticIds.ContainingTypeNotPartial, Usage,
        "Containing type must be partial",
        "Model '{0}' is nested in '{1}', which must be declared 'partial' too; add the 'partial' modifier to '{1}'");

    public static readonly DiagnosticDescriptor ReservedNodeName = Error(DiagnosticIds.ReservedNodeName, Usage,
        "Node name collides with a generated member",
        "Node '{0}' has the name of a member Kiln generates on every model; rename the node");

    public static readonly DiagnosticDescriptor DuplicateNode = Error(DiagnosticIds.DuplicateNode, Usage,
        "Node declared twice",
        "Node '{0}' is declared more than once in model '{1}'; give each node its own name");

    public static readonly DiagnosticDescriptor InvalidBlockReference = Error(DiagnosticIds.InvalidBlockReference, Usage,
        "Repeat names no usable block",
        "Repeat in '{0}' names '{1}', {2}");

    public static readonly DiagnosticDescriptor BlockNotPartial = Error(DiagnosticIds.BlockNotPartial, Usage,
        "Block class must be a non-generic partial class",
        "Block '{0}' must be a non-generic 'partial' class inside partial types so that Kiln can implement its nodes; {1}");

    public static readonly DiagnosticDescriptor LayerNotAllowedInBlock = Error(DiagnosticIds.LayerNotAllowedInBlock, Usage,
        "Layer not allowed in a block",
        "{0} in node '{1}' of block '{2}' is not allowed: a block transforms the value it is given, so declare inputs and losses in the model");

    public static readonly DiagnosticDescriptor InvalidSize = Error(DiagnosticIds.InvalidSize, Shape,
        "Invalid size",
        "{0} of '{1}' must be {2}; it is {3}");

    public static readonly DiagnosticDescriptor MissingSize = Error(DiagnosticIds.MissingSize, Shape,
        "Missing size",
        "{0} of '{1}' is not set; {2}");

    public static readonly DiagnosticDescriptor AddShapeMismatch = Error(DiagnosticIds.AddShapeMismatch, Shape,
        "Add of two different shapes",
        "Add in '{0}' sums {1} from '{2}' with {3} from '{4}'; both must have the same shape: change a width so they agree, or add a Dense to project one onto the other");

    public static readonly DiagnosticDescriptor LossWidthMismatch = Error(DiagnosticIds.LossWidthMismatch, Shape,
        "Loss width does not match its input",
        "Loss '{0}' expects {1} = {2} but '{3}' produces {4}; change '{3}' to width {2} or set {1} = {5}");

    public static readonly DiagnosticDescriptor InputWidthMismatch = Error(DiagnosticIds.InputWidthMismatch, Shape,
        "Input width contradicts the previous node",
        "{0} in '{1}' declares In = {2} but receives {3} from '{4}'; remove In = {2} or make '{4}' produce {2} (features of a vector, channels of an image)");

    public static readonly DiagnosticDescriptor EmptyMap = Error(DiagnosticIds.EmptyMap, Shape,
        "Window does not fit the map",
        "{0} in '{1}' would produce a {2} map: input {3}, {4}; {5}");

    public static readonly DiagnosticDescriptor NeedsImage = Error(DiagnosticIds.NeedsImage, Shape,
        "Layer needs an image",
        "{0} in '{1}' needs {2} but receives {3} from '{4}'; {5}");

    public static readonly DiagnosticDescriptor NeedsVector = Error(DiagnosticIds.NeedsVector, Shape,
        "Layer needs a vector, not an image",
        "{0} in '{1}' receives the image {2} from '{3}' but acts on vectors; add [Flatten] (or [GlobalAvgPool]) before it");

    public static readonly DiagnosticDescriptor ConcatShapeMismatch = Error(DiagnosticIds.ConcatShapeMismatch, Shape,
        "Concat of incompatible shapes",
        "Concat in '{0}' joins {1} from '{2}' with {3} from '{4}'; {5}");

    public static readonly DiagnosticDescriptor PoolingDropsEdge = new(DiagnosticIds.PoolingDropsEdge,
        "Pooling drops the edge of the map",
        "{0} in '{1}' drops the last {2} of the {3} map from '{4}' (floor mode skips windows that do not fit); pad the map, or change the kernel or stride, to use them",
        Shape, DiagnosticSeverity.Warning, isEnabledByDefault: true, helpLinkUri: HelpBase + DiagnosticIds.PoolingDropsEdge + ".md");

    public static readonly DiagnosticDescriptor NeedsSequence = Error(DiagnosticIds.NeedsSequence, Shape,
        "Layer needs a sequence",
        "{0} in '{1}' needs a sequence [steps, features] but receives {2} from '{3}'; {4}");

    public static readonly DiagnosticDescriptor TokensMismatch = Error(DiagnosticIds.TokensMismatch, Shape,
        "Integer tokens and float values mixed up",
        "{0} in '{1}' {2}; {3}");

    public static readonly DiagnosticDescriptor SequenceLengthMismatch = Error(DiagnosticIds.SequenceLengthMismatch, Shape,
        "Sequence length contradicts the previous node",
        "{0} in '{1}' declares Steps = {2} but receives {3} steps from '{4}'; remove Steps = {2} or make '{4}' produce {2} steps");

    public static readonly DiagnosticDescriptor HeadsDoNotDivide = Error(DiagnosticIds.HeadsDoNotDivide, Shape,
        "Model width not divisible by the number of heads",
        "{5} in '{0}' splits the width {1} of '{2}' into {3} heads, but {1} is not a multiple of {3}; each head takes an equal slice: use {4} heads, or make the width a multiple of {3}");

    public static readonly DiagnosticDescriptor CrossAttentionMemory = Error(DiagnosticIds.CrossAttentionMemory, Shape,
        "Cross-attention memory is not a sequence",
        "CrossAttention in '{0}' takes its keys and values from '{1}' {2}, but they must be a sequence of vectors [T_k, width] (any T_k and width); {3}");

    public static readonly DiagnosticDescriptor KeyPaddingMismatch = Error(DiagnosticIds.KeyPaddingMismatch, Shape,
        "Padding mask does not match the keys",
        "{0} in '{1}' hides its padded keys by the tokens of '{2}', {3}; {4}");

    public static readonly DiagnosticDescriptor PositionsTooShort = Error(DiagnosticIds.PositionsTooShort, Shape,
        "Sequence longer than the positional table",
        "{0} in '{1}' has a table of {2} positions but receives {3} steps from '{4}'; set Length to at least {3}, or leave it unset for the sequence length");

    public static readonly DiagnosticDescriptor InvalidArgument = Error(DiagnosticIds.InvalidArgument, Usage,
        "Invalid layer argument",
        "{0} of '{1}' must be {2}; it is {3}: {4}");

    public static readonly DiagnosticDescriptor UnsupportedInputType = Error(DiagnosticIds.UnsupportedInputType, Unsupported,
        "Input type not supported",
        "Input '{0}' is of type '{1}'; inputs are float values (any shape) or int tokens (a vector of steps, read by an Embedding)");

    public static readonly DiagnosticDescriptor UnsupportedModelClass = Error(DiagnosticIds.UnsupportedModelClass, Unsupported,
        "Model class shape not supported",
        "Model '{0}' is {1}; models must be non-generic, non-static classes");

    public static readonly DiagnosticDescriptor TensorTooLarge = Error(DiagnosticIds.TensorTooLarge, Unsupported,
        "Tensor too large",
        "{0} in '{1}' needs {2} values ({3}); a tensor may hold at most {4}: reduce a width or the batch");

    public static readonly DiagnosticDescriptor InternalError = Error(DiagnosticIds.InternalError, "Kiln.Internal",
        "Kiln generator internal error",
        "The Kiln generator failed on model '{0}': {1}; please report this with the model declaration");

    private static readonly Dictionary<string, DiagnosticDescriptor> ById = new()
    {
        [ModelNotPartial.Id] = ModelNotPartial,
        [ModelHasNoInput.Id] = ModelHasNoInput,
        [NodeNotPartialNodeProperty.Id] = NodeNotPartialNodeProperty,
        [NodeWithoutOps.Id] = NodeWithoutOps,
        [NodeAfterLoss.Id] = NodeAfterLoss,
        [UnknownNode.Id] = UnknownNode,
        [NodeReferencesLaterNode.Id] = NodeReferencesLaterNode,
        [InputMisplaced.Id] = InputMisplaced,
        [ContainingTypeNotPartial.Id] = ContainingTypeNotPartial,
        [ReservedNodeName.Id] = ReservedNodeName,
        [DuplicateNode.Id] = DuplicateNode,
        [InvalidBlockReference.Id] = InvalidBlockReference,
        [BlockNotPartial.Id] = BlockNotPartial,
        [LayerNotAllowedInBlock.Id] = LayerNotAllowedInBlock,
        [InvalidSize.Id] = InvalidSize,
        [MissingSize.Id] = MissingSize,
        [AddShapeMismatch.Id] = AddShapeMismatch,
        [LossWidthMismatch.Id] = LossWidthMismatch,
        [InputWidthMismatch.Id] = InputWidthMismatch,
        [InvalidArgument.Id] = InvalidArgument,
        [EmptyMap.Id] = EmptyMap,
        [NeedsImage.Id] = NeedsImage,
        [NeedsVector.Id] = NeedsVector,
        [ConcatShapeMismatch.Id] = ConcatShapeMismatch,
        [PoolingDropsEdge.Id] = PoolingDropsEdge,
        [NeedsSequence.Id] = NeedsSequence,
        [TokensMismatch.Id] = TokensMismatch,
        [SequenceLengthMismatch.Id] = SequenceLengthMismatch,
        [HeadsDoNotDivide.Id] = HeadsDoNotDivide,
        [CrossAttentionMemory.Id] = CrossAttentionMemory,
        [KeyPaddingMismatch.Id] = KeyPaddingMismatch,
        [PositionsTooShort.Id] = PositionsTooShort,
        [UnsupportedInputType.Id] = UnsupportedInputType,
        [UnsupportedModelClass.Id] = UnsupportedModelClass,
        [TensorTooLarge.Id] = TensorTooLarge,
        [InternalError.Id] = InternalError,
    };

    /// <summary>Every descriptor, for tests and documentation.</summary>
    public static ImmutableArray<DiagnosticDescriptor> All => ById.Values.ToImmutableArray();

    public static DiagnosticDescriptor Get(string id) => ById[id];

    private static DiagnosticDescriptor Error(string id, string category, string title, string message) =>
        new(id, title, message, category, DiagnosticSeverity.Error, isEnabledByDefault: true, helpLinkUri: HelpBase + id + ".md");
}
