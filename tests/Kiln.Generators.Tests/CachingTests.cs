using System;
using System.Collections;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Xunit;

namespace Kiln.Generators.Tests;

/// <summary>The pipeline caches: same input -> every step cached; trivia and unrelated edits -> no re-emit.</summary>
public class CachingTests
{
    private static readonly string[] Steps =
    {
        TrackingNames.Declarations, TrackingNames.Compiled, TrackingNames.Sources, TrackingNames.Diagnostics,
    };

    private static GeneratorRunResult RunTwice(Compilation first, Compilation second)
    {
        GeneratorDriver driver = GeneratorHarness.Driver().RunGenerators(first);
        driver = driver.RunGenerators(second);
        return driver.GetRunResult().Results.Single();
    }

    private static IncrementalStepRunReason[] Reasons(GeneratorRunResult result, string step) =>
        result.TrackedSteps[step].SelectMany(s => s.Outputs).Select(o => o.Reason).ToArray();

    private static void AssertReused(GeneratorRunResult result, string step)
    {
        Assert.All(Reasons(result, step), r => Assert.True(r is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"{step}: {r}"));
    }

    [Fact]
    public void RunningTwice_CachesEveryTrackedStep()
    {
        var compilation = GeneratorHarness.Compilation(Models.Z1, Models.Skip);
        GeneratorRunResult result = RunTwice(compilation, compilation.Clone());
        foreach (string step in Steps)
        {
            Assert.NotEmpty(Reasons(result, step));
            AssertReused(result, step);
        }
        Assert.All(result.TrackedOutputSteps.SelectMany(s => s.Value).SelectMany(s => s.Outputs),
            o => Assert.Equal(IncrementalStepRunReason.Cached, o.Reason));
    }

    [Fact]
    public void AddingAComment_DoesNotReEmitSource()
    {
        var compilation = GeneratorHarness.Compilation(Models.Z1);
        SyntaxTree tree = compilation.SyntaxTrees.Single();
        SyntaxTree edited = tree.WithChangedText(Microsoft.CodeAnalysis.Text.SourceText.From("// a comment that moves every line\n" + tree.GetText()));
        GeneratorRunResult result = RunTwice(compilation, compilation.ReplaceSyntaxTree(tree, edited));

        Assert.Contains(IncrementalStepRunReason.Modified, Reasons(result, TrackingNames.Declarations)); // locations moved
        AssertReused(result, TrackingNames.Sources);
        AssertReused(result, TrackingNames.Diagnostics);
    }

    [Fact]
    public void EditingAnUnrelatedFile_DoesNotReEmitSource()
    {
        const string unrelated = "namespace Other; public class Helper { public int X => 1; }";
        var compilation = GeneratorHarness.Compilation(Models.Z1, unrelated);
        SyntaxTree tree = compilation.SyntaxTrees.Last();
        SyntaxTree edited = tree.WithChangedText(Microsoft.CodeAnalysis.Text.SourceText.From(unrelated.Replace("1;", "2;")));
        GeneratorRunResult result = RunTwice(compilation, compilation.ReplaceSyntaxTree(tree, edited));

        foreach (string step in Steps) AssertReused(result, step);
    }

    [Fact]
    public void ChangingAWidth_ReEmitsSource()
    {
        var compilation = GeneratorHarness.Compilation(Models.Z1);
        SyntaxTree tree = compilation.SyntaxTrees.Single();
        SyntaxTree edited = tree.WithChangedText(Microsoft.CodeAnalysis.Text.SourceText.From(Models.Z1.Replace("Dense(128)", "Dense(96)")));
        GeneratorRunResult result = RunTwice(compilation, compilation.ReplaceSyntaxTree(tree, edited));

        Assert.Contains(IncrementalStepRunReason.Modified, Reasons(result, TrackingNames.Sources));
        Assert.Contains("Dense(96)", result.GeneratedSources.Single().SourceText.ToString());
    }

    private static readonly string[] BlockSteps = { TrackingNames.Blocks, TrackingNames.BlockList, TrackingNames.CompiledBlocks };

    [Fact]
    public void RunningTwice_WithBlocks_CachesEveryTrackedStep()
    {
        var compilation = GeneratorHarness.Compilation(Models.Cifar("CifarResNet"), Models.Cifar("CifarDenseNet"));
        GeneratorRunResult result = RunTwice(compilation, compilation.Clone());
        foreach (string step in Steps.Concat(BlockSteps))
        {
            Assert.NotEmpty(Reasons(result, step));
            AssertReused(result, step);
        }
        Assert.All(result.TrackedOutputSteps.SelectMany(s => s.Value).SelectMany(s => s.Outputs),
            o => Assert.Equal(IncrementalStepRunReason.Cached, o.Reason));
    }

    [Fact]
    public void EditingABlock_ReEmitsTheModelThatRepeatsIt_AndNoOther()
    {
        string resnet = Models.Cifar("CifarResNet");
        var compilation = GeneratorHarness.Compilation(resnet, Models.Cifar("CifarCnn"));
        SyntaxTree tree = compilation.SyntaxTrees.First();
        // The first block (BasicBlock16) gets a leaky ReLU in place of its first ReLU.
        int at = resnet.IndexOf("BatchNorm, Relu,", StringComparison.Ordinal);
        string edited = resnet[..at] + "BatchNorm, LeakyRelu(0.1)," + resnet[(at + "BatchNorm, Relu,".Length)..];
        GeneratorRunResult result = RunTwice(compilation, compilation.ReplaceSyntaxTree(tree, tree.WithChangedText(Microsoft.CodeAnalysis.Text.SourceText.From(edited))));

        string model = result.GeneratedSources.Single(s => s.HintName.Contains("CifarResNet", StringComparison.Ordinal)).SourceText.ToString();
        Assert.Contains("LeakyRelu", model);
        var sources = result.TrackedSteps[TrackingNames.Sources].SelectMany(s => s.Outputs).ToList();
        Assert.Contains(sources, o => o.Reason == IncrementalStepRunReason.Modified);
        // Z2 is compiled again (the block list changed) but its source is equal, so nothing downstream re-runs for it.
        Assert.Contains(sources, o => o.Reason is IncrementalStepRunReason.Unchanged or IncrementalStepRunReason.Cached);
    }

    public static TheoryData<string, string> Families()
    {
        var data = new TheoryData<string, string>();
        foreach (var (sample, file) in Models.SampleFiles) data.Add(sample, file);
        return data;
    }

    /// <summary>Every model family, beside an unrelated file: running again caches every step (blocks included);
    /// a comment that moves every line re-emits nothing; an edit to the unrelated file re-runs nothing.</summary>
    [Theory]
    [MemberData(nameof(Families))]
    public void EveryFamily_CachesAcrossRuns_TriviaAndUnrelatedEdits(string sample, string file)
    {
        const string unrelated = "namespace Other; public class Helper { public int X => 1; }";
        string source = Models.Sample(sample, file);
        var compilation = GeneratorHarness.Compilation(source, unrelated);
        var steps = Steps.Concat(source.Contains("[Block]", StringComparison.Ordinal) ? BlockSteps : []).ToArray();

        GeneratorRunResult again = RunTwice(compilation, compilation.Clone());
        Assert.Empty(again.Diagnostics);
        foreach (string step in steps)
        {
            Assert.NotEmpty(Reasons(again, step));
            AssertReused(again, step);
        }

        SyntaxTree model = compilation.SyntaxTrees.First();
        GeneratorRunResult comment = RunTwice(compilation, compilation.ReplaceSyntaxTree(model,
            model.WithChangedText(Microsoft.CodeAnalysis.Text.SourceText.From("// a comment that moves every line\n" + source))));
        AssertReused(comment, TrackingNames.Sources);
        AssertReused(comment, TrackingNames.Diagnostics);

        SyntaxTree other = compilation.SyntaxTrees.Last();
        GeneratorRunResult edit = RunTwice(compilation, compilation.ReplaceSyntaxTree(other,
            other.WithChangedText(Microsoft.CodeAnalysis.Text.SourceText.From(unrelated.Replace("1;", "2;", StringComparison.Ordinal)))));
        foreach (string step in steps) AssertReused(edit, step);
    }

    /// <summary>All the samples' models in one compilation: editing one model re-emits that model and no other.</summary>
    [Fact]
    public void EditingOneModel_ReEmitsItAlone_AmongEveryFamily()
    {
        string[] sources = Models.SampleFiles.Select(f => Models.Sample(f.Sample, f.File)).ToArray();
        var compilation = GeneratorHarness.Compilation(sources);
        SyntaxTree mlp = compilation.SyntaxTrees.First();
        string edited = sources[0].Replace("Dense(128)", "Dense(96)", StringComparison.Ordinal);
        Assert.NotEqual(sources[0], edited);
        GeneratorRunResult result = RunTwice(compilation, compilation.ReplaceSyntaxTree(mlp, mlp.WithChangedText(Microsoft.CodeAnalysis.Text.SourceText.From(edited))));

        Assert.Empty(result.Diagnostics);
        var outputs = result.TrackedSteps[TrackingNames.Sources].SelectMany(s => s.Outputs).ToList();
        Assert.Equal(1, outputs.Count(o => o.Reason == IncrementalStepRunReason.Modified));
        Assert.True(outputs.Count >= 10, $"{outputs.Count} model sources");
        Assert.All(outputs.Where(o => o.Reason != IncrementalStepRunReason.Modified),
            o => Assert.True(o.Reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, o.Reason.ToString()));
    }

    [Fact]
    public void PipelineModels_HoldNoSymbolsSyntaxLocationsOrCompilations()
    {
        var compilation = GeneratorHarness.Compilation(Models.Z1, Models.Skip, Models.Regression, Models.Cifar("CifarResNet"));
        GeneratorRunResult result = RunTwice(compilation, compilation.Clone());
        var visited = new HashSet<object>(ReferenceEqualityComparer.Instance);
        foreach (string step in Steps.Concat(BlockSteps))
            foreach (var run in result.TrackedSteps[step])
                foreach (var (value, _) in run.Outputs)
                    AssertNoRoslynObjects(value, step, visited);
    }

    private static readonly Type[] Forbidden = { typeof(ISymbol), typeof(SyntaxNode), typeof(Location), typeof(Compilation), typeof(SemanticModel), typeof(SyntaxTree) };

    private static void AssertNoRoslynObjects(object? value, string path, HashSet<object> visited)
    {
        if (value is null || value is string || value.GetType().IsPrimitive || value.GetType().IsEnum) return;
        Type type = value.GetType();
        Assert.False(Forbidden.Any(f => f.IsAssignableFrom(type)), $"{path} holds a {type.Name}");
        if (!type.IsValueType && !visited.Add(value)) return;
        if (value is IEnumerable sequence)
        {
            int i = 0;
            foreach (object? item in sequence) AssertNoRoslynObjects(item, $"{path}[{i++}]", visited);
            if (type.Namespace?.StartsWith("System", StringComparison.Ordinal) == true) return;
        }
        foreach (FieldInfo field in type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic))
            AssertNoRoslynObjects(field.GetValue(value), $"{path}.{field.Name}", visited);
    }
}
