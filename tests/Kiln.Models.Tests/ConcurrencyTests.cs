using System;
using System.Linq;
using System.Threading;
using Kiln.Data;
using Kiln.Optimizers;
using Kiln.Samples.Mnist;
using Xunit;

namespace Kiln.Models.Tests;

/// <summary>Instances are independent; one instance used from two threads at once is detected, not silently corrupted.</summary>
public class ConcurrencyTests
{
    private static readonly Dataset Data = SyntheticDigits.Generate(4 * MnistMlp.Batch, seed: 8);

    private static float[] Train(int seed, int threads)
    {
        using var model = new MnistMlp(seed) { Threads = threads };
        using var adam = new AdamW(model.Parameters, lr: 1e-3f);
        var losses = new float[12];
        for (int i = 0; i < losses.Length; i++)
        {
            int start = i % 4 * MnistMlp.Batch;
            losses[i] = model.TrainStep(Data.Features.AsSpan(start * MnistMlp.InputSize, MnistMlp.Batch * MnistMlp.InputSize),
                Data.Labels.AsSpan(start, MnistMlp.Batch), adam);
        }
        return losses.Concat(model.Parameters.Span.ToArray()).ToArray();
    }

    /// <summary>Two instances training at once on two threads (each also splitting its products across the shared kernel
    /// workers) end bit-identical to the same runs made alone, one after the other.</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void TwoInstancesOnTwoThreads_GiveTheSameResultsAsAlone(int kernelThreads)
    {
        float[] aloneA = Train(1, kernelThreads), aloneB = Train(2, kernelThreads);
        for (int round = 0; round < 3; round++)
        {
            using var start = new Barrier(2);
            float[]? a = null, b = null;
            var threadA = new Thread(() => { start.SignalAndWait(); a = Train(1, kernelThreads); });
            var threadB = new Thread(() => { start.SignalAndWait(); b = Train(2, kernelThreads); });
            threadA.Start();
            threadB.Start();
            threadA.Join();
            threadB.Join();
            Assert.Equal(aloneA.Select(BitConverter.SingleToInt32Bits), a!.Select(BitConverter.SingleToInt32Bits));
            Assert.Equal(aloneB.Select(BitConverter.SingleToInt32Bits), b!.Select(BitConverter.SingleToInt32Bits));
        }
    }

    /// <summary>While one thread is inside a call, a call from a second thread on the same instance throws a
    /// ConcurrentUseException naming both calls; the first call is unaffected and the instance works afterwards.</summary>
    [Fact]
    public void OneInstanceFromTwoThreads_IsDetected()
    {
        using var model = new MnistMlp(seed: 3);
        using var sgd = new Sgd(model.Parameters, lr: 0.01f);
        var x = Data.Features.AsSpan(0, MnistMlp.Batch * MnistMlp.InputSize).ToArray();
        var y = Data.Labels.AsSpan(0, MnistMlp.Batch).ToArray();

        // One thread runs a long forward pass (400 batches) and retries if the other got in first; this thread calls TrainStep
        // until a call overlaps it.
        var many = Enumerable.Repeat(x, 400).SelectMany(v => v).ToArray();
        var logits = new float[400 * MnistMlp.Batch * MnistMlp.OutputSize];
        ConcurrentUseException? seen = null;
        using var go = new ManualResetEventSlim();
        bool done = false;
        var first = new Thread(() =>
        {
            go.Set();
            while (true)
            {
                try { model.Forward(many, logits); Volatile.Write(ref done, true); return; }
                catch (ConcurrentUseException) { } // this thread's TrainStep got in first: try again
            }
        });
        first.Start();
        go.Wait();
        while (!Volatile.Read(ref done) && seen is null)
        {
            try
            {
                model.TrainStep(x, y, sgd);
            }
            catch (ConcurrentUseException e)
            {
                seen = e;
            }
        }
        first.Join(); // the forward pass completes normally
        Assert.NotNull(seen);
        Assert.Contains("MnistMlp.TrainStep was called on thread", seen!.Message, StringComparison.Ordinal);
        Assert.Contains("MnistMlp.Forward is still running", seen.Message, StringComparison.Ordinal);
        Assert.Contains("not thread-safe", seen.Message, StringComparison.Ordinal);

        // Released afterwards: the instance trains on, and its gradients are those of a fresh run from the same parameters.
        using var copy = new MnistMlp(seed: 3);
        model.Parameters.Span.CopyTo(copy.Parameters.Span);
        Assert.Equal(copy.ComputeGradients(x, y), model.ComputeGradients(x, y));
        Assert.Equal(copy.Gradients.Span.ToArray(), model.Gradients.Span.ToArray());
    }

    /// <summary>Nested calls on one thread (TrainStep calls ComputeGradients; a Trainer calls the model's methods) pass.</summary>
    [Fact]
    public void NestedCallsOnOneThread_Pass()
    {
        using var model = new MnistMlp(seed: 3);
        using var sgd = new Sgd(model.Parameters, lr: 0.01f);
        float loss = model.TrainStep(Data.Features.AsSpan(0, MnistMlp.Batch * MnistMlp.InputSize), Data.Labels.AsSpan(0, MnistMlp.Batch), sgd);
        Assert.True(float.IsFinite(loss));
        // And the instance is released after an exception inside a call.
        Assert.Throws<ArgumentException>(() => model.ComputeGradients(new float[3], new int[1]));
        Assert.True(float.IsFinite(model.TrainStep(Data.Features.AsSpan(0, MnistMlp.Batch * MnistMlp.InputSize), Data.Labels.AsSpan(0, MnistMlp.Batch), sgd)));
    }
}
