using System;
using System.Runtime.CompilerServices;
using Kiln.Kernels;

namespace Kiln.Optimizers;

/// <summary>
/// Adagrad as PyTorch's <c>torch.optim.Adagrad</c>: clr = lr / (1 + (t − 1)·lr_decay); g ← g + λp; s ← s + g²;
/// p ← p − clr·g / (√s + ε). State: <c>sum</c>, starting at <c>initialAccumulatorValue</c>.
/// </summary>
public sealed class Adagrad : Optimizer
{
    public Adagrad(ParameterSet parameters, float lr = 1e-2f, float learningRateDecay = 0f, float weightDecay = 0f, float initialAccumulatorValue = 0f, float epsilon = 1e-10f)
        : base(parameters, lr, "sum")
    {
        CheckNonNegative(learningRateDecay, nameof(learningRateDecay), "The learning-rate decay");
        CheckNonNegative(weightDecay, nameof(weightDecay), "Weight decay");
        CheckNonNegative(initialAccumulatorValue, nameof(initialAccumulatorValue), "The initial accumulator value");
        CheckNonNegative(epsilon, nameof(epsilon), "ε");
        LearningRateDecay = learningRateDecay;
        WeightDecay = weightDecay;
        Epsilon = epsilon;
        State(0).Fill(initialAccumulatorValue);
    }

    public float LearningRateDecay { get; }
    public float WeightDecay { get; }
    public float Epsilon { get; }

    protected override void Update(Span<float> parameters, ReadOnlySpan<float> gradients, int offset, float learningRate, long step)
    {
        float clr = (float)(learningRate / (1 + (step - 1) * (double)LearningRateDecay));
        UpdateDriver.Run(new AdagradOp(clr, WeightDecay, Epsilon), parameters, gradients, StateRange(0, offset, parameters.Length), default, default);
    }

    private readonly struct AdagradOp(float lr, float weightDecay, float epsilon) : IUpdateOp
    {
        public static int States => 1;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Invoke<TVec, TSimd>(ref TVec p, TVec g, ref TVec sum, ref TVec s1, ref TVec s2) where TVec : struct where TSimd : ISimd<TVec>
        {
            g = TSimd.MultiplyAdd(TSimd.Broadcast(weightDecay), p, g);
            sum = TSimd.MultiplyAdd(g, g, sum);
            p = TSimd.MultiplyAdd(TSimd.Broadcast(-lr), TSimd.Divide(g, TSimd.Add(TSimd.Sqrt(sum), TSimd.Broadcast(epsilon))), p);
        }
    }
}
