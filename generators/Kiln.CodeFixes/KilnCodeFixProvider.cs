using System.Collections.Immutable;
using System.Composition;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeActions;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Formatting;
using Microsoft.CodeAnalysis.Text;

namespace Kiln.CodeFixes;

/// <summary>
/// Code fixes for the Kiln diagnostics that have one obvious edit. The generator decides the edit — it knows the
/// shapes — and puts it in the diagnostic's properties (<see cref="KindProperty"/>, <see cref="ValueProperty"/>) and
/// additional locations; this provider only applies it to the syntax:
/// <list type="bullet">
/// <item>make a class partial (KILN0001, KILN0009, KILN0013);</item>
/// <item>give an argument the value that fits (KILN1004 Classes/Width, KILN1005 In, KILN1015 Heads);</item>
/// <item>insert [Flatten] before a vector layer that receives an image (KILN1009);</item>
/// <item>pad convolutions: Padding = Padding.Same where a Residual lost the map's edge (KILN1003), or the padding that
/// makes an empty map fit (KILN1007).</item>
/// </list>
/// </summary>
[ExportCodeFixProvider(LanguageNames.CSharp, Name = nameof(KilnCodeFixProvider)), Shared]
public sealed class KilnCodeFixProvider : CodeFixProvider
{
    // The contract with the generator (Kiln.Generators.Diagnostics.FixKinds); a test checks the two agree.
    public const string KindProperty = "KilnFix";
    public const string ValueProperty = "KilnFixValue";
    public const string ReplaceValue = "ReplaceValue";
    public const string InsertAttributeBefore = "InsertAttributeBefore";
    public const string SetArgument = "SetArgument";
    public const string MakePartial = "MakePartial";

    public override ImmutableArray<string> FixableDiagnosticIds { get; } =
        ImmutableArray.Create("KILN0001", "KILN0009", "KILN0013", "KILN1003", "KILN1004", "KILN1005", "KILN1007", "KILN1009", "KILN1015");

    public override FixAllProvider? GetFixAllProvider() => null;

    public override async Task RegisterCodeFixesAsync(CodeFixContext context)
    {
        SyntaxNode? root = await context.Document.GetSyntaxRootAsync(context.CancellationToken).ConfigureAwait(false);
        if (root is null) return;
        foreach (Diagnostic diagnostic in context.Diagnostics)
        {
            if (!diagnostic.Properties.TryGetValue(KindProperty, out string? kind) || kind is null) continue;
            if (!diagnostic.Properties.TryGetValue(ValueProperty, out string? value) || string.IsNullOrEmpty(value)) continue;
            CodeAction? action = kind switch
            {
                ReplaceValue => Replace(context.Document, root, diagnostic.Location.SourceSpan, value!),
                InsertAttributeBefore => Insert(context.Document, root, diagnostic.Location.SourceSpan, value!),
                SetArgument => Set(context.Document, root, diagnostic.AdditionalLocations.Select(l => l.SourceSpan).ToImmutableArray(), value!),
                MakePartial => Partial(context.Document, root, diagnostic.Location.SourceSpan, value!),
                _ => null,
            };
            if (action is not null) context.RegisterCodeFix(action, diagnostic);
        }
    }

    /// <summary>The argument at <paramref name="span"/> (named or positional) gets the expression <paramref name="value"/>.</summary>
    private static CodeAction? Replace(Document document, SyntaxNode root, TextSpan span, string value)
    {
        AttributeArgumentSyntax? argument = root.FindNode(span, getInnermostNodeForTie: true).AncestorsAndSelf().OfType<AttributeArgumentSyntax>().FirstOrDefault();
        if (argument is null) return null;
        string name = argument.NameEquals?.Name.Identifier.ValueText ?? argument.NameColon?.Name.Identifier.ValueText ?? "the argument";
        ExpressionSyntax expression = SyntaxFactory.ParseExpression(value).WithTriviaFrom(argument.Expression);
        return CodeAction.Create($"Set {name} to {value}",
            _ => Task.FromResult(document.WithSyntaxRoot(root.ReplaceNode(argument.Expression, expression))),
            equivalenceKey: ReplaceValue + ":" + name);
    }

    /// <summary>The attribute <paramref name="name"/> (no arguments) inserted before the attribute at <paramref name="span"/>.</summary>
    private static CodeAction? Insert(Document document, SyntaxNode root, TextSpan span, string name)
    {
        AttributeSyntax? attribute = root.FindNode(span, getInnermostNodeForTie: true).AncestorsAndSelf().OfType<AttributeSyntax>().FirstOrDefault();
        if (attribute?.Parent is not AttributeListSyntax list) return null;
        int index = list.Attributes.IndexOf(attribute);
        AttributeListSyntax updated = list.WithAttributes(list.Attributes.Insert(index, SyntaxFactory.Attribute(SyntaxFactory.IdentifierName(name))));
        return CodeAction.Create($"Insert [{name}] before {attribute.Name}",
            _ => Task.FromResult(document.WithSyntaxRoot(root.ReplaceNode(list, updated))),
            equivalenceKey: InsertAttributeBefore + ":" + name);
    }

    /// <summary>The named argument <paramref name="assignment"/> ("Name = expression") on every attribute at <paramref name="spans"/>:
    /// replacing the argument of that name, or added after the others.</summary>
    private static CodeAction? Set(Document document, SyntaxNode root, ImmutableArray<TextSpan> spans, string assignment)
    {
        int equals = assignment.IndexOf('=');
        if (equals <= 0 || spans.IsEmpty) return null;
        string name = assignment.Substring(0, equals).Trim();
        ExpressionSyntax expression = SyntaxFactory.ParseExpression(assignment.Substring(equals + 1).Trim());
        var attributes = spans
            .Select(s => root.FindNode(s, getInnermostNodeForTie: true).AncestorsAndSelf().OfType<AttributeSyntax>().FirstOrDefault())
            .ToList();
        if (attributes.Any(a => a is null)) return null;
        string title = attributes.Count == 1 ? $"Set {assignment} on {attributes[0]!.Name}" : $"Set {assignment} on the {attributes.Count} layers";
        return CodeAction.Create(title, _ =>
        {
            SyntaxNode updated = root.ReplaceNodes(attributes!, (original, _) => WithArgument(original, name, expression));
            return Task.FromResult(document.WithSyntaxRoot(updated));
        }, equivalenceKey: SetArgument + ":" + name);
    }

    private static AttributeSyntax WithArgument(AttributeSyntax attribute, string name, ExpressionSyntax expression)
    {
        AttributeArgumentListSyntax list = attribute.ArgumentList ?? SyntaxFactory.AttributeArgumentList();
        AttributeArgumentSyntax? existing = list.Arguments.FirstOrDefault(a => a.NameEquals?.Name.Identifier.ValueText == name);
        if (existing is not null)
            return attribute.WithArgumentList(list.ReplaceNode(existing, existing.WithExpression(expression.WithTriviaFrom(existing.Expression))));
        AttributeArgumentSyntax added = SyntaxFactory.AttributeArgument(SyntaxFactory.NameEquals(SyntaxFactory.IdentifierName(name)), null, expression);
        return attribute.WithArgumentList(list.AddArguments(added)).WithAdditionalAnnotations(Formatter.Annotation);
    }

    /// <summary>The type named <paramref name="name"/> declared at <paramref name="span"/>, or containing it, made partial.</summary>
    private static CodeAction? Partial(Document document, SyntaxNode root, TextSpan span, string name)
    {
        TypeDeclarationSyntax? type = root.FindToken(span.Start).Parent?.AncestorsAndSelf().OfType<TypeDeclarationSyntax>()
            .FirstOrDefault(t => t.Identifier.ValueText == name);
        if (type is null || type.Modifiers.Any(SyntaxKind.PartialKeyword)) return null;
        // 'partial' goes last among the modifiers, right before the keyword (C# requires it there).
        SyntaxToken keyword = type.Keyword;
        SyntaxToken partial = SyntaxFactory.Token(SyntaxKind.PartialKeyword).WithTrailingTrivia(SyntaxFactory.Space);
        TypeDeclarationSyntax updated = type.Modifiers.Count == 0
            ? type.WithKeyword(keyword.WithLeadingTrivia(SyntaxFactory.TriviaList()))
                .WithModifiers(SyntaxFactory.TokenList(partial.WithLeadingTrivia(keyword.LeadingTrivia)))
            : type.WithModifiers(type.Modifiers.Add(partial));
        return CodeAction.Create($"Make '{name}' partial",
            _ => Task.FromResult(document.WithSyntaxRoot(root.ReplaceNode(type, updated))),
            equivalenceKey: MakePartial);
    }
}
