using System;
using System.Runtime.CompilerServices;
using Kiln.Kernels;

namespace Kiln.Optimizers;

/// <summary>
/// Adadelta as PyTorch's <c>torch.optim.Adadelta</c>: g ← g + λp; v ← ρv + (1−ρ)g²; Δ = √(u + ε)/√(v + ε)·g;
/// u ← ρu + (1−ρ)Δ²; p ← p − lr·Δ. State: <c>square_avg</c> (v), <c>acc_delta</c> (u).
/// </summary>
public sealed class Adadelta : Optimizer
{
    public Adadelta(ParameterSet parameters, float lr = 1f, float rho = 0.9f, float epsilon = 1e-6f, float weightDecay = 0f)
        : base(parameters, lr, "square_avg", "acc_delta")
    {
        CheckUnit(rho, nameof(rho), "ρ");
        CheckNonNegative(epsilon, nameof(epsilon), "ε");
        CheckNonNegative(weightDecay, nameof(weightDecay), "Weight decay");
        Rho = rho;
        Epsilon = epsilon;
        WeightDecay = weightDecay;
    }

    public float Rho { get; }
    public float Epsilon { get; }
    public float WeightDecay { get; }

    protected override void Update(Span<float> parameters, ReadOnlySpan<float> gradients, int offset, float learningRate, long step) =>
        UpdateDriver.Run(new AdadeltaOp(learningRate, Rho, Epsilon, WeightDecay), parameters, gradients,
            StateRange(0, offset, parameters.Length), StateRange(1, offset, parameters.Length), default);

    private readonly struct AdadeltaOp(float lr, float rho, float epsilon, float weightDecay) : IUpdateOp
    {
        public static int States => 2;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Invoke<TVec, TSimd>(ref TVec p, TVec g, ref TVec v, ref TVec u, ref TVec s2) where TVec : struct where TSimd : ISimd<TVec>
        {
            TVec eps = TSimd.Broadcast(epsilon), keep = TSimd.Broadcast(rho), take = TSimd.Broadcast(1f - rho);
            g = TSimd.MultiplyAdd(TSimd.Broadcast(weightDecay), p, g);
            v = TSimd.MultiplyAdd(keep, v, TSimd.Multiply(take, TSimd.Multiply(g, g)));
            TVec delta = TSimd.Multiply(TSimd.Divide(TSimd.Sqrt(TSimd.Add(u, eps)), TSimd.Sqrt(TSimd.Add(v, eps))), g);
            u = TSimd.MultiplyAdd(keep, u, TSimd.Multiply(take, TSimd.Multiply(delta, delta)));
            p = TSimd.MultiplyAdd(TSimd.Broadcast(-lr), delta, p);
        }
    }
}
