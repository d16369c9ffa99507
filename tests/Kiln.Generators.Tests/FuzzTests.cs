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
    private static readonly string[] Seeds = { Models.Z1, Models.Skip, Models.Regression };

    private static readonly string[] Attributes =
    {
        "[Input(3)]", "[Input(0)]", "[Input(4, Of = typeof(int))]", "[Dense(0)]", "[Dense(-1)]", "[Dense(7)]", "[Dense(5, In = 9)]",
        "[Dense(3, Bias = false, Init = Init.Xavier)]", "[Relu]", "[LeakyRelu(double.NaN)]", "[LeakyRelu(-0.5)]", "[Gelu(Approximate = true)]",
        "[Softmax]", "[Sigmoid]", "[Tanh]", "[Add(nameof(Hidden1))]", "[Add(\"Nope\")]", "[Add(\"\")]", "[Dense(4, From = nameof(Loss))]",
        "[SoftmaxCrossEntropy]", "[SoftmaxCrossEntropy(Classes = -2)]", "[MeanSquaredError(Width = 0)]", "[MeanSquaredError]",
        "[Dense(2), Input(2)]", "[Relu, Relu, Relu]", "[Dense(int.MaxValue)]", "[Model(Batch = 3)]",
    };

    private static readonly string[] Numbers = { "0", "-1", "1", "3", "100000", "2147483647", "-2147483648" };

    public static IEnumerable<object[]> Cases() => Enumerable.Range(0, 320).Select(i => new object[] { i });

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
        Assert.DoesNotContain(result.Diagnostics, d => d.Id == DiagnosticIds.InternalError);

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
        if (result.GeneratedTrees.Length > 0 && before.SetEquals(new[] { "CS9248" }))
            Assert.DoesNotContain(output.GetDiagnostics(), d => d.Id == "CS9248");
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
