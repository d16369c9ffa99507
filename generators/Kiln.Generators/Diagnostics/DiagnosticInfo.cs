using Kiln.Generators.Helpers;
using Kiln.Generators.Model;

namespace Kiln.Generators.Diagnostics;

/// <summary>A diagnostic as data: the ID, where, and the message arguments. No Roslyn types, so the pure
/// stages can produce it and the pipeline can cache it.</summary>
public sealed record DiagnosticInfo(string Id, SourceSpan? Span, EquatableArray<string> Arguments)
{
    public static DiagnosticInfo Create(string id, SourceSpan? span, params string[] arguments) =>
        new(id, span, new EquatableArray<string>(arguments));
}

/// <summary>The diagnostic IDs, in bands: 0xxx usage, 1xxx shape, 2xxx unsupported, 9xxx info and internal.</summary>
public static class DiagnosticIds
{
    public const string ModelNotPartial = "KILN0001";
    public const string ModelHasNoInput = "KILN0002";
    public const string NodeNotPartialNodeProperty = "KILN0003";
    public const string NodeWithoutOps = "KILN0004";
    public const string NodeAfterLoss = "KILN0005";
    public const string UnknownNode = "KILN0006";
    public const string NodeReferencesLaterNode = "KILN0007";
    public const string InputMisplaced = "KILN0008";
    public const string ContainingTypeNotPartial = "KILN0009";
    public const string ReservedNodeName = "KILN0010";
    public const string DuplicateNode = "KILN0011";
    public const string InvalidBlockReference = "KILN0012";
    public const string BlockNotPartial = "KILN0013";
    public const string LayerNotAllowedInBlock = "KILN0014";

    public const string InvalidSize = "KILN1001";
    public const string MissingSize = "KILN1002";
    public const string AddShapeMismatch = "KILN1003";
    public const string LossWidthMismatch = "KILN1004";
    public const string InvalidArgument = "KILN1006";
    public const string InputWidthMismatch = "KILN1005";
    public const string EmptyMap = "KILN1007";
    public const string NeedsImage = "KILN1008";
    public const string NeedsVector = "KILN1009";
    public const string ConcatShapeMismatch = "KILN1010";
    public const string PoolingDropsEdge = "KILN1011";
    public const string NeedsSequence = "KILN1012";
    public const string TokensMismatch = "KILN1013";
    public const string SequenceLengthMismatch = "KILN1014";
    public const string HeadsDoNotDivide = "KILN1015";
    public const string PositionsTooShort = "KILN1016";
    public const string CrossAttentionMemory = "KILN1017";
    public const string KeyPaddingMismatch = "KILN1018";

    /// <summary>IDs reported as warnings: the model is still generated.</summary>
    public static bool IsWarning(string id) => id == PoolingDropsEdge;

    public const string UnsupportedInputType = "KILN2001";
    public const string UnsupportedModelClass = "KILN2002";
    public const string TensorTooLarge = "KILN2003";

    public const string InternalError = "KILN9999";
}
