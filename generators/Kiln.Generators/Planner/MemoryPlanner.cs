using System;
using System.Collections.Generic;
using System.Linq;
using Kiln.Generators.Autodiff;
using Kiln.Generators.Graph;
using Kiln.Generators.Helpers;

namespace Kiln.Generators.Planner;

/// <summary>An op's output, its gradient, the dropout mask it keeps for the backward, the per-channel statistics
/// a batch norm keeps (mean and 1/σ: one set per batch, not per sample), what a recurrent layer keeps for its
/// backward (its states and gates over every step), or the scratch its backward works in.</summary>
public enum BufferKind { Activation, Gradient, Mask, Statistics, Saved, Scratch }

/// <summary>A workspace buffer: an op's activation or gradient, [Batch, width], live over [Start, End] of the
/// schedule (forward steps 0..n−1, then backward steps), placed at a static offset.</summary>
public sealed record Buffer(BufferKind Kind, int Op, int Width, int Start, int End, int Offset)
{
    /// <summary>Floats reserved: width × Batch (statistics: width), rounded up to a 64-byte line.</summary>
    public int Floats(int batch) => MemoryPlanner.Align(Kind == BufferKind.Statistics ? Width : Width * batch);
}

/// <summary>A parameter tensor and its offset in the parameter buffer (the gradient buffer has the same layout).</summary>
public sealed record ParameterSlot(string Name, Shape Shape, int Op, string Role, int Offset, int Length);

public sealed record MemoryPlan(
    EquatableArray<ParameterSlot> Parameters,
    int ParameterCount,
    int ParameterFloats,
    EquatableArray<Buffer> Buffers,
    int WorkspaceFloats)
{
    /// <summary>State saved with the parameters but not trained (PyTorch's buffers: batch norm's running statistics),
    /// in its own aligned set after the gradients.</summary>
    public EquatableArray<ParameterSlot> Persistent { get; init; } = EquatableArray<ParameterSlot>.Empty;
    public int PersistentFloats { get; init; }

    public Buffer? Find(BufferKind kind, int op) => Buffers.FirstOrDefault(b => b.Kind == kind && b.Op == op);
}

/// <summary>
/// Stage 6: static memory. Parameters and gradients are each one contiguous buffer of named, 64-byte-aligned
/// slices. Activations and gradients live in one workspace; each buffer's lifetime comes from the steps that
/// write and read it, and buffers whose lifetimes do not overlap share memory (greedy, largest first).
/// </summary>
public static class MemoryPlanner
{
    public const int AlignFloats = 16; // 64 bytes

    public static int Align(int floats) => (floats + AlignFloats - 1) / AlignFloats * AlignFloats;

    public static MemoryPlan Plan(ModelGraph graph, BackwardGraph backward)
    {
        // Parameters, in op order: PyTorch's state_dict order.
        var parameters = new List<ParameterSlot>();
        int offset = 0, count = 0;
        foreach (Op op in graph.Ops)
        {
            foreach (ParameterInfo p in op.Parameters(graph.InputShape(op)))
            {
                int length = checked((int)p.Shape.Size);
                parameters.Add(new ParameterSlot(p.Name, p.Shape, op.Id, p.Role, offset, length));
                offset = checked(offset + Align(length));
                count = checked(count + length);
            }
        }

        // Persistent state (batch norm's running statistics), in op order: PyTorch's buffer order.
        var persistent = new List<ParameterSlot>();
        int persistentOffset = 0;
        foreach (Op op in graph.Ops)
        {
            foreach (ParameterInfo p in op.Buffers(graph.InputShape(op)))
            {
                int length = checked((int)p.Shape.Size);
                persistent.Add(new ParameterSlot(p.Name, p.Shape, op.Id, p.Role, persistentOffset, length));
                persistentOffset = checked(persistentOffset + Align(length));
            }
        }

        // Lifetimes. Forward step of op i is time i; backward step k is time n + k.
        int n = graph.Ops.Count;
        var start = new Dictionary<(BufferKind, int), int>();
        var end = new Dictionary<(BufferKind, int), int>();
        void Touch(BufferKind kind, int op, int time)
        {
            var key = (kind, op);
            if (graph.Ops[op].Kind == OpKind.Input) return; // the caller's span, not workspace
            if (!start.ContainsKey(key) || time < start[key]) start[key] = time;
            if (!end.ContainsKey(key) || time > end[key]) end[key] = time;
        }

        foreach (Op op in graph.Ops)
        {
            if (op.Kind == OpKind.Input) continue;
            if (op.FusedInto >= 0)
            {
                // Computed by its Dense's epilogue: written at the Dense's step.
                Touch(BufferKind.Activation, op.Id, op.FusedInto);
                continue;
            }
            bool keepsOutput = op.FusedActivation < 0 || Differentiator.Rule(graph.Ops[op.FusedActivation].Kind).NeedsInput;
            if (keepsOutput && ActivationWidth(op, graph) > 0) Touch(BufferKind.Activation, op.Id, op.Id);
            foreach (int input in op.Inputs) Touch(BufferKind.Activation, input, op.Id);
            if (op.Kind == OpKind.Dropout) Touch(BufferKind.Mask, op.Id, op.Id);
            if (op.Kind == OpKind.BatchNorm) Touch(BufferKind.Statistics, op.Id, op.Id);
            if (KeepsSaved(op)) Touch(BufferKind.Saved, op.Id, op.Id);
        }
        // The model's output is read after the forward pass (copied out, or read by the loss).
        Touch(BufferKind.Activation, graph.OutputOp, n - 1);
        for (int k = 0; k < backward.Steps.Count; k++)
        {
            int time = n + k;
            BackwardStep step = backward.Steps[k];
            Op op = graph.Ops[step.Op];
            VjpRule rule = Differentiator.Rule(op.Kind);
            if (!op.IsLoss) Touch(BufferKind.Gradient, op.Id, time);
            if (rule.NeedsOutput && ActivationWidth(op, graph) > 0) Touch(BufferKind.Activation, op.Id, time);
            if (rule.NeedsInput)
                foreach (int input in op.Inputs) Touch(BufferKind.Activation, input, time); // cross-attention reads both
            if (op.Kind == OpKind.Dropout) Touch(BufferKind.Mask, op.Id, time);
            if (op.Kind == OpKind.BatchNorm) Touch(BufferKind.Statistics, op.Id, time);
            if (KeepsSaved(op)) Touch(BufferKind.Saved, op.Id, time);
            if (op.Kind == OpKind.Recurrent) Touch(BufferKind.Scratch, op.Id, time);
            for (int i = 0; i < op.Inputs.Count; i++)
                if (step.InputNeedsGradient[i]) Touch(BufferKind.Gradient, op.Inputs[i], time);
        }

        var pending = start.Keys
            .Select(key => new Buffer(key.Item1, key.Item2, Width(key.Item1, graph.Ops[key.Item2], graph), start[key], end[key], 0))
            .Where(b => b.Width > 0)
            .OrderByDescending(b => b.Floats(graph.Batch)).ThenBy(b => b.Start).ThenBy(b => b.Kind).ThenBy(b => b.Op)
            .ToList();

        var placed = new List<Buffer>();
        int workspace = 0;
        foreach (Buffer buffer in pending)
        {
            int size = buffer.Floats(graph.Batch);
            var busy = placed.Where(p => p.Start <= buffer.End && buffer.Start <= p.End)
                .Select(p => (p.Offset, End: p.Offset + p.Floats(graph.Batch)))
                .OrderBy(r => r.Offset).ToList();
            int at = 0;
            foreach (var (busyStart, busyEnd) in busy)
            {
                if (at + size <= busyStart) break;
                at = Math.Max(at, busyEnd);
            }
            placed.Add(buffer with { Offset = at });
            workspace = Math.Max(workspace, checked(at + size));
        }

        var ordered = placed.OrderBy(b => b.Kind).ThenBy(b => b.Op).ToEquatableArray();
        return new MemoryPlan(parameters.ToEquatableArray(), count, offset, ordered, workspace)
        {
            Persistent = persistent.ToEquatableArray(),
            PersistentFloats = persistentOffset,
        };
    }

    private static int Width(BufferKind kind, Op op, ModelGraph graph) => kind switch
    {
        BufferKind.Activation => ActivationWidth(op, graph),
        BufferKind.Statistics => 2 * graph.InputShape(op).ChannelWidth,
        BufferKind.Saved => op.Kind switch
        {
            OpKind.Recurrent => RecurrentSaved(op, graph.InputShape(op)),
            // The mean and 1/σ of each row (the runtime's LayerNorm.SavedPerRow), or 1/rms.
            OpKind.LayerNorm => checked((int)(2 * op.Shape.RowsPerSample)),
            OpKind.RmsNorm => checked((int)op.Shape.RowsPerSample),
            // The weights [H, T_q, T_k], and the dropped-out ones (the runtime's MultiHeadAttention.SavedFloatsPerSample).
            OpKind.Attention => checked(op.Heads * op.Shape.Dimensions[0] * op.Units * (op.Probability > 0 ? 2 : 1)),
            _ => 0,
        },
        BufferKind.Scratch => RecurrentScratch(op, graph.InputShape(op)),
        _ => checked((int)op.Shape.Size),
    };

    /// <summary>Ops that keep state of their own from the forward for the backward (a Saved buffer).</summary>
    public static bool KeepsSaved(Op op) => op.Kind is OpKind.Recurrent or OpKind.LayerNorm or OpKind.RmsNorm or OpKind.Attention;

    /// <summary>Floats per sample a recurrent layer keeps for its backward: the runtime's
    /// <c>RecurrentLayer.SavedFloatsPerSample</c> (the runtime checks the length it is given against it).</summary>
    public static int RecurrentSaved(Op op, Shape input)
    {
        long t = input.Dimensions[0], f = input.Last, h = op.Units, g = op.Gates;
        long extra = op.Cell == RecurrentKind.Lstm ? (t + 1) * h : op.Cell == RecurrentKind.Gru ? t * h + 3 * h : 0;
        return checked((int)(t * f + (t + 1) * h + t * g * h + extra));
    }

    /// <summary>Floats per sample a recurrent layer's backward works in: the runtime's <c>RecurrentLayer.ScratchFloatsPerSample</c>.</summary>
    public static int RecurrentScratch(Op op, Shape input)
    {
        long t = input.Dimensions[0], f = input.Last, h = op.Units, g = op.Gates;
        return checked((int)(t * g * h * (op.Cell == RecurrentKind.Gru ? 2 : 1) + 2 * h + t * f));
    }

    /// <summary>Values per sample an op keeps: its output; for softmax cross-entropy and focal loss the probabilities;
    /// for the other losses nothing.</summary>
    public static int ActivationWidth(Op op, ModelGraph graph) => op.Kind switch
    {
        OpKind.Input => 0,
        _ when op.KeepsProbabilities => checked((int)graph.Ops[op.Inputs[0]].Shape.Size),
        _ when op.IsLoss => 0,
        _ => checked((int)op.Shape.Size),
    };
}
