using System;
using System.Runtime.CompilerServices;
using Kiln.Kernels;

namespace Kiln.Optimizers;

/// <summary>
/// RMSprop as PyTorch's <c>torch.optim.RMSprop</c>: g ← g + λp; v ← αv + (1−α)g²; centered: ḡ ← αḡ + (1−α)g and
/// d = √(v − ḡ²) + ε, else d = √v + ε; with momentum μ: b ← μb + g/d, p ← p − lr·b; without: p ← p − lr·g/d.
/// State: <c>square_avg</c>, and <c>momentum_buffer</c> / <c>grad_avg</c> when used.
/// </summary>
public sealed class RmsProp : Optimizer
{
    public RmsProp(ParameterSet parameters, float lr = 1e-2f, float alpha = 0.99f, float epsilon = 1e-8f, float weightDecay = 0f, float momentum = 0f, bool centered = false)
        : base(parameters, lr, StateNamesFor(momentum, centered))
    {
        CheckUnit(alpha, nameof(alpha), "α");
        CheckNonNegative(epsilon, nameof(epsilon), "ε");
        CheckNonNegative(weightDecay, nameof(weightDecay), "Weight decay");
        CheckNonNegative(momentum, nameof(momentum), "Momentum");
        Alpha = alpha;
        Epsilon = epsilon;
        WeightDecay = weightDecay;
        Momentum = momentum;
        Centered = centered;
    }

    public float Alpha { get; }
    public float Epsilon { get; }
    public float WeightDecay { get; }
    public float Momentum { get; }
    public bool Centered { get; }

    private static string[] StateNamesFor(float momentum, bool centered) => (momentum > 0f, centered) switch
    {
        (true, true) => new[] { "square_avg", "momentum_buffer", "grad_avg" },
        (true, false) => new[] { "square_avg", "momentum_buffer" },
        (false, true) => new[] { "square_avg", "grad_avg" },
        _ => new[] { "square_avg" },
    };

    protected override void Update(Span<float> parameters, ReadOnlySpan<float> gradients, int offset, float learningRate, long step)
    {
        int n = parameters.Length;
        Span<float> square = StateRange(0, offset, n);
        if (Momentum > 0f)
        {
            Span<float> buffer = StateRange(1, offset, n);
            if (Centered) UpdateDriver.Run(new Op<Yes, Yes>(learningRate, Alpha, Epsilon, WeightDecay, Momentum), parameters, gradients, square, buffer, StateRange(2, offset, n));
            else UpdateDriver.Run(new Op<Yes, No>(learningRate, Alpha, Epsilon, WeightDecay, Momentum), parameters, gradients, square, buffer, default);
        }
        else
        {
            // No momentum: the centered mean sits in the second state slot.
            if (Centered) UpdateDriver.Run(new Op<No, Yes>(learningRate, Alpha, Epsilon, WeightDecay, 0f), parameters, gradients, square, StateRange(1, offset, n), default);
            else UpdateDriver.Run(new Op<No, No>(learningRate, Alpha, Epsilon, WeightDecay, 0f), parameters, gradients, square, default, default);
        }
    }

    private interface IFlag { static abstract bool On { get; } }
    private readonly struct Yes : IFlag { public static bool On { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => true; } }
    private readonly struct No : IFlag { public static bool On { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => false; } }

    /// <summary>State slots: 0 square_avg; then momentum_buffer (with momentum); then grad_avg (centered).</summary>
    private readonly struct Op<TMomentum, TCentered>(float lr, float alpha, float epsilon, float weightDecay, float momentum) : IUpdateOp
        where TMomentum : struct, IFlag where TCentered : struct, IFlag
    {
        public static int States
        {
            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            get => 1 + (TMomentum.On ? 1 : 0) + (TCentered.On ? 1 : 0);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Invoke<TVec, TSimd>(ref TVec p, TVec g, ref TVec square, ref TVec s1, ref TVec s2) where TVec : struct where TSimd : ISimd<TVec>
        {
            TVec keep = TSimd.Broadcast(alpha), take = TSimd.Broadcast(1f - alpha);
            g = TSimd.MultiplyAdd(TSimd.Broadcast(weightDecay), p, g);
            square = TSimd.MultiplyAdd(keep, square, TSimd.Multiply(take, TSimd.Multiply(g, g)));
            TVec variance = square;
            if (TCentered.On)
            {
                ref TVec mean = ref TMomentum.On ? ref s2 : ref s1;
                mean = TSimd.MultiplyAdd(keep, mean, TSimd.Multiply(take, g));
                variance = TSimd.Subtract(square, TSimd.Multiply(mean, mean));
            }
            TVec scaled = TSimd.Divide(g, TSimd.Add(TSimd.Sqrt(variance), TSimd.Broadcast(epsilon)));
            if (TMomentum.On)
            {
                s1 = TSimd.MultiplyAdd(TSimd.Broadcast(momentum), s1, scaled);
                scaled = s1;
            }
            p = TSimd.MultiplyAdd(TSimd.Broadcast(-lr), scaled, p);
        }
    }
}
