using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using System.Threading;
using Kiln.CodeFixes;
using Kiln.Generators.Diagnostics;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeActions;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.Text;
using Xunit;

namespace Kiln.Generators.Tests;

/// <summary>
/// Each code fix applied to a broken model, as the IDE applies it: the generator's diagnostic goes to
/// <see cref="KilnCodeFixProvider"/> with the document; the one action it offers is applied; the fixed model must
/// then compile with no diagnostic at all (generator or compiler), and the edit must be the expected one.
/// </summary>
public class CodeFixTests
{
    private const string Image = "[Input(3, 8, 8)] public partial Node X { get; }\n";
    private const string Vector = "[Input(3)] public partial Node X { get; }\n";

    public static IEnumerable<object[]> Cases() => new[]
    {
        // KILN0001: the model class made partial.
        new object[] { DiagnosticIds.ModelNotPartial, DiagnosticTests.Model(Vector, head: "public class M"), "public partial class M" },
        new object[] { DiagnosticIds.ModelNotPartial, DiagnosticTests.Model(Vector, head: "class M"), "partial class M" },
        // KILN0009: the containing type made partial.
        new object[] { DiagnosticIds.ContainingTypeNotPartial,
            GeneratorHarness.Usings + "public static class Outer { [Model(Batch = 2)] public partial class M { [Input(3)] public partial Node X { get; } } }",
            "public static partial class Outer" },
        // KILN0013: the block class made partial.
        new object[] { DiagnosticIds.BlockNotPartial,
            DiagnosticTests.Model(Image + "[Repeat(typeof(Plain), 2)] public partial Node R { get; }") +
                "[Block]\npublic sealed class Plain\n{\n[Conv2d(3, 3, Padding = 1), Relu, Residual] public partial Node Body { get; }\n}\n",
            "public sealed partial class Plain" },
        // KILN1004: the loss's Classes / Width set to what the prediction has.
        new object[] { DiagnosticIds.LossWidthMismatch,
            DiagnosticTests.Model(Vector + "[Dense(10)] public partial Node Logits { get; }\n[SoftmaxCrossEntropy(Classes = 12)] public partial Node Loss { get; }"),
            "SoftmaxCrossEntropy(Classes = 10)" },
        new object[] { DiagnosticIds.LossWidthMismatch,
            DiagnosticTests.Model(Vector + "[Dense(2)] public partial Node P { get; }\n[MeanSquaredError(Width = 3)] public partial Node Loss { get; }"),
            "MeanSquaredError(Width = 2)" },
        // KILN1005: In set to what arrives (vector, sequence, image).
        new object[] { DiagnosticIds.InputWidthMismatch, DiagnosticTests.Model(Vector + "[Dense(4, In = 5)] public partial Node H { get; }"), "Dense(4, In = 3)" },
        new object[] { DiagnosticIds.InputWidthMismatch,
            DiagnosticTests.Model("[Input(10, 6)] public partial Node S { get; }\n[Lstm(8)] public partial Node First { get; }\n[Lstm(4, In = 6)] public partial Node Second { get; }"),
            "Lstm(4, In = 8)" },
        new object[] { DiagnosticIds.InputWidthMismatch, DiagnosticTests.Model(Image + "[Conv2d(4, 3, In = 1)] public partial Node C { get; }"), "Conv2d(4, 3, In = 3)" },
        // KILN1009: [Flatten] before a vector layer that receives an image.
        new object[] { DiagnosticIds.NeedsVector,
            DiagnosticTests.Model(Image + "[Conv2d(4, 3)] public partial Node C { get; }\n[Dense(10)] public partial Node Out { get; }"), "[Flatten, Dense(10)]" },
        new object[] { DiagnosticIds.NeedsVector,
            DiagnosticTests.Model(Image + "[Conv2d(4, 3), Relu, Dense(10)] public partial Node Out { get; }"), "[Conv2d(4, 3), Relu, Flatten, Dense(10)]" },
        // KILN1015: the nearest number of heads that divides the width (named and positional).
        new object[] { DiagnosticIds.HeadsDoNotDivide,
            DiagnosticTests.Model("[Input(16, Of = typeof(int))] public partial Node Tokens { get; }\n[Embedding(10, 12)] public partial Node E { get; }\n[SelfAttention(Heads = 5)] public partial Node Attn { get; }"),
            "SelfAttention(Heads = 6)" },
        new object[] { DiagnosticIds.HeadsDoNotDivide,
            DiagnosticTests.Model("[Input(16, Of = typeof(int))] public partial Node Tokens { get; }\n[Embedding(10, 12)] public partial Node E { get; }\n[SelfAttention(7, Causal = true)] public partial Node Attn { get; }"),
            "SelfAttention(6, Causal = true)" },
        // KILN1003: a Residual after unpadded convolutions: Padding.Same on each, keeping the map's size.
        new object[] { DiagnosticIds.AddShapeMismatch,
            DiagnosticTests.Model(Image + "[Conv2d(3, 3), Relu, Conv2d(3, 3, Bias = false), Residual] public partial Node Body { get; }"),
            "[Conv2d(3, 3, Padding = Padding.Same), Relu, Conv2d(3, 3, Bias = false, Padding = Padding.Same), Residual]" },
        new object[] { DiagnosticIds.AddShapeMismatch,
            DiagnosticTests.Model(Image + "[Conv2d(3, 3, Padding = 0), Residual] public partial Node Body { get; }"),
            "[Conv2d(3, 3, Padding = Padding.Same), Residual]" },
        // KILN1007: the padding that makes the window fit.
        new object[] { DiagnosticIds.EmptyMap,
            DiagnosticTests.Model("[Input(3, 2, 2)] public partial Node X { get; }\n[Conv2d(4, 3)] public partial Node Conv3 { get; }"), "Conv2d(4, 3, Padding = 1)" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Fix_YieldsAModelThatCompilesCleanly(string id, string source, string expected)
    {
        string fixedSource = ApplyFix(source, id);
        Assert.Contains(expected, fixedSource);
        DiagnosticTests.AssertClean(fixedSource);
    }

    [Fact]
    public void EveryFixableId_HasACase_AndNoDiagnosticWithoutAnObviousEdit_OffersOne()
    {
        var covered = Cases().Select(c => (string)c[0]).ToHashSet();
        Assert.Equal(new KilnCodeFixProvider().FixableDiagnosticIds.OrderBy(i => i), covered.OrderBy(i => i));
        // A generic block has no one-edit fix (its type parameters must go): no action is offered.
        string generic = DiagnosticTests.Model(Image + "[Repeat(typeof(G<int>), 2)] public partial Node R { get; }") +
            "[Block]\npublic partial class G<T>\n{\n[Relu] public partial Node Body { get; }\n}\n";
        Assert.Empty(Actions(generic, DiagnosticIds.BlockNotPartial));
        // An Add of two Dense widths: which width to change is the user's choice.
        string add = DiagnosticTests.Model(Vector + "[Dense(8)] public partial Node A { get; }\n[Dense(4), Add(nameof(A))] public partial Node B { get; }");
        Assert.Empty(Actions(add, DiagnosticIds.AddShapeMismatch));
    }

    [Fact]
    public void PropertyNames_AgreeWithTheGenerator()
    {
        Assert.Equal(FixKinds.KindProperty, KilnCodeFixProvider.KindProperty);
        Assert.Equal(FixKinds.ValueProperty, KilnCodeFixProvider.ValueProperty);
        Assert.Equal(FixKinds.ReplaceValue, KilnCodeFixProvider.ReplaceValue);
        Assert.Equal(FixKinds.InsertAttributeBefore, KilnCodeFixProvider.InsertAttributeBefore);
        Assert.Equal(FixKinds.SetArgument, KilnCodeFixProvider.SetArgument);
        Assert.Equal(FixKinds.MakePartial, KilnCodeFixProvider.MakePartial);
    }

    private static List<CodeAction> Actions(string source, string id) => Actions(source, id, out _);

    private static List<CodeAction> Actions(string source, string id, out Document document)
    {
        var (result, _) = GeneratorHarness.Run(source);
        Diagnostic diagnostic = Assert.Single(result.Diagnostics, d => d.Id == id);
        var workspace = new AdhocWorkspace();
        Project project = workspace.AddProject("Models", LanguageNames.CSharp).WithParseOptions(GeneratorHarness.ParseOptions);
        document = project.AddDocument("Model0.cs", SourceText.From(source));
        var actions = new List<CodeAction>();
        var context = new CodeFixContext(document, diagnostic, (action, _) => actions.Add(action), CancellationToken.None);
        new KilnCodeFixProvider().RegisterCodeFixesAsync(context).GetAwaiter().GetResult();
        return actions;
    }

    private static string ApplyFix(string source, string id)
    {
        CodeAction action = Assert.Single(Actions(source, id, out Document document));
        ImmutableArray<CodeActionOperation> operations = action.GetOperationsAsync(CancellationToken.None).GetAwaiter().GetResult();
        Solution changed = Assert.Single(operations.OfType<ApplyChangesOperation>()).ChangedSolution;
        return changed.GetDocument(document.Id)!.GetTextAsync().GetAwaiter().GetResult().ToString();
    }
}
