using Kiln.Generators.Diagnostics;
using Xunit;
using static Kiln.Generators.Tests.DiagnosticTests;

namespace Kiln.Generators.Tests;

/// <summary>The Transformer layers' diagnostics, each at the attribute or argument that is wrong, each with a twin that
/// fixes it and must compile clean.</summary>
public class TransformerDiagnosticTests
{
    private const string Embedded = "[Input(16, Of = typeof(int))] public partial Node Tokens { get; }\n[Embedding(10, 12)] public partial Node E { get; }\n";
    private const string Head = "[Dense(10)] public partial Node Logits { get; }\n[SoftmaxCrossEntropy] public partial Node Loss { get; }";

    [Fact]
    public void HeadsNotDividingTheWidth_ReportsKILN1015_NamingANearbyDivisor() =>
        AssertReports(DiagnosticIds.HeadsDoNotDivide, DiagnosticTests.Model(Embedded + "[SelfAttention(Heads = 5)] public partial Node Attn { get; }"),
            "Heads = 5", "SelfAttention in 'Attn'", "width 12 of 'E'", "5 heads", "use 6 heads");

    [Fact]
    public void HeadsNotDividingTheWidth_ByConstructorArgument_ReportsKILN1015_AtTheArgument() =>
        AssertReports(DiagnosticIds.HeadsDoNotDivide, DiagnosticTests.Model(Embedded + "[SelfAttention(7, Causal = true)] public partial Node Attn { get; }"), "7", "7 heads");

    [Fact]
    public void HeadsDividingTheWidth_Twin() =>
        AssertClean(DiagnosticTests.Model(Embedded + "[LayerNorm, SelfAttention(Heads = 4, Causal = true), Residual] public partial Node Attn { get; }\n" + Head));

    // ---- cross-attention ----

    private const string Source = "[Input(6, Of = typeof(int))] public partial Node Src { get; }\n[Embedding(10, 8), SinusoidalPositions] public partial Node Enc { get; }\n";
    private const string Target = "[Input(5, Of = typeof(int))] public partial Node Tgt { get; }\n[Embedding(10, 12)] public partial Node Dec { get; }\n";

    [Fact]
    public void CrossAttentionOverTokens_ReportsKILN1017_AtMemory() =>
        AssertReports(DiagnosticIds.CrossAttentionMemory, DiagnosticTests.Model(Source + Target + "[CrossAttention(4, Memory = nameof(Src))] public partial Node X { get; }"),
            "Memory = nameof(Src)", "CrossAttention in 'X'", "from 'Src' [B, 6]", "embed the tokens first");

    [Fact]
    public void CrossAttentionOverAVector_ReportsKILN1017() =>
        AssertReports(DiagnosticIds.CrossAttentionMemory,
            DiagnosticTests.Model("[Input(6)] public partial Node V { get; }\n" + Target + "[CrossAttention(4, Memory = nameof(V))] public partial Node X { get; }"),
            "Memory = nameof(V)", "'V' [B, 6]", "[T_k, width]");

    [Fact]
    public void CrossAttentionOverASequenceOfAnotherLengthAndWidth_Twin() =>
        AssertClean(DiagnosticTests.Model(Source + Target + "[LayerNorm, CrossAttention(4, Memory = nameof(Enc)), Residual] public partial Node X { get; }\n" + Head));

    [Fact]
    public void CrossAttentionHeadsNotDividingTheQueries_ReportsKILN1015() =>
        AssertReports(DiagnosticIds.HeadsDoNotDivide, DiagnosticTests.Model(Source + Target + "[CrossAttention(5, Memory = nameof(Enc))] public partial Node X { get; }"),
            "5", "CrossAttention in 'X'", "width 12 of 'Dec'", "use 6 heads");

    [Fact]
    public void CrossAttentionMemoryUnknown_ReportsKILN0006() =>
        AssertReports(DiagnosticIds.UnknownNode, DiagnosticTests.Model(Source + Target + "[CrossAttention(4, Memory = \"Encoder\")] public partial Node X { get; }"),
            "Memory = \"Encoder\"", "'Encoder'");

    [Fact]
    public void CrossAttentionInABlock_ReadsTheModelsNode_Twin() =>
        AssertClean(DiagnosticTests.Model(Source + Target + "[Repeat(typeof(B), 2)] public partial Node Blocks { get; }\n" + Head) +
            "\n[Block] public partial class B { [LayerNorm, CrossAttention(2, Memory = \"Enc\"), Residual] public partial Node C { get; } }");

    [Fact]
    public void TableShorterThanTheSequence_ReportsKILN1016() =>
        AssertReports(DiagnosticIds.PositionsTooShort, DiagnosticTests.Model("[Input(16, Of = typeof(int))] public partial Node Tokens { get; }\n[Embedding(10, 8), LearnedPositions(Length = 12)] public partial Node E { get; }"),
            "Length = 12", "LearnedPositions in 'E'", "table of 12 positions", "receives 16 steps", "at least 16");

    [Fact]
    public void TableAsLongOrLongerThanTheSequence_Twin() =>
        AssertClean(DiagnosticTests.Model("[Input(16, Of = typeof(int))] public partial Node Tokens { get; }\n[Embedding(10, 8), LearnedPositions(Length = 32)] public partial Node E { get; }\n" +
            "[SinusoidalPositions, SelfAttention(2)] public partial Node Attn { get; }\n" + Head));

    [Fact]
    public void NegativeTableLength_ReportsKILN1001() =>
        AssertReports(DiagnosticIds.InvalidSize, DiagnosticTests.Model("[Input(16, Of = typeof(int))] public partial Node Tokens { get; }\n[Embedding(10, 8), LearnedPositions(Length = -1)] public partial Node E { get; }"),
            "Length = -1", "Length of 'E'");

    [Fact]
    public void AttentionOnAVector_ReportsKILN1012() =>
        AssertReports(DiagnosticIds.NeedsSequence, DiagnosticTests.Model("[Input(8)] public partial Node X { get; }\n[SelfAttention(2)] public partial Node Attn { get; }"),
            "SelfAttention(2)", "SelfAttention in 'Attn'", "[B, 8]", "attention relates the steps of a sequence");

    [Fact]
    public void PositionsOnTokens_ReportKILN1013_AndOnAVector_KILN1012()
    {
        AssertReports(DiagnosticIds.TokensMismatch, DiagnosticTests.Model("[Input(16, Of = typeof(int))] public partial Node Tokens { get; }\n[LearnedPositions] public partial Node P { get; }"),
            "LearnedPositions", "receives the integer tokens");
        AssertReports(DiagnosticIds.NeedsSequence, DiagnosticTests.Model("[Input(8)] public partial Node X { get; }\n[SinusoidalPositions] public partial Node P { get; }"),
            "SinusoidalPositions", "[B, 8]", "embed tokens first");
    }

    [Fact]
    public void AttentionWithoutHeads_ReportsKILN1002() =>
        AssertReports(DiagnosticIds.MissingSize, DiagnosticTests.Model(Embedded + "[SelfAttention] public partial Node Attn { get; }"), "SelfAttention", "Heads", "'Attn'");

    [Fact]
    public void AttentionStepsContradiction_ReportsKILN1014() =>
        AssertReports(DiagnosticIds.SequenceLengthMismatch, DiagnosticTests.Model(Embedded + "[SelfAttention(2, Steps = 32)] public partial Node Attn { get; }"),
            "Steps = 32", "declares Steps = 32", "receives 16 steps from 'E'");

    [Fact]
    public void AttentionStepsAgreeing_Twin() => AssertClean(DiagnosticTests.Model(Embedded + "[SelfAttention(2, Steps = 16)] public partial Node Attn { get; }\n" + Head));

    [Fact]
    public void AttentionDropoutOfOne_ReportsKILN1006() =>
        AssertReports(DiagnosticIds.InvalidArgument, DiagnosticTests.Model(Embedded + "[SelfAttention(2, Dropout = 1.0)] public partial Node Attn { get; }"), "Dropout = 1.0", "in [0, 1)");

    [Fact]
    public void LayerNormOnAnImage_ReportsKILN1009() =>
        AssertReports(DiagnosticIds.NeedsVector, DiagnosticTests.Model("[Input(3, 8, 8)] public partial Node X { get; }\n[LayerNorm] public partial Node N { get; }"), "LayerNorm", "[B, 3, 8, 8]");

    [Fact]
    public void NormWithZeroEpsilon_ReportsKILN1006() =>
        AssertReports(DiagnosticIds.InvalidArgument, DiagnosticTests.Model(Embedded + "[RmsNorm(Epsilon = 0)] public partial Node N { get; }"), "Epsilon = 0", "a finite number > 0");

    [Fact]
    public void Norms_Twin() =>
        AssertClean(DiagnosticTests.Model(Embedded + "[LayerNorm(Epsilon = 1e-6, Affine = false), RmsNorm, Dense(8), Gelu] public partial Node N { get; }\n" + Head));

    // ---- padding masks ----

    private const string PaddedSource = "[Input(6, Of = typeof(int), PaddingToken = 0)] public partial Node Src { get; }\n[Embedding(10, 8), SinusoidalPositions] public partial Node Enc { get; }\n";
    private const string PaddedTarget = "[Input(5, Of = typeof(int), PaddingToken = 0)] public partial Node Tgt { get; }\n[Embedding(10, 12)] public partial Node Dec { get; }\n";

    [Fact]
    public void KeyPaddingOfAnotherLength_ReportsKILN1018_AtTheArgument() =>
        AssertReports(DiagnosticIds.KeyPaddingMismatch,
            DiagnosticTests.Model(PaddedSource + PaddedTarget + "[CrossAttention(4, Memory = nameof(Enc), KeyPadding = nameof(Tgt))] public partial Node X { get; }"),
            "KeyPadding = nameof(Tgt)", "CrossAttention in 'X'", "tokens of 'Tgt'", "5 tokens per sample", "6 keys (the steps of 'Enc')", "one token per key");

    [Fact]
    public void KeyPaddingOfTheKeysInput_Twin() =>
        AssertClean(DiagnosticTests.Model(PaddedSource + PaddedTarget +
            "[LayerNorm, SelfAttention(4, Causal = true, KeyPadding = nameof(Tgt)), Residual] public partial Node S { get; }\n" +
            "[LayerNorm, CrossAttention(4, Memory = nameof(Enc), KeyPadding = nameof(Src)), Residual] public partial Node X { get; }\n" + Head));

    [Fact]
    public void KeyPaddingOfAnInputWithoutPaddingToken_ReportsKILN1018() =>
        AssertReports(DiagnosticIds.KeyPaddingMismatch,
            DiagnosticTests.Model(Embedded + "[SelfAttention(4, KeyPadding = nameof(Tokens))] public partial Node Attn { get; }"),
            "KeyPadding = nameof(Tokens)", "SelfAttention in 'Attn'", "declares no PaddingToken", "PaddingToken = 0");

    [Fact]
    public void KeyPaddingOfANodeThatIsNotAnInput_ReportsKILN1018() =>
        AssertReports(DiagnosticIds.KeyPaddingMismatch,
            DiagnosticTests.Model(Embedded + "[SelfAttention(4, KeyPadding = nameof(E))] public partial Node Attn { get; }"),
            "KeyPadding = nameof(E)", "not an input", "name the integer [Input]");

    [Fact]
    public void KeyPaddingOfAFloatInput_ReportsKILN1018() =>
        AssertReports(DiagnosticIds.KeyPaddingMismatch,
            DiagnosticTests.Model("[Input(6, 8)] public partial Node X { get; }\n[SelfAttention(2, KeyPadding = nameof(X))] public partial Node Attn { get; }"),
            "KeyPadding = nameof(X)", "float values [B, 6, 8]");

    [Fact]
    public void KeyPaddingOfAnUnknownNode_ReportsKILN0006() =>
        AssertReports(DiagnosticIds.UnknownNode, DiagnosticTests.Model(Embedded + "[SelfAttention(4, KeyPadding = \"Source\")] public partial Node Attn { get; }"),
            "KeyPadding = \"Source\"", "'Source'");

    [Fact]
    public void KeyPaddingInABlock_NamesTheModelsInput_Twin() =>
        AssertClean(DiagnosticTests.Model(PaddedSource + PaddedTarget + "[Repeat(typeof(B), 2)] public partial Node Blocks { get; }\n" + Head) +
            "\n[Block] public partial class B { [LayerNorm, CrossAttention(2, Memory = \"Enc\", KeyPadding = \"Src\"), Residual] public partial Node C { get; } }");

    [Fact]
    public void PaddingTokenOnFloats_OrNegative_ReportsKILN1006()
    {
        AssertReports(DiagnosticIds.InvalidArgument, DiagnosticTests.Model("[Input(6, 8, PaddingToken = 0)] public partial Node X { get; }"),
            "PaddingToken = 0", "PaddingToken of 'X'", "only on integer tokens");
        AssertReports(DiagnosticIds.InvalidArgument, DiagnosticTests.Model("[Input(6, Of = typeof(int), PaddingToken = -2)] public partial Node X { get; }"),
            "PaddingToken = -2", "a token ≥ 0");
    }

    [Fact]
    public void IgnoreIndexWithSoftTargets_ReportsKILN1006() =>
        AssertReports(DiagnosticIds.InvalidArgument,
            DiagnosticTests.Model("[Input(4)] public partial Node X { get; }\n[Dense(3)] public partial Node Logits { get; }\n[SoftmaxCrossEntropy(SoftTargets = true, IgnoreIndex = 0)] public partial Node Loss { get; }"),
            "IgnoreIndex = 0", "IgnoreIndex of 'Loss'", "soft targets are distributions");

    [Fact]
    public void IgnoreIndex_Twin() =>
        AssertClean(DiagnosticTests.Model(PaddedTarget + "[Dense(10)] public partial Node Logits { get; }\n[SoftmaxCrossEntropy(IgnoreIndex = 0, LabelSmoothing = 0.1)] public partial Node Loss { get; }"));
}
