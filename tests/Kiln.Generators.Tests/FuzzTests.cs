using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.RegularExpressions;
using Kiln.Generators.Diagnostics;
using Microsoft.CodeAnalysis;
using Xunit;

namespace Kiln.Generators.Tests;

/// <summary>
/// Hundreds of mutated and broken declarations: the generator must never throw or report an internal error,
/// and whenever the user's own code is otherwise valid, the generated code must compile.
/// </summary>
public class FuzzTests
{
    private static readonly string[] Seeds =
        { Models.Z1, Models.Skip, Models.Regression, Models.Cifar("CifarCnn"), Models.Cifar("CifarResNet"), Models.Cifar("CifarDenseNet"),
          Models.CharRnn("CharLstm"), Models.CharRnn("CharGru"), Models.Gpt("GptMini"), Models.Seq2Seq("DigitTransformer") };

    private static readonly string[] Attributes =
    {
        "[Input(3)]", "[Input(0)]", "[Input(4, Of = typeof(int))]", "[Dense(0)]", "[Dense(-1)]", "[Dense(7)]", "[Dense(5, In = 9)]",
        "[Dense(3, Bias = false, Init = Init.Xavier)]", "[Relu]", "[LeakyRelu(double.NaN)]", "[LeakyRelu(-0.5)]", "[Gelu(Approximate = true)]",
        "[Softmax]", "[Sigmoid]", "[Tanh]", "[Add(nameof(Hidden1))]", "[Add(\"Nope\")]", "[Add(\"\")]", "[Dense(4, From = nameof(Loss))]",
        "[SoftmaxCrossEntropy]", "[SoftmaxCrossEntropy(Classes = -2)]", "[MeanSquaredError(Width = 0)]", "[MeanSquaredError]",
        "[Dense(2), Input(2)]", "[Relu, Relu, Relu]", "[Dense(int.MaxValue)]", "[Model(Batch = 3)]",
        // Images and blocks.
        "[Input(3, 32, 32)]", "[Input(0, 4, 4)]", "[Input(3, 1, 1)]", "[Conv2d(8, 3)]", "[Conv2d(0, 3)]", "[Conv2d(4, 0)]", "[Conv2d(4, 99)]",
        "[Conv2d(6, 3, Groups = 4)]", "[Conv2d(4, 3, Groups = 0)]", "[Conv2d(4, 3, Stride = 0)]", "[Conv2d(4, 3, Dilation = -2)]",
        "[Conv2d(4, 3, Padding = -7)]", "[Conv2d(4, 3, Padding = Padding.Same, Stride = 2)]", "[Conv2d(4, 2, Padding = Padding.Same)]",
        "[Conv2d(4, 3, KernelWidth = 5, In = 7)]", "[MaxPool2d(2)]", "[MaxPool2d(3, Stride = 2, Padding = 2)]", "[MaxPool2d(0)]",
        "[AvgPool2d(3, Padding = 1, CountIncludePad = false)]", "[AvgPool2d(64)]", "[GlobalAvgPool]", "[BatchNorm]",
        "[BatchNorm(Momentum = 2)]", "[BatchNorm(Epsilon = -1)]", "[BatchNorm(Affine = false)]", "[Flatten]", "[Flatten, Flatten]",
        "[Residual]", "[Concat]", "[Concat(With = nameof(Image))]", "[Concat(With = \"Nope\")]", "[Repeat(typeof(BasicBlock16), 0)]",
        "[Repeat(typeof(DenseLayer12), 3)]", "[Repeat(typeof(string))]", "[Repeat(typeof(CifarCnn))]", "[Block]",
        // Sequences.
        "[Input(6, 4)]", "[Input(0, 4)]", "[Input(6, 4, Of = typeof(int))]", "[Input(2, 2, 2, Of = typeof(int))]", "[Input(3, Of = typeof(double))]",
        "[Embedding(65, 8)]", "[Embedding(0, 8)]", "[Embedding(5, -1)]", "[Embedding(5, 4, PaddingIndex = 9)]", "[Lstm(8)]", "[Lstm(0)]",
        "[Lstm(4, Layers = 3, Dropout = 0.5)]", "[Lstm(4, Layers = 0)]", "[Lstm(4, Dropout = 1)]", "[Gru(8, ReturnSequences = false)]",
        "[Gru(4, Steps = 999)]", "[Gru(4, In = -3)]", "[Rnn(5, Nonlinearity = RnnNonlinearity.Relu, Bias = false)]",
        "[Rnn(5, Nonlinearity = (RnnNonlinearity)7)]", "[Lstm(4), Lstm(4)]", "[Lstm(100000)]",
        // Transformers.
        "[LayerNorm]", "[LayerNorm(Epsilon = 0)]", "[LayerNorm(Affine = false)]", "[RmsNorm]", "[RmsNorm(Epsilon = double.NaN)]",
        "[SelfAttention]", "[SelfAttention(0)]", "[SelfAttention(3)]", "[SelfAttention(4, Causal = true, Dropout = 0.1)]",
        "[SelfAttention(2, Dropout = 1.5)]", "[SelfAttention(Heads = -4, Bias = false)]", "[SelfAttention(2, Steps = 7)]",
        "[LearnedPositions]", "[LearnedPositions(Length = 3)]", "[LearnedPositions(-1)]", "[SinusoidalPositions]",
        "[LayerNorm, SelfAttention(4, Causal = true), Residual]", "[SelfAttention(1), SelfAttention(1)]",
        // Encoder-decoders.
        "[CrossAttention(2, Memory = nameof(Embedded))]", "[CrossAttention(4, Memory = \"Encoded\")]", "[CrossAttention(4, Memory = nameof(Source))]",
        "[CrossAttention(2)]", "[CrossAttention(0, Memory = \"Nope\")]", "[CrossAttention(2, Memory = nameof(Loss), Dropout = 0.5)]",
        "[CrossAttention(3, Memory = nameof(Encoded), Bias = false, Steps = 8)]", "[Input(8, Of = typeof(int))]", "[Input(5, 64)]",
        // Padding masks and ignored labels.
        "[Input(8, Of = typeof(int), PaddingToken = 0)]", "[Input(8, PaddingToken = 0)]", "[Input(8, Of = typeof(int), PaddingToken = -5)]",
        "[SelfAttention(2, KeyPadding = nameof(Source))]", "[SelfAttention(4, Causal = true, KeyPadding = nameof(Embedded))]",
        "[CrossAttention(2, Memory = nameof(Encoded), KeyPadding = nameof(Source))]", "[CrossAttention(2, Memory = \"Encoded\", KeyPadding = \"Target\")]",
        "[SelfAttention(2, KeyPadding = \"Nope\")]", "[SoftmaxCrossEntropy(IgnoreIndex = 0)]", "[SoftmaxCrossEntropy(SoftTargets = true, IgnoreIndex = -100)]",
    };

    private static readonly string[] Numbers = { "0", "-1", "1", "3", "100000", "2147483647", "-2147483648" };

    public static IEnumerable<object[]> Cases() => Enumerable.Range(0, 640).Select(i => new object[] { i });

    [Theory]
    [MemberData(nameof(Cases))]
    public void MutatedDeclaration_NeverCrashesTheGenerator(int seed)
    {
        var random = new Random(seed);
        string source = Seeds[seed % Seeds.Length];
        int mutations = 1 + random.Next(3);
        for (int m = 0; m < mutations; m++) source = Mutate(source, random);

        var (result, output) = GeneratorHarness.Run(source);
        GeneratorRunResult run = result.Results.Single();
        Assert.Null(run.Exception);
        Assert.True(!result.Diagnostics.Any(d => d.Id == DiagnosticIds.InternalError), "KILN9999 on:\n" + source);

        // Generation never adds an error of its own: compared with the user's code alone, the only errors that
        // may remain are Kiln's diagnostics, and "partial property has no implementation" (CS9248) only where
        // Kiln generated nothing for the class (e.g. its [Model] attribute was deleted).
        var before = GeneratorHarness.Compilation(source).GetDiagnostics()
            .Where(d => d.Severity == DiagnosticSeverity.Error).Select(d => d.Id).ToHashSet();
        var added = output.GetDiagnostics()
            .Where(d => d.Severity == DiagnosticSeverity.Error && !before.Contains(d.Id)).ToList();
        Assert.True(added.Count == 0, "Generated code adds errors:\n" + string.Join("\n", added.Take(5)) + "\n---\n" + source);
        Assert.DoesNotContain(output.GetDiagnostics(), d => d.Severity == DiagnosticSeverity.Error
            && d.Location.SourceTree?.FilePath.EndsWith(".g.cs", StringComparison.Ordinal) == true);
        // Where Kiln generated a class's code, every partial Node property of that class is implemented (a class
        // that lost its [Block] or [Model] attribute keeps its CS9248: it is not Kiln's to implement).
        if (before.SetEquals(new[] { "CS9248" }))
            foreach (Diagnostic d in output.GetDiagnostics().Where(d => d.Id == "CS9248"))
            {
                string property = Regex.Match(d.GetMessage(System.Globalization.CultureInfo.InvariantCulture), @"'([^']+)'").Groups[1].Value;
                string type = property.Contains('.') ? property[..property.LastIndexOf('.')] : property;
                type = type.Contains('.') ? type[(type.LastIndexOf('.') + 1)..] : type;
                Assert.DoesNotContain(result.GeneratedTrees, t => System.IO.Path.GetFileName(t.FilePath).Contains("." + type + ".Kiln", StringComparison.Ordinal));
            }
    }

    private static string Mutate(string source, Random random)
    {
        string[] lines = source.Split('\n');
        switch (random.Next(9))
        {
            case 0: // change a number
            {
                var matches = Regex.Matches(source, @"(?<![\w.])\d+(?![\w.])");
                if (matches.Count == 0) return source;
                Match match = matches[random.Next(matches.Count)];
                return source.Substring(0, match.Index) + Numbers[random.Next(Numbers.Length)] + source.Substring(match.Index + match.Length);
            }
            case 1: // add an attribute to a node
            {
                int line = random.Next(lines.Length);
                if (!lines[line].Contains("partial Node")) return source;
                lines[line] = Attributes[random.Next(Attributes.Length)] + " " + lines[line];
                return string.Join("\n", lines);
            }
            case 2: // remove a line
            {
                var list = lines.ToList();
                list.RemoveAt(random.Next(list.Count));
                return string.Join("\n", list);
            }
            case 3: // duplicate a line
            {
                var list = lines.ToList();
                int line = random.Next(list.Count);
                list.Insert(line, list[line]);
                return string.Join("\n", list);
            }
            case 4: // swap two lines
            {
                int a = random.Next(lines.Length), b = random.Next(lines.Length);
                (lines[a], lines[b]) = (lines[b], lines[a]);
                return string.Join("\n", lines);
            }
            case 5: // drop 'partial' somewhere
            {
                int at = IndexOfNth(source, "partial ", random);
                return at < 0 ? source : source.Remove(at, "partial ".Length);
            }
            case 6: // delete a span of characters
            {
                int start = random.Next(source.Length);
                return source.Remove(start, Math.Min(source.Length - start, 1 + random.Next(12)));
            }
            case 7: // rename a node
            {
                int line = random.Next(lines.Length);
                lines[line] = Regex.Replace(lines[line], @"Node (\w+)", m => "Node " + new[] { "Forward", "Loss", "Pixels", "Hidden1", "X2", "Labels", "Rows" }[random.Next(7)]);
                return string.Join("\n", lines);
            }
            default: // replace an attribute with another
            {
                var matches = Regex.Matches(source, @"\[[A-Z]\w*(\([^\]]*\))?\]");
                if (matches.Count == 0) return source;
                Match match = matches[random.Next(matches.Count)];
                return source.Substring(0, match.Index) + Attributes[random.Next(Attributes.Length)] + source.Substring(match.Index + match.Length);
            }
        }
    }

    private static int IndexOfNth(string text, string value, Random random)
    {
        var indices = new List<int>();
        for (int i = text.IndexOf(value, StringComparison.Ordinal); i >= 0; i = text.IndexOf(value, i + 1, StringComparison.Ordinal)) indices.Add(i);
        return indices.Count == 0 ? -1 : indices[random.Next(indices.Count)];
    }
}
