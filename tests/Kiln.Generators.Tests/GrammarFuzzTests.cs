using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Runtime.Loader;
using System.Text;
using Kiln.Generators.Diagnostics;
using Microsoft.CodeAnalysis;
using Xunit;
using Xunit.Abstractions;

namespace Kiln.Generators.Tests;

/// <summary>
/// Random model declarations from a grammar of the attribute language: valid models of three families (MLPs, CNNs with
/// pooling, residual and concatenated maps, sequence models with embeddings, attention and recurrent layers) built to
/// be correct by construction, and invalid ones made by injecting one fault into a valid one (a wrong size, an unknown
/// or later node, a cycle through From, a huge size, a width that does not fit, heads that do not divide, a duplicate
/// name, a generic, nested, static or non-partial class, an attribute on the wrong member, a missing argument).
/// For each: the generator does not throw; an invalid model yields at least one KILN error (or, for a fault that is a C#
/// error in the user's own code, the generated code adds no error of its own); a valid model compiles with no
/// diagnostic; and a sample of the valid ones is compiled, loaded and passes a finite-difference gradient check.
/// Seeded: a failure prints the seed and the declaration. Budget: <see cref="Batches"/> × <see cref="PerBatch"/> models,
/// times KILN_FUZZ_SCALE when set.
/// </summary>
public class GrammarFuzzTests(ITestOutputHelper output)
{
    private const int Batches = 20, PerBatch = 100;

    /// <summary>One valid model in this many is also compiled, loaded and gradient-checked.</summary>
    private const int GradientSample = 20;

    private static int Scale => Environment.GetEnvironmentVariable("KILN_FUZZ_SCALE") is { } text && int.TryParse(text, out int scale) && scale > 0 ? scale : 1;

    public static IEnumerable<object[]> BatchIndices() => Enumerable.Range(0, Batches).Select(i => new object[] { i });

    [Theory]
    [MemberData(nameof(BatchIndices))]
    public void RandomDeclarations_AreCompiledOrDiagnosed_NeverCrash(int batch)
    {
        int count = PerBatch * Scale;
        var tally = new SortedDictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < count; i++)
        {
            int seed = batch * 1_000_003 + i;
            var random = new Random(seed);
            Declaration model = Generate(random);
            bool valid = random.Next(2) == 0;
            Fault? fault = valid ? null : Inject(model, random);
            string source = model.Render();
            try
            {
                Check(source, fault, seed, tally, gradient: valid && i % GradientSample == 0);
            }
            catch (Exception e) when (e is not Xunit.Sdk.XunitException)
            {
                throw new Xunit.Sdk.XunitException($"seed {seed} ({fault?.Name ?? "valid"}): {e}\n---\n{source}");
            }
        }
        string summary = $"grammar fuzz batch {batch}: {count} declarations: " + string.Join(", ", tally.Select(t => $"{t.Key} {t.Value}"));
        output.WriteLine(summary);
        Report(summary);
    }

    private static void Check(string source, Fault? fault, int seed, SortedDictionary<string, int> tally, bool gradient)
    {
        var (result, compiled) = GeneratorHarness.Run(source);
        GeneratorRunResult run = result.Results.Single();
        string context = $"seed {seed} ({fault?.Name ?? "valid"}):\n{source}";
        Assert.True(run.Exception is null, $"the generator threw {run.Exception}\n{context}");
        Assert.True(!result.Diagnostics.Any(d => d.Id == DiagnosticIds.InternalError), "KILN9999 on " + context);
        var errors = compiled.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
        var kiln = result.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
        Assert.DoesNotContain(errors, d => d.Location.SourceTree?.FilePath.EndsWith(".g.cs", StringComparison.Ordinal) == true);

        if (fault is null)
        {
            Assert.True(kiln.Count == 0 && errors.Count == 0 && !result.Diagnostics.Any(),
                $"a valid model was rejected: {string.Join("; ", result.Diagnostics.Concat(errors).Take(4))}\n{context}");
            Count(tally, "valid: compiled");
            if (gradient)
            {
                GradientCheck(compiled, context);
                Count(tally, "valid: gradient-checked");
            }
            return;
        }
        // Whatever the fault, generating adds no error the user's code alone does not have (bar CS9248, "partial property not
        // implemented", on the properties of a model Kiln rejected and so left unimplemented).
        var before = GeneratorHarness.Compilation(source).GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).Select(d => d.Id).ToHashSet();
        var added = errors.Where(d => !before.Contains(d.Id) && d.Id != "CS9248").ToList();
        Assert.True(added.Count == 0, $"generated code adds errors: {string.Join("; ", added.Take(4))}\n{context}");
        if (fault.CSharpError)
        {
            // The user's own code is wrong in C#: Kiln may or may not say more.
            Assert.True(before.Count > 0, $"the fault was meant to be a C# error\n{context}");
            Count(tally, "invalid C#: no error added");
            return;
        }
        Assert.True(kiln.Count > 0, $"no KILN error for an invalid model; errors: {string.Join("; ", errors.Take(4))}\n{context}");
        Count(tally, $"invalid: {string.Join("+", kiln.Select(d => d.Id).Distinct().OrderBy(id => id, StringComparer.Ordinal))}");
    }

    private static void Count(SortedDictionary<string, int> tally, string key) => tally[key] = tally.GetValueOrDefault(key) + 1;

    // ---- the grammar ----

    private enum Family { Vector, Image, Sequence }

    /// <summary>A model under construction: its nodes (attribute list and name) and the shapes the grammar tracked.</summary>
    private sealed class Declaration
    {
        public string ClassName = "M";
        public string Modifiers = "public partial";
        public int Batch;
        public Family Family;
        public readonly List<(string Attributes, string Name)> Nodes = new();
        public readonly List<string> Extra = new(); // other members (faults)
        public string Wrapper = ""; // an enclosing class (a fault)

        public string Render()
        {
            var text = new StringBuilder(GeneratorHarness.Usings);
            if (Wrapper.Length > 0) text.Append(Wrapper).Append("\n{\n");
            text.Append(CultureInfo.InvariantCulture, $"[Model(Batch = {Batch})]\n{Modifiers} class {ClassName}\n{{\n");
            foreach (var (attributes, name) in Nodes)
                text.Append(CultureInfo.InvariantCulture, $"    {attributes} public partial Node {name} {{ get; }}\n");
            foreach (string member in Extra) text.Append("    ").Append(member).Append('\n');
            text.Append("}\n");
            if (Wrapper.Length > 0) text.Append("}\n");
            return text.ToString();
        }
    }

    private static T Pick<T>(Random random, params T[] items) => items[random.Next(items.Length)];

    private static Declaration Generate(Random random)
    {
        var d = new Declaration { Batch = 2 + random.Next(3), Family = (Family)random.Next(3) };
        var names = new List<string>();
        string Name() { string n = "N" + names.Count.ToString(CultureInfo.InvariantCulture); names.Add(n); return n; }
        int layers = 1 + random.Next(4);
        switch (d.Family)
        {
            case Family.Vector:
            {
                int width = 1 + random.Next(12);
                d.Nodes.Add(($"[Input({width})]", "X"));
                var widths = new List<(string Name, int Width)> { ("X", width) };
                for (int i = 0; i < layers; i++)
                {
                    string name = Name();
                    int units = 1 + random.Next(12);
                    var same = widths.Where(w => w.Width == width && w.Name != "X").ToList();
                    switch (random.Next(6))
                    {
                        case 0: d.Nodes.Add(($"[Dense({units})]", name)); width = units; break;
                        case 1: d.Nodes.Add(($"[Dense({units}), {Pick(random, "Relu", "Tanh", "Sigmoid", "Gelu", "LeakyRelu(0.1)", "Gelu(Approximate = true)")}]", name)); width = units; break;
                        case 2: d.Nodes.Add(($"[Dense({units}), {Pick(random, "LayerNorm", "Dropout(0.25)", "RmsNorm")}]", name)); width = units; break;
                        case 3 when same.Count > 0: d.Nodes.Add(($"[Add(nameof({Pick(random, same.ToArray()).Name}))]", name)); break;
                        case 4: d.Nodes.Add(($"[Dense({units}), BatchNorm, Relu]", name)); width = units; break;
                        default: d.Nodes.Add(($"[Dense({width}), Relu, Dense({width}), Residual]", name)); break;
                    }
                    widths.Add((name, width));
                }
                break;
            }
            case Family.Image:
            {
                int channels = 1 + random.Next(3), height = 2 * (2 + random.Next(3)), width = 2 * (2 + random.Next(3));
                d.Nodes.Add(($"[Input({channels}, {height}, {width})]", "X"));
                var maps = new List<(string Name, int Channels, int Height, int Width)> { ("X", channels, height, width) };
                for (int i = 0; i < layers; i++)
                {
                    string name = Name();
                    int units = 1 + random.Next(6);
                    var same = maps.Where(m => m.Height == height && m.Width == width && m.Name != "X").ToList();
                    switch (random.Next(6))
                    {
                        case 0: d.Nodes.Add(($"[Conv2d({units}, 3, Padding = 1), Relu]", name)); channels = units; break;
                        case 1: d.Nodes.Add(($"[Conv2d({units}, 1), BatchNorm, Relu]", name)); channels = units; break;
                        case 2 when height % 2 == 0 && width % 2 == 0 && height >= 2 && width >= 2:
                            d.Nodes.Add(($"[{Pick(random, "MaxPool2d(2)", "AvgPool2d(2)")}]", name));
                            height /= 2;
                            width /= 2;
                            break;
                        case 3: d.Nodes.Add(($"[Conv2d({channels}, 3, Padding = Padding.Same), Relu, Conv2d({channels}, 3, Padding = 1), Residual]", name)); break;
                        case 4 when same.Count > 0:
                        {
                            var with = Pick(random, same.ToArray());
                            d.Nodes.Add(($"[Concat(With = nameof({with.Name}))]", name));
                            channels += with.Channels;
                            break;
                        }
                        default: d.Nodes.Add(($"[Conv2d({units}, 3, Stride = 1, Padding = 1, Bias = false), BatchNorm]", name)); channels = units; break;
                    }
                    maps.Add((name, channels, height, width));
                }
                d.Nodes.Add((random.Next(2) == 0 ? "[GlobalAvgPool]" : "[Flatten]", Name()));
                break;
            }
            default:
            {
                int steps = 2 + random.Next(5), vocabulary = 3 + random.Next(9), heads = 1 + random.Next(3), model = heads * (1 + random.Next(4));
                d.Nodes.Add(($"[Input({steps}, Of = typeof(int))]", "X"));
                d.Nodes.Add(($"[Embedding({vocabulary}, {model}){Pick(random, "", ", LearnedPositions", ", SinusoidalPositions")}]", Name()));
                int width = model;
                for (int i = 0; i < layers; i++)
                {
                    string name = Name();
                    switch (random.Next(4))
                    {
                        case 0 when width % heads == 0:
                            d.Nodes.Add(($"[LayerNorm, SelfAttention({heads}{(random.Next(2) == 0 ? ", Causal = true" : "")}), Residual]", name));
                            break;
                        case 1: d.Nodes.Add(($"[LayerNorm, Dense({2 * width}), Gelu, Dense({width}), Residual]", name)); break;
                        case 2:
                        {
                            int hidden = 1 + random.Next(6);
                            d.Nodes.Add(($"[{Pick(random, "Lstm", "Gru", "Rnn")}({hidden})]", name));
                            width = hidden;
                            break;
                        }
                        default:
                        {
                            int units = 1 + random.Next(8);
                            d.Nodes.Add(($"[Dense({units}), Tanh]", name));
                            width = units;
                            break;
                        }
                    }
                }
                break;
            }
        }
        int classes = 2 + random.Next(5);
        bool regression = d.Family != Family.Sequence && random.Next(4) == 0;
        d.Nodes.Add(($"[Dense({classes})]", "Logits"));
        d.Nodes.Add((regression ? Pick(random, "[MeanSquaredError]", "[L1Loss]", "[HuberLoss]") : "[SoftmaxCrossEntropy]", "Loss"));
        return d;
    }

    // ---- faults ----

    private sealed record Fault(string Name, bool CSharpError = false);

    /// <summary>Index of a random hidden node (not the input, logits or loss).</summary>
    private static int Hidden(Declaration d, Random random) => 1 + random.Next(d.Nodes.Count - 3);

    private static Fault Inject(Declaration d, Random random)
    {
        int kind = random.Next(16);
        switch (kind)
        {
            case 0:
            {
                d.Nodes[^2] = ($"[Dense({Pick(random, "0", "-1", "-100")})]", "Logits");
                return new Fault("size ≤ 0");
            }
            case 1:
            {
                int at = Hidden(d, random);
                d.Nodes.Insert(at, ("[Add(\"Nope\")]", "Unknown"));
                return new Fault("unknown node");
            }
            case 2:
            {
                // A node reading a later one: with From or Add, a cycle or a forward reference.
                int at = Hidden(d, random);
                string later = d.Nodes[at + 1].Name;
                d.Nodes.Insert(at, (random.Next(2) == 0 ? $"[Dense(3, From = nameof({later}))]" : $"[Add(nameof({later}))]", "Cycle"));
                return new Fault("reads a later node");
            }
            case 3:
            {
                d.Nodes[^2] = ($"[Dense({Pick(random, "int.MaxValue", "100000000", "1 << 30")})]", "Logits");
                return new Fault("huge size");
            }
            case 4:
            {
                d.Nodes[0] = (d.Family switch
                {
                    Family.Vector => "[Input(0)]",
                    Family.Image => "[Input(3, 0, 4)]",
                    _ => "[Input(0, Of = typeof(int))]",
                }, "X");
                return new Fault("empty input");
            }
            case 5:
            {
                d.Nodes.RemoveAt(0);
                return new Fault("no input");
            }
            case 6:
            {
                d.Nodes.RemoveAt(d.Nodes.Count - 1);
                d.Nodes.Add(("[SoftmaxCrossEntropy(Classes = 99)]", "Loss"));
                return new Fault("loss width does not fit");
            }
            case 7:
            {
                if (d.Family == Family.Image) { d.Nodes.Insert(1, ("[Conv2d(4, 99)]", "TooWide")); return new Fault("kernel larger than the map"); }
                if (d.Family == Family.Sequence) { d.Nodes.Insert(2, ("[SelfAttention(7)]", "Heads")); return new Fault("heads do not divide the width"); }
                d.Nodes.Insert(1, ("[Add(nameof(Logits))]", "Mismatch"));
                return new Fault("reads a later node");
            }
            case 8:
            {
                d.ClassName = "M<T>";
                return new Fault("generic model");
            }
            case 9:
            {
                d.Modifiers = "public";
                return new Fault("not partial");
            }
            case 10:
            {
                d.Wrapper = "public class Outer";
                return new Fault("nested in a non-partial class");
            }
            case 11:
            {
                int at = Hidden(d, random);
                d.Nodes.Insert(at, d.Nodes[at]);
                return new Fault("duplicate name", CSharpError: true);
            }
            case 12:
            {
                d.Modifiers = "public static partial";
                return new Fault("static class", CSharpError: true);
            }
            case 13:
            {
                if (random.Next(3) == 0)
                {
                    // Allowed by C# (a property), but not a partial Node: Kiln's to report.
                    d.Extra.Add(Pick(random, "[Dense(4)] public int Count => 0;", "[Relu] public partial Node Extra { get; set; }"));
                    return new Fault("layer attribute on a property that is not a node");
                }
                d.Extra.Add(Pick(random, "[Dense(4)] public void Method() { }", "[Relu] private int _field;"));
                return new Fault("attribute on the wrong member", CSharpError: true);
            }
            case 14:
            {
                int at = Hidden(d, random);
                d.Nodes.Insert(at, (Pick(random, "[Dense]", "[Conv2d(4)]", "[Embedding(3)]"), "Missing"));
                return new Fault("missing argument", CSharpError: true);
            }
            default:
            {
                // The node after a hidden node reads a width it does not have: a Dense whose In is declared wrong.
                int at = Hidden(d, random);
                d.Nodes.Insert(at, ("[Dense(4, In = 999)]", "WrongIn"));
                return new Fault("declared In does not fit");
            }
        }
    }

    // ---- the gradient check of a sample ----

    /// <summary>Emits the compilation, loads it in a collectible context and checks the model's gradient against a central
    /// finite difference along a random direction (float32 on both sides, so with a loose 2% tolerance; the per-op checks in
    /// double precision are GradientTests'). Evaluation mode, so dropout and batch norm are deterministic.</summary>
    private static void GradientCheck(Compilation compilation, string context)
    {
        using var stream = new MemoryStream();
        var emitted = compilation.Emit(stream);
        Assert.True(emitted.Success, "emit failed: " + string.Join("; ", emitted.Diagnostics.Take(4)) + "\n" + context);
        stream.Position = 0;
        var load = new AssemblyLoadContext("fuzz", isCollectible: true);
        try
        {
            Assembly assembly = load.LoadFromStream(stream);
            Type type = assembly.GetTypes().Single(t => t.GetCustomAttribute<Kiln.ModelAttribute>() is not null);
            Type trainable = type.GetInterfaces().Single(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(Kiln.ITrainable<,>));
            object model = Activator.CreateInstance(type, 7)!;
            try
            {
                typeof(GrammarFuzzTests).GetMethod(nameof(Directional), BindingFlags.NonPublic | BindingFlags.Static)!
                    .MakeGenericMethod(trainable.GetGenericArguments()).Invoke(null, new[] { model, context });
            }
            catch (TargetInvocationException e) when (e.InnerException is not null)
            {
                throw e.InnerException;
            }
            finally
            {
                ((IDisposable)model).Dispose();
            }
        }
        finally
        {
            load.Unload();
        }
    }

    private static void Directional<TInput, TTarget>(Kiln.ITrainable<TInput, TTarget> model, string context) where TInput : unmanaged where TTarget : unmanaged
    {
        var random = new Random(11);
        int rows = model.BatchSize;
        var input = new TInput[rows * model.InputWidth];
        var targets = new TTarget[rows * model.TargetWidth];
        int classes = model.OutputWidth / Math.Max(1, model.TargetWidth);
        for (int i = 0; i < input.Length; i++)
            input[i] = typeof(TInput) == typeof(int) ? (TInput)(object)random.Next(3) : (TInput)(object)(float)(random.NextDouble() * 2 - 1);
        for (int i = 0; i < targets.Length; i++)
            targets[i] = typeof(TTarget) == typeof(int) ? (TTarget)(object)random.Next(Math.Max(1, classes)) : (TTarget)(object)(float)(random.NextDouble() * 2 - 1);

        model.Training = false;
        model.ComputeGradients(input, targets);
        float[] gradient = model.Gradients.Span.ToArray();
        Span<float> parameters = model.Parameters.Span;
        float[] start = parameters.ToArray();
        var direction = new float[start.Length];
        for (int i = 0; i < direction.Length; i++) direction[i] = (float)(random.NextDouble() * 2 - 1);
        double analytic = 0;
        for (int i = 0; i < direction.Length; i++) analytic += (double)gradient[i] * direction[i];

        // Central differences at four step sizes: the check passes when one agrees (a ReLU kink crossed by a large step, or
        // float rounding at a small one, can spoil the others).
        double best = double.MaxValue, closest = 0;
        foreach (float h in new[] { 1e-2f, 3e-3f, 1e-3f, 3e-4f })
        {
            for (int i = 0; i < start.Length; i++) parameters[i] = start[i] + h * direction[i];
            double up = model.Evaluate(input, targets);
            for (int i = 0; i < start.Length; i++) parameters[i] = start[i] - h * direction[i];
            double down = model.Evaluate(input, targets);
            start.CopyTo(parameters);
            double numeric = (up - down) / (2 * h);
            double error = Math.Abs(numeric - analytic) / Math.Max(Math.Max(Math.Abs(numeric), Math.Abs(analytic)), 1e-2);
            if (error < best) (best, closest) = (error, numeric);
        }
        Assert.True(best < 0.02, $"gradient along a random direction: backward {analytic:R}, finite difference {closest:R} (relative error {best:E2})\n{context}");
    }

    private static void Report(string line)
    {
        if (Environment.GetEnvironmentVariable("KILN_FUZZ_REPORT") is { Length: > 0 } file)
            lock (typeof(GrammarFuzzTests)) File.AppendAllText(file, line + Environment.NewLine);
    }
}
