using System;
using System.Runtime.InteropServices;

namespace Kiln;

/// <summary>
/// A zero-initialised block of native memory aligned to 64 bytes (one cache line, one Vector512), owned by one
/// model or optimizer instance. The memory never moves, so spans over it can be handed to kernels freely.
/// </summary>
public sealed unsafe class AlignedBuffer : IDisposable
{
    /// <summary>The alignment in bytes of the buffer and of every slice the planner hands out.</summary>
    public const int Alignment = 64;

    private float* _pointer;

    /// <param name="length">Number of floats.</param>
    public AlignedBuffer(long length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        if (length > int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(length), length, "An arena holds at most int.MaxValue floats.");
        Length = (int)length;
        nuint bytes = (nuint)Math.Max(1, length) * sizeof(float);
        _pointer = (float*)NativeMemory.AlignedAlloc(bytes, Alignment);
        NativeMemory.Clear(_pointer, bytes);
    }

    /// <summary>Number of floats.</summary>
    public int Length { get; }

    /// <summary>The whole buffer.</summary>
    public Span<float> Span
    {
        get
        {
            ObjectDisposedException.ThrowIf(_pointer == null, this);
            return new Span<float>(_pointer, Length);
        }
    }

    /// <summary>A slice of the buffer.</summary>
    public Span<float> Slice(int offset, int length) => Span.Slice(offset, length);

    public void Dispose()
    {
        FreeMemory();
        GC.SuppressFinalize(this);
    }

    ~AlignedBuffer() => FreeMemory();

    private void FreeMemory()
    {
        if (_pointer != null)
        {
            NativeMemory.AlignedFree(_pointer);
            _pointer = null;
        }
    }
}
