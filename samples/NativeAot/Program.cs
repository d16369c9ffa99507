using System;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using Kiln;
using Kiln.Data;
using Kiln.Kernels;
using Kiln.Optimizers;
using Kiln.Samples.Mnist;

// Trains zoo model Z1 on built-in digits and prints results that a JIT build of the same program must match
// bit for bit: every 25th loss as its IEEE bits, a digest of all losses and of the final weights, the accuracy.
int steps = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 300;
Console.WriteLine($"mode: {(RuntimeFeature.IsDynamicCodeSupported ? "JIT" : "NativeAOT")}");
Console.WriteLine($"kernels: {KernelInfo.Describe(KernelInfo.Best)}");

Dataset train = SyntheticDigits.Generate(4000, seed: 1);
Dataset test = SyntheticDigits.Generate(1000, seed: 2);
using var model = new MnistMlp(seed: 1);
using var adam = new Adam(model.Parameters, lr: 1e-3f);
var random = new KilnRandom(1);
var order = new int[train.Count];
for (int i = 0; i < order.Length; i++) order[i] = i;
var x = new float[MnistMlp.Batch * MnistMlp.InputSize];
var y = new int[MnistMlp.Batch];
int perEpoch = train.Count / MnistMlp.Batch;
ulong lossDigest = 14695981039346656037UL;
var clock = Stopwatch.StartNew();
for (int step = 0; step < steps; step++)
{
    if (step % perEpoch == 0) random.Shuffle(order);
    train.Gather(order.AsSpan(step % perEpoch * MnistMlp.Batch, MnistMlp.Batch), x, y);
    float loss = model.TrainStep(x, y, adam);
    lossDigest = (lossDigest ^ (uint)BitConverter.SingleToInt32Bits(loss)) * 1099511628211UL;
    if (step % 25 == 0) Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"step {step,4}: loss {loss:F6} (bits {BitConverter.SingleToInt32Bits(loss):X8})"));
}
clock.Stop();

ulong weightDigest = 14695981039346656037UL;
foreach (float w in model.Parameters.Span) weightDigest = (weightDigest ^ (uint)BitConverter.SingleToInt32Bits(w)) * 1099511628211UL;
var predicted = new int[test.Count];
model.Predict(test.Features, predicted);
int correct = 0;
for (int i = 0; i < predicted.Length; i++) if (predicted[i] == test.Labels[i]) correct++;
Console.WriteLine($"loss digest: {lossDigest:X16}");
Console.WriteLine($"weight digest: {weightDigest:X16}");
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"test accuracy: {100.0 * correct / test.Count:F2}%"));
Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{steps} steps in {clock.Elapsed.TotalSeconds:F2} s ({steps * MnistMlp.Batch / clock.Elapsed.TotalSeconds:N0} samples/s)"));
return 0;
