using System;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Text;
using Kiln;
using Kiln.Data;
using Kiln.Kernels;
using Kiln.Optimizers;
using Kiln.Samples.Gpt;

// A character-level GPT: zoo model Z5 (two pre-LN causal Transformer blocks, d_model 128, 4 heads, a context of 64)
// learns to continue text on the built-in text (the opening of Shakespeare's Coriolanus, public domain, the same as the
// char-RNN sample's) or on --text FILE. Each batch is 16 windows of 64 characters at random places in the text, the
// targets the same windows one character later: every position learns to predict its next character from the ones
// before it (the causal mask). Every --sample-every steps it prints text sampled with --temperature and --top-k, generated
// one character per step with the key/value cache (GptMini.Decoder).
var options = Options.Parse(args);
if (options is null) return 2;

string text, source;
try
{
    if (options.TextPath is { } path)
    {
        text = TextFile.Read(path);
        source = path;
    }
    else
    {
        using Stream stream = typeof(GptMini).Assembly.GetManifestResourceStream("coriolanus.txt")
            ?? throw new InvalidOperationException("the built-in text is missing from the assembly");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        text = reader.ReadToEnd();
        source = "built-in: Shakespeare, Coriolanus, act I (pass --text FILE for your own)";
    }
}
catch (IOException e)
{
    Console.Error.WriteLine($"cannot read the text: {e.Message}");
    return 1;
}

CharVocabulary vocabulary = CharVocabulary.Shakespeare65;
int[] tokens = vocabulary.Encode(text, ' ', out int replaced);
const int Context = GptMini.InputSize;
if (tokens.Length < Context + 1)
{
    Console.Error.WriteLine($"the text is too short: {tokens.Length} characters, a window needs {Context + 1}");
    return 1;
}

using var model = new GptMini(options.Seed) { Threads = options.Threads };
using var optimizer = new Adam(model.Parameters, lr: options.LearningRate);
using var decoder = new GptMini.Decoder(model); // incremental generation over the model's current parameters
var random = new KilnRandom(options.Seed + 1);

Console.WriteLine($"Kiln GPT-mini (Z5): {tokens.Length:N0} characters from {source}" +
    (replaced > 0 ? $"; {replaced:N0} outside the {vocabulary.Count}-character vocabulary read as spaces" : ""));
Console.WriteLine($"kernels: {KernelInfo.Describe(KernelInfo.Best)}, {options.Threads} thread(s); batches of {GptMini.Batch} windows of {Context} characters");
Console.WriteLine(GptMini.Summary);

var inputs = new int[GptMini.Batch * Context];
var targets = new int[inputs.Length];
var clock = Stopwatch.StartNew();
double recent = 0;
int recentCount = 0;
float firstLoss = float.NaN;
for (int step = 1; step <= options.Steps; step++)
{
    for (int row = 0; row < GptMini.Batch; row++)
    {
        int start = random.Next(tokens.Length - Context);
        tokens.AsSpan(start, Context).CopyTo(inputs.AsSpan(row * Context, Context));
        tokens.AsSpan(start + 1, Context).CopyTo(targets.AsSpan(row * Context, Context));
    }
    float loss = model.ComputeGradients(inputs, targets);
    float norm = GradientClipping.ClipByGlobalNorm(model.Gradients.Span, options.Clip);
    optimizer.Step(model.Parameters.Span, model.Gradients.Span);
    if (step == 1) firstLoss = loss;
    recent += loss;
    recentCount++;
    if (step % options.SampleEvery == 0 || step == options.Steps)
    {
        double mean = recent / recentCount;
        Console.WriteLine($"step {step,5}  loss {mean:F3} (mean of the last {recentCount}; {mean / Math.Log(2):F2} bits per character)  gradient norm {norm:F2}  " +
            $"{step * (double)inputs.Length / clock.Elapsed.TotalSeconds:N0} characters/s");
        Console.WriteLine(Indent(Generate(decoder, options, vocabulary, random)));
        recent = 0;
        recentCount = 0;
    }
}
Console.WriteLine($"loss {firstLoss:F3} at step 1 (ln 65 = {Math.Log(65):F3} is a uniform guess); {options.Steps} steps in {clock.Elapsed.TotalSeconds:F1} s");
return 0;

static string Indent(string sample) => "    | " + sample.Replace("\n", "\n    | ");

// Generation with the key/value cache: the generated decoder reads the prompt once and then one character per step,
// each attention op keeping the keys and values of the positions before it (no recomputation of the prefix).
static string Generate(GptMini.Decoder decoder, Options options, CharVocabulary vocabulary, KilnRandom random)
{
    int[] prompt = vocabulary.Encode(options.Prompt.Length == 0 ? "\n" : options.Prompt, ' ', out _);
    var output = new int[options.Length];
    decoder.Generate(prompt, output, random, options.Temperature, options.TopK);
    return options.Prompt + vocabulary.Decode(output);
}

internal sealed record Options(string? TextPath, int Steps, int Threads, int Seed, float LearningRate, float Clip,
    int SampleEvery, int Length, float Temperature, int TopK, string Prompt)
{
    public static Options? Parse(string[] args)
    {
        var o = new Options(null, 600, 1, 1, 2e-3f, 1f, 150, 240, 0.8f, 0, "MENENIUS:\n");
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            try
            {
                switch (args[i])
                {
                    case "--text": o = o with { TextPath = Next() }; break;
                    case "--steps": o = o with { Steps = Positive(Next()) }; break;
                    case "--threads": o = o with { Threads = Positive(Next()) }; break;
                    case "--seed": o = o with { Seed = int.Parse(Next(), CultureInfo.InvariantCulture) }; break;
                    case "--lr": o = o with { LearningRate = float.Parse(Next(), CultureInfo.InvariantCulture) }; break;
                    case "--clip": o = o with { Clip = float.Parse(Next(), CultureInfo.InvariantCulture) }; break;
                    case "--sample-every": o = o with { SampleEvery = Positive(Next()) }; break;
                    case "--length": o = o with { Length = Positive(Next()) }; break;
                    case "--temperature": o = o with { Temperature = float.Parse(Next(), CultureInfo.InvariantCulture) }; break;
                    case "--top-k": o = o with { TopK = int.Parse(Next(), CultureInfo.InvariantCulture) }; break;
                    case "--prompt": o = o with { Prompt = Next().Replace("\\n", "\n") }; break;
                    case "--help" or "-h":
                        Console.WriteLine("Gpt [--text FILE] [--steps 600] [--threads 1] [--seed 1] [--lr 0.002] [--clip 1]");
                        Console.WriteLine("    [--sample-every 150] [--length 240] [--temperature 0.8] [--top-k 0 (all)] [--prompt \"MENENIUS:\\n\"]");
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
        if (!(o.Temperature > 0)) { Console.Error.WriteLine("--temperature must be > 0"); return null; }
        if (o.TopK < 0) { Console.Error.WriteLine("--top-k must be 0 (every token) or positive"); return null; }
        return o;
    }

    private static int Positive(string text)
    {
        int value = int.Parse(text, CultureInfo.InvariantCulture);
        return value > 0 ? value : throw new ArgumentException($"{value} must be positive");
    }
}
