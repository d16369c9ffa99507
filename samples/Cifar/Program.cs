using System;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using Kiln;
using Kiln.Data;
using Kiln.Kernels;
using Kiln.Optimizers;
using Kiln.Samples.Cifar;
using Kiln.Training;
using Spectre.Console;

// Trains zoo model Z2 (a VGG-style CNN), or with --model the small ResNet or DenseNet, on CIFAR-10 when given
// --data DIR (the binary version: data_batch_1.bin … test_batch.bin), or on built-in procedurally drawn coloured
// shapes (10 classes) when not. SGD with Nesterov momentum and weight decay (or AdamW), warm-up then cosine, random crop with
// padding and horizontal flips (cutout with --cutout N), validation each epoch in evaluation mode (batch norm's
// running statistics), a training checkpoint each epoch that --resume continues from, a CSV log; then test
// accuracy per class, and the weights saved and reloaded.
var options = Options.Parse(args);
if (options is null) return 2;

Dataset train, test;
string source;
if (options.DataDirectory is { } directory)
{
    try
    {
        (train, test) = Cifar10.Load(directory);
        if (options.TrainSamples < train.Count) train = train.Slice(0, options.TrainSamples);
    }
    catch (IOException e) // DataFormatException, FileNotFoundException, DirectoryNotFoundException
    {
        Console.Error.WriteLine($"cannot read CIFAR-10 from '{directory}': {e.Message}");
        return 1;
    }
    source = $"CIFAR-10 from {directory}";
}
else
{
    train = SyntheticShapes.Generate(options.TrainSamples, seed: 1);
    test = SyntheticShapes.Generate(options.TestSamples, seed: 2);
    source = "built-in drawn shapes (pass --data DIR for CIFAR-10)";
}
string[] classNames = options.DataDirectory is null ? SyntheticShapes.Names : Cifar10.Names;

using ITrainable<float, int> model = Create(options.Model, options.Seed);
string summary = options.Model switch { "resnet" => CifarResNet.Summary, "densenet" => CifarDenseNet.Summary, _ => CifarCnn.Summary };
model.Threads = options.Threads;

AnsiConsole.MarkupLine($"[bold]Kiln[/] CIFAR {options.Model}: {train.Count:N0} training and {test.Count:N0} test samples, {Markup.Escape(source)}");
AnsiConsole.MarkupLine($"kernels: {KernelInfo.Describe(KernelInfo.Best)}, {options.Threads} thread(s)");
AnsiConsole.WriteLine(summary);

float learningRate = options.LearningRate ?? (options.Optimizer == "adam" ? 1e-3f : 0.05f);
using Optimizer optimizer = options.Optimizer == "adam"
    ? new AdamW(model.Parameters, lr: learningRate, weightDecay: 5e-4f)
    : new Sgd(model.Parameters, lr: learningRate, momentum: 0.9f, nesterov: true, weightDecay: 5e-4f);
int stepsPerEpoch = (train.Count + model.BatchSize - 1) / model.BatchSize;
var clock = Stopwatch.StartNew();
TrainingResult result = null!;
AnsiConsole.Progress()
    .AutoClear(false)
    .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
    .Start(context =>
    {
        var trainer = new Trainer<int>(model, optimizer, new TrainerOptions
        {
            Epochs = options.Epochs,
            Seed = options.Seed,
            Schedule = new WarmupCosineSchedule(learningRate, warmupSteps: Math.Min(100, stepsPerEpoch), totalSteps: Math.Max(stepsPerEpoch + 1, options.Epochs * stepsPerEpoch)),
            Augmentation = new ImageAugmentation(3, 32, 32, cropPadding: 4, horizontalFlip: true, cutoutSize: options.Cutout, seed: options.Seed),
            CheckpointPath = options.Checkpoint + ".training",
            Resume = options.Resume,
            LogPath = options.Log,
            Progress = new EpochBars(context),
        });
        result = trainer.Fit(train, test);
    });
clock.Stop();
if (result.Resumed) AnsiConsole.MarkupLine("resumed from the last training checkpoint");

model.Training = false;
var scores = new float[test.Count * 10];
model.Forward(test.Features, scores);
float accuracy = Metrics.Accuracy(scores, test.Labels, 10);
AnsiConsole.MarkupLine($"test accuracy: [bold]{accuracy:P2}[/] after {optimizer.StepCount:N0} steps in {clock.Elapsed.TotalSeconds:F1} s; test loss {model.Evaluate(test.Features, test.Labels):F4}; log: {Markup.Escape(options.Log)}");
var predicted = new int[test.Count];
Reductions.ArgMaxRows(scores, predicted, 10);
var table = new Table().AddColumn("class").AddColumn(new TableColumn("accuracy").RightAligned());
for (int c = 0; c < 10; c++)
{
    int seen = 0, right = 0;
    for (int i = 0; i < test.Count; i++)
    {
        if (test.Labels[i] != c) continue;
        seen++;
        if (predicted[i] == c) right++;
    }
    table.AddRow(classNames[c], seen == 0 ? "-" : ((float)right / seen).ToString("P1", CultureInfo.InvariantCulture));
}
AnsiConsole.Write(table);

model.Save(options.Checkpoint);
using (ITrainable<float, int> reloaded = Create(options.Model, seed: 12345))
{
    reloaded.Load(options.Checkpoint);
    reloaded.Training = false;
    var again = new float[scores.Length];
    reloaded.Forward(test.Features, again);
    AnsiConsole.MarkupLine($"checkpoint: {Markup.Escape(Path.GetFullPath(options.Checkpoint))} (reloaded: accuracy {Metrics.Accuracy(again, test.Labels, 10):P2})");
    if (!again.AsSpan().SequenceEqual(scores)) return 1;
}
return 0;

static ITrainable<float, int> Create(string model, int seed) => model switch
{
    "resnet" => new CifarResNet(seed),
    "densenet" => new CifarDenseNet(seed),
    _ => new CifarCnn(seed),
};

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
        if (p.BatchInEpoch % 10 == 0)
            _task.Description = string.Create(CultureInfo.InvariantCulture, $"epoch {p.Epoch + 1}  loss {p.Loss:F4}  lr {p.LearningRate:G3}  {p.SamplesPerSecond:N0} samples/s");
    }
}

internal sealed record Options(string? DataDirectory, string Model, string Optimizer, int Epochs, float? LearningRate, int Seed, string Checkpoint, int TrainSamples,
    int TestSamples, int Cutout, int Threads, bool Resume, string Log)
{
    public static Options? Parse(string[] args)
    {
        var o = new Options(null, "cnn", "adam", 4, null, 1, "cifar.safetensors", 10_000, 2_000, 0, Environment.ProcessorCount, false, "cifar-log.csv");
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            try
            {
                switch (args[i])
                {
                    case "--data": o = o with { DataDirectory = Next(), TrainSamples = int.MaxValue }; break;
                    case "--model":
                        string model = Next();
                        if (model is not ("cnn" or "resnet" or "densenet")) throw new ArgumentException($"--model is cnn, resnet or densenet, not '{model}'");
                        o = o with { Model = model };
                        break;
                    case "--optimizer":
                        string optimizer = Next();
                        if (optimizer is not ("sgd" or "adam")) throw new ArgumentException($"--optimizer is sgd or adam, not '{optimizer}'");
                        o = o with { Optimizer = optimizer };
                        break;
                    case "--epochs": o = o with { Epochs = int.Parse(Next(), CultureInfo.InvariantCulture) }; break;
                    case "--lr": o = o with { LearningRate = float.Parse(Next(), CultureInfo.InvariantCulture) }; break;
                    case "--seed": o = o with { Seed = int.Parse(Next(), CultureInfo.InvariantCulture) }; break;
                    case "--checkpoint": o = o with { Checkpoint = Next() }; break;
                    case "--train-samples": o = o with { TrainSamples = int.Parse(Next(), CultureInfo.InvariantCulture) }; break;
                    case "--cutout": o = o with { Cutout = int.Parse(Next(), CultureInfo.InvariantCulture) }; break;
                    case "--threads": o = o with { Threads = int.Parse(Next(), CultureInfo.InvariantCulture) }; break;
                    case "--resume": o = o with { Resume = true }; break;
                    case "--log": o = o with { Log = Next() }; break;
                    default: throw new ArgumentException($"unknown option {args[i]}");
                }
            }
            catch (Exception e) when (e is ArgumentException or FormatException)
            {
                Console.Error.WriteLine(e.Message);
                Console.Error.WriteLine("usage: Cifar [--data DIR] [--model cnn|resnet|densenet] [--optimizer sgd|adam] [--epochs N] [--lr X] [--seed N] [--checkpoint FILE] [--train-samples N] [--cutout N] [--threads N] [--resume] [--log FILE]");
                return null;
            }
        }
        return o;
    }
}
