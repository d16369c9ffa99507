using System;
using System.Collections.Generic;

namespace Kiln.Kernels;

/// <summary>
/// One GEMM implementation: an instruction set and a technique. Each is its own type, named for both; the generic
/// kernel bodies behind them are shared (one body per technique, specialised per vector type). <see cref="GemmVariants"/>
/// returns the best one for the machine and every one the machine supports, so a test covers them all.
/// </summary>
public abstract class GemmVariant
{
    private protected GemmVariant() { }

    /// <summary>The instruction set the variant runs on.</summary>
    public abstract KernelIsa Isa { get; }

    /// <summary>The technique (packed panels, or the register-blocked kernels without packing).</summary>
    public abstract GemmKernel Technique { get; }

    /// <summary>The type's name, e.g. <c>GemmAvx512Packed</c>.</summary>
    public string Name => GetType().Name;

    /// <summary>Whether this machine (and the process's settings) can run it.</summary>
    public bool IsSupported => Array.IndexOf(KernelInfo.Supported, Isa) >= 0;

    /// <summary>C[m,n] = act((accumulate ? C : 0) + op(A)·op(B) + bias), as <c>Gemm.Run</c> with this variant.</summary>
    public void Run<TAct>(GemmForm form, ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int m, int n, int k, bool accumulate,
        ReadOnlySpan<float> bias, TAct activation, Span<float> preActivation, int threads = 1)
        where TAct : struct, IUnaryOperator =>
        Gemm.Run(Isa, Technique, form, a, b, c, m, n, k, accumulate, bias, activation, preActivation, threads);

    /// <summary>C[m,n] (+)= op(A)·op(B), no epilogue.</summary>
    public void Run(GemmForm form, ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int m, int n, int k, bool accumulate) =>
        Run(form, a, b, c, m, n, k, accumulate, default, default(IdentityOp), default);

    public override string ToString() => Name;
}

/// <summary>Packed panels and the 12 × 32 register tile on Vector512 (AVX-512F).</summary>
public sealed class GemmAvx512Packed : GemmVariant
{
    public override KernelIsa Isa => KernelIsa.Avx512;
    public override GemmKernel Technique => GemmKernel.Packed;
}

/// <summary>Packed panels and the 6 × 16 register tile on Vector256 with FMA (AVX2).</summary>
public sealed class GemmAvx2Packed : GemmVariant
{
    public override KernelIsa Isa => KernelIsa.Avx2;
    public override GemmKernel Technique => GemmKernel.Packed;
}

/// <summary>The unpacked register-blocked kernels (broadcast and dot-product forms) on Vector512.</summary>
public sealed class GemmAvx512RegisterBlocked : GemmVariant
{
    public override KernelIsa Isa => KernelIsa.Avx512;
    public override GemmKernel Technique => GemmKernel.RegisterBlocked;
}

/// <summary>The unpacked register-blocked kernels on Vector256 with FMA.</summary>
public sealed class GemmAvx2RegisterBlocked : GemmVariant
{
    public override KernelIsa Isa => KernelIsa.Avx2;
    public override GemmKernel Technique => GemmKernel.RegisterBlocked;
}

/// <summary>The register-blocked kernels one float at a time: any machine.</summary>
public sealed class GemmPortable : GemmVariant
{
    public override KernelIsa Isa => KernelIsa.Portable;
    public override GemmKernel Technique => GemmKernel.RegisterBlocked;
}

/// <summary>The factory: every GEMM variant, the ones this machine runs, and the best of them.</summary>
public static class GemmVariants
{
    /// <summary>Every variant, portable first, whether or not this machine runs it.</summary>
    public static IReadOnlyList<GemmVariant> All { get; } = new GemmVariant[]
    {
        new GemmPortable(), new GemmAvx2RegisterBlocked(), new GemmAvx2Packed(), new GemmAvx512RegisterBlocked(), new GemmAvx512Packed(),
    };

    /// <summary>The variants this machine runs (tests run each of them).</summary>
    public static IReadOnlyList<GemmVariant> Supported { get; } = Array.FindAll((GemmVariant[])All, v => v.IsSupported);

    /// <summary>The fastest variant this machine runs: packed on the widest vectors it has.</summary>
    public static GemmVariant Best { get; } = Supported[^1];
}
