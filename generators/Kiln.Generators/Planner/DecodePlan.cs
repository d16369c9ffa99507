using System.Collections.Generic;
using System.Linq;
using Kiln.Generators.Graph;
using Kiln.Generators.Helpers;

namespace Kiln.Generators.Planner;

/// <summary>What a decoding region holds for one sequence: an op's output at the current position, a norm's saved
/// statistics (which the kernel writes), or an attention op's cached keys or values over every position.</summary>
public enum DecodeRegion { Activation, Saved, Keys, Values }

/// <summary>A region of the decoder's memory, per sequence: <see cref="Width"/> floats at <see cref="Offset"/> (the
/// runtime multiplies both by the decoder's rows). Step regions and cache regions are two separate areas.</summary>
public sealed record DecodeBuffer(DecodeRegion Region, int Op, int Width, int Offset);

/// <summary>
/// Incremental decoding of a decoder-only model (a generated <c>Decoder</c>): one token per sequence in, the output
/// row of that position out, with every causal attention op's keys and values kept in a cache so that the prefix is
/// never recomputed. <see cref="Ops"/> are the ops a step runs, in order; an op missing from <see cref="Source"/>'s
/// keys has its own activation region, a dropout or noise op (identity in evaluation) reads its input's.
/// </summary>
public sealed record DecodePlan(
    int Capacity,
    EquatableArray<int> Ops,
    EquatableArray<DecodeBuffer> Buffers,
    int StepFloats,
    int CacheFloats)
{
    public DecodeBuffer? Find(DecodeRegion region, int op) => Buffers.FirstOrDefault(b => b.Region == region && b.Op == op);

    /// <summary>The plan for a model that can decode incrementally, or null. It can when its input is a sequence of
    /// T integer tokens, every op keeps the T positions apart (embeddings, positions, norms, products, activations,
    /// sums and concatenations act on each position alone) except causal self-attention over the same T positions,
    /// and there is at least one such attention: then position t of the output depends only on tokens 0..t, and a
    /// step needs only the new token and the cache.</summary>
    public static DecodePlan? Create(ModelGraph graph)
    {
        Op input = graph.Input;
        if (!input.IntegerInput || input.Shape.Rank != 1 || graph.Inputs.Count() > 1) return null;
        int steps = input.Shape.Dimensions[0];
        var ops = new List<int>();
        bool attention = false;
        for (int id = 0; id <= graph.OutputOp; id++)
        {
            Op op = graph.Ops[id];
            if (id == graph.InputOp) continue;
            if (op.IsLoss) return null;
            if (op.Shape.Rank != 2 || op.Shape.Dimensions[0] != steps) return null;
            switch (op.Kind)
            {
                case OpKind.Embedding:
                    if (op.Inputs[0] != graph.InputOp) return null;
                    break;
                case OpKind.Attention:
                    if (!op.Causal || op.Units != steps || op.Inputs.Count != 1) return null;
                    // A padding mask (KeyPadding) changes nothing here: with trailing padding and a causal mask, a query
                    // before a sample's first padding token sees only keys before it. The decoder runs real tokens only.
                    attention = true;
                    break;
                case OpKind.Dense or OpKind.Relu or OpKind.LeakyRelu or OpKind.Sigmoid or OpKind.Tanh or OpKind.Gelu or OpKind.Softmax
                    or OpKind.Add or OpKind.Concat or OpKind.Dropout or OpKind.GaussianNoise or OpKind.LayerNorm or OpKind.RmsNorm or OpKind.Positions:
                    if (op.Inputs.Any(i => i == graph.InputOp)) return null;
                    break;
                default:
                    return null;
            }
            ops.Add(id);
        }
        if (!attention) return null;

        var buffers = new List<DecodeBuffer>();
        int step = 0, cache = 0;
        foreach (int id in ops)
        {
            Op op = graph.Ops[id];
            // A product whose activation is fused writes into the activation's region; dropout and noise pass through.
            if ((op.Kind == OpKind.Dense && op.FusedActivation >= 0) || op.Kind is OpKind.Dropout or OpKind.GaussianNoise) continue;
            buffers.Add(new DecodeBuffer(DecodeRegion.Activation, id, op.Shape.Last, step));
            step += MemoryPlanner.Align(op.Shape.Last);
            int saved = op.Kind switch { OpKind.LayerNorm => 2, OpKind.RmsNorm => 1, _ => 0 };
            if (saved > 0)
            {
                buffers.Add(new DecodeBuffer(DecodeRegion.Saved, id, saved, step));
                step += MemoryPlanner.Align(saved);
            }
            if (op.Kind == OpKind.Attention)
            {
                int floats = checked(steps * op.Shape.Last);
                buffers.Add(new DecodeBuffer(DecodeRegion.Keys, id, floats, cache));
                cache = checked(cache + MemoryPlanner.Align(floats));
                buffers.Add(new DecodeBuffer(DecodeRegion.Values, id, floats, cache));
                cache = checked(cache + MemoryPlanner.Align(floats));
            }
        }
        return new DecodePlan(steps, ops.ToEquatableArray(), buffers.ToEquatableArray(), step, cache);
    }

    /// <summary>The op whose activation region holds <paramref name="op"/>'s output: itself, the activation fused into
    /// it, or (through dropout and noise) its input's.</summary>
    public static int Holder(ModelGraph graph, int op)
    {
        while (true)
        {
            Op o = graph.Ops[op];
            if (o.Kind == OpKind.Dense && o.FusedActivation >= 0) return o.FusedActivation;
            if (o.Kind is not (OpKind.Dropout or OpKind.GaussianNoise)) return op;
            op = o.Inputs[0];
        }
    }
}
