using System.Linq;
using Kiln.Generators.Autodiff;
using Kiln.Generators.Graph;
using Kiln.Generators.Helpers;
using Kiln.Generators.Model;
using Kiln.Generators.Planner;
using Xunit;
using static Kiln.Generators.Tests.DiagnosticTests;

namespace Kiln.Generators.Tests;

/// <summary>The pure stages on their own: graph building, differentiation and memory planning, with no Roslyn.</summary>
public class StageTests
{
    private static MemberDeclaration Node(string name, params AttributeDeclaration[] attributes) =>
        new(name, "public", true, attributes.ToEquatableArray(), null);

    private static AttributeDeclaration Attr(string name, params (string, string)[] arguments) =>
        new(name, name, arguments.Select(a => new ArgumentDeclaration(a.Item1, a.Item1 == "Skip" || a.Item1 == "From" ? ArgumentKind.String : ArgumentKind.Int, a.Item2, null)).ToEquatableArray(), null);

    /// <summary>X -> A -> (B, C both read A) -> Sum(B + C) -> Loss: A fans out to two readers.</summary>
    private static ModelGraph FanOut()
    {
        var (graph, diagnostics) = GraphBuilder.Build(Declaration(
            Node("X", Attr("Input", ("Width", "5"))),
            Node("A", Attr("Dense", ("Units", "6")), Attr("Tanh")),
            Node("B", Attr("Dense", ("Units", "6"))),
            Node("C", Attr("Relu", ("From", "A"))),
            Node("Sum", Attr("Add", ("Skip", "B"))),
            Node("Loss", Attr("MeanSquaredError"))));
        Assert.Empty(diagnostics);
        return graph!;
    }

    [Fact]
    public void GraphBuilder_InfersShapes_AndResolvesFrom()
    {
        ModelGraph graph = FanOut();
        Assert.Equal(new[] { OpKind.Input, OpKind.Dense, OpKind.Tanh, OpKind.Dense, OpKind.Relu, OpKind.Add, OpKind.MeanSquaredError }, graph.Ops.Select(o => o.Kind));
        Assert.Equal(2, graph.Ops[4].Inputs[0]); // C reads A's output (the Tanh)
        Assert.Equal(new[] { 4, 3 }, graph.Ops[5].Inputs.ToArray()); // Sum = C + B
        Assert.All(graph.Ops.Skip(1).Take(5), o => Assert.Equal(Shape.Of(6), o.Shape));
        Assert.Equal(5, graph.OutputOp);
        Assert.Equal(InitKind.Xavier, graph.Ops[1].Init);          // Dense before Tanh
        Assert.Equal(InitKind.PyTorchDefault, graph.Ops[3].Init);  // Dense before nothing
    }

    [Fact]
    public void Differentiator_AccumulatesGradientOnFanOut()
    {
        ModelGraph graph = FanOut();
        BackwardGraph backward = Differentiator.Differentiate(graph);
        Assert.Equal(new[] { 6, 5, 4, 3, 2, 1 }, backward.Steps.Select(s => s.Op));
        // A's output (op 2) is read by B's Dense (op 3) and C's Relu (op 4). Reverse order: Relu (op 4) runs
        // first and assigns dA; Dense (op 3) runs later and accumulates.
        BackwardStep relu = backward.Steps.Single(s => s.Op == 4);
        BackwardStep dense = backward.Steps.Single(s => s.Op == 3);
        Assert.False(relu.InputAccumulates[0]);
        Assert.True(dense.InputAccumulates[0]);
        // The first Dense reads the model input, which needs no gradient.
        Assert.False(backward.Steps.Single(s => s.Op == 1).InputNeedsGradient[0]);
    }

    [Fact]
    public void MemoryPlanner_NeverOverlapsLiveBuffers_AndReusesDeadOnes()
    {
        ModelGraph graph = FanOut();
        MemoryPlan plan = MemoryPlanner.Plan(graph, Differentiator.Differentiate(graph));
        var buffers = plan.Buffers.ToArray();
        for (int i = 0; i < buffers.Length; i++)
        {
            for (int j = i + 1; j < buffers.Length; j++)
            {
                Buffer a = buffers[i], b = buffers[j];
                bool timeOverlap = a.Start <= b.End && b.Start <= a.End;
                bool memoryOverlap = a.Offset < b.Offset + b.Floats(graph.Batch) && b.Offset < a.Offset + a.Floats(graph.Batch);
                Assert.False(timeOverlap && memoryOverlap, $"{a} and {b} overlap");
            }
        }
        Assert.All(buffers, b => Assert.Equal(0, b.Offset % MemoryPlanner.AlignFloats));
        Assert.True(plan.WorkspaceFloats < buffers.Sum(b => b.Floats(graph.Batch)), "no buffer was reused");
    }

    [Fact]
    public void MemoryPlanner_LaysOutParametersInPyTorchOrder_Aligned()
    {
        ModelGraph graph = FanOut();
        MemoryPlan plan = MemoryPlanner.Plan(graph, Differentiator.Differentiate(graph));
        Assert.Equal(new[] { "A.weight", "A.bias", "B.weight", "B.bias" }, plan.Parameters.Select(p => p.Name));
        Assert.Equal(Shape.Of(6, 5), plan.Parameters[0].Shape);
        Assert.Equal(6 * 5 + 6 + 6 * 6 + 6, plan.ParameterCount);
        Assert.All(plan.Parameters, p => Assert.Equal(0, p.Offset % MemoryPlanner.AlignFloats));
    }

    [Fact]
    public void NodeWithTwoDenses_NamesParametersByPosition()
    {
        var (graph, diagnostics) = GraphBuilder.Build(Declaration(
            Node("X", Attr("Input", ("Width", "4"))),
            Node("Mlp", Attr("Dense", ("Units", "8")), Attr("Gelu"), Attr("Dense", ("Units", "4")))));
        Assert.Empty(diagnostics);
        MemoryPlan plan = MemoryPlanner.Plan(graph!, Differentiator.Differentiate(graph!));
        Assert.Equal(new[] { "Mlp.0.weight", "Mlp.0.bias", "Mlp.2.weight", "Mlp.2.bias" }, plan.Parameters.Select(p => p.Name));
    }
}

public class FusionStageTests
{
    private static MemberDeclaration Node(string name, params AttributeDeclaration[] attributes) =>
        new(name, "public", true, attributes.ToEquatableArray(), null);

    private static AttributeDeclaration Attr(string name, params (string, string)[] arguments) =>
        new(name, name, arguments.Select(a => new ArgumentDeclaration(a.Item1, a.Item1 is "Skip" or "From" ? ArgumentKind.String : ArgumentKind.Int, a.Item2, null)).ToEquatableArray(), null);

    [Fact]
    public void ActivationAfterDense_IsFused_UnlessTheDenseHasAnotherReader()
    {
        var (graph, diagnostics) = GraphBuilder.Build(Declaration(
            Node("X", Attr("Input", ("Width", "5"))),
            Node("A", Attr("Dense", ("Units", "6")), Attr("Gelu")),     // fused; GELU's backward needs the pre-activation
            Node("B", Attr("Dense", ("Units", "6"))),                   // read by C and by Sum: not fused
            Node("C", Attr("Relu")),
            Node("Sum", Attr("Add", ("Skip", "B"))),
            Node("Loss", Attr("MeanSquaredError"))));
        Assert.Empty(diagnostics);
        ModelGraph fused = Kiln.Generators.Optimize.Fusion.Fuse(graph!);
        Assert.Equal(2, fused.Ops[1].FusedActivation);
        Assert.Equal(1, fused.Ops[2].FusedInto);
        Assert.Equal(-1, fused.Ops[3].FusedActivation);
        Assert.Equal(-1, fused.Ops[4].FusedInto);

        MemoryPlan plan = MemoryPlanner.Plan(fused, Differentiator.Differentiate(fused));
        Assert.NotNull(plan.Find(BufferKind.Activation, 1)); // GELU's input is kept for its backward
        Assert.NotNull(plan.Find(BufferKind.Activation, 3)); // the unfused Dense writes its own output
    }

    [Fact]
    public void FusedRelu_DropsThePreActivationBuffer()
    {
        var (graph, _) = GraphBuilder.Build(Declaration(
            Node("X", Attr("Input", ("Width", "5"))),
            Node("H", Attr("Dense", ("Units", "6")), Attr("Relu")),
            Node("Loss", Attr("MeanSquaredError"))));
        ModelGraph fused = Kiln.Generators.Optimize.Fusion.Fuse(graph!);
        MemoryPlan plan = MemoryPlanner.Plan(fused, Differentiator.Differentiate(fused));
        Assert.Null(plan.Find(BufferKind.Activation, 1)); // ReLU's backward reads its output only
        Assert.NotNull(plan.Find(BufferKind.Activation, 2));
    }
}
