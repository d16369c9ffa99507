using System;
using System.Collections.Generic;

namespace Kiln;

/// <summary>A named tensor inside a flat buffer: its PyTorch-style name, its shape and where it lives.</summary>
public sealed class TensorSlice
{
    private readonly int[] _shape;

    public TensorSlice(string name, int[] shape, int offset)
    {
        Name = name;
        _shape = shape;
        Offset = offset;
        int length = 1;
        foreach (int d in shape) length = checked(length * d);
        Length = length;
    }

    /// <summary>PyTorch-style name, e.g. <c>Hidden1.weight</c>.</summary>
    public string Name { get; }

    /// <summary>Shape in PyTorch's layout, e.g. [out, in] for a Dense weight.</summary>
    public IReadOnlyList<int> Shape => _shape;

    /// <summary>Offset in floats from the start of the set.</summary>
    public int Offset { get; }

    /// <summary>Number of floats.</summary>
    public int Length { get; }

    public override string ToString() => $"{Name} [{string.Join(", ", _shape)}]";
}

/// <summary>
/// A contiguous float buffer carved into named tensors: a model's parameters, or its gradients (same names,
/// same layout). Optimizers run one pass over <see cref="Span"/>; checkpoints read and write by name.
/// </summary>
public sealed class ParameterSet
{
    private readonly AlignedBuffer _memory;
    private readonly int _offset;
    private readonly TensorSlice[] _slices;
    private readonly Dictionary<string, TensorSlice> _byName;

    public ParameterSet(AlignedBuffer memory, int offset, int count, TensorSlice[] slices)
    {
        _memory = memory;
        _offset = offset;
        Count = count;
        _slices = slices;
        _byName = new Dictionary<string, TensorSlice>(slices.Length, StringComparer.Ordinal);
        foreach (TensorSlice slice in slices)
        {
            if (slice.Offset < 0 || slice.Offset + slice.Length > count)
                throw new ArgumentException($"Tensor '{slice.Name}' lies outside the set of {count} values.", nameof(slices));
            _byName.Add(slice.Name, slice);
        }
    }

    /// <summary>Total number of floats.</summary>
    public int Count { get; }

    /// <summary>Every value, in the order of <see cref="Tensors"/>, to read or write. Each access counts as a possible
    /// write (<see cref="Version"/>); to only read, take <see cref="Values"/>.</summary>
    public Span<float> Span
    {
        get
        {
            Version++;
            return _memory.Slice(_offset, Count);
        }
    }

    /// <summary>Every value, read-only (does not change <see cref="Version"/>).</summary>
    public ReadOnlySpan<float> Values => _memory.Slice(_offset, Count);

    /// <summary>
    /// Changes whenever the values may have been written through this set: on every access to <see cref="Span"/> or to
    /// an indexer (an optimizer's step, a load, an initialization, or the caller's own writes all go through them).
    /// What is derived from the values and kept — a model's weights packed for inference (<c>PackWeights</c>) — is
    /// used only while the version is the one it was made at. A span taken earlier and written later is not seen:
    /// take it again.
    /// </summary>
    public long Version { get; private set; }

    /// <summary>The named tensors in declaration order.</summary>
    public IReadOnlyList<TensorSlice> Tensors => _slices;

    /// <summary>The values of one tensor by name, e.g. <c>model.Parameters["Hidden1.weight"]</c>.</summary>
    public Span<float> this[string name] => this[Find(name)];

    /// <summary>The values of one tensor.</summary>
    public Span<float> this[TensorSlice slice] => Span.Slice(slice.Offset, slice.Length);

    /// <summary>The values of one tensor, read-only (does not change <see cref="Version"/>).</summary>
    public ReadOnlySpan<float> Read(TensorSlice slice) => Values.Slice(slice.Offset, slice.Length);

    /// <summary>The tensor with that name.</summary>
    public TensorSlice Find(string name) =>
        _byName.TryGetValue(name, out TensorSlice? slice)
            ? slice
            : throw new KeyNotFoundException($"No tensor named '{name}'. The tensors are: {string.Join(", ", _byName.Keys)}.");

    /// <summary>Whether a tensor with that name exists.</summary>
    public bool TryFind(string name, out TensorSlice slice) => _byName.TryGetValue(name, out slice!);
}
