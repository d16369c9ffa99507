using System.Collections.Immutable;
using Kiln.Generators.Helpers;
using Kiln.Generators.Model;

namespace Kiln.Generators.Diagnostics;

/// <summary>A diagnostic as data: the ID, where, and the message arguments. No Roslyn types, so the pure
/// stages can produce it and the pipeline can cache it.</summary>
public sealed record DiagnosticInfo(string Id, SourceSpan? Span, EquatableArray<string> Arguments)
{
    /// <summary>The edit the IDE offers as a code fix, when there is one obvious edit.</summary>
    public DiagnosticFix? Fix { get; init; }

    public static DiagnosticInfo Create(string id, SourceSpan? span, params string[] arguments) =>
        new(id, span, new EquatableArray<string>(arguments));

    /// <summary>The diagnostic's properties: what <c>Kiln.CodeFixes</c> reads (<see cref="FixKinds"/>).</summary>
    public ImmutableDictionary<string, string?> Properties() =>
        Fix is null
            ? ImmutableDictionary<string, string?>.Empty
            : ImmutableDictionary<string, string?>.Empty.Add(FixKinds.KindProperty, Fix.Kind).Add(FixKinds.ValueProperty, Fix.Value);
}

/// <summary>
/// A code fix as data. <see cref="Kind"/> is one of <see cref="FixKinds"/>; <see cref="Targets"/> are further places
/// it edits (reported as the diagnostic's additional locations), beside the diagnostic's own.
/// </summary>
public sealed record DiagnosticFix(string Kind, string Value, EquatableArray<SourceSpan> Targets)
{
    public static DiagnosticFix At(string kind, string value) => new(kind, value, EquatableArray<SourceSpan>.Empty);
}

/// <summary>The code fixes the generator's diagnostics can carry (the contract with <c>Kiln.CodeFixes</c>).</summary>
public static class FixKinds
{
    public const string KindProperty = "KilnFix";
    public const string ValueProperty = "KilnFixValue";

    /// <summary>The argument at the diagnostic's location gets the value <c>Value</c> (keeping its name, if named).</summary>
    public const string ReplaceValue = "ReplaceValue";

    /// <summary>The attribute <c>Value</c> is inserted before the attribute at the diagnostic's location.</summary>
    public const string InsertAttributeBefore = "InsertAttributeBefore";

    /// <summary>Each attribute at an additional location gets the named argument <c>Value</c> ("Name = expression"),
    /// replacing the one of that name it has.</summary>
    public const string SetArgument = "SetArgument";

    /// <summary>The type <c>Value</c> — the one declared at the diagnostic's location, or one that contains it — gets the
    /// <c>partial</c> modifier.</summary>
    public const string MakePartial = "MakePartial";
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
