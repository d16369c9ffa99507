using System;
using System.Runtime.CompilerServices;

namespace Kiln.Kernels;

/// <summary>
/// One weight [outFeatures, inFeatures] as the packed GEMM engine reads it (<see cref="Gemm.Pack"/>, Nt form), packed
/// on <see cref="Isa"/>; <c>default</c> when there is none to use (<see cref="PackedWeights.For"/>).
/// </summary>
public readonly struct WeightPack
{
    private readonly float[]? _array;
    private readonly int _offset;
    private readonly int _length;

    internal WeightPack(float[] array, int offset, int length, KernelIsa isa, int outFeatures, int inFeatures)
    {
        _array = array;
        _offset = offset;
        _length = length;
        Isa = isa;
        OutFeatures = outFeatures;
        InFeatures = inFeatures;
    }

    /// <summary>The ISA whose panel width it was packed for.</summary>
    public KernelIsa Isa { get; }

    /// <summary>Rows of the weight (the product's columns).</summary>
    public int OutFeatures { get; }

    /// <summary>Columns of the weight (the product's depth).</summary>
    public int InFeatures { get; }

    /// <summary>The packed values.</summary>
    public ReadOnlySpan<float> Values => _array is null ? default : _array.AsSpan(_offset, _length);

    /// <summary>The memory it lies in (reused by the next pack of its slot).</summary>
    internal float[]? Array => _array;

    /// <summary>Whether this is a weight of that shape packed for <paramref name="isa"/>.</summary>
    public bool Fits(KernelIsa isa, int outFeatures, int inFeatures) =>
        _array is not null && Isa == isa && OutFeatures == outFeatures && InFeatures == inFeatures;
}

/// <summary>
/// A model's Dense weights packed once for inference — the generated <c>PackWeights</c>: each layer's forward product
/// then reads its weight as the GEMM's packed panels instead of transposing it into them on every call (what ONNX
/// Runtime does when a session is created; on the Zen 3 host the pack is a sixth of a (64, 256, 784) product's time).
/// The packs count while the parameters' <see cref="ParameterSet.Version"/> is the one they were sealed at: after any
/// change (a training step, a load, an initialization, a write through <see cref="ParameterSet.Span"/>) the products
/// pack per call again, as without them, until the model packs again.
/// </summary>
public sealed class PackedWeights
{
    private readonly WeightPack[] _packs;
    private ParameterSet? _parameters;
    private long _version;

    /// <summary>Room for <paramref name="count"/> weights (one per Dense layer), none packed yet.</summary>
    public PackedWeights(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        _packs = new WeightPack[count];
    }

    /// <summary>Weights it has room for.</summary>
    public int Count => _packs.Length;

    /// <summary>Whether the packs are in use: sealed, and the parameters unchanged since.</summary>
    public bool Current => _parameters is { } parameters && parameters.Version == _version;

    /// <summary>Packs <paramref name="weight"/> [outFeatures, inFeatures] into <paramref name="slot"/> on the machine's best
    /// ISA (64-byte aligned; the slot's memory is reused when large enough). Not in use until <see cref="Seal"/>.</summary>
    public void Pack(int slot, ReadOnlySpan<float> weight, int outFeatures, int inFeatures)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(slot);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(slot, _packs.Length);
        ArgumentOutOfRangeException.ThrowIfNegative(outFeatures);
        ArgumentOutOfRangeException.ThrowIfNegative(inFeatures);
        Guard.Length(weight.Length, outFeatures, inFeatures, nameof(weight));
        _parameters = null;
        KernelIsa isa = KernelInfo.Best;
        if (isa == KernelIsa.Portable || GemmDot.Pays(isa, GemmForm.Nt, 2, outFeatures, inFeatures))
        {
            // No product of this weight reaches the packed engine (a narrow head is read as dot products): nothing to keep.
            _packs[slot] = default;
            return;
        }
        int length = Gemm.PackedSize(isa, outFeatures, inFeatures);
        float[] array = _packs[slot].Array is { } kept && kept.Length >= length + 16 ? kept : GC.AllocateUninitializedArray<float>(length + 16, pinned: true);
        int offset = AlignedOffset(array);
        Gemm.Pack(isa, GemmForm.Nt, weight, outFeatures, inFeatures, array.AsSpan(offset, length));
        _packs[slot] = new WeightPack(array, offset, length, isa, outFeatures, inFeatures);
    }

    /// <summary>Puts the packs in use while <paramref name="parameters"/>' version stays what it is now.</summary>
    public void Seal(ParameterSet parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        _parameters = parameters;
        _version = parameters.Version;
    }

    /// <summary>Drops every pack and its memory.</summary>
    public void Release()
    {
        _parameters = null;
        System.Array.Clear(_packs);
    }

    /// <summary>The pack of <paramref name="slot"/> while <see cref="Current"/>, else <c>default</c> (the product packs per call).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public WeightPack For(int slot) => Current ? _packs[slot] : default;

    /// <summary>Floats from the array's start to its first 64-byte boundary (the array is pinned).</summary>
    private static unsafe int AlignedOffset(float[] array)
    {
        nint address = (nint)Unsafe.AsPointer(ref array[0]);
        return (int)((64 - (address & 63)) & 63) / sizeof(float);
    }
}
