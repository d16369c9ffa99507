using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.IO;
using System.Linq;
using BenchmarkDotNet.Attributes;
using Kiln.Generators;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Text;

namespace Kiln.Generators.Benchmarks;

/// <summary>
/// The model generator as the compiler runs it, on each sample's declarations and on all of them in one project:
/// <see cref="Cold"/> is a build (every stage: attributes, shapes, autodiff, memory plan, emit); <see cref="UnrelatedEdit"/>
/// is the IDE after a keystroke in another file (a warm driver, one unrelated tree changed: everything cached);
/// <see cref="WidthEdit"/> after a change to one model's width (that model compiled and emitted again).
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 12)]
public class GeneratorBenchmarks
{
    public static IEnumerable<string> Files() =>
        new[] { "MnistMlp", "CifarCnn", "CifarResNet", "CifarDenseNet", "CharLstm", "CharGru", "GptMini", "DigitTransformer", "All" };

    [ParamsSource(nameof(Files))]
    public string File { get; set; } = "MnistMlp";

    private static readonly CSharpParseOptions Parse = new(LanguageVersion.Preview);
    private Compilation _compilation = null!, _unrelatedEdit = null!, _widthEdit = null!;
    private GeneratorDriver _warm = null!;

    /// <summary>The number of [Model] classes the current file declares (the figures per model divide by it).</summary>
    public int Models { get; private set; }

    [GlobalSetup]
    public void Setup()
    {
        string[] names = File == "All" ? Files().Where(f => f != "All").ToArray() : [File];
        var trees = names.Select(n => CSharpSyntaxTree.ParseText(Source(n), Parse, path: n + ".cs")).ToList();
        const string unrelated = "namespace Other; public class Helper { public int X => 1; }";
        trees.Add(CSharpSyntaxTree.ParseText(unrelated, Parse, path: "Helper.cs"));
        var references = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Append(typeof(Kiln.ModelAttribute).Assembly.Location).Distinct()
            .Select(p => (MetadataReference)MetadataReference.CreateFromFile(p)).ToList();
        _compilation = CSharpCompilation.Create("Models", trees, references, new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary));
        Models = names.Sum(n => Source(n).Split("[Model").Length - 1);

        SyntaxTree helper = _compilation.SyntaxTrees.Last();
        _unrelatedEdit = _compilation.ReplaceSyntaxTree(helper, helper.WithChangedText(SourceText.From(unrelated.Replace("1;", "2;"))));
        // The first width of the first model file's first Dense/Conv2d/Lstm/Gru/Embedding, one larger.
        SyntaxTree first = _compilation.SyntaxTrees.First();
        string text = first.ToString();
        int at = new[] { "Dense(", "Conv2d(", "Lstm(", "Gru(", "Embedding(" }.Select(k => text.IndexOf("[" + k, StringComparison.Ordinal) is int i && i >= 0 ? i + 1 + k.Length : int.MaxValue).Min();
        int end = at;
        while (char.IsDigit(text[end])) end++;
        string widened = text[..at] + (int.Parse(text[at..end]) + 8) + text[end..];
        _widthEdit = _compilation.ReplaceSyntaxTree(first, first.WithChangedText(SourceText.From(widened)));

        _warm = Driver().RunGenerators(_compilation);
        var result = _warm.GetRunResult();
        if (!result.Diagnostics.IsEmpty || result.GeneratedTrees.IsEmpty)
            throw new InvalidOperationException($"{File}: the generator reported {result.Diagnostics.Length} diagnostics and {result.GeneratedTrees.Length} files");
    }

    private static GeneratorDriver Driver() =>
        CSharpGeneratorDriver.Create([new ModelGenerator().AsSourceGenerator()], parseOptions: Parse);

    private static string Source(string name)
    {
        using Stream stream = typeof(GeneratorBenchmarks).Assembly.GetManifestResourceStream(name + ".cs")
            ?? throw new InvalidOperationException(name + ".cs is not embedded");
        return new StreamReader(stream).ReadToEnd();
    }

    [Benchmark(Baseline = true)]
    public GeneratorDriver Cold() => Driver().RunGenerators(_compilation);

    [Benchmark]
    public GeneratorDriver UnrelatedEdit() => _warm.RunGenerators(_unrelatedEdit);

    [Benchmark]
    public GeneratorDriver WidthEdit() => _warm.RunGenerators(_widthEdit);
}
