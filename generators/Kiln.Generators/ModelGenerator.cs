using System.Linq;
using Kiln.Generators.Diagnostics;
using Kiln.Generators.Helpers;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Kiln.Generators;

/// <summary>
/// The Kiln model compiler. Discover [Model] classes -> declaration records -> graph with static shapes and
/// checks -> backward graph -> memory plan -> C#. Source and diagnostics leave through two outputs, so a
/// diagnostic that only moves (an edit above it) does not re-emit source.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed partial class ModelGenerator : IIncrementalGenerator
{
    public const string ModelAttributeName = "Kiln.ModelAttribute";
    public const string BlockAttributeName = "Kiln.BlockAttribute";

    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        var declarations = context.SyntaxProvider
            .ForAttributeWithMetadataName(
                ModelAttributeName,
                predicate: static (node, _) => node is ClassDeclarationSyntax,
                transform: static (context, cancellationToken) => Parser.Parse(context, cancellationToken))
            .WithTrackingName(TrackingNames.Declarations);

        var blocks = context.SyntaxProvider
            .ForAttributeWithMetadataName(
                BlockAttributeName,
                predicate: static (node, _) => node is ClassDeclarationSyntax,
                transform: static (context, cancellationToken) => Parser.ParseBlock(context, cancellationToken))
            .WithTrackingName(TrackingNames.Blocks);

        // Every model sees every block (a model names its blocks by type); sorted, so the list compares by value.
        var blockList = blocks
            .Collect()
            .Select(static (all, _) => all.OrderBy(b => b.FullName, System.StringComparer.Ordinal).ToEquatableArray())
            .WithTrackingName(TrackingNames.BlockList);

        var compiled = declarations
            .Combine(blockList)
            .Select(static (pair, _) => Compile(pair.Left, pair.Right))
            .WithTrackingName(TrackingNames.Compiled);

        var compiledBlocks = blocks
            .Select(static (block, _) => CompileBlock(block))
            .WithTrackingName(TrackingNames.CompiledBlocks);

        var sources = compiled
            .Select(static (result, _) => result.Source)
            .WithTrackingName(TrackingNames.Sources);

        var diagnostics = compiled
            .Select(static (result, _) => result.Diagnostics)
            .WithTrackingName(TrackingNames.Diagnostics);

        context.RegisterSourceOutput(sources, static (context, source) =>
        {
            if (source is not null) context.AddSource(source.HintName, source.Text);
        });

        context.RegisterSourceOutput(diagnostics, static (context, list) =>
        {
            foreach (DiagnosticInfo info in list)
                context.ReportDiagnostic(ToDiagnostic(info));
        });

        context.RegisterSourceOutput(compiledBlocks.Select(static (result, _) => result.Source), static (context, source) =>
        {
            if (source is not null) context.AddSource(source.HintName, source.Text);
        });

        context.RegisterSourceOutput(compiledBlocks.Select(static (result, _) => result.Diagnostics), static (context, list) =>
        {
            foreach (DiagnosticInfo info in list)
                context.ReportDiagnostic(ToDiagnostic(info));
        });
    }

    /// <summary>The Roslyn diagnostic: message arguments, and a fix's kind and value as properties, its further targets as
    /// additional locations.</summary>
    private static Diagnostic ToDiagnostic(DiagnosticInfo info) =>
        Diagnostic.Create(DiagnosticDescriptors.Get(info.Id), Parser.ToLocation(info.Span),
            info.Fix is null ? null : info.Fix.Targets.Select(static t => Parser.ToLocation(t)),
            info.Properties(), [.. info.Arguments]);
}
