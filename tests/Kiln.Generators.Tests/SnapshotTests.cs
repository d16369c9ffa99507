using System.Linq;
using Xunit;

namespace Kiln.Generators.Tests;

/// <summary>The generated code of each sample model, reviewed for readability and compiled without a diagnostic.</summary>
public class SnapshotTests
{
    public static TheoryData<string> Names => new() { nameof(Models.Z1), nameof(Models.Skip), nameof(Models.Regression), nameof(Models.Focal), nameof(Models.Regularized) };

    [Theory]
    [MemberData(nameof(Names))]
    public void GeneratedModel_MatchesSnapshot_AndCompilesClean(string name)
    {
        string source = name switch { nameof(Models.Z1) => Models.Z1, nameof(Models.Skip) => Models.Skip, nameof(Models.Focal) => Models.Focal, nameof(Models.Regularized) => Models.Regularized, _ => Models.Regression };
        var (result, output) = GeneratorHarness.Run(source);

        Assert.Empty(result.Diagnostics);
        var generated = Assert.Single(result.GeneratedTrees);
        Assert.Empty(GeneratorHarness.CompileErrors(output));
        Snapshot.Verify(generated.ToString(), name);
    }

    /// <summary>The CNN sample's models: Z2, and the ResNet and DenseNet with their blocks — every generated file
    /// (the model's, and each block's Node properties) is a snapshot of its own, named after the file.</summary>
    [Theory]
    [InlineData("CifarCnn", 1)]
    [InlineData("CifarResNet", 3)]
    [InlineData("CifarDenseNet", 2)]
    public void GeneratedCnn_MatchesSnapshots_AndCompilesClean(string file, int generatedFiles)
    {
        var (result, output) = GeneratorHarness.Run(Models.Cifar(file));

        Assert.Empty(result.Diagnostics);
        Assert.Equal(generatedFiles, result.GeneratedTrees.Length);
        Assert.Empty(GeneratorHarness.CompileErrors(output));
        foreach (var tree in result.GeneratedTrees)
        {
            string name = System.IO.Path.GetFileName(tree.FilePath).Replace("Kiln.Samples.Cifar.", "").Replace(".g.cs", "");
            Snapshot.Verify(tree.ToString(), name);
        }
    }

    /// <summary>Z3 (LSTM) and Z4 (GRU) with their one-character generators: each generated file a snapshot.</summary>
    [Theory]
    [InlineData("CharLstm")]
    [InlineData("CharGru")]
    public void GeneratedRnn_MatchesSnapshots_AndCompilesClean(string file)
    {
        var (result, output) = GeneratorHarness.Run(Models.CharRnn(file));

        Assert.Empty(result.Diagnostics);
        Assert.Equal(2, result.GeneratedTrees.Length);
        Assert.Empty(GeneratorHarness.CompileErrors(output));
        foreach (var tree in result.GeneratedTrees)
            Snapshot.Verify(tree.ToString(), System.IO.Path.GetFileName(tree.FilePath).Replace("Kiln.Samples.CharRnn.", "").Replace(".g.cs", ""));
    }

    /// <summary>Z5 (GPT-mini) and its decoder block: each generated file a snapshot.</summary>
    [Fact]
    public void GeneratedGpt_MatchesSnapshots_AndCompilesClean()
    {
        var (result, output) = GeneratorHarness.Run(Models.Gpt("GptMini"));

        Assert.Empty(result.Diagnostics);
        Assert.Equal(2, result.GeneratedTrees.Length);
        Assert.Empty(GeneratorHarness.CompileErrors(output));
        foreach (var tree in result.GeneratedTrees)
            Snapshot.Verify(tree.ToString(), System.IO.Path.GetFileName(tree.FilePath).Replace("Kiln.Samples.Gpt.", "").Replace(".g.cs", ""));
    }

    /// <summary>The encoder-decoder sample (two inputs, cross-attention from a repeated block) and its two layers.</summary>
    [Fact]
    public void GeneratedEncoderDecoder_MatchesSnapshots_AndCompilesClean()
    {
        var (result, output) = GeneratorHarness.Run(Models.Seq2Seq("DigitTransformer"));

        Assert.Empty(result.Diagnostics);
        Assert.Equal(3, result.GeneratedTrees.Length);
        Assert.Empty(GeneratorHarness.CompileErrors(output));
        foreach (var tree in result.GeneratedTrees)
            Snapshot.Verify(tree.ToString(), System.IO.Path.GetFileName(tree.FilePath).Replace("Kiln.Samples.Seq2Seq.", "").Replace(".g.cs", ""));
    }

    /// <summary>Padded batches: the key lengths of both inputs computed once per pass and handed to every attention
    /// whose KeyPadding names them, in the forward and the backward; a cross-entropy that ignores another label.</summary>
    [Fact]
    public void GeneratedPaddedEncoderDecoder_MatchesSnapshots_AndCompilesClean()
    {
        const string source = """
            using Kiln;
            namespace Padded;

            [Block]
            public partial class PaddedDecoderLayer
            {
                [LayerNorm, SelfAttention(2, Causal = true, KeyPadding = "Target"), Residual]        public partial Node Self { get; }
                [LayerNorm, CrossAttention(2, Memory = "Encoded", KeyPadding = "Source"), Residual]  public partial Node Cross { get; }
                [LayerNorm, Dense(16), Gelu, Dense(8), Residual]                                     public partial Node Mlp { get; }
            }

            [Model(Batch = 4)]
            public partial class PaddedSeq2Seq
            {
                [Input(6, Of = typeof(int), PaddingToken = 0)]                  public partial Node Source { get; }
                [Embedding(12, 8), SinusoidalPositions]                         public partial Node SourceEmbedded { get; }
                [SelfAttention(2, KeyPadding = nameof(Source)), Residual, LayerNorm] public partial Node Encoded { get; }
                [Input(5, Of = typeof(int), PaddingToken = 0)]                  public partial Node Target { get; }
                [Embedding(12, 8), LearnedPositions]                            public partial Node TargetEmbedded { get; }
                [Repeat(typeof(PaddedDecoderLayer), 1)]                         public partial Node Layers { get; }
                [LayerNorm, Dense(12)]                                          public partial Node Logits { get; }
                [SoftmaxCrossEntropy(IgnoreIndex = 0)]                          public partial Node Loss { get; }
            }
            """;
        var (result, output) = GeneratorHarness.Run(source);

        Assert.Empty(result.Diagnostics);
        Assert.Equal(2, result.GeneratedTrees.Length);
        Assert.Empty(GeneratorHarness.CompileErrors(output));
        foreach (var tree in result.GeneratedTrees)
            Snapshot.Verify(tree.ToString(), System.IO.Path.GetFileName(tree.FilePath).Replace("Padded.", "").Replace(".g.cs", ""));
    }

    [Fact]
    public void GeneratedModel_IsDeterministic()
    {
        string first = GeneratorHarness.Run(Models.Skip).Result.GeneratedTrees.Single().ToString();
        string second = GeneratorHarness.Run(Models.Skip).Result.GeneratedTrees.Single().ToString();
        Assert.Equal(first, second);
    }

    [Fact]
    public void NestedModelInBlockNamespace_Compiles()
    {
        const string source = """
            using Kiln;
            namespace Outer.Inner
            {
                public static partial class Holder
                {
                    [Model(Batch = 2)]
                    internal partial class Tiny
                    {
                        [Input(3)] internal partial Node In { get; }
                        [Dense(2)] internal partial Node Out { get; }
                    }
                }
            }
            """;
        var (result, output) = GeneratorHarness.Run(source);
        Assert.Empty(result.Diagnostics);
        Assert.Empty(GeneratorHarness.CompileErrors(output));
        Assert.Contains("partial class Holder", result.GeneratedTrees.Single().ToString());
    }

    [Fact]
    public void CultureWithCommaDecimals_DoesNotChangeOutput()
    {
        var culture = System.Globalization.CultureInfo.CurrentCulture;
        string invariant = GeneratorHarness.Run(Models.Skip).Result.GeneratedTrees.Single().ToString();
        try
        {
            System.Globalization.CultureInfo.CurrentCulture = new System.Globalization.CultureInfo("de-DE");
            System.Globalization.CultureInfo.CurrentUICulture = new System.Globalization.CultureInfo("de-DE");
            string german = GeneratorHarness.Run(Models.Skip).Result.GeneratedTrees.Single().ToString();
            Assert.Equal(invariant, german);
        }
        finally
        {
            System.Globalization.CultureInfo.CurrentCulture = culture;
            System.Globalization.CultureInfo.CurrentUICulture = culture;
        }
    }
}

public class EdgeModelTests
{
    [Theory]
    [InlineData("[SoftmaxCrossEntropy] public partial Node Loss { get; }")]
    [InlineData("[MeanSquaredError] public partial Node Loss { get; }")]
    [InlineData("[Softmax] public partial Node P { get; }")]
    public void LossOrOpDirectlyOnTheInput_Compiles(string member)
    {
        string source = GeneratorHarness.Usings + "[Model(Batch = 3)] public partial class M { [Input(4)] public partial Node X { get; }\n" + member + " }";
        var (result, output) = GeneratorHarness.Run(source);
        Assert.Empty(result.Diagnostics);
        Assert.Empty(GeneratorHarness.CompileErrors(output));
    }

    [Fact]
    public void InputOnlyModel_Compiles()
    {
        string source = GeneratorHarness.Usings + "[Model(Batch = 3)] public partial class M { [Input(4)] public partial Node X { get; } }";
        var (result, output) = GeneratorHarness.Run(source);
        Assert.Empty(result.Diagnostics);
        Assert.Empty(GeneratorHarness.CompileErrors(output));
    }
}
