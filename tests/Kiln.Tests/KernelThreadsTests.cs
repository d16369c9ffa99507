using System;
using System.Threading;
using Kiln.Kernels;
using Xunit;

namespace Kiln.Tests;

public class KernelThreadsTests
{
    private sealed class Recorder : IParallelWork
    {
        public int[] Runs = new int[KernelThreads.MaxThreads];
        public int ThrowOnPart = -1;

        public void Execute(int part, int parts)
        {
            Interlocked.Increment(ref Runs[part]);
            if (part == ThrowOnPart) throw new InvalidOperationException($"part {part} failed");
        }
    }

    [Fact]
    public void EveryPartRuns_WhetherTheWorkersAreSpinningOrHaveBlocked()
    {
        int parts = Math.Min(2, KernelThreads.MaxThreads);
        var work = new Recorder();
        for (int call = 0; call < 40; call++)
        {
            KernelThreads.Run(work, parts);
            // Alternate back-to-back calls (workers still spinning) with pauses far past the spin window (blocked).
            if (call % 4 == 3) Thread.Sleep(KernelThreads.SpinBeforeBlocking * 10);
        }
        for (int part = 0; part < parts; part++) Assert.Equal(40, work.Runs[part]);
    }

    /// <summary>Parts are claimed by whichever thread comes first (a worker that wakes late takes nothing of a later
    /// call): two callers racing for the pool, calls back to back and after pauses past the spin window, and every
    /// part of every call runs exactly once.</summary>
    [Fact]
    public void EveryPartRunsOnce_WithCallersRacingAndWorkersWakingLate()
    {
        int parts = Math.Min(2, KernelThreads.MaxThreads);
        var recorders = new[] { new Recorder(), new Recorder() };
        var callers = new Thread[2];
        for (int t = 0; t < 2; t++)
        {
            Recorder work = recorders[t];
            int seed = t;
            callers[t] = new Thread(() =>
            {
                var random = new Random(seed);
                for (int call = 0; call < 300; call++)
                {
                    KernelThreads.Run(work, parts);
                    if (random.Next(50) == 0) Thread.Sleep(KernelThreads.SpinBeforeBlocking * 2);
                }
            });
            callers[t].Start();
        }
        foreach (Thread caller in callers) caller.Join();
        foreach (Recorder work in recorders)
            for (int part = 0; part < parts; part++) Assert.Equal(300, work.Runs[part]);
    }

    [Fact]
    public void AFailingPart_IsRethrown_AndThePoolKeepsWorking()
    {
        int parts = Math.Min(2, KernelThreads.MaxThreads);
        var failing = new Recorder { ThrowOnPart = parts - 1 };
        var e = Assert.Throws<AggregateException>(() => KernelThreads.Run(failing, parts));
        Assert.Contains($"part {parts - 1} failed", e.InnerException!.Message);
        var work = new Recorder();
        KernelThreads.Run(work, parts);
        for (int part = 0; part < parts; part++) Assert.Equal(1, work.Runs[part]);
    }
}
