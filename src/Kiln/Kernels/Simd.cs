using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Kiln.Kernels;

/// <summary>The instruction-set variants every hot kernel has.</summary>
public enum KernelIsa
{
    /// <summary>Scalar code, any machine.</summary>
    Portable = 0,
    /// <summary>Vector256 with FMA (AVX2).</summary>
    Avx2 = 1,
    /// <summary>Vector512 (AVX-512F).</summary>
    Avx512 = 2,
}

/// <summary>Which variant the kernels run, chosen once at start-up (not inside loops: under NativeAOT
/// <c>IsHardwareAccelerated</c> is not a constant).</summary>
public static class KernelInfo
{
    /// <summary>The best variant this machine supports; the one every kernel uses by default.</summary>
    public static readonly KernelIsa Best = Supported[^1];

    /// <summary>Every variant this machine supports, from portable to best: tests run them all.</summary>
    public static KernelIsa[] Supported
    {
        get
        {
            var list = new List<KernelIsa> { KernelIsa.Portable };
            if (Vector256.IsHardwareAccelerated && Avx2.IsSupported && Fma.IsSupported) list.Add(KernelIsa.Avx2);
            if (Vector512.IsHardwareAccelerated && Avx512F.IsSupported) list.Add(KernelIsa.Avx512);
            return list.ToArray();
        }
    }

    /// <summary>A one-line description of the active variant, e.g. for a sample to print.</summary>
    public static string Describe(KernelIsa isa) => isa switch
    {
        KernelIsa.Avx512 => "AVX-512 (Vector512<float>, 16 lanes, FMA)",
        KernelIsa.Avx2 => "AVX2 (Vector256<float>, 8 lanes, FMA)",
        _ => "portable (scalar)",
    };
}

/// <summary>
/// The vector operations a kernel body is written against. A kernel is one generic method over
/// <typeparamref name="TVec"/>; the JIT/ILC specializes it per struct, so each ISA gets straight-line code.
/// The scalar struct (TVec = float) is both the portable path and the tail of the vector paths.
/// </summary>
public interface ISimd<TVec> where TVec : struct
{
    static abstract int Count { get; }
    static abstract TVec Zero { get; }
    static abstract TVec Broadcast(float value);
    static abstract TVec Load(ref float source);
    static abstract void Store(TVec value, ref float destination);
    /// <summary>The first <paramref name="count"/> (1..Count) lanes from memory, zeros above; reads nothing past them.</summary>
    static abstract TVec LoadFirst(ref float source, int count);
    /// <summary>Stores the first <paramref name="count"/> (1..Count) lanes; writes nothing past them.</summary>
    static abstract void StoreFirst(TVec value, ref float destination, int count);
    static abstract TVec Add(TVec a, TVec b);
    static abstract TVec Subtract(TVec a, TVec b);
    static abstract TVec Multiply(TVec a, TVec b);
    static abstract TVec Divide(TVec a, TVec b);
    /// <summary>a·b + c.</summary>
    static abstract TVec MultiplyAdd(TVec a, TVec b, TVec c);
    static abstract TVec Max(TVec a, TVec b);
    static abstract TVec Min(TVec a, TVec b);
    /// <summary>
    /// min(hi, max(lo, x)) with the hardware's min and max (vminps, vmaxps: one instruction each, where
    /// <c>Vector256.Min</c>'s IEEE semantics cost seven); <paramref name="x"/> is their second operand, which they return
    /// when either is NaN, so a NaN <paramref name="x"/> passes through.
    /// </summary>
    static abstract TVec Clamp(TVec x, TVec lo, TVec hi);
    static abstract TVec Abs(TVec a);
    static abstract TVec Sqrt(TVec a);
    static abstract TVec Exp(TVec a);
    /// <summary>Round to the nearest integer (ties to even).</summary>
    static abstract TVec Round(TVec a);
    /// <summary>x·2ⁿ for integral n (the exponent-field trick, or vscalefps).</summary>
    static abstract TVec ScaleB(TVec x, TVec n);
    /// <summary>Where <paramref name="x"/> &gt; 0, <paramref name="whenPositive"/>; elsewhere <paramref name="otherwise"/>.</summary>
    static abstract TVec SelectPositive(TVec x, TVec whenPositive, TVec otherwise);
    /// <summary>Copies the sign of <paramref name="sign"/> onto |<paramref name="magnitude"/>|.</summary>
    static abstract TVec CopySign(TVec magnitude, TVec sign);
    static abstract float Sum(TVec a);
    static abstract float MaxAcross(TVec a);
}

/// <summary>Vector512 (AVX-512F).</summary>
public readonly struct Simd512 : ISimd<Vector512<float>>
{
    public static int Count => Vector512<float>.Count;
    public static Vector512<float> Zero => Vector512<float>.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Broadcast(float value) => Vector512.Create(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Load(ref float source) => Vector512.LoadUnsafe(ref source);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector512<float> value, ref float destination) => value.StoreUnsafe(ref destination);
#if NET10_0_OR_GREATER
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector512<float> LoadFirst(ref float source, int count) =>
        Avx512F.MaskLoad((float*)Unsafe.AsPointer(ref source), FirstLanes(count), Vector512<float>.Zero);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void StoreFirst(Vector512<float> value, ref float destination, int count) =>
        Avx512F.MaskStore((float*)Unsafe.AsPointer(ref destination), FirstLanes(count), value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> FirstLanes(int count) =>
        Vector512.GreaterThan(Vector512.Create(count), Vector512.Create(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)).AsSingle();
#else
    // .NET 9 (the NativeAOT build) has no AVX-512 masked load/store API: two AVX masked halves.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> LoadFirst(ref float source, int count) =>
        Vector512.Create(Simd256.LoadFirst(ref source, Math.Min(count, 8)),
            count > 8 ? Simd256.LoadFirst(ref Unsafe.Add(ref source, 8), count - 8) : Vector256<float>.Zero);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreFirst(Vector512<float> value, ref float destination, int count)
    {
        Simd256.StoreFirst(value.GetLower(), ref destination, Math.Min(count, 8));
        if (count > 8) Simd256.StoreFirst(value.GetUpper(), ref Unsafe.Add(ref destination, 8), count - 8);
    }
#endif
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Add(Vector512<float> a, Vector512<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Subtract(Vector512<float> a, Vector512<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Multiply(Vector512<float> a, Vector512<float> b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Divide(Vector512<float> a, Vector512<float> b) => a / b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> MultiplyAdd(Vector512<float> a, Vector512<float> b, Vector512<float> c) => Avx512F.FusedMultiplyAdd(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Max(Vector512<float> a, Vector512<float> b) => Vector512.Max(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Min(Vector512<float> a, Vector512<float> b) => Vector512.Min(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Clamp(Vector512<float> x, Vector512<float> lo, Vector512<float> hi) => Avx512F.Min(hi, Avx512F.Max(lo, x));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Abs(Vector512<float> a) => Vector512.Abs(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Sqrt(Vector512<float> a) => Vector512.Sqrt(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Exp(Vector512<float> a) => FastMath.Exp<Vector512<float>, Simd512>(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Round(Vector512<float> a) => Avx512F.RoundScale(a, 0);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> ScaleB(Vector512<float> x, Vector512<float> n) => Avx512F.Scale(x, n);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> SelectPositive(Vector512<float> x, Vector512<float> whenPositive, Vector512<float> otherwise) =>
        Vector512.ConditionalSelect(Vector512.GreaterThan(x, Vector512<float>.Zero), whenPositive, otherwise);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> CopySign(Vector512<float> magnitude, Vector512<float> sign) => Vector512.CopySign(magnitude, sign);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(Vector512<float> a) => Vector512.Sum(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float MaxAcross(Vector512<float> a)
    {
        Vector256<float> m = Vector256.Max(a.GetLower(), a.GetUpper());
        return Simd256.MaxAcross(m);
    }
}

/// <summary>Vector256 with FMA (AVX2).</summary>
public readonly struct Simd256 : ISimd<Vector256<float>>
{
    public static int Count => Vector256<float>.Count;
    public static Vector256<float> Zero => Vector256<float>.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Broadcast(float value) => Vector256.Create(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Load(ref float source) => Vector256.LoadUnsafe(ref source);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector256<float> value, ref float destination) => value.StoreUnsafe(ref destination);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector256<float> LoadFirst(ref float source, int count) =>
        Avx.MaskLoad((float*)Unsafe.AsPointer(ref source), FirstLanes(count));
    /// <summary>At most three plain stores (4, 2, 1 lanes): <c>vmaskmovps</c> to memory costs about 16 cycles on AMD
    /// cores (5 ns measured here, against 1 ns for this), and a tile's edge column stores one per row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreFirst(Vector256<float> value, ref float destination, int count)
    {
        if (count >= 8)
        {
            value.StoreUnsafe(ref destination);
            return;
        }
        Vector128<float> part = value.GetLower();
        if (count >= 4)
        {
            part.StoreUnsafe(ref destination);
            destination = ref Unsafe.Add(ref destination, 4);
            count -= 4;
            part = value.GetUpper();
        }
        if (count >= 2)
        {
            Unsafe.WriteUnaligned(ref Unsafe.As<float, byte>(ref destination), part.AsDouble().ToScalar());
            destination = ref Unsafe.Add(ref destination, 2);
            count -= 2;
            part = Vector128.Shuffle(part, Vector128.Create(2, 3, 2, 3));
        }
        if (count == 1) destination = part.ToScalar();
    }
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> FirstLanes(int count) =>
        Vector256.GreaterThan(Vector256.Create(count), Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7)).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Add(Vector256<float> a, Vector256<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Subtract(Vector256<float> a, Vector256<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Multiply(Vector256<float> a, Vector256<float> b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Divide(Vector256<float> a, Vector256<float> b) => a / b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> MultiplyAdd(Vector256<float> a, Vector256<float> b, Vector256<float> c) => Fma.MultiplyAdd(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Max(Vector256<float> a, Vector256<float> b) => Vector256.Max(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Min(Vector256<float> a, Vector256<float> b) => Vector256.Min(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Clamp(Vector256<float> x, Vector256<float> lo, Vector256<float> hi) => Avx.Min(hi, Avx.Max(lo, x));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Abs(Vector256<float> a) => Vector256.Abs(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Sqrt(Vector256<float> a) => Vector256.Sqrt(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Exp(Vector256<float> a) => FastMath.Exp<Vector256<float>, Simd256>(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Round(Vector256<float> a) => Avx.RoundToNearestInteger(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> ScaleB(Vector256<float> x, Vector256<float> n) =>
        (x.AsInt32() + Vector256.ShiftLeft(Avx.ConvertToVector256Int32(n), 23)).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> SelectPositive(Vector256<float> x, Vector256<float> whenPositive, Vector256<float> otherwise) =>
        Vector256.ConditionalSelect(Vector256.GreaterThan(x, Vector256<float>.Zero), whenPositive, otherwise);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> CopySign(Vector256<float> magnitude, Vector256<float> sign) => Vector256.CopySign(magnitude, sign);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(Vector256<float> a) => Vector256.Sum(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float MaxAcross(Vector256<float> a)
    {
        Vector128<float> m = Vector128.Max(a.GetLower(), a.GetUpper());
        m = Vector128.Max(m, Vector128.Shuffle(m, Vector128.Create(2, 3, 0, 1)));
        m = Vector128.Max(m, Vector128.Shuffle(m, Vector128.Create(1, 0, 3, 2)));
        return m.ToScalar();
    }
}

/// <summary>One float at a time: the portable path, and the tail of the vector paths.</summary>
public readonly struct SimdScalar : ISimd<float>
{
    public static int Count => 1;
    public static float Zero => 0f;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Broadcast(float value) => value;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Load(ref float source) => source;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(float value, ref float destination) => destination = value;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float LoadFirst(ref float source, int count) => source;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void StoreFirst(float value, ref float destination, int count) => destination = value;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Add(float a, float b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Subtract(float a, float b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Multiply(float a, float b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Divide(float a, float b) => a / b;
    // Fused like the vector paths, so every path rounds the same way (and the AOT and JIT builds agree).
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float MultiplyAdd(float a, float b, float c) => MathF.FusedMultiplyAdd(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Max(float a, float b) => a > b ? a : b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Min(float a, float b) => a < b ? a : b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Clamp(float x, float lo, float hi) => Min(hi, Max(lo, x));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Abs(float a) => MathF.Abs(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sqrt(float a) => MathF.Sqrt(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Exp(float a) => FastMath.Exp<float, SimdScalar>(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Round(float a) => MathF.Round(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float ScaleB(float x, float n) => MathF.ScaleB(x, (int)n);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float SelectPositive(float x, float whenPositive, float otherwise) => x > 0f ? whenPositive : otherwise;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float CopySign(float magnitude, float sign) => MathF.CopySign(magnitude, sign);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(float a) => a;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float MaxAcross(float a) => a;
}

/// <summary>
/// Transcendentals written once over <see cref="ISimd{TVec}"/>, so every variant (and every fused epilogue) computes
/// the same function the same way.
/// </summary>
public static class FastMath
{
    /// <summary>
    /// eˣ (Cephes expf: n = round(x·log₂e), r = x − n·ln2 in two parts, a degree-6 polynomial, then ·2ⁿ); relative
    /// error about 2e−7 over the clamped range [−87.3, 88.7]; NaN propagates.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Exp<TVec, TSimd>(TVec x) where TVec : struct where TSimd : ISimd<TVec>
    {
        TVec clamped = TSimd.Clamp(x, TSimd.Broadcast(-87.3f), TSimd.Broadcast(88.7f));
        TVec n = TSimd.Round(TSimd.Multiply(clamped, TSimd.Broadcast(1.44269504088896341f)));
        TVec r = TSimd.MultiplyAdd(n, TSimd.Broadcast(-0.693359375f), clamped);
        r = TSimd.MultiplyAdd(n, TSimd.Broadcast(2.12194440e-4f), r);
        TVec p = TSimd.MultiplyAdd(TSimd.Broadcast(1.9875691500e-4f), r, TSimd.Broadcast(1.3981999507e-3f));
        p = TSimd.MultiplyAdd(p, r, TSimd.Broadcast(8.3334519073e-3f));
        p = TSimd.MultiplyAdd(p, r, TSimd.Broadcast(4.1665795894e-2f));
        p = TSimd.MultiplyAdd(p, r, TSimd.Broadcast(1.6666665459e-1f));
        p = TSimd.MultiplyAdd(p, r, TSimd.Broadcast(5.0000001201e-1f));
        p = TSimd.MultiplyAdd(p, TSimd.Multiply(r, r), TSimd.Add(r, TSimd.Broadcast(1f)));
        return TSimd.ScaleB(p, n);
    }
}
