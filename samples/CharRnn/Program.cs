using System;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Text;
using Kiln;
using Kiln.Data;
using Kiln.Kernels;
using Kiln.Optimizers;
using Kiln.Samples.CharRnn;

// A character-level language model: zoo model Z3 (LSTM, the default) or Z4 (GRU, --model gru) learns to continue
// text one character at a time, on the built-in text (the opening of Shakespeare's Coriolanus, public domain) or on
// --text FILE. Training is truncated backpropagation through time: the text is cut into 32 parallel streams, each
// batch is the next 64 characters of every stream, and the model carries its recurrent state from one batch to the
// next (CarryState) without backpropagating across the boundary. Gradients are clipped by their global norm, as RNNs
// need. Every --sample-every steps it copies its weights into the one-character generator (the same layers at batch 1)
// and prints text sampled with --temperature.
var options = Options.Parse(args);
if (options is null) return 2;

string text;
string source;
try
{
    if (options.TextPath is { } path)
    {
        text = TextFile.Read(path);
        source = path;
    }
    else
    {
        using Stream stream = typeof(CharLstm).Assembly.GetManifestResourceStream("coriolanus.txt")
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
SequenceChunks chunks;
try
{
    chunks = new SequenceChunks(tokens, CharLstm.Batch, CharLstm.InputSize);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"the text is too short: {e.Message}");
    return 1;
}

using var model = new CharModel(options.Model, options.Seed) { Threads = options.Threads };
using var optimizer = new Adam(model.Parameters, lr: options.LearningRate);
var random = new KilnRandom(options.Seed + 1);

Console.WriteLine($"Kiln char-RNN ({(options.Model == "gru" ? "Z4, GRU" : "Z3, LSTM")}): {tokens.Length:N0} characters from {source}" +
    (replaced > 0 ? $"; {replaced:N0} outside the {vocabulary.Count}-character vocabulary read as spaces" : ""));
Console.WriteLine($"kernels: {KernelInfo.Describe(KernelInfo.Best)}, {options.Threads} thread(s); {chunks.Count} batches of {chunks.Rows} x {chunks.Steps} characters per pass");
Console.WriteLine(model.Summary);

var inputs = new int[chunks.Rows * chunks.Steps];
var targets = new int[inputs.Length];
var clock = Stopwatch.StartNew();
double recent = 0;
int recentCount = 0;
float firstLoss = float.NaN;
for (int step = 1; step <= options.Steps; step++)
{
    int chunk = (step - 1) % chunks.Count;
    if (chunk == 0) model.ResetState(); // a new pass over the text: every stream starts again
    chunks.Get(chunk, inputs, targets);
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
        Console.WriteLine(Indent(model.Generate(options.Prompt, options.Length, options.Temperature, vocabulary, random)));
        recent = 0;
        recentCount = 0;
    }
}
Console.WriteLine($"loss {firstLoss:F3} at step 1 (ln 65 = {Math.Log(65):F3} is a uniform guess); {options.Steps} steps in {clock.Elapsed.TotalSeconds:F1} s");
return 0;

static string Indent(string sample) => "    | " + sample.Replace("\n", "\n    | ");

/// <summary>Z3 or Z4 with its one-character generator: the flag picks which pair of generated models runs.</summary>
internal sealed class CharModel : IDisposable
{
    private readonly ITrainable<int, int> _model;
    private readonly RecurrentStates _states, _generatorStates;
    private readonly ParameterSet _generatorParameters;
    private readonly IDisposable _generator;
    private readonly Action<int[], float[]> _generatorForward;
    private readonly int[] _token = new int[1];
    private readonly float[] _logits = new float[65];
    private readonly float[] _probabilities = new float[65];

    public CharModel(string kind, int seed)
    {
        if (kind == "gru")
        {
            var model = new CharGru(seed) { CarryState = true };
            var step = new CharGruStep(seed) { CarryState = true };
            (_model, _states, Summary) = (model, model.States, CharGru.Summary);
            (_generator, _generatorStates, _generatorParameters, _generatorForward) = (step, step.States, step.Parameters, (t, l) => step.Forward(t, l));
        }
        else
        {
            var model = new CharLstm(seed) { CarryState = true };
            var step = new CharLstmStep(seed) { CarryState = true };
            (_model, _states, Summary) = (model, model.States, CharLstm.Summary);
            (_generator, _generatorStates, _generatorParameters, _generatorForward) = (step, step.States, step.Parameters, (t, l) => step.Forward(t, l));
        }
    }

    public ParameterSet Parameters => _model.Parameters;
    public ParameterSet Gradients => _model.Gradients;
    public string Summary { get; }

    public int Threads
    {
        get => _model.Threads;
        set => _model.Threads = value;
    }

    /// <summary>A new pass over the text: every stream starts again from zeros.</summary>
    public void ResetState() => _states.Reset();

    public float ComputeGradients(ReadOnlySpan<int> inputs, ReadOnlySpan<int> targets) => _model.ComputeGradients(inputs, targets);

    /// <summary>Copies the trained weights into the generator (same names, same layouts), primes it with the prompt,
    /// then samples <paramref name="length"/> characters, each from softmax(logits / temperature).</summary>
    public string Generate(string prompt, int length, float temperature, CharVocabulary vocabulary, KilnRandom random)
    {
        foreach (TensorSlice tensor in Parameters.Tensors) Parameters[tensor].CopyTo(_generatorParameters[tensor.Name]);
        _generatorStates.Reset();

        var output = new StringBuilder(prompt);
        int[] primed = vocabulary.Encode(prompt.Length == 0 ? "\n" : prompt, ' ', out _);
        foreach (int token in primed) Step(token);
        for (int i = 0; i < length; i++)
        {
            int next = Sample(temperature, random);
            output.Append(vocabulary.CharacterOf(next));
            Step(next);
        }
        return output.ToString();
    }

    /// <summary>One character in, the next one's logits out; the state carries to the next call.</summary>
    private void Step(int token)
    {
        _token[0] = token;
        _generatorForward(_token, _logits);
    }

    private int Sample(float temperature, KilnRandom random)
    {
        for (int i = 0; i < _logits.Length; i++) _probabilities[i] = _logits[i] / temperature;
        System.Numerics.Tensors.TensorPrimitives.SoftMax(_probabilities, _probabilities);
        float u = random.NextFloat(), sum = 0;
        for (int i = 0; i < _probabilities.Length; i++)
        {
            sum += _probabilities[i];
            if (u < sum) return i;
        }
        return _probabilities.Length - 1;
    }

    public void Dispose()
    {
        _model.Dispose();
        _generator.Dispose();
    }
}

internal sealed record Options(string Model, string? TextPath, int Steps, int Threads, int Seed, float LearningRate, float Clip,
    int SampleEvery, int Length, float Temperature, string Prompt)
{
    public static Options? Parse(string[] args)
    {
        var o = new Options("lstm", null, 600, 1, 1, 2e-3f, 5f, 150, 240, 0.8f, "MENENIUS:\n");
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            try
            {
                switch (args[i])
                {
                    case "--model":
                        string model = Next();
                        if (model is not ("lstm" or "gru")) throw new ArgumentException("--model is lstm or gru");
                        o = o with { Model = model };
                        break;
                    case "--text": o = o with { TextPath = Next() }; break;
                    case "--steps": o = o with { Steps = Positive(Next()) }; break;
                    case "--threads": o = o with { Threads = Positive(Next()) }; break;
                    case "--seed": o = o with { Seed = int.Parse(Next(), CultureInfo.InvariantCulture) }; break;
                    case "--lr": o = o with { LearningRate = float.Parse(Next(), CultureInfo.InvariantCulture) }; break;
                    case "--clip": o = o with { Clip = float.Parse(Next(), CultureInfo.InvariantCulture) }; break;
                    case "--sample-every": o = o with { SampleEvery = Positive(Next()) }; break;
                    case "--length": o = o with { Length = Positive(Next()) }; break;
                    case "--temperature": o = o with { Temperature = float.Parse(Next(), CultureInfo.InvariantCulture) }; break;
                    case "--prompt": o = o with { Prompt = Next().Replace("\\n", "\n") }; break;
                    case "--help" or "-h":
                        Console.WriteLine("CharRnn [--model lstm|gru] [--text FILE] [--steps 600] [--threads 1] [--seed 1] [--lr 0.002] [--clip 5]");
                        Console.WriteLine("        [--sample-every 150] [--length 240] [--temperature 0.8] [--prompt \"MENENIUS:\\n\"]");
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
        return o;
    }

    private static int Positive(string text)
    {
        int value = int.Parse(text, CultureInfo.InvariantCulture);
        return value > 0 ? value : throw new ArgumentException($"{value} must be positive");
    }
}
