using System;
using System.Threading;

namespace Kiln;

/// <summary>
/// Thrown when one model (or decoder) instance is called from a second thread while a call on another thread is still
/// running. An instance owns one workspace that every pass writes, so two overlapping calls would silently corrupt each
/// other's activations and gradients; instances are independent of each other, so use one per thread.
/// </summary>
public sealed class ConcurrentUseException(string message) : InvalidOperationException(message);

/// <summary>
/// Detects overlapping calls on one instance: every public entry point of a generated model takes the instance for the
/// duration of the call (one compare-and-swap on entry, one store on exit; nested calls on the same thread, such as
/// TrainStep calling ComputeGradients, pass through) and a call from another thread in the meantime throws a
/// <see cref="ConcurrentUseException"/> instead of running.
/// </summary>
public sealed class InstanceGuard(string type)
{
    private int _owner; // managed thread id of the call in progress, 0 when idle
    private string _method = "";

    /// <summary>Takes the instance for <paramref name="method"/> until the returned scope is disposed.</summary>
    public Scope Enter(string method)
    {
        int me = Environment.CurrentManagedThreadId;
        int owner = Interlocked.CompareExchange(ref _owner, me, 0);
        if (owner == 0)
        {
            _method = method;
            return new Scope(this);
        }
        if (owner == me) return default; // a nested call on the thread that holds it
        throw new ConcurrentUseException(
            $"{type}.{method} was called on thread {me} while {type}.{Volatile.Read(ref _method)} is still running on thread {owner} with the same instance. " +
            $"A {type} instance is not thread-safe (every pass writes its one workspace): give each thread its own instance (instances are independent), or serialize the calls.");
    }

    /// <summary>Whether a call is in progress.</summary>
    public bool IsBusy => Volatile.Read(ref _owner) != 0;

    /// <summary>Releases the instance when the call that took it ends (nothing for a nested call).</summary>
    public readonly struct Scope : IDisposable
    {
        private readonly InstanceGuard? _guard;

        internal Scope(InstanceGuard guard) => _guard = guard;

        public void Dispose()
        {
            if (_guard is not null) Volatile.Write(ref _guard._owner, 0);
        }
    }
}
