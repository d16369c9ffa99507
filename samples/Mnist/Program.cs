using System;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using Kiln;
using Kiln.Data;
using Kiln.Kernels;
using Kiln.Optimizers;
using Kiln.Samples.Mnist;
using Kiln.Training;
using Spectre.Console;

// Trains zoo model Z1 (784-256-128-10) on MNIST when given --data DIR (the IDX files, plain or .gz), or on
// built-in procedurally rendered digits when not, with the Trainer (AdamW, warm-up then cosine, validation each
// epoch, early stopping, a training checkpoint each epoch (and every --checkpoint-every steps) that --resume continues
// from exactly, a CSV log), then reports test accuracy and saves the weights.
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
using var optimizer = new AdamW(model.Parameters, lr: options.LearningRate, weightDecay: 1e-4f);
int stepsPerEpoch = (train.Count + MnistMlp.Batch - 1) / MnistMlp.Batch;
var clock = Stopwatch.StartNew();
TrainingResult result = null!;
AnsiConsole.Progress()
    .AutoClear(false)
    .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
    .Start(context =>
    {
        var bars = new EpochBars(context);
        var trainer = new Trainer<int>(model, optimizer, new TrainerOptions
        {
            Epochs = options.Epochs,
            Seed = options.Seed,
            Schedule = new WarmupCosineSchedule(options.LearningRate, warmupSteps: Math.Min(100, stepsPerEpoch), totalSteps: Math.Max(stepsPerEpoch + 1, options.Epochs * stepsPerEpoch)),
            EarlyStopping = new EarlyStopping(patience: 2, minDelta: 1e-4f),
            CheckpointPath = options.Checkpoint + ".training",
            CheckpointEvery = options.CheckpointEvery,
            Resume = options.Resume,
            LogPath = options.Log,
            Progress = bars,
        });
        result = trainer.Fit(train, test);
    });
clock.Stop();
if (result.Resumed) AnsiConsole.MarkupLine("resumed from the last training checkpoint");
if (result.StoppedEarly) AnsiConsole.MarkupLine($"stopped early; the weights of epoch {result.BestEpoch + 1} are kept");

float accuracy = Accuracy(model, test);
model.Training = false;
AnsiConsole.MarkupLine($"test accuracy: [bold]{accuracy:P2}[/] after {optimizer.StepCount:N0} steps in {clock.Elapsed.TotalSeconds:F1} s; test loss {model.Evaluate(test.Features, test.Labels):F4}; log: {Markup.Escape(options.Log)}");

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

/// <summary>One progress bar per epoch, fed by the trainer (on the training thread).</summary>
internal sealed class EpochBars(ProgressContext context) : IProgress<TrainingProgress>
{
    private ProgressTask? _task;
    private int _epoch = -1;

    public void Report(TrainingProgress p)
    {
        if (p.Epoch != _epoch)
        {
            _epoch = p.Epoch;
            _task = context.AddTask($"epoch {p.Epoch + 1}", maxValue: p.BatchesPerEpoch);
        }
        if (p.ValidationLoss is float loss)
        {
            _task!.Description = string.Create(CultureInfo.InvariantCulture, $"epoch {p.Epoch + 1}  train {p.Loss:F4}  test {loss:F4}  accuracy {p.ValidationAccuracy:P1}");
            return;
        }
        _task!.Value = p.BatchInEpoch;
        if (p.BatchInEpoch % 20 == 0)
            _task.Description = string.Create(CultureInfo.InvariantCulture, $"epoch {p.Epoch + 1}  loss {p.Loss:F4}  lr {p.LearningRate:G3}  {p.SamplesPerSecond:N0} samples/s");
    }
}

internal sealed record Options(string? DataDirectory, int Epochs, float LearningRate, int Seed, string Checkpoint, int TrainSamples, int TestSamples, bool Resume, string Log,
    int CheckpointEvery = 0)
{
    public static Options? Parse(string[] args)
    {
        var o = new Options(null, 3, 1e-3f, 1, "mnist-mlp.safetensors", 12_000, 2_000, false, "mnist-log.csv");
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
                    case "--resume": o = o with { Resume = true }; break;
                    case "--checkpoint-every": o = o with { CheckpointEvery = int.Parse(Next(), CultureInfo.InvariantCulture) }; break;
                    case "--log": o = o with { Log = Next() }; break;
                    default: throw new ArgumentException($"unknown option {args[i]}");
                }
            }
            catch (Exception e) when (e is ArgumentException or FormatException)
            {
                Console.Error.WriteLine(e.Message);
                Console.Error.WriteLine("usage: Mnist [--data DIR] [--epochs N] [--lr X] [--seed N] [--checkpoint FILE] [--train-samples N] [--resume] [--checkpoint-every STEPS] [--log FILE]");
                return null;
            }
        }
        return o;
    }
}
