using System.Collections.Generic;
using System.Collections.Immutable;
using System.Globalization;
using System.Linq;
using System.Threading;
using Kiln.Generators.Helpers;
using Kiln.Generators.Model;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Text;

namespace Kiln.Generators;

public sealed partial class ModelGenerator
{
    /// <summary>Stage 1: a [Model] class -> a value-equatable <see cref="ModelDeclaration"/>.</summary>
    internal static class Parser
    {
        private const string KilnNamespace = "Kiln";
        private const string NodeTypeName = "Kiln.Node";

        public static ModelDeclaration Parse(GeneratorAttributeSyntaxContext context, CancellationToken cancellationToken)
        {
            var syntax = (ClassDeclarationSyntax)context.TargetNode;
            var symbol = (INamedTypeSymbol)context.TargetSymbol;

            int? batch = null;
            SourceSpan? batchSpan = null;
            AttributeData modelAttribute = context.Attributes[0];
            foreach (var named in modelAttribute.NamedArguments)
            {
                if (named.Key == "Batch" && named.Value.Value is int value)
                {
                    batch = value;
                    batchSpan = ArgumentSpan(modelAttribute, "Batch", positional: -1);
                }
            }

            var containing = Containing(syntax);
            var members = Members(syntax, context.SemanticModel, cancellationToken);

            string? ns = symbol.ContainingNamespace is { IsGlobalNamespace: false } n ? n.ToDisplayString() : null;
            return new ModelDeclaration(
                ns,
                symbol.Name,
                symbol.ToDisplayString(),
                syntax.Modifiers.Any(SyntaxKind.PartialKeyword),
                symbol.IsGenericType,
                symbol.IsStatic,
                containing,
                batch,
                batchSpan,
                Span(modelAttribute.ApplicationSyntaxReference?.GetSyntax(cancellationToken).GetLocation()),
                Span(syntax.Identifier.GetLocation()),
                members)
            { IsBlock = HasKilnAttribute(symbol, "BlockAttribute") };
        }

        private static bool HasKilnAttribute(INamedTypeSymbol symbol, string name) =>
            symbol.GetAttributes().Any(a => a.AttributeClass is { } c && c.Name == name && c.ContainingNamespace?.ToDisplayString() == KilnNamespace);

        /// <summary>Stage 1 for a [Block] class: its nodes, parsed as a model's are.</summary>
        public static BlockDeclaration ParseBlock(GeneratorAttributeSyntaxContext context, CancellationToken cancellationToken)
        {
            var syntax = (ClassDeclarationSyntax)context.TargetNode;
            var symbol = (INamedTypeSymbol)context.TargetSymbol;
            string? ns = symbol.ContainingNamespace is { IsGlobalNamespace: false } n ? n.ToDisplayString() : null;
            return new BlockDeclaration(
                ns,
                symbol.Name,
                symbol.ToDisplayString(),
                syntax.Modifiers.Any(SyntaxKind.PartialKeyword),
                symbol.IsGenericType,
                Containing(syntax),
                Span(syntax.Identifier.GetLocation()),
                Members(syntax, context.SemanticModel, cancellationToken))
            { IsModel = HasKilnAttribute(symbol, "ModelAttribute") };
        }

        private static EquatableArray<ContainingType> Containing(ClassDeclarationSyntax syntax)
        {
            var containing = new List<ContainingType>();
            for (SyntaxNode? parent = syntax.Parent; parent is TypeDeclarationSyntax outer; parent = outer.Parent)
                containing.Insert(0, new ContainingType(Keyword(outer), outer.Identifier.ValueText + TypeParameters(outer), outer.Modifiers.Any(SyntaxKind.PartialKeyword)));
            return containing.ToEquatableArray();
        }

        /// <summary>The properties of a model or block class that carry Kiln layers or are partial Node properties.</summary>
        private static EquatableArray<MemberDeclaration> Members(ClassDeclarationSyntax syntax, SemanticModel semanticModel, CancellationToken cancellationToken)
        {
            var members = new List<MemberDeclaration>();
            foreach (MemberDeclarationSyntax member in syntax.Members)
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (member is not PropertyDeclarationSyntax property) continue;
                if (semanticModel.GetDeclaredSymbol(property, cancellationToken) is not IPropertySymbol propertySymbol) continue;

                var attributes = propertySymbol.GetAttributes()
                    .Where(IsKilnLayer)
                    .OrderBy(a => a.ApplicationSyntaxReference?.Span.Start ?? 0)
                    .Select(ToDeclaration)
                    .ToEquatableArray();

                bool isNode = propertySymbol.Type.ToDisplayString() == NodeTypeName;
                bool isPartialNode = isNode
                    && property.Modifiers.Any(SyntaxKind.PartialKeyword)
                    && !propertySymbol.IsStatic
                    && propertySymbol.SetMethod is null
                    && propertySymbol.GetMethod is not null
                    && property.ExpressionBody is null
                    && property.AccessorList is { } accessors
                    && accessors.Accessors.Count == 1
                    && accessors.Accessors[0].IsKind(SyntaxKind.GetAccessorDeclaration)
                    && accessors.Accessors[0].Body is null && accessors.Accessors[0].ExpressionBody is null;
                if (attributes.Count == 0 && !isPartialNode) continue;

                string modifiers = string.Join(" ", property.Modifiers
                    .Where(m => m.IsKind(SyntaxKind.PublicKeyword) || m.IsKind(SyntaxKind.InternalKeyword) || m.IsKind(SyntaxKind.PrivateKeyword) || m.IsKind(SyntaxKind.ProtectedKeyword))
                    .Select(m => m.Text));
                members.Add(new MemberDeclaration(propertySymbol.Name, modifiers, isPartialNode, attributes, Span(property.Identifier.GetLocation())));
            }
            return members.ToEquatableArray();
        }

        private static bool IsKilnLayer(AttributeData attribute)
        {
            // An attribute that does not bind (no such constructor, an abstract base such as [Layer] or [Recurrent]) is the C#
            // compiler's to report (CS1729, CS0653); it is not a layer.
            if (attribute.AttributeClass is not { TypeKind: not TypeKind.Error, IsAbstract: false } || attribute.AttributeConstructor is null) return false;
            for (INamedTypeSymbol? type = attribute.AttributeClass; type is not null; type = type.BaseType)
            {
                if (type.Name == "LayerAttribute" && type.ContainingNamespace?.ToDisplayString() == KilnNamespace) return true;
            }
            return false;
        }

        private static AttributeDeclaration ToDeclaration(AttributeData attribute)
        {
            string name = attribute.AttributeClass!.Name;
            if (name.EndsWith("Attribute")) name = name.Substring(0, name.Length - "Attribute".Length);
            var arguments = new List<ArgumentDeclaration>();
            ImmutableArray<IParameterSymbol> parameters = attribute.AttributeConstructor?.Parameters ?? ImmutableArray<IParameterSymbol>.Empty;
            for (int i = 0; i < attribute.ConstructorArguments.Length && i < parameters.Length; i++)
            {
                string argumentName = Naming.Pascal(parameters[i].Name);
                if (Convert(attribute.ConstructorArguments[i]) is { } value)
                    arguments.Add(new ArgumentDeclaration(argumentName, value.Kind, value.Text, ArgumentSpan(attribute, parameters[i].Name, i)));
            }
            foreach (var named in attribute.NamedArguments)
            {
                if (Convert(named.Value) is { } value)
                    arguments.Add(new ArgumentDeclaration(named.Key, value.Kind, value.Text, ArgumentSpan(attribute, named.Key, -1)));
            }
            SyntaxNode? syntax = attribute.ApplicationSyntaxReference?.GetSyntax();
            string text = syntax?.ToString() ?? name;
            return new AttributeDeclaration(name, text, arguments.ToEquatableArray(), Span(syntax?.GetLocation()));
        }

        private static (ArgumentKind Kind, string? Text)? Convert(TypedConstant constant)
        {
            if (constant.Kind == TypedConstantKind.Error || constant.Kind == TypedConstantKind.Array) return null;
            if (constant.IsNull) return (ArgumentKind.Null, null);
            if (constant.Kind == TypedConstantKind.Type) return (ArgumentKind.Type, (constant.Value as ITypeSymbol)?.ToDisplayString());
            if (constant.Kind == TypedConstantKind.Enum) return (ArgumentKind.Enum, System.Convert.ToString(constant.Value, CultureInfo.InvariantCulture));
            return constant.Value switch
            {
                int i => (ArgumentKind.Int, i.ToString(CultureInfo.InvariantCulture)),
                double d => (ArgumentKind.Double, d.ToString("R", CultureInfo.InvariantCulture)),
                float f => (ArgumentKind.Double, ((double)f).ToString("R", CultureInfo.InvariantCulture)),
                bool b => (ArgumentKind.Bool, b ? "true" : "false"),
                string s => (ArgumentKind.String, s),
                _ => null,
            };
        }

        /// <summary>The span of an attribute argument (positional by index, or named), else of the attribute.</summary>
        private static SourceSpan? ArgumentSpan(AttributeData attribute, string name, int positional)
        {
            if (attribute.ApplicationSyntaxReference?.GetSyntax() is not AttributeSyntax syntax) return null;
            var arguments = syntax.ArgumentList?.Arguments ?? default;
            int index = 0;
            foreach (AttributeArgumentSyntax argument in arguments)
            {
                if (argument.NameEquals is { } equals)
                {
                    if (positional < 0 && equals.Name.Identifier.ValueText == name) return Span(argument.GetLocation());
                }
                else if (argument.NameColon is { } colon)
                {
                    if (colon.Name.Identifier.ValueText == name) return Span(argument.GetLocation());
                    index++;
                }
                else
                {
                    if (index == positional) return Span(argument.GetLocation());
                    index++;
                }
            }
            return Span(syntax.GetLocation());
        }

        private static string Keyword(TypeDeclarationSyntax type) => type switch
        {
            RecordDeclarationSyntax record => record.ClassOrStructKeyword.IsKind(SyntaxKind.StructKeyword) ? "record struct" : "record",
            StructDeclarationSyntax => "struct",
            InterfaceDeclarationSyntax => "interface",
            _ => "class",
        };

        private static string TypeParameters(TypeDeclarationSyntax type) =>
            type.TypeParameterList is { } list ? "<" + string.Join(", ", list.Parameters.Select(p => p.Identifier.ValueText)) + ">" : "";

        public static SourceSpan? Span(Location? location)
        {
            if (location is null || !location.IsInSource) return null;
            FileLinePositionSpan line = location.GetLineSpan();
            return new SourceSpan(line.Path ?? "", location.SourceSpan.Start, location.SourceSpan.Length,
                line.StartLinePosition.Line, line.StartLinePosition.Character, line.EndLinePosition.Line, line.EndLinePosition.Character);
        }

        public static Location ToLocation(SourceSpan? span) =>
            span is null
                ? Location.None
                : Location.Create(span.FilePath, new TextSpan(span.Start, span.Length),
                    new LinePositionSpan(new LinePosition(span.StartLine, span.StartColumn), new LinePosition(span.EndLine, span.EndColumn)));
    }
}
