using Kiln.Generators.Diagnostics;
using Xunit;
using static Kiln.Generators.Tests.DiagnosticTests;

namespace Kiln.Generators.Tests;

/// <summary>The sequence layers' diagnostics, each at the attribute or argument that is wrong, each with a twin that
/// fixes it and must compile clean.</summary>
public class RnnDiagnosticTests
{
    private const string Tokens = "[Input(16, Of = typeof(int))] public partial Node Text { get; }\n";
    private const string Series = "[Input(10, 6)] public partial Node Series { get; }\n";

    [Fact]
    public void RecurrentOnAVector_ReportsKILN1012() =>
        AssertReports(DiagnosticIds.NeedsSequence, DiagnosticTests.Model("[Input(8)] public partial Node X { get; }\n[Lstm(4)] public partial Node L { get; }"),
            "Lstm(4)", "Lstm in 'L'", "sequence [steps, features]", "[B, 8]", "[Input(64, 32)]");

    [Fact]
    public void ManyToOneFeedingASequenceLayer_ReportsKILN1012_NamingTheFix() =>
        AssertReports(DiagnosticIds.NeedsSequence,
            DiagnosticTests.Model(Series + "[Gru(8, ReturnSequences = false)] public partial Node Encoder { get; }\n[Lstm(4)] public partial Node Decoder { get; }"),
            "Lstm(4)", "[B, 8]", "'Encoder' returns only its last step", "ReturnSequences = true");

    [Fact]
    public void RecurrentOnAnImage_ReportsKILN1012() =>
        AssertReports(DiagnosticIds.NeedsSequence, DiagnosticTests.Model("[Input(3, 8, 8)] public partial Node X { get; }\n[Rnn(4)] public partial Node R { get; }"),
            "Rnn(4)", "[B, 3, 8, 8]", "an image is not a sequence");

    [Fact]
    public void NeedsSequence_Twin() =>
        AssertClean(DiagnosticTests.Model(Series + "[Gru(8)] public partial Node Encoder { get; }\n[Lstm(4, ReturnSequences = false)] public partial Node Decoder { get; }\n[Dense(2)] public partial Node Out { get; }"));

    [Fact]
    public void EmbeddingOfFloats_ReportsKILN1013() =>
        AssertReports(DiagnosticIds.TokensMismatch, DiagnosticTests.Model("[Input(16)] public partial Node X { get; }\n[Embedding(10, 4)] public partial Node E { get; }"),
            "Embedding(10, 4)", "Embedding in 'E' needs integer tokens", "[B, 16]", "Of = typeof(int)");

    [Fact]
    public void TokensIntoADense_ReportsKILN1013() =>
        AssertReports(DiagnosticIds.TokensMismatch, DiagnosticTests.Model(Tokens + "[Dense(4)] public partial Node H { get; }"),
            "Dense(4)", "Dense in 'H' receives the integer tokens [B, 16] of 'Text'", "[Embedding(count, dimension)]");

    [Fact]
    public void TokensAsTheOutput_ReportsKILN1013() =>
        AssertReports(DiagnosticIds.TokensMismatch, DiagnosticTests.Model(Tokens), "M", "would be the integer tokens of 'Text'");

    [Fact]
    public void Tokens_Twin() =>
        AssertClean(DiagnosticTests.Model(Tokens + "[Embedding(10, 4)] public partial Node E { get; }\n[Lstm(8)] public partial Node L { get; }\n[Dense(10)] public partial Node Next { get; }\n[SoftmaxCrossEntropy] public partial Node Loss { get; }"));

    [Fact]
    public void StepsContradiction_ReportsKILN1014() =>
        AssertReports(DiagnosticIds.SequenceLengthMismatch, DiagnosticTests.Model(Series + "[Lstm(4, Steps = 12)] public partial Node L { get; }"),
            "Steps = 12", "Steps = 12", "receives 10 steps from 'Series'");

    [Fact]
    public void StepsContradiction_Twin() => AssertClean(DiagnosticTests.Model(Series + "[Lstm(4, Steps = 10)] public partial Node L { get; }"));

    [Fact]
    public void HiddenSizeContradiction_ReportsKILN1005() =>
        AssertReports(DiagnosticIds.InputWidthMismatch,
            DiagnosticTests.Model(Series + "[Lstm(8)] public partial Node First { get; }\n[Lstm(4, In = 6)] public partial Node Second { get; }"), "In = 6", "In = 6", "[B, 10, 8]", "'First'");

    [Fact]
    public void HiddenSizeContradiction_Twin() =>
        AssertClean(DiagnosticTests.Model(Series + "[Lstm(8)] public partial Node First { get; }\n[Lstm(4, In = 8)] public partial Node Second { get; }"));

    [Fact]
    public void ZeroHidden_ReportsKILN1001() =>
        AssertReports(DiagnosticIds.InvalidSize, DiagnosticTests.Model(Series + "[Gru(0)] public partial Node G { get; }"), "0", "Hidden of 'G'");

    [Fact]
    public void DropoutWithOneLayer_ReportsKILN1006() =>
        AssertReports(DiagnosticIds.InvalidArgument, DiagnosticTests.Model(Series + "[Lstm(4, Dropout = 0.2)] public partial Node L { get; }"), "Dropout = 0.2", "between stacked layers");

    [Fact]
    public void DropoutWithOneLayer_Twin() => AssertClean(DiagnosticTests.Model(Series + "[Lstm(4, Layers = 2, Dropout = 0.2)] public partial Node L { get; }"));

    [Fact]
    public void PaddingIndexOutsideTheTable_ReportsKILN1006() =>
        AssertReports(DiagnosticIds.InvalidArgument, DiagnosticTests.Model(Tokens + "[Embedding(10, 4, PaddingIndex = 10)] public partial Node E { get; }"),
            "PaddingIndex = 10", "a token in [0, 10)");

    [Fact]
    public void PaddingIndex_Twin() => AssertClean(DiagnosticTests.Model(Tokens + "[Embedding(10, 4, PaddingIndex = 0)] public partial Node E { get; }"));

    [Fact]
    public void StatesAsANodeName_IsReserved_KILN0010() =>
        AssertReports(DiagnosticIds.ReservedNodeName, DiagnosticTests.Model(Series + "[Lstm(4)] public partial Node States { get; }"), "States", "'States'");
}
