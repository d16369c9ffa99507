using System;
using System.Runtime.CompilerServices;
using Kiln.Kernels;

namespace Kiln.Optimizers;

/// <summary>
/// Stochastic gradient descent as PyTorch's <c>torch.optim.SGD</c>: g ← g + λp (L2 weight decay); with momentum μ,
/// b ← μb + (1 − dampening)g (b = g on the first step), then g ← g + μb (Nesterov) or g ← b; p ← p − lr·g.
/// State: <c>momentum_buffer</c> (only with momentum).
/// </summary>
public sealed class Sgd : Optimizer
{
    public Sgd(ParameterSet parameters, float lr, float momentum = 0f, float dampening = 0f, float weightDecay = 0f, bool nesterov = false)
        : base(parameters, lr, momentum > 0f ? new[] { "momentum_buffer" } : Array.Empty<string>())
    {
        CheckNonNegative(momentum, nameof(momentum), "Momentum");
        CheckNonNegative(dampening, nameof(dampening), "Dampening");
        CheckNonNegative(weightDecay, nameof(weightDecay), "Weight decay");
        if (nesterov && (momentum <= 0f || dampening != 0f))
            throw new ArgumentException("Nesterov momentum requires a momentum > 0 and zero dampening (as in PyTorch).", nameof(nesterov));
        Momentum = momentum;
        Dampening = dampening;
        WeightDecay = weightDecay;
        Nesterov = nesterov;
    }

    public float Momentum { get; }
    public float Dampening { get; }
    public float WeightDecay { get; }
    public bool Nesterov { get; }

    protected override void Update(Span<float> parameters, ReadOnlySpan<float> gradients, int offset, float learningRate, long step)
    {
        if (Momentum == 0f)
        {
            UpdateDriver.Run(new PlainOp(learningRate, WeightDecay), parameters, gradients, default, default, default);
            return;
        }
        // b ← keep·b + take·g, with b = g on the first step (keep 0, take 1).
        var op = new MomentumOp(learningRate, WeightDecay, Momentum, step == 1 ? 0f : Momentum, step == 1 ? 1f : 1f - Dampening, Nesterov);
        UpdateDriver.Run(op, parameters, gradients, StateRange(0, offset, parameters.Length), default, default);
    }

    private readonly struct PlainOp(float lr, float weightDecay) : IUpdateOp
    {
        public static int States => 0;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Invoke<TVec, TSimd>(ref TVec p, TVec g, ref TVec s0, ref TVec s1, ref TVec s2) where TVec : struct where TSimd : ISimd<TVec>
        {
            g = TSimd.MultiplyAdd(TSimd.Broadcast(weightDecay), p, g);
            p = TSimd.MultiplyAdd(TSimd.Broadcast(-lr), g, p);
        }
    }

    private readonly struct MomentumOp(float lr, float weightDecay, float momentum, float keep, float take, bool nesterov) : IUpdateOp
    {
        public static int States => 1;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Invoke<TVec, TSimd>(ref TVec p, TVec g, ref TVec b, ref TVec s1, ref TVec s2) where TVec : struct where TSimd : ISimd<TVec>
        {
            g = TSimd.MultiplyAdd(TSimd.Broadcast(weightDecay), p, g);
            b = TSimd.MultiplyAdd(TSimd.Broadcast(keep), b, TSimd.Multiply(TSimd.Broadcast(take), g));
            g = nesterov ? TSimd.MultiplyAdd(TSimd.Broadcast(momentum), b, g) : b;
            p = TSimd.MultiplyAdd(TSimd.Broadcast(-lr), g, p);
        }
    }
}
