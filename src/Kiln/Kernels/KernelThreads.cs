using System;
using System.Threading;

namespace Kiln.Kernels;

/// <summary>A unit of kernel work split into parts (part i of n runs on one thread).</summary>
public interface IParallelWork
{
    void Execute(int part, int parts);
}

/// <summary>
/// A small persistent pool for kernels: workers are started once and wait on an event (spinning briefly first), and
/// dispatch allocates nothing. The parts of a call are claimed, not assigned: the caller and the workers each take the
/// next unclaimed part until none is left, and the caller waits only for parts a worker has taken. A worker that is
/// slow to wake (blocked past <see cref="SpinBeforeBlocking"/>, or its core taken by another process) therefore costs
/// the call nothing but its help: the caller runs the parts it has not claimed. (With parts assigned, the caller
/// waited for it: on the Zen 4 host a worker woken after 120 ms idle took up to a millisecond to start, and a 2-thread
/// 256³ product ran slower than on one thread.) One caller at a time: a second thread that calls while the pool is
/// busy runs its work alone rather than waiting.
/// </summary>
public static class KernelThreads
{
    private static readonly object s_gate = new();
    private static Worker[] s_workers = Array.Empty<Worker>();

    // The current call: its work, its part count, and a ticket (generation << 32 | next part) from which the parts are
    // claimed; a claim is valid only under the call's generation, so a worker that wakes late never takes a part of a
    // later call for the work of an earlier one. Parts claimed and not yet finished: s_unfinished.
    private static IParallelWork? s_work;
    private static int s_parts;
    private static long s_ticket;
    private static int s_unfinished;
    private static Exception? s_error;

    /// <summary>The most threads a kernel may use here (the logical processors).</summary>
    public static int MaxThreads => Environment.ProcessorCount;

    /// <summary>Runs <paramref name="work"/> in <paramref name="parts"/> parts and returns when all are done. Each part
    /// runs once, on this thread or on a worker.</summary>
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
            s_work = work;
            s_parts = parts;
            s_error = null;
            Volatile.Write(ref s_unfinished, parts);
            long generation = (Volatile.Read(ref s_ticket) >> 32) + 1;
            // Publishes the call (the fields above are written before, Interlocked is a full fence).
            Interlocked.Exchange(ref s_ticket, generation << 32);
            for (int w = 0; w < parts - 1; w++) s_workers[w].Wake();
            Claim(work, (int)generation, parts);
            var spinner = new SpinWait();
            while (Volatile.Read(ref s_unfinished) > 0) spinner.SpinOnce(sleep1Threshold: -1);
            // Closes the call: a worker that read this generation and not yet claimed finds nothing left, whatever the
            // part count of the next call (a worker started by Grow reads the previous generation's ticket).
            Interlocked.Exchange(ref s_ticket, generation << 32 | int.MaxValue);
            s_work = null;
            if (s_error is { } error) throw new AggregateException("A kernel part failed.", error);
        }
        finally
        {
            Monitor.Exit(s_gate);
        }
    }

    /// <summary>Takes and runs parts of call <paramref name="generation"/> until none is left (or the call is over).</summary>
    private static void Claim(IParallelWork work, int generation, int parts)
    {
        while (true)
        {
            long ticket = Volatile.Read(ref s_ticket);
            if ((int)(ticket >> 32) != generation || (int)ticket >= parts) return;
            if (Interlocked.CompareExchange(ref s_ticket, ticket + 1, ticket) != ticket) continue;
            try { work.Execute((int)ticket, parts); }
            catch (Exception e) { Interlocked.CompareExchange(ref s_error, e, null); }
            Interlocked.Decrement(ref s_unfinished);
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
        private int _sleeping;     // 1 while the worker is (about to be) blocked on _wake

        public Worker(int index)
        {
            var thread = new Thread(Loop) { IsBackground = true, Name = $"Kiln kernel worker {index}" };
            thread.Start();
        }

        /// <summary>After a call is published: wakes the worker if it has blocked (full fences on both sides: either it
        /// sees the new generation before it blocks, or this sees it sleeping).</summary>
        public void Wake()
        {
            if (Volatile.Read(ref _sleeping) == 1) _wake.Set();
        }

        private void Loop()
        {
            int seen = 0;
            while (true)
            {
                long start = System.Diagnostics.Stopwatch.GetTimestamp();
                // SpinOnce yields the core now and then (another process's or pool's thread may want it), never sleeps.
                var spinner = new SpinWait();
                while ((int)(Volatile.Read(ref s_ticket) >> 32) == seen)
                {
                    if (System.Diagnostics.Stopwatch.GetTimestamp() - start > s_spinTicks)
                    {
                        Interlocked.Exchange(ref _sleeping, 1);
                        if ((int)(Volatile.Read(ref s_ticket) >> 32) == seen) _wake.Wait();
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
                seen = (int)(Volatile.Read(ref s_ticket) >> 32);
                // The call's work and part count were written before its generation was published; if a later call has
                // replaced them meanwhile, Claim finds the generation moved on and takes nothing.
                IParallelWork? work = Volatile.Read(ref s_work);
                int parts = Volatile.Read(ref s_parts);
                if (work is not null) Claim(work, seen, parts);
            }
        }
    }
}
