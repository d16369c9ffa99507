using System;
using System.Threading;

namespace Kiln.Kernels;

/// <summary>A unit of kernel work split into parts (part i of n runs on one thread).</summary>
public interface IParallelWork
{
    void Execute(int part, int parts);
}

/// <summary>
/// A small persistent pool for kernels: workers are started once and wait on an event (spinning briefly first),
/// the caller runs part 0 itself, and dispatch allocates nothing. One caller at a time: a second thread that
/// calls while the pool is busy runs its work alone rather than waiting.
/// </summary>
public static class KernelThreads
{
    private static readonly object s_gate = new();
    private static Worker[] s_workers = Array.Empty<Worker>();

    /// <summary>The most threads a kernel may use here (the logical processors).</summary>
    public static int MaxThreads => Environment.ProcessorCount;

    /// <summary>Runs <paramref name="work"/> in <paramref name="parts"/> parts and returns when all are done.</summary>
    public static void Run(IParallelWork work, int parts)
    {
        ArgumentNullException.ThrowIfNull(work);
        parts = Math.Clamp(parts, 1, MaxThreads);
        if (parts == 1 || !Monitor.TryEnter(s_gate))
        {
            for (int part = 0; part < parts; part++) work.Execute(part, parts);
            return;
        }
        try
        {
            if (s_workers.Length < parts - 1) Grow(parts - 1);
            for (int w = 0; w < parts - 1; w++) s_workers[w].Start(work, w + 1, parts);
            Exception? error = null;
            try { work.Execute(0, parts); }
            catch (Exception e) { error = e; }
            for (int w = 0; w < parts - 1; w++) error ??= s_workers[w].Wait();
            if (error is not null) throw new AggregateException("A kernel part failed.", error);
        }
        finally
        {
            Monitor.Exit(s_gate);
        }
    }

    private static void Grow(int count)
    {
        var workers = new Worker[count];
        Array.Copy(s_workers, workers, s_workers.Length);
        for (int i = s_workers.Length; i < count; i++) workers[i] = new Worker(i + 1);
        s_workers = workers;
    }

    /// <summary>How long an idle worker spins for the next part before it blocks: products in a training step come
    /// tens to hundreds of microseconds apart, and waking a blocked thread costs about as much as a small product.</summary>
    public static readonly TimeSpan SpinBeforeBlocking = TimeSpan.FromMicroseconds(200);

    private sealed class Worker
    {
        private static readonly long s_spinTicks = (long)(SpinBeforeBlocking.TotalSeconds * System.Diagnostics.Stopwatch.Frequency);

        private readonly ManualResetEventSlim _wake = new(false, spinCount: 0);
        private IParallelWork? _work;
        private int _part, _parts;
        private int _generation;   // bumped by Start; the worker runs each generation once
        private int _sleeping;     // 1 while the worker is (about to be) blocked on _wake
        private volatile bool _done = true;
        private Exception? _error;

        public Worker(int index)
        {
            var thread = new Thread(Loop) { IsBackground = true, Name = $"Kiln kernel worker {index}" };
            thread.Start();
        }

        public void Start(IParallelWork work, int part, int parts)
        {
            _work = work;
            _part = part;
            _parts = parts;
            _error = null;
            _done = false;
            // Full fences on both sides (Interlocked): either the worker sees the new generation before it blocks, or
            // this sees it sleeping and wakes it.
            Interlocked.Increment(ref _generation);
            if (Volatile.Read(ref _sleeping) == 1) _wake.Set();
        }

        public Exception? Wait()
        {
            var spinner = new SpinWait();
            while (!_done) spinner.SpinOnce(sleep1Threshold: -1);
            _work = null;
            return _error;
        }

        private void Loop()
        {
            int seen = 0;
            while (true)
            {
                long start = System.Diagnostics.Stopwatch.GetTimestamp();
                // SpinOnce yields the core now and then (another process's or pool's thread may want it), never sleeps.
                var spinner = new SpinWait();
                while (Volatile.Read(ref _generation) == seen)
                {
                    if (System.Diagnostics.Stopwatch.GetTimestamp() - start > s_spinTicks)
                    {
                        Interlocked.Exchange(ref _sleeping, 1);
                        if (Volatile.Read(ref _generation) == seen) _wake.Wait();
                        Interlocked.Exchange(ref _sleeping, 0);
                        _wake.Reset();
                        start = System.Diagnostics.Stopwatch.GetTimestamp();
                        spinner.Reset();
                    }
                    else
                    {
                        spinner.SpinOnce(sleep1Threshold: -1);
                    }
                }
                seen = Volatile.Read(ref _generation);
                try { _work!.Execute(_part, _parts); }
                catch (Exception e) { _error = e; }
                _done = true;
            }
        }
    }
}
