using System;
using System.Runtime.CompilerServices;
using Kiln.Kernels;

namespace Kiln.Optimizers;

/// <summary>
/// Adam as PyTorch's <c>torch.optim.Adam</c>, with L2 weight decay added to the gradient (g ← g + λp):
/// m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g²; p ← p − (lr/(1−β₁ᵗ))·m / (√v/√(1−β₂ᵗ) + ε).
/// State: <c>exp_avg</c> (m) and <c>exp_avg_sq</c> (v).
/// </summary>
public class Adam : Optimizer
{
    public Adam(ParameterSet parameters, float lr = 1e-3f, float beta1 = 0.9f, float beta2 = 0.999f, float epsilon = 1e-8f, float weightDecay = 0f)
        : base(parameters, lr, "exp_avg", "exp_avg_sq")
    {
        CheckUnit(beta1, nameof(beta1), "β₁");
        CheckUnit(beta2, nameof(beta2), "β₂");
        CheckNonNegative(epsilon, nameof(epsilon), "ε");
        CheckNonNegative(weightDecay, nameof(weightDecay), "Weight decay");
        Beta1 = beta1;
        Beta2 = beta2;
        Epsilon = epsilon;
        WeightDecay = weightDecay;
    }

    public float Beta1 { get; }
    public float Beta2 { get; }
    public float Epsilon { get; }
    public float WeightDecay { get; }

    /// <summary>Whether the weight decay is decoupled from the gradient (AdamW) rather than added to it (L2).</summary>
    protected virtual bool Decoupled => false;

    /// <summary>First moments (<c>exp_avg</c>), one per parameter.</summary>
    public Span<float> FirstMoments => State(0);

    /// <summary>Second moments (<c>exp_avg_sq</c>), one per parameter.</summary>
    public Span<float> SecondMoments => State(1);

    protected override void Update(Span<float> parameters, ReadOnlySpan<float> gradients, int offset, float learningRate, long step)
    {
        double bias1 = 1 - Math.Pow(Beta1, step);
        double bias2 = 1 - Math.Pow(Beta2, step);
        var op = new AdamOp(Beta1, Beta2, Epsilon, Decoupled ? 0f : WeightDecay, Decoupled ? 1f - learningRate * WeightDecay : 1f,
            (float)(learningRate / bias1), (float)(1 / Math.Sqrt(bias2)));
        UpdateDriver.Run(op, parameters, gradients, StateRange(0, offset, parameters.Length), StateRange(1, offset, parameters.Length), default);
    }

    private readonly struct AdamOp(float beta1, float beta2, float epsilon, float l2, float shrink, float stepSize, float inverseSqrtBias2) : IUpdateOp
    {
        public static int States => 2;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Invoke<TVec, TSimd>(ref TVec p, TVec g, ref TVec m, ref TVec v, ref TVec s2) where TVec : struct where TSimd : ISimd<TVec>
        {
            g = TSimd.MultiplyAdd(TSimd.Broadcast(l2), p, g);
            m = TSimd.MultiplyAdd(TSimd.Broadcast(beta1), m, TSimd.Multiply(TSimd.Broadcast(1f - beta1), g));
            v = TSimd.MultiplyAdd(TSimd.Broadcast(beta2), v, TSimd.Multiply(TSimd.Broadcast(1f - beta2), TSimd.Multiply(g, g)));
            TVec denominator = TSimd.MultiplyAdd(TSimd.Sqrt(v), TSimd.Broadcast(inverseSqrtBias2), TSimd.Broadcast(epsilon));
            // AdamW first shrinks p by (1 − lr·λ); Adam's shrink is 1.
            p = TSimd.MultiplyAdd(TSimd.Broadcast(-stepSize), TSimd.Divide(m, denominator), TSimd.Multiply(TSimd.Broadcast(shrink), p));
        }
    }
}

/// <summary>
/// AdamW as PyTorch's <c>torch.optim.AdamW</c>: decoupled weight decay, p ← p·(1 − lr·λ), then Adam's update without
/// L2 (default λ = 0.01, as PyTorch).
/// </summary>
public sealed class AdamW : Adam
{
    public AdamW(ParameterSet parameters, float lr = 1e-3f, float beta1 = 0.9f, float beta2 = 0.999f, float epsilon = 1e-8f, float weightDecay = 1e-2f)
        : base(parameters, lr, beta1, beta2, epsilon, weightDecay)
    {
    }

    protected override bool Decoupled => true;
}
