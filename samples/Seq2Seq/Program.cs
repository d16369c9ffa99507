using System;
using System.Diagnostics;
using System.Globalization;
using Kiln;
using Kiln.Data;
using Kiln.Kernels;
using Kiln.Optimizers;
using Kiln.Samples.Seq2Seq;

// An encoder-decoder Transformer with cross-attention learns a sequence task on built-in data: reversing (or, with
// --task sort, sorting) strings of 8 random digits. The encoder reads the source; the decoder reads a start token and
// the expected output so far (teacher forcing) and, at every step, attends over its own past (causal self-attention)
// and over the encoder's output (cross-attention) to predict the next digit. Evaluation decodes greedily, feeding the
// model's own digits back, on strings it has not seen.
var options = Options.Parse(args);
if (options is null) return 2;

using var model = new DigitTransformer(options.Seed) { Threads = options.Threads };
using var optimizer = new Adam(model.Parameters, lr: options.LearningRate);
var random = new KilnRandom(options.Seed + 1);
var evaluation = new KilnRandom(options.Seed + 2);

Console.WriteLine($"Kiln encoder-decoder: {options.Task.ToString().ToLowerInvariant()} strings of {DigitTask.Length} digits (built-in, random)");
Console.WriteLine($"kernels: {KernelInfo.Describe(KernelInfo.Best)}, {options.Threads} thread(s); batches of {DigitTransformer.Batch}");
Console.WriteLine(DigitTransformer.Summary);

int n = DigitTransformer.Batch * DigitTask.Length;
var sources = new int[n];
var targets = new int[n];
var labels = new int[n];
var clock = Stopwatch.StartNew();
double recent = 0;
int recentCount = 0;
for (int step = 1; step <= options.Steps; step++)
{
    DigitTask.Batch(options.Task, random, sources, targets, labels, DigitTransformer.Batch);
    float loss = model.ComputeGradients(sources, targets, labels);
    GradientClipping.ClipByGlobalNorm(model.Gradients.Span, 1f);
    optimizer.Step(model.Parameters.Span, model.Gradients.Span);
    recent += loss;
    recentCount++;
    if (step % options.EvaluateEvery == 0 || step == options.Steps)
    {
        var (strings, digits) = DigitTask.Accuracy(model, options.Task, 512, evaluation);
        Console.WriteLine($"step {step,5}  loss {recent / recentCount:F4}  greedy decoding of 512 new strings: {strings:P1} whole strings, {digits:P1} digits right  ({clock.Elapsed.TotalSeconds:F1} s)");
        recent = 0;
        recentCount = 0;
    }
}

// A few examples, decoded greedily.
var outputs = new int[n];
var logits = new float[DigitTransformer.Batch * DigitTransformer.OutputSize];
DigitTask.Batch(options.Task, evaluation, sources, targets, labels, 4);
DigitTask.Decode(model, sources, targets, logits, outputs, 4);
for (int r = 0; r < 4; r++)
{
    string Digits(int[] values) => string.Concat(values.AsSpan(r * DigitTask.Length, DigitTask.Length).ToArray());
    Console.WriteLine($"    {Digits(sources)} -> {Digits(outputs)}  {(Digits(outputs) == Digits(labels) ? "right" : "expected " + Digits(labels))}");
}
return 0;

internal sealed record Options(DigitTaskKind Task, int Steps, int Threads, int Seed, float LearningRate, int EvaluateEvery)
{
    public static Options? Parse(string[] args)
    {
        var o = new Options(DigitTaskKind.Reverse, 800, 1, 1, 1e-3f, 200);
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            try
            {
                switch (args[i])
                {
                    case "--task":
                        o = o with
                        {
                            Task = Next() switch
                            {
                                "reverse" => DigitTaskKind.Reverse,
                                "sort" => DigitTaskKind.Sort,
                                var other => throw new ArgumentException($"unknown task '{other}' (reverse or sort)"),
                            },
                        };
                        break;
                    case "--steps": o = o with { Steps = Positive(Next()) }; break;
                    case "--threads": o = o with { Threads = Positive(Next()) }; break;
                    case "--seed": o = o with { Seed = int.Parse(Next(), CultureInfo.InvariantCulture) }; break;
                    case "--lr": o = o with { LearningRate = float.Parse(Next(), CultureInfo.InvariantCulture) }; break;
                    case "--evaluate-every": o = o with { EvaluateEvery = Positive(Next()) }; break;
                    case "--help" or "-h":
                        Console.WriteLine("Seq2Seq [--task reverse|sort] [--steps 800] [--threads 1] [--seed 1] [--lr 0.001] [--evaluate-every 200]");
                        return null;
                    default: throw new ArgumentException($"unknown option {args[i]} (--help lists them)");
                }
            }
            catch (FormatException)
            {
                Console.Error.WriteLine($"{args[i]}: not a number");
                return null;
            }
            catch (ArgumentException e)
            {
                Console.Error.WriteLine(e.Message);
                return null;
            }
        }
        return o;
    }

    private static int Positive(string text)
    {
        int value = int.Parse(text, CultureInfo.InvariantCulture);
        return value > 0 ? value : throw new ArgumentException($"{value} must be positive");
    }
}
