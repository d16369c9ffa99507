using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Kiln.Kernels;

namespace Kiln.Optimizers;

/// <summary>
/// Stochastic gradient descent as PyTorch's <c>torch.optim.SGD</c>: g ← g + λp; with momentum μ,
/// b ← μb + (1 − dampening)g (b = g on the first step), and g ← g + μb (Nesterov) or g ← b; then p ← p − lr·g.
/// </summary>
public sealed class Sgd : Optimizer
{
    private readonly AlignedBuffer? _momentum;

    public Sgd(ParameterSet parameters, float lr, float momentum = 0f, float dampening = 0f, float weightDecay = 0f, bool nesterov = false)
        : base(parameters, lr)
    {
        if (momentum < 0f) throw new ArgumentOutOfRangeException(nameof(momentum), momentum, "Momentum must be ≥ 0.");
        if (weightDecay < 0f) throw new ArgumentOutOfRangeException(nameof(weightDecay), weightDecay, "Weight decay must be ≥ 0.");
        if (nesterov && (momentum <= 0f || dampening != 0f))
            throw new ArgumentException("Nesterov momentum requires a momentum > 0 and zero dampening (as in PyTorch).", nameof(nesterov));
        Momentum = momentum;
        Dampening = dampening;
        WeightDecay = weightDecay;
        Nesterov = nesterov;
        if (momentum > 0f) _momentum = new AlignedBuffer(parameters.Count);
    }

    public float Momentum { get; }
    public float Dampening { get; }
    public float WeightDecay { get; }
    public bool Nesterov { get; }

    protected override void Update(Span<float> parameters, ReadOnlySpan<float> gradients, long step)
    {
        // Momentum buffer: b ← keep·b + take·g, with b = g on the first step (keep 0, take 1).
        var op = new SgdOp(LearningRate, Momentum, step == 1 ? 0f : Momentum, step == 1 ? 1f : 1f - Dampening, WeightDecay, Nesterov);
        Span<float> buffer = _momentum is null ? parameters : _momentum.Span; // unused without momentum
        ref float p = ref MemoryMarshal.GetReference(parameters);
        ref float g = ref MemoryMarshal.GetReference(gradients);
        ref float b = ref MemoryMarshal.GetReference(buffer);
        int n = parameters.Length;
        int i = KernelInfo.Best switch
        {
            KernelIsa.Avx512 => op.Run<Vector512<float>, Simd512>(ref p, ref g, ref b, 0, n),
            KernelIsa.Avx2 => op.Run<Vector256<float>, Simd256>(ref p, ref g, ref b, 0, n),
            _ => 0,
        };
        op.Run<float, SimdScalar>(ref p, ref g, ref b, i, n);
    }

    public override void Dispose()
    {
        _momentum?.Dispose();
        base.Dispose();
    }

    private readonly struct SgdOp(float lr, float momentum, float keep, float take, float weightDecay, bool nesterov)
    {
        public int Run<TVec, TSimd>(ref float p, ref float g, ref float b, int start, int n) where TVec : struct where TSimd : ISimd<TVec>
        {
            int w = TSimd.Count;
            TVec vlr = TSimd.Broadcast(-lr), vwd = TSimd.Broadcast(weightDecay), vmu = TSimd.Broadcast(momentum);
            TVec vkeep = TSimd.Broadcast(keep), vtake = TSimd.Broadcast(take);
            int i = start;
            for (; i + w <= n; i += w)
            {
                ref float pi = ref Unsafe.Add(ref p, i);
                TVec pv = TSimd.Load(ref pi);
                TVec gv = TSimd.MultiplyAdd(vwd, pv, TSimd.Load(ref Unsafe.Add(ref g, i)));
                if (momentum != 0f)
                {
                    ref float bi = ref Unsafe.Add(ref b, i);
                    TVec bv = TSimd.MultiplyAdd(vkeep, TSimd.Load(ref bi), TSimd.Multiply(vtake, gv));
                    TSimd.Store(bv, ref bi);
                    gv = nesterov ? TSimd.MultiplyAdd(vmu, bv, gv) : bv;
                }
                TSimd.Store(TSimd.MultiplyAdd(vlr, gv, pv), ref pi);
            }
            return i;
        }
    }
}
