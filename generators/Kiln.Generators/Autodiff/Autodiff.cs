using System.Collections.Generic;
using Kiln.Generators.Graph;
using Kiln.Generators.Helpers;

namespace Kiln.Generators.Autodiff;

/// <summary>What an op's vector-Jacobian product reads from the forward pass.</summary>
public sealed record VjpRule(bool NeedsInput, bool NeedsOutput);

/// <summary>One backward step: the VJP of one op. For each input: whether its gradient is needed, and
/// whether it adds to a gradient an earlier step already wrote (fan-out) instead of assigning it.</summary>
public sealed record BackwardStep(int Op, EquatableArray<bool> InputNeedsGradient, EquatableArray<bool> InputAccumulates, bool HasParameters);

/// <summary>The backward graph: steps in reverse topological order, from the loss to the first op with parameters.</summary>
public sealed record BackwardGraph(EquatableArray<BackwardStep> Steps, EquatableArray<bool> RequiresGradient);

/// <summary>
/// Stage 4: reverse-mode differentiation over the op DAG. Each op kind has a VJP rule (what it reads); the
/// steps run in reverse order, and a tensor read by several ops gets its gradient assigned by the first step
/// and accumulated by the others.
/// </summary>
public static class Differentiator
{
    public static VjpRule Rule(OpKind kind) => kind switch
    {
        OpKind.Input => new(false, false),
        OpKind.Dense => new(NeedsInput: true, NeedsOutput: false),        // dW = dYᵀ·X
        OpKind.Relu => new(false, true),                                  // y > 0
        OpKind.LeakyRelu => new(true, false),                             // x > 0
        OpKind.Sigmoid => new(false, true),                               // y(1 − y)
        OpKind.Tanh => new(false, true),                                  // 1 − y²
        OpKind.Gelu => new(true, false),                                  // Φ(x) + xφ(x)
        OpKind.Softmax => new(false, true),                               // y ⊙ (dy − Σ dy⊙y)
        OpKind.Add => new(false, false),                                  // dy to both
        OpKind.Dropout => new(false, false),                              // dy·mask (the mask is its own buffer)
        OpKind.GaussianNoise => new(false, false),                        // dy
        OpKind.SoftmaxCrossEntropy => new(false, true),                   // p − onehot (p saved as its output)
        OpKind.MeanSquaredError => new(true, false),                      // 2(p − t)/n
        OpKind.L1Loss => new(true, false),                                // sign(p − t)
        OpKind.HuberLoss => new(true, false),                             // d or δ·sign(d)
        OpKind.BinaryCrossEntropyWithLogits => new(true, false),          // σ(x) − t
        OpKind.FocalLoss => new(false, true),                             // from the saved probabilities
        OpKind.BinaryFocalLoss => new(true, false),                       // from the logits
        OpKind.ChannelsLast => new(false, false),                         // transpose back
        OpKind.ChannelsFirst => new(false, false),                        // transpose back
        OpKind.Conv2d => new(NeedsInput: true, NeedsOutput: false),       // dW = dY ⊗ im2col(X)
        OpKind.MaxPool2d => new(true, true),                              // to the first x == y of each window
        OpKind.AvgPool2d => new(false, false),                            // spread over the window
        OpKind.GlobalAvgPool => new(false, false),                        // dy / pixels everywhere
        OpKind.BatchNorm => new(NeedsInput: true, NeedsOutput: false),    // x̂ from x and the saved statistics
        OpKind.Flatten => new(false, false),                              // transpose back
        OpKind.Concat => new(false, false),                               // split dy
        OpKind.Embedding => new(NeedsInput: true, NeedsOutput: false),    // scatter-add dy into the tokens' rows
        OpKind.Recurrent => new(false, false),                            // from its own saved states (time-major x, h, c, gates)
        OpKind.LayerNorm => new(NeedsInput: true, NeedsOutput: false),    // x̂ from x and the saved mean and 1/σ
        OpKind.RmsNorm => new(NeedsInput: true, NeedsOutput: false),      // x̂ from x and the saved 1/rms
        OpKind.Attention => new(NeedsInput: true, NeedsOutput: false),    // Q, K, V and the saved weights
        OpKind.Positions => new(false, false),                            // dy to the input; Σ over samples to the table
        _ => new(true, true),
    };

    /// <summary>An op with trainable parameters (a product, or an affine batch norm).</summary>
    public static bool HasParameters(Op op) => op.IsProduct || op.Kind is OpKind.Embedding or OpKind.Recurrent
        || (op.Kind is OpKind.BatchNorm or OpKind.LayerNorm or OpKind.RmsNorm && op.HasBias) || (op.Kind == OpKind.Positions && op.Learned);

    public static BackwardGraph Differentiate(ModelGraph graph)
    {
        int n = graph.Ops.Count;
        var requires = new bool[n];
        foreach (Op op in graph.Ops)
        {
            bool r = HasParameters(op);
            foreach (int input in op.Inputs) r |= requires[input];
            requires[op.Id] = r;
        }
        if (graph.LossOp < 0)
            return new BackwardGraph(EquatableArray<BackwardStep>.Empty, requires.ToEquatableArray());

        var hasGradient = new bool[n];
        hasGradient[graph.LossOp] = true;
        var steps = new List<BackwardStep>();
        for (int id = graph.LossOp; id >= 0; id--)
        {
            Op op = graph.Ops[id];
            if (!hasGradient[id] || !requires[id]) continue;
            var needs = new bool[op.Inputs.Count];
            var accumulates = new bool[op.Inputs.Count];
            for (int i = 0; i < op.Inputs.Count; i++)
            {
                int input = op.Inputs[i];
                if (!requires[input]) continue;
                needs[i] = true;
                accumulates[i] = hasGradient[input];
                hasGradient[input] = true;
            }
            steps.Add(new BackwardStep(id, needs.ToEquatableArray(), accumulates.ToEquatableArray(), HasParameters(op)));
        }
        return new BackwardGraph(steps.ToEquatableArray(), requires.ToEquatableArray());
    }
}
