using System;
using Kiln.Generators.Autodiff;
using Kiln.Generators.Diagnostics;
using Kiln.Generators.Graph;
using Kiln.Generators.Helpers;
using Kiln.Generators.Model;
using Kiln.Generators.Optimize;
using Kiln.Generators.Planner;

namespace Kiln.Generators;

/// <summary>Generated source as data: file name and text (compared by value, so unchanged output is not re-added).</summary>
public sealed record GeneratedSource(string HintName, string Text);

/// <summary>What compiling one model produces: source (or null) and diagnostics.</summary>
public sealed record CompileResult(GeneratedSource? Source, EquatableArray<DiagnosticInfo> Diagnostics);

public sealed partial class ModelGenerator
{
    private static CompileResult TooLarge(ModelDeclaration declaration) =>
        new(Emitter.EmitStub(declaration), EquatableArray.Create(DiagnosticInfo.Create(DiagnosticIds.TensorTooLarge, declaration.NameSpan,
            "The memory (parameters, gradients and workspace)", declaration.Name, "more than 2,147,483,647", "one arena", "2,147,483,647")));

    /// <summary>Runs the pure stages on one declaration. Never throws: a failure becomes KILN9999.</summary>
    public static CompileResult Compile(ModelDeclaration declaration) => Compile(declaration, EquatableArray<BlockDeclaration>.Empty);

    /// <summary>Runs the pure stages on one declaration, with the blocks it may repeat. Never throws: a failure becomes KILN9999.</summary>
    public static CompileResult Compile(ModelDeclaration declaration, EquatableArray<BlockDeclaration> blocks)
    {
        try
        {
            var (graph, diagnostics) = GraphBuilder.Build(declaration, blocks);
            if (graph is null)
            {
                // Still implement the declared partial Node properties, so the only errors are ours.
                return new CompileResult(Emitter.EmitStub(declaration), diagnostics);
            }
            graph = Fusion.Fuse(graph);
            BackwardGraph backward = Differentiator.Differentiate(graph);
            MemoryPlan plan;
            try
            {
                plan = MemoryPlanner.Plan(graph, backward);
            }
            catch (OverflowException)
            {
                return TooLarge(declaration);
            }
            if (2L * plan.ParameterFloats + plan.WorkspaceFloats > int.MaxValue) return TooLarge(declaration);
            return new CompileResult(Emitter.Emit(declaration, graph, backward, plan), diagnostics);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            GeneratedSource? stub = null;
            try { stub = Emitter.EmitStub(declaration); }
            catch (Exception inner) when (inner is not OperationCanceledException) { }
            return new CompileResult(stub, EquatableArray.Create(DiagnosticInfo.Create(DiagnosticIds.InternalError, declaration.NameSpan, declaration.Name, e.GetType().Name + ": " + e.Message)));
        }
    }
}

public sealed partial class ModelGenerator
{
    /// <summary>A [Block] class: its own checks, and the implementation of its partial Node properties. Never throws.</summary>
    public static CompileResult CompileBlock(BlockDeclaration block)
    {
        try
        {
            return new CompileResult(Emitter.EmitBlock(block), GraphBuilder.CheckBlock(block));
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return new CompileResult(null, EquatableArray.Create(DiagnosticInfo.Create(DiagnosticIds.InternalError, block.NameSpan, block.Name, e.GetType().Name + ": " + e.Message)));
        }
    }
}
