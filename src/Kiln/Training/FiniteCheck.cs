using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Kiln;

/// <summary>
/// Thrown by a model whose <c>CheckFinite</c> mode is on at the first NaN or infinity in a parameter, an input, an
/// activation, the loss or a gradient: the nearest thing to PyTorch's <c>torch.autograd.detect_anomaly</c>. It names
/// the node whose step produced the value, the tensor, the element and the training step.
/// </summary>
public sealed class NonFiniteException : ArithmeticException
{
    public NonFiniteException(string node, string tensor, long step, long index, float value)
        : base(Describe(node, tensor, step, index, value))
    {
        Node = node;
        Tensor = tensor;
        Step = step;
        Index = index;
        Value = value;
    }

    /// <summary>The declared node whose forward or backward step produced the value (or the input or parameter's node).</summary>
    public string Node { get; }

    /// <summary>Which tensor of that node: "input", "output of its Dense(128) -> Relu", "loss", "gradient w.r.t. the input of its
    /// Dense(128) (the output of 'Hidden1')", "parameter Hidden1.weight" or "gradient of Hidden1.weight".</summary>
    public string Tensor { get; }

    /// <summary>The training step (1 for the first <c>ComputeGradients</c> or <c>TrainStep</c>) during which the value appeared;
    /// in a forward or evaluation pass, the number of training steps before it.</summary>
    public long Step { get; }

    /// <summary>The flat index of the first non-finite element in the tensor (for a batch, row × width + column).</summary>
    public long Index { get; }

    /// <summary>The value found: NaN, +∞ or −∞.</summary>
    public float Value { get; }

    private static string Describe(string node, string tensor, long step, long index, float value) =>
        $"Non-finite value ({(float.IsNaN(value) ? "NaN" : value > 0 ? "+Infinity" : "-Infinity")}) at training step {step}: node '{node}', {tensor}, element {index}. " +
        "It is the first one of the step in data-flow order (parameters, input, forward, loss, then backward).";
}

/// <summary>The scans of a model's <c>CheckFinite</c> mode (generated code calls them only when the mode is on).</summary>
public static class FiniteCheck
{
    /// <summary>Throws a <see cref="NonFiniteException"/> naming <paramref name="node"/> and <paramref name="tensor"/> if any value is NaN or ±∞.</summary>
    public static void Check(ReadOnlySpan<float> values, string node, string tensor, long step)
    {
        int index = IndexOfNonFinite(values);
        if (index >= 0) throw new NonFiniteException(node, tensor, step, index, values[index]);
    }

    /// <summary>Checks every tensor of a parameter set, naming the tensor "<paramref name="kind"/> Hidden1.weight" and its node
    /// by the name's first part.</summary>
    public static void Check(ParameterSet set, string kind, long step)
    {
        ArgumentNullException.ThrowIfNull(set);
        ReadOnlySpan<float> all = set.Values;
        if (IndexOfNonFinite(all) < 0) return;
        foreach (TensorSlice slice in set.Tensors)
        {
            ReadOnlySpan<float> values = all.Slice(slice.Offset, slice.Length);
            int index = IndexOfNonFinite(values);
            if (index < 0) continue;
            int dot = slice.Name.IndexOf('.', StringComparison.Ordinal);
            throw new NonFiniteException(dot < 0 ? slice.Name : slice.Name.Substring(0, dot), kind + " " + slice.Name, step, index, values[index]);
        }
    }

    /// <summary>The index of the first NaN or ±∞, or −1. x − x is 0 for a finite x and NaN otherwise, so one vector
    /// compare per block finds both.</summary>
    public static int IndexOfNonFinite(ReadOnlySpan<float> values)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated && values.Length >= Vector256<float>.Count)
        {
            ref float start = ref MemoryMarshal.GetReference(values);
            for (; i <= values.Length - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                Vector256<float> v = Vector256.LoadUnsafe(ref start, (nuint)i);
                if (!Vector256.EqualsAll(v - v, Vector256<float>.Zero)) break;
            }
        }
        for (; i < values.Length; i++)
            if (!float.IsFinite(values[i])) return i;
        return -1;
    }

    /// <summary>Throws unless <paramref name="loss"/> is finite.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void CheckLoss(float loss, string node, long step)
    {
        if (!float.IsFinite(loss)) throw new NonFiniteException(node, "loss", step, 0, loss);
    }
}
