using System.Linq;
using Kiln.Generators.Diagnostics;
using Kiln.Generators.Helpers;
using Kiln.Generators.Model;
using Microsoft.CodeAnalysis;
using Xunit;

namespace Kiln.Generators.Tests;

/// <summary>One test per diagnostic ID (reported, at the right place, with a useful message) and a twin that
/// fixes the declaration and must not report.</summary>
public class DiagnosticTests
{
    internal static string Model(string members, string attribute = "[Model(Batch = 4)]", string head = "public partial class M") =>
        GeneratorHarness.Usings + $"{attribute}\n{head}\n{{\n{members}\n}}\n";

    private const string InputNode = "[Input(3)] public partial Node X { get; }\n";

    /// <summary>Asserts exactly one diagnostic with <paramref name="id"/>, located on <paramref name="at"/>.</summary>
    internal static Diagnostic AssertReports(string id, string source, string at, params string[] messageContains) =>
        AssertReports(DiagnosticSeverity.Error, id, source, at, messageContains);

    /// <summary>As <see cref="AssertReports(string, string, string, string[])"/>, for a diagnostic of the given severity.</summary>
    internal static Diagnostic AssertReports(DiagnosticSeverity severity, string id, string source, string at, params string[] messageContains)
    {
        var (result, output) = GeneratorHarness.Run(source);
        Diagnostic diagnostic = Assert.Single(result.Diagnostics, d => d.Id == id);
        Assert.Equal(severity, diagnostic.Severity);
        // Cached diagnostics carry their location as data (path + span), so find the tree by path.
        SyntaxTree tree = output.SyntaxTrees.Single(t => t.FilePath == diagnostic.Location.GetLineSpan().Path);
        string located = tree.ToString().Substring(diagnostic.Location.SourceSpan.Start, diagnostic.Location.SourceSpan.Length);
        Assert.Equal(at, located);
        string message = diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture);
        foreach (string part in messageContains) Assert.Contains(part, message);
        Assert.EndsWith($"docs/diagnostics/{id}.md", diagnostic.Descriptor.HelpLinkUri);
        // The generated code (a stub when the model has errors) never adds compile errors of its own.
        Assert.DoesNotContain(output.GetDiagnostics(), d => d.Severity == DiagnosticSeverity.Error && d.Location.SourceTree?.FilePath.EndsWith(".g.cs") == true);
        return diagnostic;
    }

    internal static void AssertClean(string source)
    {
        var (result, output) = GeneratorHarness.Run(source);
        Assert.Empty(result.Diagnostics);
        Assert.Empty(GeneratorHarness.CompileErrors(output));
    }

    [Fact]
    public void ClassNotPartial_ReportsKILN0001() =>
        AssertReports(DiagnosticIds.ModelNotPartial, Model("", head: "public class M"), "M", "'M'", "partial");

    [Fact]
    public void ClassNotPartial_Twin() => AssertClean(Model(InputNode));

    [Fact]
    public void NoInput_ReportsKILN0002() =>
        AssertReports(DiagnosticIds.ModelHasNoInput, Model("[Dense(3)] public partial Node H { get; }"), "Dense(3)", "[Input(width)]");

    [Fact]
    public void EmptyModel_ReportsKILN0002_OnTheClass() =>
        AssertReports(DiagnosticIds.ModelHasNoInput, Model(""), "M");

    [Fact]
    public void NoInput_Twin() => AssertClean(Model(InputNode + "[Dense(3)] public partial Node H { get; }"));

    [Fact]
    public void LayerOnNonPartialProperty_ReportsKILN0003() =>
        AssertReports(DiagnosticIds.NodeNotPartialNodeProperty, Model(InputNode + "[Dense(3)] public Node H { get; set; } = null!;"), "H", "partial Node");

    [Fact]
    public void LayerOnNonPartialProperty_Twin() => AssertClean(Model(InputNode + "[Dense(3)] public partial Node H { get; }"));

    [Fact]
    public void NodeWithoutLayer_ReportsKILN0004() =>
        AssertReports(DiagnosticIds.NodeWithoutOps, Model(InputNode + "public partial Node H { get; }"), "H", "'H'");

    [Fact]
    public void NodeWithoutLayer_Twin() => AssertClean(Model(InputNode + "[Relu] public partial Node H { get; }"));

    [Fact]
    public void NodeAfterLoss_ReportsKILN0005() =>
        AssertReports(DiagnosticIds.NodeAfterLoss,
            Model(InputNode + "[Dense(2)] public partial Node L { get; }\n[SoftmaxCrossEntropy] public partial Node Loss { get; }\n[Relu] public partial Node After { get; }"),
            "Relu", "'After'", "'Loss'");

    [Fact]
    public void NodeAfterLoss_Twin() =>
        AssertClean(Model(InputNode + "[Dense(2)] public partial Node L { get; }\n[Relu] public partial Node After { get; }\n[SoftmaxCrossEntropy] public partial Node Loss { get; }"));

    [Fact]
    public void UnknownFromNode_ReportsKILN0006() =>
        AssertReports(DiagnosticIds.UnknownNode, Model(InputNode + "[Dense(3)] public partial Node H { get; }\n[Dense(2, From = \"Nope\")] public partial Node O { get; }"),
            "From = \"Nope\"", "'Nope'", "nameof(X)", "nameof(H)");

    [Fact]
    public void UnknownFromNode_Twin() =>
        AssertClean(Model(InputNode + "[Dense(3)] public partial Node H { get; }\n[Dense(2, From = nameof(X))] public partial Node O { get; }"));

    [Fact]
    public void ReadsLaterNode_ReportsKILN0007() =>
        AssertReports(DiagnosticIds.NodeReferencesLaterNode, Model(InputNode + "[Dense(3), Add(nameof(Later))] public partial Node H { get; }\n[Dense(3)] public partial Node Later { get; }"),
            "nameof(Later)", "'Later'", "move");

    [Fact]
    public void ReadsLaterNode_Twin() =>
        AssertClean(Model(InputNode + "[Dense(3)] public partial Node Earlier { get; }\n[Dense(3), Add(nameof(Earlier))] public partial Node H { get; }"));

    [Fact]
    public void ThirdInput_ReportsKILN0008() =>
        AssertReports(DiagnosticIds.InputMisplaced, Model(InputNode + "[Input(4)] public partial Node Y { get; }\n[Input(5)] public partial Node Z { get; }"),
            "Input(5)", "'X' and 'Y'");

    [Fact]
    public void SecondInputThatNothingReads_ReportsKILN0008() =>
        AssertReports(DiagnosticIds.InputMisplaced, Model(InputNode + "[Dense(4)] public partial Node Y { get; }\n[Input(4)] public partial Node Z { get; }"),
            "Input(4)", "'Z'", "no node after it reads it");

    [Fact]
    public void SecondInputThatOnlyTheLossReads_ReportsKILN0008() =>
        // Found by the fuzzer (seed 633 after the padding attributes joined its grammar): it reached the emitter as KILN9999.
        AssertReports(DiagnosticIds.InputMisplaced,
            Model(InputNode + "[Dense(4)] public partial Node Y { get; }\n[Input(6, 4)] public partial Node Z { get; }\n[SoftmaxCrossEntropy] public partial Node Loss { get; }"),
            "Input(6, 4)", "'Z'", "only the loss reads it");

    [Fact]
    public void InputAfterAnotherAttribute_ReportsKILN0008() =>
        AssertReports(DiagnosticIds.InputMisplaced, Model("[Relu, Input(4)] public partial Node Y { get; }"), "Input(4)");

    [Fact]
    public void SecondInput_Twin() =>
        AssertClean(Model(InputNode + "[Dense(4)] public partial Node Y { get; }\n[Input(4)] public partial Node Z { get; }\n[Add(nameof(Y))] public partial Node S { get; }"));

    [Fact]
    public void ContainingTypeNotPartial_ReportsKILN0009() =>
        AssertReports(DiagnosticIds.ContainingTypeNotPartial,
            GeneratorHarness.Usings + "public class Outer { [Model(Batch = 2)] public partial class M { [Input(3)] public partial Node X { get; } } }", "M", "'Outer'");

    [Fact]
    public void ContainingTypeNotPartial_Twin() =>
        AssertClean(GeneratorHarness.Usings + "public partial class Outer { [Model(Batch = 2)] public partial class M { [Input(3)] public partial Node X { get; } } }");

    [Fact]
    public void ReservedNodeName_ReportsKILN0010() =>
        AssertReports(DiagnosticIds.ReservedNodeName, Model(InputNode + "[Dense(3)] public partial Node Forward { get; }"), "Forward", "'Forward'");

    [Fact]
    public void ReservedNodeName_Twin() => AssertClean(Model(InputNode + "[Dense(3)] public partial Node Forwarder { get; }"));

    [Theory]
    [InlineData("[Dense(0)] public partial Node H { get; }", "0", "Units")]
    [InlineData("[Dense(-3)] public partial Node H { get; }", "-3", "Units")]
    [InlineData("[LeakyRelu(double.NaN)] public partial Node H { get; }", "double.NaN", "Alpha")]
    public void NonPositiveSize_ReportsKILN1001(string member, string at, string what) =>
        AssertReports(DiagnosticIds.InvalidSize, Model(InputNode + member), at, what, "'H'");

    [Fact]
    public void NonPositiveBatch_ReportsKILN1001() =>
        AssertReports(DiagnosticIds.InvalidSize, Model(InputNode, attribute: "[Model(Batch = 0)]"), "Batch = 0", "Batch");

    [Fact]
    public void NonPositiveInput_ReportsKILN1001() =>
        AssertReports(DiagnosticIds.InvalidSize, Model("[Input(0)] public partial Node X { get; }"), "0", "Width");

    [Fact]
    public void NonPositiveSize_Twin() => AssertClean(Model(InputNode + "[Dense(1), LeakyRelu(0.2)] public partial Node H { get; }"));

    [Fact]
    public void MissingBatch_ReportsKILN1002() =>
        AssertReports(DiagnosticIds.MissingSize, Model(InputNode, attribute: "[Model]"), "Model", "Batch = 64");

    [Fact]
    public void MissingBatch_Twin() => AssertClean(Model(InputNode, attribute: "[Model(Batch = 1)]"));

    [Fact]
    public void AddOfDifferentShapes_ReportsKILN1003() =>
        AssertReports(DiagnosticIds.AddShapeMismatch,
            Model(InputNode + "[Dense(8)] public partial Node A { get; }\n[Dense(4), Add(nameof(A))] public partial Node B { get; }"),
            "nameof(A)", "[B, 4]", "[B, 8]", "'A'", "'B'");

    [Fact]
    public void AddOfDifferentShapes_Twin() =>
        AssertClean(Model(InputNode + "[Dense(8)] public partial Node A { get; }\n[Dense(8), Add(nameof(A))] public partial Node B { get; }"));

    [Fact]
    public void LossClassesMismatch_ReportsKILN1004() =>
        AssertReports(DiagnosticIds.LossWidthMismatch,
            Model(InputNode + "[Dense(10)] public partial Node Logits { get; }\n[SoftmaxCrossEntropy(Classes = 12)] public partial Node Loss { get; }"),
            "Classes = 12", "Classes = 12", "'Logits'", "[B, 10]");

    [Fact]
    public void MseWidthMismatch_ReportsKILN1004() =>
        AssertReports(DiagnosticIds.LossWidthMismatch,
            Model(InputNode + "[Dense(2)] public partial Node P { get; }\n[MeanSquaredError(Width = 3)] public partial Node Loss { get; }"),
            "Width = 3", "'P'");

    [Fact]
    public void LossClassesMismatch_Twin() =>
        AssertClean(Model(InputNode + "[Dense(10)] public partial Node Logits { get; }\n[SoftmaxCrossEntropy(Classes = 10)] public partial Node Loss { get; }"));

    [Theory]
    [InlineData("[L1Loss(Width = 4)]")]
    [InlineData("[HuberLoss(Width = 4)]")]
    [InlineData("[BinaryCrossEntropyWithLogits(Width = 4)]")]
    [InlineData("[BinaryFocalLoss(Width = 4)]")]
    public void ElementWiseLossWidthMismatch_ReportsKILN1004(string loss) =>
        AssertReports(DiagnosticIds.LossWidthMismatch,
            Model(InputNode + $"[Dense(2)] public partial Node P {{ get; }}\n{loss} public partial Node Loss {{ get; }}"), "Width = 4", "'P'", "[B, 2]");

    [Fact]
    public void FocalClassesMismatch_ReportsKILN1004() =>
        AssertReports(DiagnosticIds.LossWidthMismatch,
            Model(InputNode + "[Dense(5)] public partial Node Logits { get; }\n[FocalLoss(Classes = 6)] public partial Node Loss { get; }"), "Classes = 6", "'Logits'", "[B, 5]");

    [Theory]
    [InlineData("[SoftmaxCrossEntropy(LabelSmoothing = 1.5)]", "LabelSmoothing = 1.5", "LabelSmoothing", "[0, 1)")]
    [InlineData("[HuberLoss(Delta = 0)]", "Delta = 0", "Delta", "> 0")]
    [InlineData("[FocalLoss(Gamma = -1)]", "Gamma = -1", "Gamma", "≥ 0")]
    [InlineData("[FocalLoss(Alpha = 0)]", "Alpha = 0", "Alpha", "> 0")]
    [InlineData("[BinaryFocalLoss(Alpha = 2)]", "Alpha = 2", "Alpha", "[0, 1]")]
    [InlineData("[MeanSquaredError(Reduction = (Reduction)7)]", "Reduction = (Reduction)7", "Reduction", "Reduction.Sum")]
    public void LossHyperParameterOutOfRange_ReportsKILN1006(string loss, string at, string argument, string range) =>
        AssertReports(DiagnosticIds.InvalidArgument,
            Model(InputNode + $"[Dense(2)] public partial Node P {{ get; }}\n{loss} public partial Node Loss {{ get; }}"), at, argument, "'Loss'", range);

    [Theory]
    [InlineData("[Dense(4), Dropout(1.0)]", "1.0", "Probability", "[0, 1)")]
    [InlineData("[GaussianNoise(-0.5)]", "-0.5", "StandardDeviation", "≥ 0")]
    public void RegularizerOutOfRange_ReportsKILN1006(string layers, string at, string argument, string range) =>
        AssertReports(DiagnosticIds.InvalidArgument, Model(InputNode + $"{layers} public partial Node H {{ get; }}"), at, argument, "'H'", range);

    [Fact]
    public void Regularizers_Twin() =>
        AssertClean(Model(InputNode + "[Dense(4), Dropout(0.5), GaussianNoise(0.1)] public partial Node H { get; }"));

    [Theory]
    [InlineData("[SoftmaxCrossEntropy(LabelSmoothing = 0.1, Reduction = Reduction.Sum)]")]
    [InlineData("[SoftmaxCrossEntropy(SoftTargets = true)]")]
    [InlineData("[HuberLoss(Delta = 2, Width = 2)]")]
    [InlineData("[FocalLoss(Gamma = 0, Alpha = 0.5, Classes = 2)]")]
    [InlineData("[BinaryFocalLoss(Alpha = -1)]")]
    [InlineData("[L1Loss(Reduction = Reduction.Sum)]")]
    [InlineData("[BinaryCrossEntropyWithLogits]")]
    public void LossHyperParameters_Twin(string loss) =>
        AssertClean(Model(InputNode + $"[Dense(2)] public partial Node P {{ get; }}\n{loss} public partial Node Loss {{ get; }}"));

    [Fact]
    public void InputWidthContradiction_ReportsKILN1005() =>
        AssertReports(DiagnosticIds.InputWidthMismatch,
            Model(InputNode + "[Dense(4, In = 5)] public partial Node H { get; }"), "In = 5", "In = 5", "[B, 3]", "'X'");

    [Fact]
    public void InputWidthContradiction_Twin() => AssertClean(Model(InputNode + "[Dense(4, In = 3)] public partial Node H { get; }"));

    [Fact]
    public void DoubleInput_ReportsKILN2001() =>
        AssertReports(DiagnosticIds.UnsupportedInputType, Model("[Input(3, Of = typeof(double))] public partial Node X { get; }"), "Of = typeof(double)", "double", "int tokens");

    [Fact]
    public void IntegerImage_ReportsKILN2001() =>
        AssertReports(DiagnosticIds.UnsupportedInputType, Model("[Input(3, 8, 8, Of = typeof(int))] public partial Node X { get; }\n[Flatten] public partial Node F { get; }"),
            "Of = typeof(int)", "int (as an image)");

    [Fact]
    public void DoubleInput_Twin() => AssertClean(Model("[Input(3, Of = typeof(float))] public partial Node X { get; }"));

    [Fact]
    public void GenericModel_ReportsKILN2002() =>
        AssertReports(DiagnosticIds.UnsupportedModelClass, Model(InputNode, head: "public partial class M<T>"), "M", "generic");

    [Fact]
    public void ModelThatIsAlsoABlock_ReportsKILN2002() =>
        AssertReports(DiagnosticIds.UnsupportedModelClass, Model(InputNode, attribute: "[Block]\n[Model(Batch = 4)]"), "M", "also marked [Block]");

    [Fact]
    public void GenericModel_Twin() => AssertClean(Model(InputNode, head: "public partial class M"));

    [Fact]
    public void HugeLayer_ReportsKILN2003() =>
        AssertReports(DiagnosticIds.TensorTooLarge, Model("[Input(100000)] public partial Node X { get; }\n[Dense(100000)] public partial Node H { get; }"),
            "Dense(100000)", "H.weight");

    [Fact]
    public void HugeLayer_Twin() => AssertClean(Model("[Input(1000)] public partial Node X { get; }\n[Dense(1000)] public partial Node H { get; }"));

    [Fact]
    public void InternalFailure_ReportsKILN9999_InsteadOfThrowing()
    {
        // A declaration no parser produces (a member without a name) stands in for a generator bug.
        var broken = Declaration(new MemberDeclaration(null!, "public", true, EquatableArray.Create(Attribute("Input", ("Width", "3"))), null));
        CompileResult result = ModelGenerator.Compile(broken);
        Assert.Contains(result.Diagnostics, d => d.Id == DiagnosticIds.InternalError);
    }

    [Fact]
    public void InternalFailure_Twin()
    {
        var fine = Declaration(new MemberDeclaration("X", "public", true, EquatableArray.Create(Attribute("Input", ("Width", "3"))), null));
        CompileResult result = ModelGenerator.Compile(fine);
        Assert.Empty(result.Diagnostics);
        Assert.NotNull(result.Source);
    }

    [Fact]
    public void EveryDescriptor_HasADocPageAndAReleaseEntry()
    {
        string root = RepositoryRoot();
        string releases = System.IO.File.ReadAllText(System.IO.Path.Combine(root, "generators/Kiln.Generators/AnalyzerReleases.Unshipped.md"));
        foreach (DiagnosticDescriptor descriptor in DiagnosticDescriptors.All)
        {
            Assert.True(System.IO.File.Exists(System.IO.Path.Combine(root, "docs/diagnostics", descriptor.Id + ".md")), descriptor.Id + " has no doc page");
            Assert.Contains(descriptor.Id, releases);
        }
    }

    internal static string RepositoryRoot()
    {
        string? directory = System.AppContext.BaseDirectory;
        while (directory is not null && !System.IO.File.Exists(System.IO.Path.Combine(directory, "Compiler.sln")))
            directory = System.IO.Path.GetDirectoryName(directory);
        return directory ?? throw new System.InvalidOperationException("Compiler.sln not found above the test directory.");
    }

    internal static ModelDeclaration Declaration(params MemberDeclaration[] members) =>
        new(null, "M", "M", true, false, false, EquatableArray<ContainingType>.Empty, 4, null, null, null, members.ToEquatableArray());

    internal static AttributeDeclaration Attribute(string name, params (string Name, string Value)[] arguments) =>
        new(name, name, arguments.Select(a => new ArgumentDeclaration(a.Name, ArgumentKind.Int, a.Value, null)).ToEquatableArray(), null);
}

public class DuplicateNodeDiagnosticTests
{
    [Fact]
    public void DuplicateNode_ReportsKILN0011()
    {
        string source = GeneratorHarness.Usings + "[Model(Batch = 2)] public partial class M { [Input(3)] public partial Node X { get; }\n[Dense(2)] public partial Node H { get; }\n[Dense(2)] public partial Node H { get; } }";
        var (result, _) = GeneratorHarness.Run(source);
        Assert.Single(result.Diagnostics, d => d.Id == Diagnostics.DiagnosticIds.DuplicateNode);
    }

    [Fact]
    public void DuplicateNode_Twin()
    {
        string source = GeneratorHarness.Usings + "[Model(Batch = 2)] public partial class M { [Input(3)] public partial Node X { get; }\n[Dense(2)] public partial Node H { get; }\n[Dense(2)] public partial Node H2 { get; } }";
        var (result, output) = GeneratorHarness.Run(source);
        Assert.Empty(result.Diagnostics);
        Assert.Empty(GeneratorHarness.CompileErrors(output));
    }
}
