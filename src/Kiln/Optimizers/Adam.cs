using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Kiln.Kernels;

namespace Kiln.Optimizers;

/// <summary>
/// Adam as PyTorch's <c>torch.optim.Adam</c> (L2 weight decay added to the gradient):
/// m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g²; p ← p − (lr/(1−β₁ᵗ))·m / (√v/√(1−β₂ᵗ) + ε).
/// The two moments are one aligned buffer: m in the first half, v in the second.
/// </summary>
public sealed class Adam : Optimizer
{
    private readonly AlignedBuffer _state;

    public Adam(ParameterSet parameters, float lr = 1e-3f, float beta1 = 0.9f, float beta2 = 0.999f, float epsilon = 1e-8f, float weightDecay = 0f)
        : base(parameters, lr)
    {
        if (!(beta1 >= 0f && beta1 < 1f)) throw new ArgumentOutOfRangeException(nameof(beta1), beta1, "β₁ must lie in [0, 1).");
        if (!(beta2 >= 0f && beta2 < 1f)) throw new ArgumentOutOfRangeException(nameof(beta2), beta2, "β₂ must lie in [0, 1).");
        if (!(epsilon >= 0f)) throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, "ε must be ≥ 0.");
        if (!(weightDecay >= 0f)) throw new ArgumentOutOfRangeException(nameof(weightDecay), weightDecay, "Weight decay must be ≥ 0.");
        Beta1 = beta1;
        Beta2 = beta2;
        Epsilon = epsilon;
        WeightDecay = weightDecay;
        _state = new AlignedBuffer(2L * parameters.Count);
    }

    public float Beta1 { get; }
    public float Beta2 { get; }
    public float Epsilon { get; }
    public float WeightDecay { get; }

    /// <summary>First moments, one per parameter.</summary>
    public Span<float> FirstMoments => _state.Slice(0, ParameterCount);

    /// <summary>Second moments, one per parameter.</summary>
    public Span<float> SecondMoments => _state.Slice(ParameterCount, ParameterCount);

    protected override void Update(Span<float> parameters, ReadOnlySpan<float> gradients, long step)
    {
        double bias1 = 1 - Math.Pow(Beta1, step);
        double bias2 = 1 - Math.Pow(Beta2, step);
        var op = new AdamOp(Beta1, Beta2, Epsilon, WeightDecay, (float)(LearningRate / bias1), (float)(1 / Math.Sqrt(bias2)));
        ref float p = ref MemoryMarshal.GetReference(parameters);
        ref float g = ref MemoryMarshal.GetReference(gradients);
        ref float m = ref MemoryMarshal.GetReference(FirstMoments);
        ref float v = ref MemoryMarshal.GetReference(SecondMoments);
        int n = parameters.Length;
        int i = KernelInfo.Best switch
        {
            KernelIsa.Avx512 => op.Run<Vector512<float>, Simd512>(ref p, ref g, ref m, ref v, 0, n),
            KernelIsa.Avx2 => op.Run<Vector256<float>, Simd256>(ref p, ref g, ref m, ref v, 0, n),
            _ => 0,
        };
        op.Run<float, SimdScalar>(ref p, ref g, ref m, ref v, i, n);
    }

    public override void Dispose()
    {
        _state.Dispose();
        base.Dispose();
    }

    private readonly struct AdamOp(float beta1, float beta2, float epsilon, float weightDecay, float stepSize, float inverseSqrtBias2)
    {
        public int Run<TVec, TSimd>(ref float p, ref float g, ref float m, ref float v, int start, int n) where TVec : struct where TSimd : ISimd<TVec>
        {
            int w = TSimd.Count;
            TVec b1 = TSimd.Broadcast(beta1), c1 = TSimd.Broadcast(1f - beta1);
            TVec b2 = TSimd.Broadcast(beta2), c2 = TSimd.Broadcast(1f - beta2);
            TVec wd = TSimd.Broadcast(weightDecay), eps = TSimd.Broadcast(epsilon);
            TVec minusStep = TSimd.Broadcast(-stepSize), invBias2 = TSimd.Broadcast(inverseSqrtBias2);
            int i = start;
            for (; i + w <= n; i += w)
            {
                ref float pi = ref Unsafe.Add(ref p, i);
                ref float mi = ref Unsafe.Add(ref m, i);
                ref float vi = ref Unsafe.Add(ref v, i);
                TVec pv = TSimd.Load(ref pi);
                TVec gv = TSimd.MultiplyAdd(wd, pv, TSimd.Load(ref Unsafe.Add(ref g, i)));
                TVec mv = TSimd.MultiplyAdd(b1, TSimd.Load(ref mi), TSimd.Multiply(c1, gv));
                TVec vv = TSimd.MultiplyAdd(b2, TSimd.Load(ref vi), TSimd.Multiply(c2, TSimd.Multiply(gv, gv)));
                TSimd.Store(mv, ref mi);
                TSimd.Store(vv, ref vi);
                TVec denominator = TSimd.MultiplyAdd(TSimd.Sqrt(vv), invBias2, eps);
                TSimd.Store(TSimd.MultiplyAdd(minusStep, TSimd.Divide(mv, denominator), pv), ref pi);
            }
            return i;
        }
    }
}
