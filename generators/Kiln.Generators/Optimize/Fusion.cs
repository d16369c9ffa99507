using System.Linq;
using Kiln.Generators.Graph;
using Kiln.Generators.Helpers;

namespace Kiln.Generators.Optimize;

/// <summary>
/// Stage 5: fuses element-wise ops into their producer. An activation that is the only reader of a Dense's or a
/// convolution's output runs in that product's epilogue (with the bias), while the tile is in registers, instead of as a
/// second pass. The backward graph is unchanged: the activation keeps its own VJP step.
/// </summary>
public static class Fusion
{
    public static ModelGraph Fuse(ModelGraph graph)
    {
        Op[] ops = graph.Ops.ToArray();
        int[] readers = new int[ops.Length];
        foreach (Op op in ops)
            foreach (int input in op.Inputs) readers[input]++;

        foreach (Op activation in ops)
        {
            if (!IsFusable(activation.Kind)) continue;
            int producer = activation.Inputs[0];
            Op dense = ops[producer];
            if (!dense.IsProduct || readers[producer] != 1 || producer == graph.OutputOp || dense.FusedActivation >= 0) continue;
            ops[producer] = dense with { FusedActivation = activation.Id };
            ops[activation.Id] = activation with { FusedInto = producer };
        }
        return graph with { Ops = ops.ToEquatableArray() };
    }

    /// <summary>The activations the GEMM epilogue implements.</summary>
    public static bool IsFusable(OpKind kind) =>
        kind is OpKind.Relu or OpKind.LeakyRelu or OpKind.Sigmoid or OpKind.Tanh or OpKind.Gelu;
}
