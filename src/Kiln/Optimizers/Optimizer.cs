using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Kiln.Kernels;

namespace Kiln.Optimizers;

/// <summary>
/// Updates a model's parameters from its gradients in one fused pass over the flat buffers. Every optimizer follows
/// the update formula PyTorch documents for its namesake, so results can be compared. State (moments, momentum,
/// accumulators) lives in aligned buffers the size of the parameter set, named like PyTorch's state entries, and is
/// what a checkpoint saves for an exact resume (<see cref="State(int)"/>, <see cref="StepCount"/>).
/// <para>
/// Per-node options, as PyTorch's parameter groups: <see cref="Freeze"/> leaves a node's parameters (and their
/// state) untouched — transfer learning: load pretrained weights, freeze the early nodes, train the head — and
/// <see cref="SetLearningRate"/> gives a node its own rate, kept as a ratio to <see cref="LearningRate"/> so that a
/// schedule moves it along.
/// </para>
/// </summary>
public abstract class Optimizer : IDisposable
{
    private readonly ParameterSet _parameters;
    private readonly AlignedBuffer? _state;
    private readonly string[] _stateNames;
    private readonly float[] _scale;       // per tensor: learning-rate ratio; 0 frozen
    private readonly bool[] _frozen;
    private (int Offset, int Length, float Scale)[] _ranges;

    protected Optimizer(ParameterSet parameters, float learningRate, params string[] stateNames)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        CheckRate(learningRate, nameof(learningRate));
        _parameters = parameters;
        ParameterCount = parameters.Count;
        LearningRate = learningRate;
        _stateNames = stateNames;
        if (stateNames.Length > 0) _state = new AlignedBuffer((long)stateNames.Length * parameters.Count);
        _scale = new float[parameters.Tensors.Count];
        _frozen = new bool[parameters.Tensors.Count];
        Array.Fill(_scale, 1f);
        _ranges = BuildRanges();
    }

    /// <summary>The number of parameters this optimizer updates.</summary>
    public int ParameterCount { get; }

    /// <summary>The learning rate of the next step (a schedule sets it).</summary>
    public float LearningRate { get; set; }

    /// <summary>Steps taken so far (restored with the state for an exact resume).</summary>
    public long StepCount { get; set; }

    /// <summary>The names of the per-parameter state buffers (PyTorch's: <c>exp_avg</c>, <c>momentum_buffer</c>, …).</summary>
    public IReadOnlyList<string> StateNames => _stateNames;

    /// <summary>One state buffer, laid out as the parameters.</summary>
    public Span<float> State(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, _stateNames.Length);
        return _state!.Span.Slice(index * ParameterCount, ParameterCount);
    }

    /// <summary>One state buffer by name.</summary>
    public Span<float> State(string name)
    {
        int index = Array.IndexOf(_stateNames, name);
        if (index < 0) throw new ArgumentException($"{GetType().Name} has no state '{name}'; it has: {string.Join(", ", _stateNames)}.", nameof(name));
        return State(index);
    }

    /// <summary>Stops updating every parameter of <paramref name="node"/> (its bytes and state stay as they are).</summary>
    public void Freeze(string node) => SetFrozen(node, true);

    /// <summary>Resumes updating <paramref name="node"/>.</summary>
    public void Unfreeze(string node) => SetFrozen(node, false);

    /// <summary>Whether every parameter of <paramref name="node"/> is frozen.</summary>
    public bool IsFrozen(string node)
    {
        bool any = false, all = true;
        foreach (int i in TensorsOf(node)) { any = true; all &= _frozen[i]; }
        return any && all;
    }

    /// <summary>Gives <paramref name="node"/> its own learning rate, kept as a ratio to <see cref="LearningRate"/>: with
    /// the base at 1e−3, 1e−4 here means a tenth of the base, now and as a schedule changes it.</summary>
    public void SetLearningRate(string node, float learningRate)
    {
        CheckRate(learningRate, nameof(learningRate));
        if (!(LearningRate > 0f)) throw new InvalidOperationException("A node's learning rate is kept as a ratio to the base rate, which is 0.");
        foreach (int i in TensorsOf(node)) _scale[i] = learningRate / LearningRate;
        _ranges = BuildRanges();
    }

    /// <summary>Applies one update to every parameter that is not frozen.</summary>
    public void Step(Span<float> parameters, ReadOnlySpan<float> gradients)
    {
        Guard.Length(parameters.Length, ParameterCount, 1, nameof(parameters));
        Guard.Length(gradients.Length, ParameterCount, 1, nameof(gradients));
        StepCount++;
        foreach (var (offset, length, scale) in _ranges)
            Update(parameters.Slice(offset, length), gradients.Slice(offset, length), offset, LearningRate * scale, StepCount);
    }

    /// <summary>
    /// The update rule over one contiguous range of parameters that share options: <paramref name="offset"/> places
    /// the range in the state buffers (<see cref="StateRange"/>); <paramref name="learningRate"/> is the range's rate;
    /// <paramref name="step"/> counts from 1.
    /// </summary>
    protected abstract void Update(Span<float> parameters, ReadOnlySpan<float> gradients, int offset, float learningRate, long step);

    /// <summary>The part of state buffer <paramref name="index"/> that belongs to a range.</summary>
    protected Span<float> StateRange(int index, int offset, int length) => State(index).Slice(offset, length);

    public virtual void Dispose()
    {
        _state?.Dispose();
        GC.SuppressFinalize(this);
    }

    protected static void CheckRate(float value, string name)
    {
        if (!(value >= 0f) || float.IsInfinity(value))
            throw new ArgumentOutOfRangeException(name, value, "The learning rate must be a finite number ≥ 0.");
    }

    protected static void CheckUnit(float value, string name, string what)
    {
        if (!(value >= 0f && value < 1f)) throw new ArgumentOutOfRangeException(name, value, $"{what} must lie in [0, 1).");
    }

    protected static void CheckNonNegative(float value, string name, string what)
    {
        if (!(value >= 0f) || float.IsInfinity(value)) throw new ArgumentOutOfRangeException(name, value, $"{what} must be a finite number ≥ 0.");
    }

    private void SetFrozen(string node, bool frozen)
    {
        foreach (int i in TensorsOf(node)) _frozen[i] = frozen;
        _ranges = BuildRanges();
    }

    /// <summary>The tensors of a node: those named "<paramref name="node"/>.…" (PyTorch's prefix), or exactly it.</summary>
    private List<int> TensorsOf(string node)
    {
        ArgumentException.ThrowIfNullOrEmpty(node);
        var found = new List<int>();
        for (int i = 0; i < _parameters.Tensors.Count; i++)
        {
            string name = _parameters.Tensors[i].Name;
            if (name == node || (name.Length > node.Length && name.StartsWith(node, StringComparison.Ordinal) && name[node.Length] == '.'))
                found.Add(i);
        }
        if (found.Count == 0)
        {
            var names = new List<string>();
            foreach (TensorSlice t in _parameters.Tensors) names.Add(t.Name);
            throw new ArgumentException($"No parameters belong to '{node}'; the parameters are: {string.Join(", ", names)}.", nameof(node));
        }
        return found;
    }

    /// <summary>Contiguous ranges of tensors with the same options; each tensor's range runs to the next tensor's
    /// offset (the alignment padding goes with it: zero, and it stays zero). Frozen tensors are left out.</summary>
    private (int, int, float)[] BuildRanges()
    {
        var order = new List<int>();
        for (int i = 0; i < _parameters.Tensors.Count; i++) order.Add(i);
        order.Sort((a, b) => _parameters.Tensors[a].Offset.CompareTo(_parameters.Tensors[b].Offset));
        var ranges = new List<(int Offset, int Length, float Scale)>();
        for (int k = 0; k < order.Count; k++)
        {
            int i = order[k];
            int begin = k == 0 ? 0 : _parameters.Tensors[i].Offset;
            int end = k + 1 < order.Count ? _parameters.Tensors[order[k + 1]].Offset : ParameterCount;
            if (_frozen[i]) continue;
            if (ranges.Count > 0 && ranges[^1].Offset + ranges[^1].Length == begin && ranges[^1].Scale == _scale[i])
                ranges[^1] = (ranges[^1].Offset, ranges[^1].Length + (end - begin), _scale[i]);
            else
                ranges.Add((begin, end - begin, _scale[i]));
        }
        if (order.Count == 0 && ParameterCount > 0) ranges.Add((0, ParameterCount, 1f));
        return ranges.ToArray();
    }
}

/// <summary>An element-wise update written once over <see cref="ISimd{TVec}"/>: parameter, gradient and up to three
/// state values per element. Implementations mark <see cref="Invoke"/> (and a computed <see cref="States"/>)
/// AggressiveInlining: left to the JIT, Adam's was not inlined, and the call passed five vectors through memory for
/// every 16 parameters — the Zen 4 host's Adam step over Z1's 235,146 parameters took 464 µs, 76 µs inlined (momentum
/// SGD 357 → 31, RMSprop 500 → 68, Adagrad 486 → 67, Adadelta 550 → 113).</summary>
internal interface IUpdateOp
{
    /// <summary>How many state buffers the op reads and writes (0–3): the others are neither loaded nor stored.</summary>
    static abstract int States { get; }

    void Invoke<TVec, TSimd>(ref TVec p, TVec g, ref TVec s0, ref TVec s1, ref TVec s2) where TVec : struct where TSimd : ISimd<TVec>;
}

/// <summary>Runs an <see cref="IUpdateOp"/> over a range: the widest vectors the machine has, then one at a time.</summary>
internal static class UpdateDriver
{
    public static void Run<TOp>(TOp op, Span<float> parameters, ReadOnlySpan<float> gradients, Span<float> s0, Span<float> s1, Span<float> s2)
        where TOp : struct, IUpdateOp
    {
        int n = parameters.Length;
        ref float p = ref MemoryMarshal.GetReference(parameters);
        ref float g = ref MemoryMarshal.GetReference(gradients);
        // Unused state spans are empty: point them at the parameters (an op with fewer states never touches them).
        ref float a = ref s0.IsEmpty ? ref p : ref MemoryMarshal.GetReference(s0);
        ref float b = ref s1.IsEmpty ? ref p : ref MemoryMarshal.GetReference(s1);
        ref float c = ref s2.IsEmpty ? ref p : ref MemoryMarshal.GetReference(s2);
        int i = KernelInfo.Best switch
        {
            KernelIsa.Avx512 => Loop<TOp, Vector512<float>, Simd512>(op, ref p, ref g, ref a, ref b, ref c, 0, n),
            KernelIsa.Avx2 => Loop<TOp, Vector256<float>, Simd256>(op, ref p, ref g, ref a, ref b, ref c, 0, n),
            _ => 0,
        };
        Loop<TOp, float, SimdScalar>(op, ref p, ref g, ref a, ref b, ref c, i, n);
    }

    // Never inlined into its caller: inlined into a large method (a benchmark's, a training step's) at tier 1, the JIT's
    // inlining budget ran out before the op's Invoke, which then was called once per vector (Adam 6× slower until the
    // caller was compiled again). Compiled on its own, the loop always gets the op inlined.
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static int Loop<TOp, TVec, TSimd>(TOp op, ref float p, ref float g, ref float a, ref float b, ref float c, int start, int n)
        where TOp : struct, IUpdateOp where TVec : struct where TSimd : ISimd<TVec>
    {
        int w = TSimd.Count, i = start;
        for (; i + w <= n; i += w)
        {
            TVec pv = TSimd.Load(ref Unsafe.Add(ref p, i));
            TVec av = TOp.States > 0 ? TSimd.Load(ref Unsafe.Add(ref a, i)) : default;
            TVec bv = TOp.States > 1 ? TSimd.Load(ref Unsafe.Add(ref b, i)) : default;
            TVec cv = TOp.States > 2 ? TSimd.Load(ref Unsafe.Add(ref c, i)) : default;
            op.Invoke<TVec, TSimd>(ref pv, TSimd.Load(ref Unsafe.Add(ref g, i)), ref av, ref bv, ref cv);
            if (TOp.States > 0) TSimd.Store(av, ref Unsafe.Add(ref a, i));
            if (TOp.States > 1) TSimd.Store(bv, ref Unsafe.Add(ref b, i));
            if (TOp.States > 2) TSimd.Store(cv, ref Unsafe.Add(ref c, i));
            TSimd.Store(pv, ref Unsafe.Add(ref p, i));
        }
        return i;
    }
}
