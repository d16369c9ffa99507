using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Kiln.Kernels;

/// <summary>An element-wise function of one value, written once against <see cref="ISimd{TVec}"/>.</summary>
public interface IUnaryOperator
{
    TVec Invoke<TVec, TSimd>(TVec x) where TVec : struct where TSimd : ISimd<TVec>;
}

/// <summary>
/// A unary operator too long to apply while a GEMM tile is in registers (a transcendental: sigmoid, tanh, GELU): with
/// the 24 accumulators live its temporaries and constants spill. A fused epilogue stores such a tile first and then
/// applies the operator to it from L1, a row at a time (measured at Z5's feed-forward shape: exact GELU in registers
/// doubled the product's time).
/// </summary>
public interface ITileOperator : IUnaryOperator;

/// <summary>An element-wise function of two values (e.g. a saved activation and an upstream gradient).</summary>
public interface IBinaryOperator
{
    TVec Invoke<TVec, TSimd>(TVec x, TVec y) where TVec : struct where TSimd : ISimd<TVec>;
}

/// <summary>
/// Drivers that apply an operator struct over spans: whole vectors of the chosen ISA, then the tail one value
/// at a time through the same operator on <see cref="SimdScalar"/>. The ISA is chosen once per call, outside
/// the loop.
/// </summary>
public static class ElementWise
{
    /// <summary>y[i] = op(x[i]). <paramref name="x"/> and <paramref name="y"/> may be the same span.</summary>
    public static void Map<TOp>(KernelIsa isa, TOp op, ReadOnlySpan<float> x, Span<float> y) where TOp : struct, IUnaryOperator
    {
        if (y.Length != x.Length) ThrowLength(x.Length, y.Length);
        ref float rx = ref MemoryMarshal.GetReference(x);
        ref float ry = ref MemoryMarshal.GetReference(y);
        int i = isa switch
        {
            KernelIsa.Avx512 => MapVectors<TOp, Vector512<float>, Simd512>(op, ref rx, ref ry, x.Length),
            KernelIsa.Avx2 => MapVectors<TOp, Vector256<float>, Simd256>(op, ref rx, ref ry, x.Length),
            _ => 0,
        };
        for (; i < x.Length; i++)
            Unsafe.Add(ref ry, i) = op.Invoke<float, SimdScalar>(Unsafe.Add(ref rx, i));
    }

    /// <summary>z[i] = op(x[i], y[i]), or z[i] += op(x[i], y[i]) when <paramref name="accumulate"/>.</summary>
    public static void Zip<TOp>(KernelIsa isa, TOp op, ReadOnlySpan<float> x, ReadOnlySpan<float> y, Span<float> z, bool accumulate)
        where TOp : struct, IBinaryOperator
    {
        if (y.Length != x.Length) ThrowLength(x.Length, y.Length);
        if (z.Length != x.Length) ThrowLength(x.Length, z.Length);
        ref float rx = ref MemoryMarshal.GetReference(x);
        ref float ry = ref MemoryMarshal.GetReference(y);
        ref float rz = ref MemoryMarshal.GetReference(z);
        int i = isa switch
        {
            KernelIsa.Avx512 => ZipVectors<TOp, Vector512<float>, Simd512>(op, ref rx, ref ry, ref rz, x.Length, accumulate),
            KernelIsa.Avx2 => ZipVectors<TOp, Vector256<float>, Simd256>(op, ref rx, ref ry, ref rz, x.Length, accumulate),
            _ => 0,
        };
        for (; i < x.Length; i++)
        {
            float v = op.Invoke<float, SimdScalar>(Unsafe.Add(ref rx, i), Unsafe.Add(ref ry, i));
            ref float d = ref Unsafe.Add(ref rz, i);
            d = accumulate ? d + v : v;
        }
    }

    // The vector loops are compiled on their own, fully optimized from the first call, and never inlined into a caller:
    // inlined into a large method, the JIT's inlining budget can run out before the op's Invoke, which is then called
    // once per vector (the optimizers' update loop measured 6× slower so, see UpdateDriver).
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static int MapVectors<TOp, TVec, TSimd>(TOp op, ref float x, ref float y, int n)
        where TOp : struct, IUnaryOperator where TVec : struct where TSimd : ISimd<TVec>
    {
        int w = TSimd.Count;
        int i = 0;
        for (; i + 2 * w <= n; i += 2 * w)
        {
            TVec v0 = op.Invoke<TVec, TSimd>(TSimd.Load(ref Unsafe.Add(ref x, i)));
            TVec v1 = op.Invoke<TVec, TSimd>(TSimd.Load(ref Unsafe.Add(ref x, i + w)));
            TSimd.Store(v0, ref Unsafe.Add(ref y, i));
            TSimd.Store(v1, ref Unsafe.Add(ref y, i + w));
        }
        for (; i + w <= n; i += w)
            TSimd.Store(op.Invoke<TVec, TSimd>(TSimd.Load(ref Unsafe.Add(ref x, i))), ref Unsafe.Add(ref y, i));
        return i;
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static int ZipVectors<TOp, TVec, TSimd>(TOp op, ref float x, ref float y, ref float z, int n, bool accumulate)
        where TOp : struct, IBinaryOperator where TVec : struct where TSimd : ISimd<TVec>
    {
        int w = TSimd.Count;
        int i = 0;
        for (; i + w <= n; i += w)
        {
            TVec v = op.Invoke<TVec, TSimd>(TSimd.Load(ref Unsafe.Add(ref x, i)), TSimd.Load(ref Unsafe.Add(ref y, i)));
            ref float d = ref Unsafe.Add(ref z, i);
            if (accumulate) v = TSimd.Add(v, TSimd.Load(ref d));
            TSimd.Store(v, ref d);
        }
        return i;
    }

    private static void ThrowLength(int expected, int actual) =>
        throw new ArgumentException($"Span lengths differ: expected {expected} values, got {actual}.");
}
