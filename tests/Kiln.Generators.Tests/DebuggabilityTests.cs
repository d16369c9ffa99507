using System.Collections.Generic;
using System.Linq;
using System.Text.RegularExpressions;
using Xunit;

namespace Kiln.Generators.Tests;

/// <summary>
/// Stepping through generated code: every kernel call of the forward and backward passes (and a decoder's step) in
/// every sample's generated model is introduced by a comment
/// naming the declared node it computes (a block's node by its path, "Blocks.0.Attn") and the shapes it maps, so the
/// debugger's view of a line leads back to the attribute that produced it.
/// </summary>
public class DebuggabilityTests
{
    public static TheoryData<string, string> Files()
    {
        var data = new TheoryData<string, string>();
        foreach (var (sample, file) in Models.SampleFiles) data.Add(sample, file);
        return data;
    }

    // "// Hidden1: Dense(256) -> Relu   [B, 256] -> ..." or "// backward of Blocks.1.Mlp: Dense(128)   d[B, 64, 128] -> d[...]"
    private static readonly Regex Header = new(@"^// (backward of )?(?<node>[A-Za-z_][\w.]*): .+\S\s{2,}d?\[[^\]]*\].* -> .*\[[^\]]*\]", RegexOptions.CultureInvariant);

    [Theory]
    [MemberData(nameof(Files))]
    public void EveryKernelCall_NamesItsNode_AndShapes(string sample, string file)
    {
        string source = Models.Sample(sample, file);
        var (result, _) = GeneratorHarness.Run(source);
        Assert.Empty(result.Diagnostics);
        // The names a header may start with: the file's node properties (a block's nodes appear under a repeat's path).
        var declared = Regex.Matches(source, @"partial Node (\w+)").Select(m => m.Groups[1].Value).ToHashSet();
        int calls = 0;
        foreach (var tree in result.GeneratedTrees)
        {
            string[] lines = tree.ToString().Split('\n').Select(l => l.Trim()).ToArray();
            string method = "";
            for (int i = 0; i < lines.Length; i++)
            {
                Match declaration = Regex.Match(lines[i], @"^(public|private|internal)\b[^=(]*\b(?<name>\w+)\(");
                if (declaration.Success) method = declaration.Groups["name"].Value;
                // The passes (RunForward, RunBackward, a decoder's Step); Predict's arg-max and the like compute no node.
                if (!(method.StartsWith("Run", System.StringComparison.Ordinal) || method == "Step") || !IsKernelCall(lines[i])) continue;
                calls++;
                // Each step of a pass is one paragraph: a blank line, its header, then its statements (calls, and the
                // branches and bookkeeping around them); the header opens the paragraph the call is in.
                int j = i - 1;
                while (j > 0 && lines[j - 1].Length > 0) j--;
                Assert.True(j >= 0 && Header.IsMatch(lines[j]), $"{file}: line {i + 1} has no node header above it:\n{lines[i]}");
                string node = Header.Match(lines[j]).Groups["node"].Value;
                string[] path = node.Split('.');
                Assert.True(path.Any(declared.Contains), $"{file}: header '{lines[j]}' names no declared node");
            }
        }
        Assert.True(calls >= 5, $"{file}: only {calls} kernel calls found");
    }

    private static bool IsKernelCall(string line) =>
        line.StartsWith("global::Kiln.Kernels.", System.StringComparison.Ordinal) || Regex.IsMatch(line, @"^_\w+(Layer|Kernel)\.(Forward|Backward|Step)\w*\(");
}
