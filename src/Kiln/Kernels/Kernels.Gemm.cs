using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Kiln.Kernels;

/// <summary>The three matrix-product forms a dense layer's forward and backward need (all row-major).</summary>
public enum GemmForm
{
    /// <summary>C[m,n] (+)= A[m,k]·B[n,k]ᵀ — forward, Y = X·Wᵀ with W in PyTorch's [out, in] layout.</summary>
    Nt,
    /// <summary>C[m,n] (+)= A[m,k]·B[k,n] — input gradient, dX = dY·W.</summary>
    Nn,
    /// <summary>C[m,n] (+)= A[k,m]ᵀ·B[k,n] — weight gradient, dW = dYᵀ·X.</summary>
    Tn,
}

/// <summary>The GEMM implementations (every one is tested; the packed one is the default where vectors exist).</summary>
public enum GemmKernel
{
    /// <summary>Packed where <see cref="Gemm.PackingPays"/> says it pays, register-blocked elsewhere (the default).</summary>
    Auto,
    /// <summary>Packed panels and a register-blocked micro-kernel with a fused epilogue (AVX-512, AVX2).</summary>
    Packed,
    /// <summary>The foundation's register-blocked kernels without packing (every ISA; the portable path).</summary>
    RegisterBlocked,
}

/// <summary>The activation of no epilogue: y = x.</summary>
public readonly struct IdentityOp : IUnaryOperator
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TVec Invoke<TVec, TSimd>(TVec x) where TVec : struct where TSimd : ISimd<TVec> => x;
}

/// <summary>
/// Matrix products with a fused epilogue: C = act((accumulate ? C : 0) + A·B + bias), with the value before the
/// activation optionally kept in <c>preActivation</c> (what the backward of GELU or leaky ReLU reads).
/// Bias is per column of C. The kernel is chosen by ISA and <see cref="Kernel"/>.
/// </summary>
public static unsafe class Gemm
{
    /// <summary>The implementation used where vectors exist (a process-wide setting, for baselines and tests).</summary>
    public static GemmKernel Kernel { get; set; } = GemmKernel.Auto;

    /// <summary>C[m,n] (+)= A[m,k]·B[n,k]ᵀ.</summary>
    public static void Nt(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int m, int n, int k, bool accumulate) =>
        Run(KernelInfo.Best, Kernel, GemmForm.Nt, a, b, c, m, n, k, accumulate, default, default(IdentityOp), default);

    /// <summary>C[m,n] (+)= A[m,k]·B[k,n].</summary>
    public static void Nn(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int m, int n, int k, bool accumulate) =>
        Run(KernelInfo.Best, Kernel, GemmForm.Nn, a, b, c, m, n, k, accumulate, default, default(IdentityOp), default);

    /// <summary>C[m,n] (+)= A[k,m]ᵀ·B[k,n].</summary>
    public static void Tn(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int m, int n, int k, bool accumulate) =>
        Run(KernelInfo.Best, Kernel, GemmForm.Tn, a, b, c, m, n, k, accumulate, default, default(IdentityOp), default);

    public static void Nt(KernelIsa isa, ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int m, int n, int k, bool accumulate) =>
        Run(isa, Kernel, GemmForm.Nt, a, b, c, m, n, k, accumulate, default, default(IdentityOp), default);

    public static void Nn(KernelIsa isa, ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int m, int n, int k, bool accumulate) =>
        Run(isa, Kernel, GemmForm.Nn, a, b, c, m, n, k, accumulate, default, default(IdentityOp), default);

    public static void Tn(KernelIsa isa, ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int m, int n, int k, bool accumulate) =>
        Run(isa, Kernel, GemmForm.Tn, a, b, c, m, n, k, accumulate, default, default(IdentityOp), default);

    /// <summary>
    /// Whether the packed kernel beats the register-blocked one on this shape (measured here, see BENCHMARKS.md):
    /// everywhere but matrix-vector products — one row (every value of B is used once, so packing only adds a pass;
    /// the register-blocked kernels stream B with 8 independent FMA chains), or two rows of a forward (Nt), whose
    /// dot-product form needs no transpose of B.
    /// </summary>
    public static bool PackingPays(GemmForm form, int m, int n, int k) =>
        m > 2 || (m == 2 && form != GemmForm.Nt);

    /// <summary>Products below this many FLOPs stay on one thread: waking a worker costs more than it saves.</summary>
    public const long ParallelFlops = 4_000_000;

    /// <summary>How many threads a product of this shape uses, given at most <paramref name="threads"/>: one per
    /// 64 columns at least, and only above <see cref="ParallelFlops"/>.</summary>
    public static int Partitions(int threads, int m, int n, int k, KernelIsa isa = KernelIsa.Avx512)
    {
        if (threads <= 1 || isa == KernelIsa.Portable || 2L * m * n * k < ParallelFlops) return 1;
        return Math.Max(1, Math.Min(Math.Min(threads, KernelThreads.MaxThreads), n / 64));
    }

    /// <summary>
    /// C[m,n] = act((accumulate ? C : 0) + op(A)·op(B) + bias), any form, ISA and kernel. <paramref name="bias"/>
    /// (n values) and <paramref name="preActivation"/> (m×n, receives the value before the activation) may be empty.
    /// </summary>
    public static void Run<TAct>(KernelIsa isa, GemmKernel kernel, GemmForm form, ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c,
        int m, int n, int k, bool accumulate, ReadOnlySpan<float> bias, TAct activation, Span<float> preActivation, int threads = 1)
        where TAct : struct, IUnaryOperator
    {
        GemmRegisterBlocked.CheckSizes(a.Length, b.Length, c.Length, m, n, k,
            form == GemmForm.Tn ? "A[k,m]" : "A[m,k]", form == GemmForm.Nt ? "B[n,k]" : "B[k,n]");
        if (!bias.IsEmpty && bias.Length < n) throw new ArgumentException($"bias has {bias.Length} values; C[m,n] with n={n} needs {n}.", nameof(bias));
        if (!preActivation.IsEmpty && preActivation.Length < (long)m * n)
            throw new ArgumentException($"preActivation has {preActivation.Length} values; C[m,n] with m={m}, n={n} needs {(long)m * n}.", nameof(preActivation));
        if (m == 0 || n == 0) return;

        int vectorParts = MatrixVectorPartitions(kernel, form, threads, m, n, k, isa);
        if (vectorParts > 1)
        {
            fixed (float* pa = a, pb = b, pc = c, pbias = bias, pz = preActivation)
            {
                // Columns of C (rows of B) in whole 16-column groups per part.
                RowJob<MatrixVectorWork<TAct>>.Run(new MatrixVectorWork<TAct>(isa, pa, pb, pc, k, accumulate, bias.IsEmpty ? null : pbias, activation,
                    preActivation.IsEmpty ? null : pz), n, vectorParts, align: 16);
            }
            return;
        }

        if (kernel == GemmKernel.Auto && GemmDot.Pays(isa, form, m, n, k))
        {
            // A narrow product: dot products along k fill every lane where the packed tiles' column vectors would not.
            fixed (float* pa = a, pb = b, pc = c) GemmDot.Run(isa, form, pa, pb, pc, m, n, k, accumulate);
            Epilogue(isa, c, m, n, bias, activation, preActivation);
            return;
        }

        int parts = Partitions(threads, m, n, k, isa);
        bool packed = PackedEngineTakes(kernel, form, m, n, k, parts);
        if (packed && isa != KernelIsa.Portable)
        {
            fixed (float* pa = a, pb = b, pc = c, pbias = bias, pz = preActivation)
            {
                float* biasPointer = bias.IsEmpty ? null : pbias, zPointer = preActivation.IsEmpty ? null : pz;
                if (parts == 1)
                {
                    GemmPacked.Run(isa, form, pa, pb, pc, m, n, k, accumulate, biasPointer, activation, zPointer, 0, n);
                }
                else
                {
                    // Columns split between threads in whole panels; each thread packs into its own scratch.
                    GemmJob<TAct> job = GemmJob<TAct>.ForThisThread;
                    job.Set(isa, form, pa, pb, pc, m, n, k, accumulate, biasPointer, activation, zPointer);
                    KernelThreads.Run(job, parts);
                    job.Clear();
                }
            }
            return;
        }

        switch (form)
        {
            case GemmForm.Nt: GemmRegisterBlocked.Nt(isa, a, b, c, m, n, k, accumulate); break;
            case GemmForm.Nn: GemmRegisterBlocked.Nn(isa, a, b, c, m, n, k, accumulate); break;
            default: GemmRegisterBlocked.Tn(isa, a, b, c, m, n, k, accumulate); break;
        }
        // The register-blocked kernels have no fused epilogue: a second pass over C.
        Epilogue(isa, c, m, n, bias, activation, preActivation);
    }

    /// <summary>Bias, the pre-activation copy and the activation over C[m, n], after a kernel without a fused epilogue.</summary>
    private static void Epilogue<TAct>(KernelIsa isa, Span<float> c, int m, int n, ReadOnlySpan<float> bias, TAct activation, Span<float> preActivation)
        where TAct : struct, IUnaryOperator
    {
        if (bias.IsEmpty && preActivation.IsEmpty && typeof(TAct) == typeof(IdentityOp)) return;
        for (int i = 0; i < m; i++)
        {
            Span<float> row = c.Slice(i * n, n);
            if (!bias.IsEmpty) System.Numerics.Tensors.TensorPrimitives.Add(row, bias[..n], row);
            if (!preActivation.IsEmpty) row.CopyTo(preActivation.Slice(i * n, n));
            if (typeof(TAct) != typeof(IdentityOp)) ElementWise.Map(isa, activation, row, row);
        }
    }

    /// <summary>A matrix-vector product (one row of A, Nt: a layer's forward at batch 1) reads every weight once and is
    /// bound by memory bandwidth, not FLOPs: it is split by columns between threads (each core streams its own rows of
    /// B) once B holds at least this many floats.</summary>
    public const long MatrixVectorParallelFloats = 1L << 16;

    /// <summary>How many threads a matrix-vector product uses (1: it is not one, or too small to split).</summary>
    public static int MatrixVectorPartitions(GemmKernel kernel, GemmForm form, int threads, int m, int n, int k, KernelIsa isa = KernelIsa.Avx512)
    {
        if (m != 1 || form != GemmForm.Nt || kernel == GemmKernel.Packed || threads <= 1 || isa == KernelIsa.Portable || (long)n * k < MatrixVectorParallelFloats)
            return 1;
        return Math.Max(1, Math.Min(Math.Min(threads, KernelThreads.MaxThreads), n / 64));
    }

    /// <summary>Floats a B of <paramref name="n"/> columns and depth <paramref name="k"/> takes packed by <see cref="Pack"/>.</summary>
    public static int PackedSize(KernelIsa isa, int n, int k) => isa == KernelIsa.Portable ? n * k : GemmPacked.PrepackedFloats(isa, n, k);

    /// <summary>
    /// Packs B once — [n, k] for the Nt form (a weight in PyTorch's layout), [k, n] for Nn — for many products with it
    /// (<see cref="RunPacked{TAct}(KernelIsa, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, int, int, int, bool, ReadOnlySpan{float}, TAct, int)"/>): what a recurrent layer does with W_hh, which every step multiplies. On the portable
    /// ISA the "packed" B is B as the Nt form wants it, [n, k].
    /// </summary>
    public static void Pack(KernelIsa isa, GemmForm form, ReadOnlySpan<float> b, int n, int k, Span<float> packed)
    {
        GemmRegisterBlocked.CheckSizes(0, b.Length, 0, 0, n, k, "A", form == GemmForm.Nt ? "B[n,k]" : "B[k,n]");
        if (packed.Length < PackedSize(isa, n, k)) throw new ArgumentException($"packed has {packed.Length} values; {PackedSize(isa, n, k)} needed.", nameof(packed));
        if (isa == KernelIsa.Portable)
        {
            if (form == GemmForm.Nt) b.Slice(0, n * k).CopyTo(packed);
            else Transpose.Run(isa, b.Slice(0, n * k), k, n, packed);
            return;
        }
        fixed (float* pb = b, pp = packed) GemmPacked.Prepack(isa, form, pb, n, k, pp);
    }

    /// <summary>C[m, n] = act((accumulate ? C : 0) + A[m, k]·B + bias) with B packed by <see cref="Pack"/> on the same ISA.</summary>
    public static void RunPacked<TAct>(KernelIsa isa, ReadOnlySpan<float> a, ReadOnlySpan<float> packedB, Span<float> c, int m, int n, int k,
        bool accumulate, ReadOnlySpan<float> bias, TAct activation, int threads = 1) where TAct : struct, IUnaryOperator =>
        RunPacked(isa, a, packedB, c, m, n, k, accumulate, bias, activation, default, threads);

    /// <summary>As <see cref="RunPacked{TAct}(KernelIsa, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, int, int, int, bool, ReadOnlySpan{float}, TAct, int)"/>,
    /// with <paramref name="preActivation"/> (m×n, may be empty) receiving the value before the activation.</summary>
    public static void RunPacked<TAct>(KernelIsa isa, ReadOnlySpan<float> a, ReadOnlySpan<float> packedB, Span<float> c, int m, int n, int k,
        bool accumulate, ReadOnlySpan<float> bias, TAct activation, Span<float> preActivation, int threads = 1) where TAct : struct, IUnaryOperator
    {
        GemmRegisterBlocked.CheckSizes(a.Length, 0, c.Length, m, 0, k, "A[m,k]", "B");
        if (packedB.Length < PackedSize(isa, n, k)) throw new ArgumentException($"packedB has {packedB.Length} values; {PackedSize(isa, n, k)} needed.", nameof(packedB));
        if (!bias.IsEmpty && bias.Length < n) throw new ArgumentException($"bias has {bias.Length} values; C[m,n] with n={n} needs {n}.", nameof(bias));
        if (c.Length < (long)m * n) throw new ArgumentException($"C has {c.Length} values; C[m,n] needs {(long)m * n}.", nameof(c));
        if (!preActivation.IsEmpty && preActivation.Length < (long)m * n)
            throw new ArgumentException($"preActivation has {preActivation.Length} values; C[m,n] with m={m}, n={n} needs {(long)m * n}.", nameof(preActivation));
        if (m == 0 || n == 0) return;
        if (isa == KernelIsa.Portable)
        {
            Run(isa, GemmKernel.RegisterBlocked, GemmForm.Nt, a, packedB, c, m, n, k, accumulate, bias, activation, preActivation);
            return;
        }
        int parts = Partitions(threads, m, n, k, isa);
        fixed (float* pa = a, pb = packedB, pc = c, pbias = bias, pz = preActivation)
        {
            float* biasPointer = bias.IsEmpty ? null : pbias, zPointer = preActivation.IsEmpty ? null : pz;
            if (parts == 1)
            {
                GemmPacked.RunPrepacked(isa, pa, pb, pc, m, n, k, accumulate, biasPointer, activation, zPointer, 0, n);
                return;
            }
            GemmJob<TAct> job = GemmJob<TAct>.ForThisThread;
            job.Set(isa, GemmForm.Nn, pa, pb, pc, m, n, k, accumulate, biasPointer, activation, zPointer, prepacked: true);
            KernelThreads.Run(job, parts);
            job.Clear();
        }
    }

    /// <summary>Whether <see cref="Run{TAct}"/> would give this product to the packed engine (so that a B packed beforehand
    /// can stand in for the packing it would do): not a matrix-vector product split by columns, not a narrow product
    /// taken as dot products, and packing pays or the product is split between threads.</summary>
    public static bool UsesPackedEngine(KernelIsa isa, GemmKernel kernel, GemmForm form, int m, int n, int k, int threads = 1)
    {
        if (isa == KernelIsa.Portable || MatrixVectorPartitions(kernel, form, threads, m, n, k, isa) > 1) return false;
        if (kernel == GemmKernel.Auto && GemmDot.Pays(isa, form, m, n, k)) return false;
        return PackedEngineTakes(kernel, form, m, n, k, Partitions(threads, m, n, k, isa));
    }

    /// <summary><see cref="Run{TAct}"/>'s last choice, once neither the matrix-vector split nor the dot form took the
    /// product: the packed engine when asked for, or on Auto when the product is split between threads or packing pays.</summary>
    private static bool PackedEngineTakes(GemmKernel kernel, GemmForm form, int m, int n, int k, int parts) =>
        kernel == GemmKernel.Packed || (kernel == GemmKernel.Auto && (parts > 1 || PackingPays(form, m, n, k)));

    /// <summary>
    /// One thread, the packed kernel, the sizes as type constants (<typeparamref name="TShape"/>): the way generated
    /// code could call a layer with its static shape. Spans are checked against the shape; without vector hardware
    /// it runs the portable kernel with the same sizes. The packed blocks only: the routes the run-time <c>Run</c>
    /// takes for some shapes (narrow products' dot form, a narrow Tn or a small batch computed transposed) are not
    /// taken here, so that the specialization benchmark compares like with like.
    /// </summary>
    public static void Run<TShape, TAct>(KernelIsa isa, GemmForm form, ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, bool accumulate,
        ReadOnlySpan<float> bias, TAct activation, Span<float> preActivation)
        where TShape : struct, IGemmShape where TAct : struct, IUnaryOperator
    {
        if (TShape.M < 0 || isa == KernelIsa.Portable)
        {
            Run(isa, GemmKernel.RegisterBlocked, form, a, b, c, TShape.M, TShape.N, TShape.K, accumulate, bias, activation, preActivation);
            return;
        }
        GemmRegisterBlocked.CheckSizes(a.Length, b.Length, c.Length, TShape.M, TShape.N, TShape.K,
            form == GemmForm.Tn ? "A[k,m]" : "A[m,k]", form == GemmForm.Nt ? "B[n,k]" : "B[k,n]");
        if (!bias.IsEmpty && bias.Length < TShape.N) throw new ArgumentException($"bias has {bias.Length} values; C[m,n] with n={TShape.N} needs {TShape.N}.", nameof(bias));
        if (!preActivation.IsEmpty && preActivation.Length < (long)TShape.M * TShape.N)
            throw new ArgumentException($"preActivation has {preActivation.Length} values; C[m,n] needs {(long)TShape.M * TShape.N}.", nameof(preActivation));
        fixed (float* pa = a, pb = b, pc = c, pbias = bias, pz = preActivation)
            GemmPacked.RunShaped<TShape, TAct>(isa, form, pa, pb, pc, accumulate, bias.IsEmpty ? null : pbias, activation, preActivation.IsEmpty ? null : pz);
    }

    /// <summary>Columns [begin, end) of a matrix-vector product c[n] = act(a[k]·Bᵀ + bias), B [n, k]: those rows of B, that
    /// slice of c, bias and pre-activation, through the register-blocked kernel and the epilogue.</summary>
    private readonly struct MatrixVectorWork<TAct>(KernelIsa isa, float* a, float* b, float* c, int k, bool accumulate, float* bias, TAct activation, float* z)
        : IRowWork where TAct : struct, IUnaryOperator
    {
        public void Rows(int begin, int end)
        {
            int width = end - begin;
            var slice = new Span<float>(c + begin, width);
            GemmRegisterBlocked.Nt(isa, new ReadOnlySpan<float>(a, k), new ReadOnlySpan<float>(b + (nint)begin * k, width * k), slice, 1, width, k, accumulate);
            Epilogue(isa, slice, 1, width, bias == null ? default : new ReadOnlySpan<float>(bias + begin, width), activation,
                z == null ? default : new Span<float>(z + begin, width));
        }
    }

    /// <summary>The arguments of one threaded product, reused per calling thread (no allocation per call).</summary>
    private sealed class GemmJob<TAct> : IParallelWork where TAct : struct, IUnaryOperator
    {
        [ThreadStatic] private static GemmJob<TAct>? t_job;

        public static GemmJob<TAct> ForThisThread => t_job ??= new GemmJob<TAct>();

        private KernelIsa _isa;
        private GemmForm _form;
        private float* _a, _b, _c, _bias, _z;
        private int _m, _n, _k;
        private bool _accumulate, _prepacked;
        private TAct _activation;

        public void Set(KernelIsa isa, GemmForm form, float* a, float* b, float* c, int m, int n, int k, bool accumulate, float* bias, TAct activation, float* z,
            bool prepacked = false)
        {
            _isa = isa; _form = form; _a = a; _b = b; _c = c; _bias = bias; _z = z;
            _m = m; _n = n; _k = k; _accumulate = accumulate; _activation = activation; _prepacked = prepacked;
        }

        public void Clear() => _a = _b = _c = _bias = _z = null;

        public void Execute(int part, int parts)
        {
            // Whole 32-column panels per part, the remainder to the last.
            int panels = (_n + 31) / 32;
            int begin = Math.Min(_n, panels * part / parts * 32);
            int end = part == parts - 1 ? _n : Math.Min(_n, panels * (part + 1) / parts * 32);
            if (begin >= end) return;
            if (_prepacked) GemmPacked.RunPrepacked(_isa, _a, _b, _c, _m, _n, _k, _accumulate, _bias, _activation, _z, begin, end);
            else GemmPacked.Run(_isa, _form, _a, _b, _c, _m, _n, _k, _accumulate, _bias, _activation, _z, begin, end);
        }
    }
}
