using System;

namespace Kiln.Testing;

/// <summary>Measures what a piece of code allocates on the calling thread once it runs in a steady state.</summary>
internal static class Allocations
{
    /// <summary>
    /// The fewest bytes one round of <paramref name="body"/> allocated on this thread, over <paramref name="rounds"/>
    /// rounds. Code that allocates per call allocates in every round and shows here; a one-time allocation inside the
    /// runtime (CI once saw 7.7 KB in one round of threaded products, not reproducible in 6 runs of the suite since —
    /// most likely the runtime's lazy state behind the first contended wake of a kernel worker) shows in one round only
    /// and does not make a steady-state test flaky. Every round's count is kept in <paramref name="perRound"/> for the message.
    /// </summary>
    public static long SteadyState(Action body, out string perRound, int rounds = 3)
    {
        long fewest = long.MaxValue;
        var counts = new long[rounds];
        for (int r = 0; r < rounds; r++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            body();
            counts[r] = GC.GetAllocatedBytesForCurrentThread() - before;
            fewest = Math.Min(fewest, counts[r]);
        }
        perRound = string.Join(", ", counts);
        return fewest;
    }
}
