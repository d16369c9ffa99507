using Kiln.Generators.Helpers;

namespace Kiln.Generators.Model;

// The declaration records the parser extracts: plain values only (no ISymbol, SyntaxNode, Location or
// Compilation), so the pipeline can compare them and cache. Locations are kept as data (SourceSpan).

/// <summary>Where something is in the source, as data.</summary>
public sealed record SourceSpan(string FilePath, int Start, int Length, int StartLine, int StartColumn, int EndLine, int EndColumn);

/// <summary>One argument of a layer attribute, by its constructor-parameter or property name (PascalCase).</summary>
public sealed record ArgumentDeclaration(string Name, ArgumentKind Kind, string? Value, SourceSpan? Span);

public enum ArgumentKind { Int, Double, Bool, String, Type, Enum, Null }

/// <summary>One Kiln attribute on a node, e.g. <c>Dense(256, Bias = false)</c>.</summary>
public sealed record AttributeDeclaration(string Name, string Text, EquatableArray<ArgumentDeclaration> Arguments, SourceSpan? Span)
{
    public ArgumentDeclaration? Find(string name)
    {
        foreach (ArgumentDeclaration argument in Arguments)
            if (argument.Name == name) return argument;
        return null;
    }
}

/// <summary>A property of the model class that carries Kiln attributes or is a <c>partial Node</c>.</summary>
public sealed record MemberDeclaration(
    string Name,
    string Modifiers,
    bool IsPartialNodeProperty,
    EquatableArray<AttributeDeclaration> Attributes,
    SourceSpan? Span);

/// <summary>A containing type of the model class (the model may be nested).</summary>
public sealed record ContainingType(string Keyword, string Name, bool IsPartial);

/// <summary>A <c>[Model]</c> class as declared.</summary>
public sealed record ModelDeclaration(
    string? Namespace,
    string Name,
    string FullName,
    bool IsPartial,
    bool IsGeneric,
    bool IsStatic,
    EquatableArray<ContainingType> ContainingTypes,
    int? Batch,
    SourceSpan? BatchSpan,
    SourceSpan? ModelAttributeSpan,
    SourceSpan? NameSpan,
    EquatableArray<MemberDeclaration> Members)
{
    /// <summary>The class is marked <c>[Block]</c> too (an error: a class is a model or a block).</summary>
    public bool IsBlock { get; init; }
}

/// <summary>A <c>[Block]</c> class as declared: a reusable sequence of nodes, expanded where a model (or another block)
/// names it with <c>[Repeat(typeof(Block), n)]</c>.</summary>
public sealed record BlockDeclaration(
    string? Namespace,
    string Name,
    string FullName,
    bool IsPartial,
    bool IsGeneric,
    EquatableArray<ContainingType> ContainingTypes,
    SourceSpan? NameSpan,
    EquatableArray<MemberDeclaration> Members)
{
    /// <summary>The class is marked <c>[Model]</c> too: the model's code implements its nodes, not the block's.</summary>
    public bool IsModel { get; init; }
}
