using System;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using Kiln;
using Kiln.Data;
using Kiln.Kernels;
using Kiln.Optimizers;
using Kiln.Samples.Mnist;
using Spectre.Console;

// Trains zoo model Z1 (784-256-128-10) on MNIST when given --data DIR (the IDX files, plain or .gz), or on
// built-in procedurally rendered digits when not, then reports test accuracy and saves a checkpoint.
var options = Options.Parse(args);
if (options is null) return 2;

Dataset train, test;
string source;
if (options.DataDirectory is { } directory)
{
    try
    {
        (train, test) = Mnist.Load(directory);
    }
    catch (IOException e) // DataFormatException, FileNotFoundException, DirectoryNotFoundException
    {
        Console.Error.WriteLine($"cannot read MNIST from '{directory}': {e.Message}");
        return 1;
    }
    source = $"MNIST from {directory}";
}
else
{
    train = SyntheticDigits.Generate(options.TrainSamples, seed: 1);
    test = SyntheticDigits.Generate(options.TestSamples, seed: 2);
    source = "built-in rendered digits (pass --data DIR for real MNIST)";
}

AnsiConsole.MarkupLine($"[bold]Kiln[/] MNIST MLP: {train.Count:N0} training and {test.Count:N0} test samples, {Markup.Escape(source)}");
AnsiConsole.MarkupLine($"kernels: {KernelInfo.Describe(KernelInfo.Best)}");
AnsiConsole.WriteLine(MnistMlp.Summary);

using var model = new MnistMlp(seed: options.Seed);
using var adam = new Adam(model.Parameters, lr: options.LearningRate);
var order = new int[train.Count];
for (int i = 0; i < order.Length; i++) order[i] = i;
var random = new KilnRandom(options.Seed);
var pixels = new float[MnistMlp.Batch * MnistMlp.InputSize];
var labels = new int[MnistMlp.Batch];
int stepsPerEpoch = train.Count / MnistMlp.Batch;

var clock = Stopwatch.StartNew();
AnsiConsole.Progress()
    .AutoClear(false)
    .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
    .Start(context =>
    {
        for (int epoch = 1; epoch <= options.Epochs; epoch++)
        {
            ProgressTask task = context.AddTask($"epoch {epoch}", maxValue: stepsPerEpoch);
            random.Shuffle(order);
            double lossSum = 0;
            long start = Stopwatch.GetTimestamp();
            for (int step = 0; step < stepsPerEpoch; step++)
            {
                train.Gather(order.AsSpan(step * MnistMlp.Batch, MnistMlp.Batch), pixels, labels);
                lossSum += model.TrainStep(pixels, labels, adam);
                if (step % 20 == 19 || step == stepsPerEpoch - 1)
                {
                    double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
                    task.Description = string.Create(CultureInfo.InvariantCulture,
                        $"epoch {epoch}  loss {lossSum / (step + 1):F4}  {(step + 1) * MnistMlp.Batch / seconds:N0} samples/s");
                }
                task.Increment(1);
            }
        }
    });
clock.Stop();

float accuracy = Accuracy(model, test);
AnsiConsole.MarkupLine($"test accuracy: [bold]{accuracy:P2}[/] after {options.Epochs * stepsPerEpoch:N0} steps in {clock.Elapsed.TotalSeconds:F1} s; test loss {model.Evaluate(test.Features, test.Labels):F4}");

model.Save(options.Checkpoint);
using (var reloaded = new MnistMlp(seed: 12345))
{
    reloaded.Load(options.Checkpoint);
    float again = Accuracy(reloaded, test);
    AnsiConsole.MarkupLine($"checkpoint: {Markup.Escape(Path.GetFullPath(options.Checkpoint))} (reloaded: accuracy {again:P2})");
    if (again != accuracy) return 1;
}
return 0;

static float Accuracy(MnistMlp model, Dataset data)
{
    var predicted = new int[data.Count];
    model.Predict(data.Features, predicted);
    int correct = 0;
    for (int i = 0; i < predicted.Length; i++) if (predicted[i] == data.Labels[i]) correct++;
    return (float)correct / data.Count;
}

internal sealed record Options(string? DataDirectory, int Epochs, float LearningRate, int Seed, string Checkpoint, int TrainSamples, int TestSamples)
{
    public static Options? Parse(string[] args)
    {
        var o = new Options(null, 3, 1e-3f, 1, "mnist-mlp.safetensors", 12_000, 2_000);
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            try
            {
                switch (args[i])
                {
                    case "--data": o = o with { DataDirectory = Next() }; break;
                    case "--epochs": o = o with { Epochs = int.Parse(Next(), CultureInfo.InvariantCulture) }; break;
                    case "--lr": o = o with { LearningRate = float.Parse(Next(), CultureInfo.InvariantCulture) }; break;
                    case "--seed": o = o with { Seed = int.Parse(Next(), CultureInfo.InvariantCulture) }; break;
                    case "--checkpoint": o = o with { Checkpoint = Next() }; break;
                    case "--train-samples": o = o with { TrainSamples = int.Parse(Next(), CultureInfo.InvariantCulture) }; break;
                    default: throw new ArgumentException($"unknown option {args[i]}");
                }
            }
            catch (Exception e) when (e is ArgumentException or FormatException)
            {
                Console.Error.WriteLine(e.Message);
                Console.Error.WriteLine("usage: Mnist [--data DIR] [--epochs N] [--lr X] [--seed N] [--checkpoint FILE] [--train-samples N]");
                return null;
            }
        }
        return o;
    }
}
