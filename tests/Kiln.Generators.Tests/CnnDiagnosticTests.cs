using Kiln.Generators.Diagnostics;
using Microsoft.CodeAnalysis;
using Xunit;
using static Kiln.Generators.Tests.DiagnosticTests;

namespace Kiln.Generators.Tests;

/// <summary>The diagnostics of image layers and blocks (KILN0012-0014, KILN1007-1011): each reported at the
/// attribute or argument that is wrong, with the arithmetic in the message, and a twin that fixes it.</summary>
public class CnnDiagnosticTests
{
    private const string Image = "[Input(3, 8, 8)] public partial Node X { get; }\n";

    private const string Block = "[Block]\npublic partial class B\n{\n[Conv2d(3, 3, Padding = 1), Relu, Residual] public partial Node Body { get; }\n}\n";

    private static string WithBlock(string blockSource, string members) => DiagnosticTests.Model(members) + blockSource;

    // ---- KILN0012: Repeat names no usable block ----

    [Fact]
    public void RepeatOfNonBlock_ReportsKILN0012() =>
        AssertReports(DiagnosticIds.InvalidBlockReference,
            WithBlock("public partial class NotABlock { }\n", Image + "[Repeat(typeof(NotABlock), 2)] public partial Node R { get; }"),
            "typeof(NotABlock)", "'R'", "Tests.NotABlock", "not a [Block] class");

    [Fact]
    public void RepeatOfSelfContainingBlock_ReportsKILN0012() =>
        AssertReports(DiagnosticIds.InvalidBlockReference,
            WithBlock("[Block]\npublic partial class Loop\n{\n[Repeat(typeof(Loop))] public partial Node Again { get; }\n}\n",
                Image + "[Repeat(typeof(Loop))] public partial Node R { get; }"),
            "typeof(Loop)", "cannot contain itself");

    [Fact]
    public void RepeatOfBlock_Twin() => AssertClean(WithBlock(Block, Image + "[Repeat(typeof(B), 2)] public partial Node R { get; }"));

    // ---- KILN0013: block not partial ----

    [Fact]
    public void BlockNotPartial_ReportsKILN0013() =>
        AssertReports(DiagnosticIds.BlockNotPartial,
            WithBlock("[Block]\npublic class Plain\n{\n[Relu] public Node Body => null!;\n}\n", Image + "[Relu] public partial Node H { get; }"),
            "Plain", "'Plain'", "add the 'partial' modifier");

    [Fact]
    public void BlockNotPartial_Twin() => AssertClean(WithBlock(Block, Image + "[Relu] public partial Node H { get; }"));

    // ---- KILN0014: input or loss inside a block ----

    [Fact]
    public void LossInBlock_ReportsKILN0014() =>
        AssertReports(DiagnosticIds.LayerNotAllowedInBlock,
            WithBlock("[Block]\npublic partial class Lossy\n{\n[Flatten, Dense(2)] public partial Node P { get; }\n[MeanSquaredError] public partial Node L { get; }\n}\n",
                Image + "[Relu] public partial Node H { get; }"),
            "MeanSquaredError", "'L'", "'Lossy'", "declare inputs and losses in the model");

    [Fact]
    public void InputInBlock_ReportsKILN0014() =>
        AssertReports(DiagnosticIds.LayerNotAllowedInBlock,
            WithBlock("[Block]\npublic partial class Fed\n{\n[Input(3)] public partial Node X { get; }\n}\n", Image + "[Relu] public partial Node H { get; }"),
            "Input(3)", "'X'", "'Fed'");

    [Fact]
    public void LossInBlock_Twin() =>
        AssertClean(WithBlock("[Block]\npublic partial class Head\n{\n[Flatten, Dense(2)] public partial Node P { get; }\n}\n",
            Image + "[Repeat(typeof(Head))] public partial Node H { get; }\n[MeanSquaredError] public partial Node L { get; }"));

    // ---- KILN1007: the window does not fit ----

    [Fact]
    public void ConvOnTooSmallMap_ReportsKILN1007_WithTheArithmetic() =>
        AssertReports(DiagnosticIds.EmptyMap,
            DiagnosticTests.Model("[Input(3, 2, 2)] public partial Node X { get; }\n[Conv2d(4, 3)] public partial Node Conv3 { get; }"),
            "Conv2d(4, 3)", "Conv2d(4, 3) in 'Conv3' would produce a 0x0 map: input 2x2 from 'X', kernel 3, stride 1, padding 0", "add Padding = 1");

    [Fact]
    public void DilatedConvOnTooSmallMap_ReportsKILN1007() =>
        AssertReports(DiagnosticIds.EmptyMap,
            DiagnosticTests.Model("[Input(3, 4, 4)] public partial Node X { get; }\n[Conv2d(4, 3, Dilation = 2)] public partial Node C { get; }"),
            "Conv2d(4, 3, Dilation = 2)", "would produce a 0x0 map", "dilation 2", "add Padding = 1");

    [Fact]
    public void PoolOnTooSmallMap_ReportsKILN1007() =>
        AssertReports(DiagnosticIds.EmptyMap,
            DiagnosticTests.Model("[Input(3, 8, 8)] public partial Node X { get; }\n[MaxPool2d(4)] public partial Node P1 { get; }\n[MaxPool2d(4)] public partial Node P2 { get; }"),
            "MaxPool2d(4)", "'P2'", "0x0 map", "input 2x2 from 'P1'", "kernel 4, stride 4, padding 0");

    [Fact]
    public void ConvOnTooSmallMap_Twin() =>
        AssertClean(DiagnosticTests.Model("[Input(3, 2, 2)] public partial Node X { get; }\n[Conv2d(4, 3, Padding = 1)] public partial Node Conv3 { get; }"));

    // ---- KILN1008: an image layer on a vector ----

    [Fact]
    public void ConvOnVector_ReportsKILN1008() =>
        AssertReports(DiagnosticIds.NeedsImage,
            DiagnosticTests.Model("[Input(12)] public partial Node X { get; }\n[Conv2d(4, 3)] public partial Node C { get; }"),
            "Conv2d(4, 3)", "'C'", "an image [channels, height, width]", "[B, 12]", "'X'");

    [Fact]
    public void PoolAfterFlatten_ReportsKILN1008() =>
        AssertReports(DiagnosticIds.NeedsImage,
            DiagnosticTests.Model(Image + "[Flatten] public partial Node F { get; }\n[MaxPool2d(2)] public partial Node P { get; }"),
            "MaxPool2d(2)", "'P'", "[B, 192]", "'F'");

    [Fact]
    public void ConvOnVector_Twin() =>
        AssertClean(DiagnosticTests.Model("[Input(3, 2, 2)] public partial Node X { get; }\n[Conv2d(4, 1)] public partial Node C { get; }"));

    // ---- KILN1009: a vector layer on an image ----

    [Fact]
    public void DenseOnImage_ReportsKILN1009() =>
        AssertReports(DiagnosticIds.NeedsVector,
            DiagnosticTests.Model(Image + "[Conv2d(4, 3)] public partial Node C { get; }\n[Dense(10)] public partial Node Out { get; }"),
            "Dense(10)", "'Out'", "[B, 4, 6, 6]", "'C'", "add [Flatten]");

    [Fact]
    public void CrossEntropyOnImage_ReportsKILN1009() =>
        AssertReports(DiagnosticIds.NeedsVector,
            DiagnosticTests.Model(Image + "[Conv2d(10, 8)] public partial Node C { get; }\n[SoftmaxCrossEntropy] public partial Node Loss { get; }"),
            "SoftmaxCrossEntropy", "'Loss'", "[B, 10, 1, 1]");

    [Fact]
    public void DenseOnImage_Twin() =>
        AssertClean(DiagnosticTests.Model(Image + "[Conv2d(4, 3)] public partial Node C { get; }\n[Flatten, Dense(10)] public partial Node Out { get; }"));

    // ---- KILN1010: concat of incompatible shapes ----

    [Fact]
    public void ConcatOfDifferentSizes_ReportsKILN1010() =>
        AssertReports(DiagnosticIds.ConcatShapeMismatch,
            DiagnosticTests.Model(Image + "[Conv2d(4, 3, Padding = 1)] public partial Node A { get; }\n[MaxPool2d(2), Concat(With = nameof(A))] public partial Node J { get; }"),
            "With = nameof(A)", "'J'", "[B, 4, 4, 4]", "[B, 4, 8, 8]", "'A'", "same height and width");

    [Fact]
    public void ConcatOfImageAndVector_ReportsKILN1010() =>
        AssertReports(DiagnosticIds.ConcatShapeMismatch,
            DiagnosticTests.Model(Image + "[Flatten] public partial Node F { get; }\n[Concat(With = nameof(X))] public partial Node J { get; }"),
            "With = nameof(X)", "an image cannot be joined with a vector");

    [Fact]
    public void ConcatOfDifferentSizes_Twin() =>
        AssertClean(DiagnosticTests.Model(Image + "[Conv2d(4, 3, Padding = 1)] public partial Node A { get; }\n[Conv2d(2, 1), Concat(With = nameof(A))] public partial Node J { get; }"));

    // ---- KILN1011: pooling drops rows or columns (a warning; the model is still generated) ----

    [Fact]
    public void PoolingDropsEdge_WarnsKILN1011_AndStillGenerates()
    {
        string source = DiagnosticTests.Model("[Input(3, 7, 8)] public partial Node X { get; }\n[MaxPool2d(2)] public partial Node P { get; }");
        AssertReports(DiagnosticSeverity.Warning, DiagnosticIds.PoolingDropsEdge, source,
            "MaxPool2d(2)", "MaxPool2d(2) in 'P' drops the last row of the 7x8 map from 'X'");
        var (_, output) = GeneratorHarness.Run(source);
        Assert.Empty(GeneratorHarness.CompileErrors(output));
        Assert.Contains(output.SyntaxTrees, t => t.ToString().Contains("MaxPool.Forward"));
    }

    [Fact]
    public void PoolingDropsRowsAndColumns_WarnsKILN1011() =>
        AssertReports(DiagnosticSeverity.Warning, DiagnosticIds.PoolingDropsEdge,
            DiagnosticTests.Model("[Input(3, 9, 10)] public partial Node X { get; }\n[AvgPool2d(3, Stride = 4)] public partial Node P { get; }"),
            "AvgPool2d(3, Stride = 4)", "drops the last 2 rows and 3 columns of the 9x10 map");

    [Fact]
    public void PoolingDropsEdge_Twin() =>
        AssertClean(DiagnosticTests.Model("[Input(3, 8, 8)] public partial Node X { get; }\n[MaxPool2d(2)] public partial Node P { get; }"));
}
