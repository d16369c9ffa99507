using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Kiln.Generators.Diagnostics;
using Kiln.Generators.Helpers;
using Kiln.Generators.Model;

namespace Kiln.Generators.Graph;

/// <summary>
/// Stages 2 and 3: turns a declaration into a graph of ops with static shapes, checking every shape rule.
/// A violation becomes a diagnostic at the attribute (or argument) that is wrong; the graph is returned only
/// when there is no error (warnings do not stop it). Blocks named by <c>Repeat</c> are expanded in place, each
/// repetition checked with the shapes that reach it.
/// </summary>
public static class GraphBuilder
{
    /// <summary>Names every model gets as generated members: a node may not take them.</summary>
    public static readonly IReadOnlyCollection<string> ReservedNames = new HashSet<string>(StringComparer.Ordinal)
    {
        "Batch", "InputSize", "OutputSize", "ParameterCount", "WorkspaceBytes", "Summary", "Nodes", "Parameters",
        "Gradients", "Forward", "Predict", "Evaluate", "ComputeGradients", "TrainStep", "Save", "Load", "Dispose",
        "InitializeParameters", "ParameterOffsets", "WorkspaceOffsets", "ParameterFloats", "WorkspaceFloats",
        "WorkspaceStart", "MemoryFloats", "CreateSlices", "RunForward", "RunLoss", "RunBackward", "Threads",
        "Training", "Random", "Buffers", "BufferOffsets", "BufferFloats", "BufferStart", "CreateBufferSlices", "States", "CarryState",
    };

    /// <summary>The largest tensor (values) a model may have: 2²⁸ floats, 1 GiB.</summary>
    public const long MaxTensorValues = 1L << 28;

    /// <summary>How deep blocks may nest (a block repeating a block ...).</summary>
    public const int MaxBlockDepth = 8;

    public static (ModelGraph? Graph, EquatableArray<DiagnosticInfo> Diagnostics) Build(ModelDeclaration model) =>
        Build(model, EquatableArray<BlockDeclaration>.Empty);

    public static (ModelGraph? Graph, EquatableArray<DiagnosticInfo> Diagnostics) Build(ModelDeclaration model, EquatableArray<BlockDeclaration> blocks)
    {
        var builder = new Builder(model, blocks);
        ModelGraph? graph = builder.Run();
        bool errors = builder.Reported.Any(d => !DiagnosticIds.IsWarning(d.Id));
        return (errors ? null : graph, builder.Reported.ToEquatableArray());
    }

    /// <summary>
    /// The errors of a block's own declaration, checked once where it is declared (not per use): partial and
    /// non-generic, nodes that are partial Node properties with at least one layer, no duplicates, no input or loss.
    /// </summary>
    public static EquatableArray<DiagnosticInfo> CheckBlock(BlockDeclaration block)
    {
        var found = new List<DiagnosticInfo>();
        if (!block.IsPartial || block.IsGeneric || block.ContainingTypes.Any(t => !t.IsPartial))
        {
            string why = !block.IsPartial ? "add the 'partial' modifier"
                : block.IsGeneric ? "remove its type parameters"
                : "add 'partial' to '" + block.ContainingTypes.First(t => !t.IsPartial).Name + "'";
            string? makePartial = !block.IsPartial ? block.Name : block.IsGeneric ? null : block.ContainingTypes.First(t => !t.IsPartial).Name;
            found.Add(DiagnosticInfo.Create(DiagnosticIds.BlockNotPartial, block.NameSpan, block.Name, why) with
            {
                Fix = makePartial is null ? null : DiagnosticFix.At(FixKinds.MakePartial, makePartial),
            });
        }
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (MemberDeclaration member in block.Members)
        {
            if (!seen.Add(member.Name))
            {
                found.Add(DiagnosticInfo.Create(DiagnosticIds.DuplicateNode, member.Span, member.Name, block.Name));
                continue;
            }
            if (!member.IsPartialNodeProperty)
            {
                if (member.Attributes.Count > 0) found.Add(DiagnosticInfo.Create(DiagnosticIds.NodeNotPartialNodeProperty, member.Span, member.Name));
                continue;
            }
            if (member.Attributes.Count == 0)
            {
                found.Add(DiagnosticInfo.Create(DiagnosticIds.NodeWithoutOps, member.Span, member.Name));
                continue;
            }
            foreach (AttributeDeclaration attribute in member.Attributes)
                if (attribute.Name == "Input" || IsLossName(attribute.Name))
                    found.Add(DiagnosticInfo.Create(DiagnosticIds.LayerNotAllowedInBlock, attribute.Span ?? member.Span, attribute.Name, member.Name, block.Name));
        }
        return found.ToEquatableArray();
    }

    private static bool IsLossName(string name) => name is "SoftmaxCrossEntropy" or "MeanSquaredError" or "L1Loss" or "HuberLoss"
        or "BinaryCrossEntropyWithLogits" or "FocalLoss" or "BinaryFocalLoss";

    /// <summary>Where nodes are resolved: the model, or one repetition of a block (its own node names, its input).</summary>
    private sealed class Scope(string prefix, string owner, int input, IReadOnlyCollection<string> declared, IReadOnlyList<string> chain, Scope? parent = null)
    {
        /// <summary>The scope a block repetition sits in (null for the model): where a cross-attention's Memory is looked
        /// for when the block does not declare it (a decoder block attends over the model's encoder).</summary>
        public Scope? Parent { get; } = parent;
        /// <summary>Prepended to node names: "" in the model, "Blocks.0." in the first repetition of node Blocks.</summary>
        public string Prefix { get; } = prefix;
        /// <summary>"model 'M'" or "block 'B'", for messages.</summary>
        public string Owner { get; } = owner;
        /// <summary>The op the scope's first node reads: the block's input (−1 in the model, whose first node is the input).</summary>
        public int Input { get; } = input;
        public Dictionary<string, int> Outputs { get; } = new(StringComparer.Ordinal);
        /// <summary>Nodes that failed (already reported): reading them reports nothing more.</summary>
        public HashSet<string> Failed { get; } = new(StringComparer.Ordinal);
        public IReadOnlyCollection<string> Declared { get; } = declared;
        /// <summary>The blocks being expanded, outermost first (to refuse a block that contains itself).</summary>
        public IReadOnlyList<string> Chain { get; } = chain;
    }

    private sealed class Builder(ModelDeclaration model, EquatableArray<BlockDeclaration> blocks)
    {
        public readonly List<DiagnosticInfo> Reported = new();
        private readonly List<Op> _ops = new();
        private readonly List<NodeInfo> _nodes = new();
        private bool _shapesValid = true;
        /// <summary>The current node's unpadded stride-1 convolutions and the rows and columns each took off the map: where
        /// a Residual that fails on the map size offers Padding = Padding.Same.</summary>
        private List<(SourceSpan Span, int Rows, int Columns)> _unpaddedConvolutions = new();

        private bool HasErrors => Reported.Any(d => !DiagnosticIds.IsWarning(d.Id));

        private void Report(string id, SourceSpan? span, params string[] args) => Reported.Add(DiagnosticInfo.Create(id, span, args));

        /// <summary>A diagnostic that carries the code fix <paramref name="fix"/> (none when null).</summary>
        private void Report(DiagnosticFix? fix, string id, SourceSpan? span, params string[] args) =>
            Reported.Add(DiagnosticInfo.Create(id, span, args) with { Fix = fix });

        /// <summary>The fix that gives the argument <paramref name="argument"/> the value <paramref name="value"/>, when it is written out.</summary>
        private static DiagnosticFix? Replace(ArgumentDeclaration? argument, long value) =>
            argument?.Span is null ? null : DiagnosticFix.At(FixKinds.ReplaceValue, value.ToString(CultureInfo.InvariantCulture));

        public ModelGraph? Run()
        {
            if (!model.IsPartial)
            {
                Report(DiagnosticFix.At(FixKinds.MakePartial, model.Name), DiagnosticIds.ModelNotPartial, model.NameSpan, model.Name);
                return null;
            }
            foreach (ContainingType outer in model.ContainingTypes)
            {
                if (!outer.IsPartial) Report(DiagnosticFix.At(FixKinds.MakePartial, outer.Name), DiagnosticIds.ContainingTypeNotPartial, model.NameSpan, model.Name, outer.Name);
            }
            if (model.IsGeneric) Report(DiagnosticIds.UnsupportedModelClass, model.NameSpan, model.Name, "generic");
            if (model.IsStatic) Report(DiagnosticIds.UnsupportedModelClass, model.NameSpan, model.Name, "static");
            if (model.IsBlock) Report(DiagnosticIds.UnsupportedModelClass, model.NameSpan, model.Name, "also marked [Block] (a class is a model or a block: remove one attribute)");
            if (HasErrors) return null;

            int batch = model.Batch ?? 0;
            if (model.Batch is null)
                Report(DiagnosticIds.MissingSize, model.ModelAttributeSpan, "Batch", model.Name, "set the training batch size, e.g. [Model(Batch = 64)]");
            else if (batch <= 0)
                Report(DiagnosticIds.InvalidSize, model.BatchSpan ?? model.ModelAttributeSpan, "Batch", model.Name, "a positive number of samples", Int(batch));

            var declared = new HashSet<string>(StringComparer.Ordinal);
            foreach (MemberDeclaration member in model.Members)
            {
                if (!declared.Add(member.Name))
                    Report(DiagnosticIds.DuplicateNode, member.Span, member.Name, model.Name);
            }
            if (HasErrors) return null;

            var scope = new Scope("", "model '" + model.Name + "'", -1, declared, Array.Empty<string>());
            int lossOp = -1;
            string? lossNode = null;
            bool reportedAfterLoss = false;
            int previous = -1;
            foreach (MemberDeclaration member in model.Members)
            {
                if (!member.IsPartialNodeProperty)
                {
                    if (member.Attributes.Count > 0) Report(DiagnosticIds.NodeNotPartialNodeProperty, member.Span, member.Name);
                    scope.Failed.Add(member.Name);
                    continue;
                }
                if (member.Attributes.Count == 0)
                {
                    Report(DiagnosticIds.NodeWithoutOps, member.Span, member.Name);
                    scope.Failed.Add(member.Name);
                    continue;
                }
                if (ReservedNames.Contains(member.Name))
                {
                    Report(DiagnosticIds.ReservedNodeName, member.Span, member.Name);
                    scope.Failed.Add(member.Name);
                    continue;
                }
                if (lossNode is not null)
                {
                    if (!reportedAfterLoss) Report(DiagnosticIds.NodeAfterLoss, member.Attributes[0].Span ?? member.Span, member.Name, lossNode);
                    reportedAfterLoss = true;
                    scope.Failed.Add(member.Name);
                    continue;
                }

                int firstOp = _ops.Count;
                var labels = new List<string>();
                int? last = AddNode(member, scope, previous, batch, labels, stopAtLoss: true, out int? loss);
                if (loss is int l)
                {
                    lossOp = l;
                    lossNode = member.Name;
                    int lossIndex = member.Attributes.ToList().FindIndex(a => IsLossName(a.Name));
                    if (lossIndex >= 0 && lossIndex + 1 < member.Attributes.Count && !reportedAfterLoss)
                    {
                        Report(DiagnosticIds.NodeAfterLoss, member.Attributes[lossIndex + 1].Span, member.Name, lossNode);
                        reportedAfterLoss = true;
                    }
                }
                if (last is int lastOp && _ops.Count > firstOp)
                {
                    previous = lastOp;
                    _nodes.Add(new NodeInfo(member.Name, member.Modifiers, firstOp, _ops.Count - 1, string.Join(" -> ", labels)));
                }
                else
                {
                    _shapesValid = false;
                }
            }

            if (_ops.Count == 0 || _ops[0].Kind != OpKind.Input)
            {
                if (!Reported.Any(e => e.Id is DiagnosticIds.ModelHasNoInput or DiagnosticIds.InputMisplaced))
                    Report(DiagnosticIds.ModelHasNoInput, model.NameSpan, model.Name);
                return null;
            }
            if (HasErrors || !_shapesValid) return null;

            // A second input must be read by a layer: as the model's output (nothing reads it, or only the loss) it would
            // be a value no pass computes.
            foreach (Op unread in _ops.Skip(1).Where(o => o.Kind == OpKind.Input && !_ops.Any(c => !c.IsLoss && c.Inputs.Contains(o.Id))))
            {
                MemberDeclaration member = model.Members.First(m => m.Name == unread.Node);
                Report(DiagnosticIds.InputMisplaced, member.Attributes[0].Span ?? member.Span, unread.Node,
                    _ops.Any(c => c.Inputs.Contains(unread.Id))
                        ? "it is a second input, but only the loss reads it, so the model's output would be the input itself: declare the layers that compute the output from it after it"
                        : "it is a second input, but no node after it reads it: declare the nodes that use it after it");
                return null;
            }

            if (lossOp < 0 && _ops[_ops.Count - 1].IntegerInput)
            {
                Report(DiagnosticIds.TokensMismatch, model.NameSpan, "The output", model.Name, $"would be the integer tokens of '{_ops[0].Node}'",
                    "add an [Embedding] (and the layers after it) to compute something from them");
                return null;
            }
            if (lossOp < 0 && _ops[_ops.Count - 1].Shape.IsImage)
            {
                // The output leaves the model as PyTorch lays an image out: channels first.
                Op last = _ops[_ops.Count - 1];
                _ops[last.Id] = last with { IsNodeOutput = false };
                Add(new Op(_ops.Count, OpKind.ChannelsFirst, last.Node, last.Position, EquatableArray.Create(last.Id), last.Shape, "ChannelsFirst") { IsNodeOutput = true });
                NodeInfo node = _nodes[_nodes.Count - 1];
                _nodes[_nodes.Count - 1] = node with { LastOp = _ops.Count - 1 };
            }

            AssignInitialisers();
            int outputOp = lossOp >= 0 ? _ops[lossOp].Inputs[0] : _ops.Count - 1;
            return new ModelGraph(model.Name, batch, _ops.ToEquatableArray(), _nodes.ToEquatableArray(), 0, outputOp, lossOp);
        }

        /// <summary>
        /// The ops of one node (a member of the model or of a block repetition), in attribute order: returns the node's
        /// last op, or null when an attribute failed. <paramref name="loss"/> is the loss op if the node has one.
        /// </summary>
        private int? AddNode(MemberDeclaration member, Scope scope, int previous, int batch, List<string> labels, bool stopAtLoss, out int? loss)
        {
            loss = null;
            string node = scope.Prefix + member.Name;
            int firstOp = _ops.Count;
            // The value the node starts from: what its first attribute reads (Residual and Concat come back to it).
            int nodeInput = previous < 0 ? scope.Input : previous;
            ArgumentDeclaration? firstFrom = member.Attributes[0].Find("From");
            if (firstFrom?.Value is string fromName && scope.Outputs.TryGetValue(fromName, out int fromOp)) nodeInput = fromOp;
            int parametric = member.Attributes.Count(a => a.Name is "Dense" or "Conv2d" or "BatchNorm" or "Embedding" or "Rnn" or "Lstm" or "Gru"
                or "LayerNorm" or "RmsNorm" or "SelfAttention" or "CrossAttention" or "LearnedPositions");
            int current = previous < 0 ? scope.Input : previous;
            bool failed = false;
            // A Repeat's nodes come in between: the list is the node's own, restored after.
            List<(SourceSpan, int, int)> outer = _unpaddedConvolutions;
            _unpaddedConvolutions = new();
            for (int position = 0; position < member.Attributes.Count; position++)
            {
                AttributeDeclaration attribute = member.Attributes[position];
                int? op = attribute.Name == "Repeat"
                    ? Repeat(member, attribute, node, scope, current, batch, labels)
                    : AddOp(member, attribute, position, current, parametric, scope, node, nodeInput, batch, labels);
                if (op is null)
                {
                    // Later attributes of the node are still read (an Input after another layer is reported as such),
                    // but with the shapes invalid they add nothing and report no consequence of this failure.
                    _shapesValid = false;
                    failed = true;
                    continue;
                }
                current = op.Value;
                if (_ops[current].IsLoss)
                {
                    loss = current;
                    if (stopAtLoss) break;
                }
            }
            _unpaddedConvolutions = outer;
            if (failed || _ops.Count == firstOp)
            {
                scope.Failed.Add(member.Name);
                return null;
            }
            int last = _ops.Count - 1;
            _ops[last] = _ops[last] with { IsNodeOutput = true };
            scope.Outputs[member.Name] = last;
            return last;
        }

        /// <summary>[Repeat(typeof(B), n)]: the block's nodes n times in sequence, each repetition its own scope.</summary>
        private int? Repeat(MemberDeclaration member, AttributeDeclaration attribute, string node, Scope scope, int current, int batch, List<string> labels)
        {
            if (current < 0)
            {
                if (!Reported.Any(e => e.Id is DiagnosticIds.ModelHasNoInput or DiagnosticIds.InputMisplaced))
                    Report(DiagnosticIds.ModelHasNoInput, attribute.Span ?? member.Span, model.Name);
                return null;
            }
            ArgumentDeclaration? blockArg = attribute.Find("Block");
            string typeName = blockArg?.Value ?? "?";
            int count = ParseInt(attribute.Find("Count")) ?? 1;
            if (count < 1)
            {
                ArgumentDeclaration? countArg = attribute.Find("Count");
                Report(DiagnosticIds.InvalidSize, countArg?.Span ?? attribute.Span, "Count", node, "at least 1 repetition", Int(count));
                return null;
            }
            BlockDeclaration? block = blocks.FirstOrDefault(b => b.FullName == typeName);
            if (block is null)
            {
                Report(DiagnosticIds.InvalidBlockReference, blockArg?.Span ?? attribute.Span, node, typeName, "which is not a [Block] class; mark it [Block] or name a block");
                return null;
            }
            if (scope.Chain.Contains(block.FullName) || scope.Chain.Count >= MaxBlockDepth)
            {
                Report(DiagnosticIds.InvalidBlockReference, blockArg?.Span ?? attribute.Span, node, typeName,
                    scope.Chain.Contains(block.FullName)
                        ? "which repeats itself (through " + string.Join(" -> ", scope.Chain.Concat(new[] { block.FullName })) + "); a block cannot contain itself"
                        : "nested more than " + Int(MaxBlockDepth) + " blocks deep");
                return null;
            }
            if (CheckBlock(block).Count > 0)
            {
                Report(DiagnosticIds.InvalidBlockReference, blockArg?.Span ?? attribute.Span, node, typeName, "whose declaration has errors (see the diagnostics on it)");
                return null;
            }
            labels.Add(count == 1 ? $"Repeat({block.Name})" : $"Repeat({block.Name}, {Int(count)})");
            var chain = scope.Chain.Concat(new[] { block.FullName }).ToList();
            var declared = new HashSet<string>(block.Members.Select(m => m.Name), StringComparer.Ordinal);
            for (int i = 0; i < count; i++)
            {
                var inner = new Scope($"{node}.{Int(i)}.", "block '" + block.Name + "'", current, declared, chain, scope);
                int previous = -1;
                foreach (MemberDeclaration blockMember in block.Members)
                {
                    if (!blockMember.IsPartialNodeProperty || blockMember.Attributes.Count == 0) continue;
                    int? last = AddNode(blockMember, inner, previous, batch, new List<string>(), stopAtLoss: false, out _);
                    if (last is null) return null;
                    previous = last.Value;
                }
                if (previous < 0)
                {
                    Report(DiagnosticIds.InvalidBlockReference, blockArg?.Span ?? attribute.Span, node, typeName, "which declares no node");
                    return null;
                }
                current = previous;
            }
            return current;
        }

        private int? AddOp(MemberDeclaration member, AttributeDeclaration attribute, int position, int previous, int parametric,
            Scope scope, string node, int nodeInput, int batch, List<string> labels)
        {
            int? op = CreateOp(member, attribute, position, previous, parametric, scope, node, nodeInput, labels);
            if (op is not null && TooLarge(_ops[op.Value], attribute, Math.Max(1, batch))) op = null;
            return op;
        }

        private int? CreateOp(MemberDeclaration member, AttributeDeclaration attribute, int position, int previous, int parametric,
            Scope scope, string node, int nodeInput, List<string> labels)
        {
            if (attribute.Name == "Input")
            {
                // The first node reads the input; a later node may read a second one (an encoder-decoder's target).
                string[] inputs = _ops.Where(o => o.Kind == OpKind.Input).Select(o => o.Node).ToArray();
                if (position > 0 || scope.Prefix.Length > 0 || inputs.Length >= 2)
                {
                    Report(DiagnosticIds.InputMisplaced, attribute.Span, node,
                        inputs.Length >= 2 ? $"this model already reads two, at '{inputs[0]}' and '{inputs[1]}'" : "move it before the other attributes");
                    return null;
                }
                ArgumentDeclaration? of = attribute.Find("Of");
                bool tokens = of is { Kind: ArgumentKind.Type } && of.Value is "int" or "System.Int32";
                if (of is { Kind: ArgumentKind.Type } && !tokens && of.Value is not ("float" or "System.Single")
                    || tokens && attribute.Find("Channels") is not null)
                {
                    Report(DiagnosticIds.UnsupportedInputType, of!.Span ?? attribute.Span, node, (of.Value ?? "?") + (tokens ? " (as an image)" : ""));
                    return null;
                }
                ArgumentDeclaration? padArg = attribute.Find("PaddingToken");
                int padding = ParseInt(padArg) ?? -1;
                if (padArg is not null && (!tokens || attribute.Find("Channels") is not null || attribute.Find("Steps") is not null || padding < -1))
                {
                    Report(DiagnosticIds.InvalidArgument, padArg.Span ?? attribute.Span, "PaddingToken", node,
                        tokens ? "a token ≥ 0, or −1 for none" : "set only on integer tokens, e.g. [Input(16, Of = typeof(int), PaddingToken = 0)]",
                        padArg.Value ?? "?", tokens ? "tokens are never negative" : "only token sequences are padded");
                    return null;
                }
                if (attribute.Find("Steps") is not null)
                {
                    int? steps = PositiveSize(attribute, "Steps", node, "a positive number of steps");
                    int? features = PositiveSize(attribute, "Features", node, "a positive number of features per step");
                    if (steps is null || features is null) return null;
                    if (tokens)
                    {
                        Report(DiagnosticIds.UnsupportedInputType, of!.Span ?? attribute.Span, node, "int (as a sequence of vectors; tokens are a vector [steps])");
                        return null;
                    }
                    string sequenceLabel = $"Input({Int(steps.Value)}, {Int(features.Value)})";
                    labels.Add(sequenceLabel);
                    return Add(new Op(_ops.Count, OpKind.Input, node, position, EquatableArray<int>.Empty, Shape.Of(steps.Value, features.Value), sequenceLabel));
                }
                int? width = PositiveSize(attribute, "Width", node, tokens ? "a positive number of tokens (steps)" : "a positive number of features");
                if (width is null) return null;
                if (attribute.Find("Channels") is null)
                {
                    string inputLabel = tokens
                        ? padding >= 0 ? $"Input({Int(width.Value)}, int, PaddingToken = {Int(padding)})" : $"Input({Int(width.Value)}, int)"
                        : $"Input({Int(width.Value)})";
                    labels.Add(inputLabel);
                    return Add(new Op(_ops.Count, OpKind.Input, node, position, EquatableArray<int>.Empty, Shape.Of(width.Value), inputLabel)
                    {
                        IntegerInput = tokens, PaddingToken = padding,
                    });
                }
                int? channels = PositiveSize(attribute, "Channels", node, "a positive number of channels");
                int? height = PositiveSize(attribute, "Height", node, "a positive height");
                if (channels is null || height is null) return null;
                string text = $"Input({Int(channels.Value)}, {Int(height.Value)}, {Int(width.Value)})";
                labels.Add(text);
                Shape image = Shape.Of(channels.Value, height.Value, width.Value);
                int inputOp = Add(new Op(_ops.Count, OpKind.Input, node, position, EquatableArray<int>.Empty, image, text));
                // Kiln computes on channels-last images: the caller's channels-first data is transposed once.
                return Add(new Op(_ops.Count, OpKind.ChannelsLast, node, position, EquatableArray.Create(inputOp), image, "ChannelsLast"));
            }

            if (_ops.Count == 0)
            {
                // Nothing to read yet: the model has no input before this node (reported once).
                if (!Reported.Any(e => e.Id is DiagnosticIds.ModelHasNoInput or DiagnosticIds.InputMisplaced))
                    Report(DiagnosticIds.ModelHasNoInput, attribute.Span ?? member.Span, model.Name);
                return null;
            }

            int? source = ResolveSource(attribute, "From", node, previous, scope);
            if (source is null) return null;
            if (!_shapesValid) return null; // an earlier shape error: do not cascade
            Op input = _ops[source.Value];
            Shape inShape = input.Shape;
            string From(string label) => source.Value == previous ? label : $"{label} from {input.Node}";
            if (input.IntegerInput && attribute.Name != "Embedding")
            {
                Report(DiagnosticIds.TokensMismatch, attribute.Span, attribute.Name, node, $"receives the integer tokens {inShape.WithBatch()} of '{input.Node}'",
                    "tokens are indices, not values: pass them through an [Embedding(count, dimension)] first");
                return null;
            }

            int? Elementwise(OpKind kind, string label) => Make(new Op(_ops.Count, kind, node, position, EquatableArray.Create(source.Value), inShape, From(label)), label);

            // The node's label lists each op as declared, with "from X" when it reads another node.
            int? Make(Op op, string label)
            {
                labels.Add(op.Label);
                return Add(op);
            }

            bool NeedsVector()
            {
                if (!inShape.IsImage) return true;
                Report(DiagnosticFix.At(FixKinds.InsertAttributeBefore, "Flatten"), DiagnosticIds.NeedsVector, attribute.Span, attribute.Name, node, inShape.WithBatch(), input.Node);
                return false;
            }

            bool NeedsImage(string fix)
            {
                if (inShape.IsImage) return true;
                Report(DiagnosticIds.NeedsImage, attribute.Span, attribute.Name, node, "an image [channels, height, width]", inShape.WithBatch(), input.Node, fix);
                return false;
            }

            const string DeclareImage = "declare the input as an image, e.g. [Input(3, 32, 32)], or keep the image until this layer";

            switch (attribute.Name)
            {
                case "Dense":
                {
                    if (!NeedsVector()) return null;
                    int? units = PositiveSize(attribute, "Units", node, "a positive number of output features");
                    if (units is null) return null;
                    ArgumentDeclaration? inArg = attribute.Find("In");
                    if (inArg is not null && ParseInt(inArg) is int declaredIn && declaredIn != 0)
                    {
                        if (declaredIn < 0)
                        {
                            Report(DiagnosticIds.InvalidSize, inArg.Span ?? attribute.Span, "In", node, "a positive number of input features (or left unset)", Int(declaredIn));
                            return null;
                        }
                        if (declaredIn != inShape.Last)
                        {
                            Report(Replace(inArg, inShape.Last), DiagnosticIds.InputWidthMismatch, inArg.Span ?? attribute.Span, $"Dense({Int(units.Value)})", node, Int(declaredIn), inShape.WithBatch(), input.Node);
                            return null;
                        }
                    }
                    bool bias = ParseBool(attribute.Find("Bias")) ?? true;
                    int init = ParseInt(attribute.Find("Init")) ?? 0;
                    string label = bias ? $"Dense({Int(units.Value)})" : $"Dense({Int(units.Value)}, Bias = false)";
                    return Make(new Op(_ops.Count, OpKind.Dense, node, position, EquatableArray.Create(source.Value), inShape.WithLast(units.Value), From(label))
                    {
                        Units = units.Value,
                        HasBias = bias,
                        Init = (InitKind)Math.Max(0, Math.Min(3, init)),
                        ParameterPrefix = parametric > 1 ? $"{node}.{Int(position)}" : node,
                    }, label);
                }
                case "Embedding":
                {
                    if (!input.IntegerInput)
                    {
                        Report(DiagnosticIds.TokensMismatch, attribute.Span, "Embedding", node, $"needs integer tokens but receives float values {inShape.WithBatch()} from '{input.Node}'",
                            "declare the model's input as tokens, e.g. [Input(64, Of = typeof(int))], and read it with the Embedding");
                        return null;
                    }
                    int? count = PositiveSize(attribute, "Count", node, "a positive number of distinct tokens");
                    int? dimension = PositiveSize(attribute, "Dimension", node, "a positive vector width");
                    if (count is null || dimension is null) return null;
                    ArgumentDeclaration? padArg = attribute.Find("PaddingIndex");
                    int pad = ParseInt(padArg) ?? -1;
                    if (pad < -1 || pad >= count.Value)
                    {
                        Report(DiagnosticIds.InvalidArgument, padArg?.Span ?? attribute.Span, "PaddingIndex", node, $"a token in [0, {Int(count.Value)}) or -1 for none", Int(pad),
                            "the padding row must be a row of the table");
                        return null;
                    }
                    string label = pad >= 0 ? $"Embedding({Int(count.Value)}, {Int(dimension.Value)}, PaddingIndex = {Int(pad)})" : $"Embedding({Int(count.Value)}, {Int(dimension.Value)})";
                    return Make(new Op(_ops.Count, OpKind.Embedding, node, position, EquatableArray.Create(source.Value), Shape.Of(inShape.Last, dimension.Value), From(label))
                    {
                        Units = count.Value, PaddingIndex = pad,
                        ParameterPrefix = parametric > 1 ? $"{node}.{Int(position)}" : node,
                    }, label);
                }
                case "Rnn":
                case "Lstm":
                case "Gru":
                    return Recurrent(attribute, position, parametric, node, source.Value, input, From, labels);
                case "Conv2d":
                    return Convolution(attribute, position, parametric, node, source.Value, input, From, labels);
                case "LayerNorm":
                case "RmsNorm":
                {
                    if (!NeedsVector()) return null;
                    bool rms = attribute.Name == "RmsNorm";
                    double fallback = rms ? 1e-6 : 1e-5;
                    double? epsilon = Hyper(attribute, "Epsilon", fallback, node, v => v > 0 && !double.IsInfinity(v), "a finite number > 0", "a zero variance would divide by zero");
                    if (epsilon is null) return null;
                    bool affine = ParseBool(attribute.Find("Affine")) ?? true;
                    var options = new List<string>();
                    if (epsilon.Value != fallback) options.Add("Epsilon = " + Real(epsilon.Value));
                    if (!affine) options.Add("Affine = false");
                    string label = Labelled(attribute.Name, options);
                    return Make(new Op(_ops.Count, rms ? OpKind.RmsNorm : OpKind.LayerNorm, node, position, EquatableArray.Create(source.Value), inShape, From(label))
                    {
                        Epsilon = (float)epsilon.Value, HasBias = affine,
                        ParameterPrefix = parametric > 1 ? $"{node}.{Int(position)}" : node,
                    }, label);
                }
                case "SelfAttention":
                    return SelfAttention(attribute, position, parametric, node, source.Value, input, scope, From, labels);
                case "CrossAttention":
                {
                    ArgumentDeclaration? memoryArg = attribute.Find("Memory");
                    int? memory = ResolveInScopes(memoryArg, "Memory", attribute, node, scope);
                    if (memory is null) return null;
                    return CrossAttention(attribute, position, parametric, node, source.Value, input, memory.Value, memoryArg!, scope, From, labels);
                }
                case "LearnedPositions":
                case "SinusoidalPositions":
                {
                    bool learned = attribute.Name == "LearnedPositions";
                    if (inShape.Rank != 2)
                    {
                        Report(DiagnosticIds.NeedsSequence, attribute.Span, attribute.Name, node, inShape.WithBatch(), input.Node,
                            "positions are added to each step of a sequence: embed tokens first, e.g. [Embedding(65, 128), " + attribute.Name + "]");
                        return null;
                    }
                    int steps = inShape.Dimensions[0];
                    int length = steps;
                    ArgumentDeclaration? lengthArg = attribute.Find("Length");
                    if (learned && ParseInt(lengthArg) is int declared && declared != 0)
                    {
                        if (declared < 0)
                        {
                            Report(DiagnosticIds.InvalidSize, lengthArg!.Span ?? attribute.Span, "Length", node, "a positive number of positions (or left unset for the sequence length)", Int(declared));
                            return null;
                        }
                        if (declared < steps)
                        {
                            Report(DiagnosticIds.PositionsTooShort, lengthArg!.Span ?? attribute.Span, attribute.Name, node, Int(declared), Int(steps), input.Node);
                            return null;
                        }
                        length = declared;
                    }
                    string label = learned && length != steps ? $"LearnedPositions({Int(length)})" : attribute.Name;
                    return Make(new Op(_ops.Count, OpKind.Positions, node, position, EquatableArray.Create(source.Value), inShape, From(label))
                    {
                        Learned = learned, Units = length,
                        ParameterPrefix = parametric > 1 ? $"{node}.{Int(position)}" : node,
                    }, label);
                }
                case "MaxPool2d":
                case "AvgPool2d":
                {
                    if (!NeedsImage(DeclareImage)) return null;
                    int? kernel = PositiveSize(attribute, "Kernel", node, "a positive window size");
                    if (kernel is null) return null;
                    ArgumentDeclaration? strideArg = attribute.Find("Stride"), padArg = attribute.Find("Padding");
                    int stride = ParseInt(strideArg) ?? 0;
                    if (stride < 0)
                    {
                        Report(DiagnosticIds.InvalidSize, strideArg?.Span ?? attribute.Span, "Stride", node, "a positive step (or left unset for the kernel)", Int(stride));
                        return null;
                    }
                    if (stride == 0) stride = kernel.Value;
                    int padding = ParseInt(padArg) ?? 0;
                    if (padding < 0 || 2 * padding > kernel.Value)
                    {
                        Report(DiagnosticIds.InvalidArgument, padArg?.Span ?? attribute.Span, "Padding", node, $"between 0 and half the kernel ({Int(kernel.Value / 2)})", Int(padding),
                            "PyTorch requires a pooling pad of at most half the window");
                        return null;
                    }
                    bool max = attribute.Name == "MaxPool2d";
                    int outH = WindowCount(inShape.Height, kernel.Value, stride, 2 * padding, 1), outW = WindowCount(inShape.Width, kernel.Value, stride, 2 * padding, 1);
                    string what = $"kernel {Int(kernel.Value)}, stride {Int(stride)}, padding {Int(padding)}";
                    if (outH < 1 || outW < 1)
                    {
                        Report(DiagnosticIds.EmptyMap, attribute.Span, attribute.Name + $"({Int(kernel.Value)})", node, $"{Int(Math.Max(0, outH))}x{Int(Math.Max(0, outW))}",
                            $"{Int(inShape.Height)}x{Int(inShape.Width)} from '{input.Node}'", what, "use a smaller kernel or remove a pooling node before it");
                        return null;
                    }
                    int droppedRows = (inShape.Height + 2 * padding - kernel.Value) % stride, droppedColumns = (inShape.Width + 2 * padding - kernel.Value) % stride;
                    if (droppedRows > 0 || droppedColumns > 0)
                    {
                        var parts = new List<string>();
                        if (droppedRows > 0) parts.Add(droppedRows == 1 ? "row" : Int(droppedRows) + " rows");
                        if (droppedColumns > 0) parts.Add(droppedColumns == 1 ? "column" : Int(droppedColumns) + " columns");
                        Report(DiagnosticIds.PoolingDropsEdge, attribute.Span, attribute.Name + $"({Int(kernel.Value)})", node, string.Join(" and ", parts),
                            $"{Int(inShape.Height)}x{Int(inShape.Width)}", input.Node);
                    }
                    bool includePad = ParseBool(attribute.Find("CountIncludePad")) ?? true;
                    var options = new List<string>();
                    if (stride != kernel.Value) options.Add("Stride = " + Int(stride));
                    if (padding != 0) options.Add("Padding = " + Int(padding));
                    if (!max && !includePad) options.Add("CountIncludePad = false");
                    string label = $"{attribute.Name}({string.Join(", ", new[] { Int(kernel.Value) }.Concat(options))})";
                    return Make(new Op(_ops.Count, max ? OpKind.MaxPool2d : OpKind.AvgPool2d, node, position, EquatableArray.Create(source.Value),
                        Shape.Of(inShape.Channels, outH, outW), From(label))
                    {
                        KernelHeight = kernel.Value, KernelWidth = kernel.Value, StrideHeight = stride, StrideWidth = stride,
                        PadTop = padding, PadBottom = padding, PadLeft = padding, PadRight = padding, CountIncludePad = includePad,
                    }, label);
                }
                case "GlobalAvgPool":
                {
                    if (!NeedsImage(DeclareImage)) return null;
                    return Make(new Op(_ops.Count, OpKind.GlobalAvgPool, node, position, EquatableArray.Create(source.Value), Shape.Of(inShape.Channels), From("GlobalAvgPool")), "GlobalAvgPool");
                }
                case "BatchNorm":
                {
                    if (inShape.Rank == 2)
                    {
                        Report(DiagnosticIds.NeedsImage, attribute.Span, attribute.Name, node, "an image [channels, height, width] or a vector [features]", inShape.WithBatch(), input.Node,
                            "batch norm normalizes an image's channels or a vector's features; flatten the value first");
                        return null;
                    }
                    double? momentum = Hyper(attribute, "Momentum", 0.1, node, v => v >= 0 && v <= 1, "in [0, 1]", "the running statistics would move past the batch's");
                    double? epsilon = Hyper(attribute, "Epsilon", 1e-5, node, v => v > 0 && !double.IsInfinity(v), "a finite number > 0", "a zero variance would divide by zero");
                    if (momentum is null || epsilon is null) return null;
                    bool affine = ParseBool(attribute.Find("Affine")) ?? true;
                    var options = new List<string>();
                    if (momentum.Value != 0.1) options.Add("Momentum = " + Real(momentum.Value));
                    if (epsilon.Value != 1e-5) options.Add("Epsilon = " + Real(epsilon.Value));
                    if (!affine) options.Add("Affine = false");
                    string label = Labelled("BatchNorm", options);
                    return Make(new Op(_ops.Count, OpKind.BatchNorm, node, position, EquatableArray.Create(source.Value), inShape, From(label))
                    {
                        Momentum = (float)momentum.Value, Epsilon = (float)epsilon.Value, HasBias = affine,
                        ParameterPrefix = parametric > 1 ? $"{node}.{Int(position)}" : node,
                    }, label);
                }
                case "Flatten":
                    return Make(new Op(_ops.Count, OpKind.Flatten, node, position, EquatableArray.Create(source.Value), Shape.Of(checked((int)inShape.Size)), From("Flatten")), "Flatten");
                case "Concat":
                {
                    ArgumentDeclaration? withArg = attribute.Find("With");
                    int first, second;
                    if (withArg?.Value is null)
                    {
                        if (nodeInput < 0 || nodeInput == source.Value)
                        {
                            Report(DiagnosticIds.InvalidArgument, attribute.Span, "With", node, "a node to join (nameof(...))", "unset",
                                "without it Concat joins the node's input with the value so far, and here they are the same");
                            return null;
                        }
                        first = nodeInput;
                        second = source.Value;
                    }
                    else
                    {
                        int? other = ResolveNamed(withArg, "With", attribute, node, scope);
                        if (other is null) return null;
                        first = source.Value;
                        second = other.Value;
                    }
                    Shape a = _ops[first].Shape, b = _ops[second].Shape;
                    string? problem = a.Rank != b.Rank ? "an image cannot be joined with a vector; flatten or pool one of them"
                        : a.IsImage && (a.Height != b.Height || a.Width != b.Width) ? "both must be images of the same height and width; pool or pad one of them"
                        : a.Rank == 2 && a.Dimensions[0] != b.Dimensions[0] ? "both must have the same leading dimension"
                        : null;
                    if (problem is not null)
                    {
                        Report(DiagnosticIds.ConcatShapeMismatch, withArg?.Span ?? attribute.Span, node, a.WithBatch(), _ops[first].Node, b.WithBatch(), _ops[second].Node, problem);
                        return null;
                    }
                    Shape joined = a.IsImage ? Shape.Of(a.Channels + b.Channels, a.Height, a.Width) : a.WithLast(a.Last + b.Last);
                    string label = withArg?.Value is null ? "Concat" : $"Concat({_ops[second].Node})";
                    return Make(new Op(_ops.Count, OpKind.Concat, node, position, EquatableArray.Create(first, second), joined, label), label);
                }
                case "Residual":
                {
                    if (nodeInput < 0 || nodeInput == source.Value)
                    {
                        Report(DiagnosticIds.InvalidArgument, attribute.Span, "Residual", node, "after a layer of its node", "first",
                            "it adds the node's input to the value so far, which here is that input itself");
                        return null;
                    }
                    Op other = _ops[nodeInput];
                    if (other.Shape != inShape)
                    {
                        Report(SamePadding(other.Shape, inShape), DiagnosticIds.AddShapeMismatch, attribute.Span, node, inShape.WithBatch(), input.Node, other.Shape.WithBatch(), other.Node);
                        return null;
                    }
                    return Make(new Op(_ops.Count, OpKind.Add, node, position, EquatableArray.Create(source.Value, nodeInput), inShape, "Residual"), "Residual");
                }
                case "Relu":
                    return Elementwise(OpKind.Relu, "Relu");
                case "Sigmoid":
                    return Elementwise(OpKind.Sigmoid, "Sigmoid");
                case "Tanh":
                    return Elementwise(OpKind.Tanh, "Tanh");
                case "Softmax":
                    if (!NeedsVector()) return null;
                    return Elementwise(OpKind.Softmax, "Softmax");
                case "Dropout":
                {
                    double? p = Hyper(attribute, "Probability", 0.5, node, v => v >= 0 && v < 1, "in [0, 1)", "p = 1 would zero everything and scale by infinity");
                    if (p is null) return null;
                    string label = $"Dropout({Real(p.Value)})";
                    return Make(new Op(_ops.Count, OpKind.Dropout, node, position, EquatableArray.Create(source.Value), inShape, From(label)) { Probability = (float)p.Value }, label);
                }
                case "GaussianNoise":
                {
                    double? std = Hyper(attribute, "StandardDeviation", 0, node, v => v >= 0 && !double.IsInfinity(v), "a finite number ≥ 0", "a noise level cannot be negative");
                    if (std is null) return null;
                    string label = $"GaussianNoise({Real(std.Value)})";
                    return Make(new Op(_ops.Count, OpKind.GaussianNoise, node, position, EquatableArray.Create(source.Value), inShape, From(label)) { Probability = (float)std.Value }, label);
                }
                case "Gelu":
                {
                    bool approximate = ParseBool(attribute.Find("Approximate")) ?? false;
                    string label = approximate ? "Gelu(tanh)" : "Gelu";
                    return Make(new Op(_ops.Count, OpKind.Gelu, node, position, EquatableArray.Create(source.Value), inShape, From(label)) { Approximate = approximate }, label);
                }
                case "LeakyRelu":
                {
                    ArgumentDeclaration? alphaArg = attribute.Find("Alpha");
                    double alpha = ParseDouble(alphaArg) ?? 0.01;
                    if (double.IsNaN(alpha) || double.IsInfinity(alpha))
                    {
                        Report(DiagnosticIds.InvalidSize, alphaArg?.Span ?? attribute.Span, "Alpha", node, "a finite slope", alpha.ToString("R", CultureInfo.InvariantCulture));
                        return null;
                    }
                    string label = $"LeakyRelu({((float)alpha).ToString("R", CultureInfo.InvariantCulture)})";
                    return Make(new Op(_ops.Count, OpKind.LeakyRelu, node, position, EquatableArray.Create(source.Value), inShape, From(label)) { Alpha = (float)alpha }, label);
                }
                case "Add":
                {
                    ArgumentDeclaration? skipArg = attribute.Find("Skip");
                    int? skip = ResolveNamed(skipArg, "Skip", attribute, node, scope);
                    if (skip is null) return null;
                    Op other = _ops[skip.Value];
                    if (other.Shape != inShape)
                    {
                        Report(DiagnosticIds.AddShapeMismatch, skipArg?.Span ?? attribute.Span, node, inShape.WithBatch(), input.Node, other.Shape.WithBatch(), other.Node);
                        return null;
                    }
                    string label = $"Add({other.Node})";
                    return Make(new Op(_ops.Count, OpKind.Add, node, position, EquatableArray.Create(source.Value, skip.Value), inShape, From(label)), label);
                }
                case "SoftmaxCrossEntropy":
                {
                    if (!NeedsVector() || !CheckClasses(attribute, node, inShape, input)) return null;
                    bool soft = ParseBool(attribute.Find("SoftTargets")) ?? false;
                    double? smoothing = Hyper(attribute, "LabelSmoothing", 0, node, v => v >= 0 && v < 1, "in [0, 1)", "ε = 1 would make every target uniform");
                    if (smoothing is null || !Reduction(attribute, node, out bool sum)) return null;
                    ArgumentDeclaration? ignoreArg = attribute.Find("IgnoreIndex");
                    int ignore = ParseInt(ignoreArg) ?? Op.DefaultIgnoreIndex;
                    if (soft && ignoreArg is not null)
                    {
                        Report(DiagnosticIds.InvalidArgument, ignoreArg.Span ?? attribute.Span, "IgnoreIndex", node, "left unset with SoftTargets", ignoreArg.Value ?? "?",
                            "soft targets are distributions, not labels; give a padded row a zero target instead");
                        return null;
                    }
                    var options = new List<string>();
                    if (soft) options.Add("soft targets");
                    if (smoothing.Value != 0) options.Add("smoothing " + Real(smoothing.Value));
                    if (sum) options.Add("sum");
                    if (ignore != Op.DefaultIgnoreIndex) options.Add("ignoring " + Int(ignore));
                    string label = Labelled("SoftmaxCrossEntropy", options);
                    return Make(new Op(_ops.Count, OpKind.SoftmaxCrossEntropy, node, position, EquatableArray.Create(source.Value), Shape.Scalar, From(label))
                    { SoftTargets = soft, LabelSmoothing = (float)smoothing.Value, SumReduction = sum, IgnoreIndex = ignore }, label);
                }
                case "FocalLoss":
                {
                    if (!NeedsVector() || !CheckClasses(attribute, node, inShape, input)) return null;
                    double? gamma = Hyper(attribute, "Gamma", 2, node, v => v >= 0, "≥ 0", "a negative γ would weigh the easy samples up");
                    double? alpha = Hyper(attribute, "Alpha", 1, node, v => v > 0, "> 0", "the loss would vanish or change sign");
                    if (gamma is null || alpha is null || !Reduction(attribute, node, out bool sum)) return null;
                    var options = new List<string> { "γ " + Real(gamma.Value), "α " + Real(alpha.Value) };
                    if (sum) options.Add("sum");
                    string label = Labelled("FocalLoss", options);
                    return Make(new Op(_ops.Count, OpKind.FocalLoss, node, position, EquatableArray.Create(source.Value), Shape.Scalar, From(label))
                    { Gamma = (float)gamma.Value, Alpha = (float)alpha.Value, SumReduction = sum }, label);
                }
                case "MeanSquaredError":
                case "L1Loss":
                case "BinaryCrossEntropyWithLogits":
                case "HuberLoss":
                case "BinaryFocalLoss":
                {
                    if (!CheckWidth(attribute, node, inShape, input)) return null;
                    double? delta = attribute.Name == "HuberLoss" ? Hyper(attribute, "Delta", 1, node, v => v > 0 && !double.IsInfinity(v), "a finite number > 0", "the quadratic part would be empty") : 0;
                    double? gamma = attribute.Name == "BinaryFocalLoss" ? Hyper(attribute, "Gamma", 2, node, v => v >= 0, "≥ 0", "a negative γ would weigh the easy samples up") : 0;
                    double? alpha = attribute.Name == "BinaryFocalLoss" ? Hyper(attribute, "Alpha", 0.25, node, v => v <= 1, "in [0, 1] (or negative for no weighting)", "1 − α would weigh the negatives below 0") : 0;
                    if (delta is null || gamma is null || alpha is null || !Reduction(attribute, node, out bool sum)) return null;
                    OpKind kind = attribute.Name switch
                    {
                        "MeanSquaredError" => OpKind.MeanSquaredError,
                        "L1Loss" => OpKind.L1Loss,
                        "HuberLoss" => OpKind.HuberLoss,
                        "BinaryFocalLoss" => OpKind.BinaryFocalLoss,
                        _ => OpKind.BinaryCrossEntropyWithLogits,
                    };
                    var options = new List<string>();
                    if (kind == OpKind.HuberLoss) options.Add("δ " + Real(delta.Value));
                    if (kind == OpKind.BinaryFocalLoss)
                    {
                        options.Add("γ " + Real(gamma.Value));
                        options.Add(alpha.Value < 0 ? "no α" : "α " + Real(alpha.Value));
                    }
                    if (sum) options.Add("sum");
                    int prediction = source.Value;
                    if (inShape.IsImage)
                    {
                        // Targets come channels-first, as PyTorch lays an image out: compare the prediction in that layout.
                        prediction = Add(new Op(_ops.Count, OpKind.ChannelsFirst, node, position, EquatableArray.Create(source.Value), inShape, "ChannelsFirst"));
                    }
                    string label = Labelled(attribute.Name, options);
                    return Make(new Op(_ops.Count, kind, node, position, EquatableArray.Create(prediction), Shape.Scalar, From(label))
                    { Delta = (float)delta.Value, Gamma = (float)gamma.Value, Alpha = (float)alpha.Value, SumReduction = sum }, label);
                }
                default:
                    // Every layer attribute of the runtime has a case above; one without is a compiler bug
                    // (reported as KILN9999 by Compile), never a silently missing model.
                    throw new InvalidOperationException($"No shape rule for layer '{attribute.Name}'.");
            }
        }

        /// <summary>Rnn/Lstm/Gru(hidden, Layers, Bias, ReturnSequences, Dropout, In, Steps): one op per stacked layer, with
        /// a dropout between layers when asked; every layer but the last returns its whole sequence.</summary>
        private int? Recurrent(AttributeDeclaration attribute, int position, int parametric, string node, int source, Op input, Func<string, string> from, List<string> labels)
        {
            Shape inShape = input.Shape;
            string name = attribute.Name;
            if (inShape.Rank != 2)
            {
                string fix = input.Kind == OpKind.Recurrent && !input.ReturnSequences
                    ? $"'{input.Node}' returns only its last step (ReturnSequences = false): set ReturnSequences = true on it to pass every step on"
                    : inShape.IsImage
                        ? "an image is not a sequence: flatten its rows into steps with a Dense per row, or pool it to a vector first"
                        : "declare the input as a sequence, e.g. [Input(64, 32)] (64 steps of 32 features), or embed integer tokens with [Embedding]";
                Report(DiagnosticIds.NeedsSequence, attribute.Span, name, node, inShape.WithBatch(), input.Node, fix);
                return null;
            }
            int steps = inShape.Dimensions[0], features = inShape.Last;
            int? hidden = PositiveSize(attribute, "Hidden", node, "a positive hidden-state width");
            int? layers = OptionalPositive(attribute, "Layers", node, 1, allowZero: false);
            if (hidden is null || layers is null) return null;
            ArgumentDeclaration? inArg = attribute.Find("In");
            if (inArg is not null && ParseInt(inArg) is int declaredIn && declaredIn != 0)
            {
                if (declaredIn < 0)
                {
                    Report(DiagnosticIds.InvalidSize, inArg.Span ?? attribute.Span, "In", node, "a positive number of input features (or left unset)", Int(declaredIn));
                    return null;
                }
                if (declaredIn != features)
                {
                    Report(Replace(inArg, features), DiagnosticIds.InputWidthMismatch, inArg.Span ?? attribute.Span, $"{name}({Int(hidden.Value)})", node, Int(declaredIn), inShape.WithBatch(), input.Node);
                    return null;
                }
            }
            if (!CheckSteps(attribute, $"{name}({Int(hidden.Value)})", node, steps, input)) return null;
            double? dropout = Hyper(attribute, "Dropout", 0, node, v => v >= 0 && v < 1, "in [0, 1)", "p = 1 would zero everything and scale by infinity");
            if (dropout is null) return null;
            bool bias = ParseBool(attribute.Find("Bias")) ?? true;
            bool sequences = ParseBool(attribute.Find("ReturnSequences")) ?? true;
            RecurrentKind cell = name switch
            {
                "Lstm" => RecurrentKind.Lstm,
                "Gru" => RecurrentKind.Gru,
                _ => ParseInt(attribute.Find("Nonlinearity")) == 1 ? RecurrentKind.RnnRelu : RecurrentKind.RnnTanh,
            };
            if (name == "Rnn" && ParseInt(attribute.Find("Nonlinearity")) is int nl && nl is not (0 or 1))
            {
                Report(DiagnosticIds.InvalidArgument, attribute.Find("Nonlinearity")?.Span ?? attribute.Span, "Nonlinearity", node, "RnnNonlinearity.Tanh or RnnNonlinearity.Relu", Int(nl), "no other non-linearity exists");
                return null;
            }
            if (dropout.Value > 0 && layers.Value == 1)
            {
                // As PyTorch (which warns): dropout acts between stacked layers only.
                Report(DiagnosticIds.InvalidArgument, attribute.Find("Dropout")?.Span ?? attribute.Span, "Dropout", node, "0 with a single layer", Real(dropout.Value),
                    "dropout acts between stacked layers; add a [Dropout] node after this one instead");
                return null;
            }
            var options = new List<string> { Int(hidden.Value) };
            if (cell == RecurrentKind.RnnRelu) options.Add("Relu");
            if (layers.Value != 1) options.Add("Layers = " + Int(layers.Value));
            if (!bias) options.Add("Bias = false");
            if (dropout.Value > 0) options.Add("Dropout = " + Real(dropout.Value));
            if (!sequences) options.Add("ReturnSequences = false");
            string label = $"{name}({string.Join(", ", options)})";
            labels.Add(from(label));
            string prefix = parametric > 1 ? $"{node}.{Int(position)}" : node;
            int current = source;
            for (int layer = 0; layer < layers.Value; layer++)
            {
                bool last = layer == layers.Value - 1;
                bool returns = !last || sequences;
                Shape outShape = returns ? Shape.Of(steps, hidden.Value) : Shape.Of(hidden.Value);
                string opLabel = layers.Value == 1 ? from(label) : $"{name}({Int(hidden.Value)}) layer {Int(layer)}";
                current = Add(new Op(_ops.Count, OpKind.Recurrent, node, position, EquatableArray.Create(current), outShape, opLabel)
                {
                    Units = hidden.Value, HasBias = bias, Cell = cell, Layer = layer, ReturnSequences = returns, ParameterPrefix = prefix,
                });
                if (!last && dropout.Value > 0)
                    current = Add(new Op(_ops.Count, OpKind.Dropout, node, position, EquatableArray.Create(current), outShape, $"Dropout({Real(dropout.Value)})") { Probability = (float)dropout.Value });
            }
            return current;
        }

        /// <summary>Conv2d(channels, kernel, Stride, Padding, Dilation, Groups, Bias, In, KernelWidth).</summary>
        private int? Convolution(AttributeDeclaration attribute, int position, int parametric, string node, int source, Op input, Func<string, string> from, List<string> labels)
        {
            Shape inShape = input.Shape;
            if (!inShape.IsImage)
            {
                Report(DiagnosticIds.NeedsImage, attribute.Span, attribute.Name, node, "an image [channels, height, width]", inShape.WithBatch(), input.Node,
                    "declare the input as an image, e.g. [Input(3, 32, 32)], or keep the image until this layer");
                return null;
            }
            int? channels = PositiveSize(attribute, "Channels", node, "a positive number of output channels");
            int? kernel = PositiveSize(attribute, "Kernel", node, "a positive kernel size");
            if (channels is null || kernel is null) return null;
            int? kernelWidth = OptionalPositive(attribute, "KernelWidth", node, kernel.Value, allowZero: true);
            int? stride = OptionalPositive(attribute, "Stride", node, 1, allowZero: false);
            int? dilation = OptionalPositive(attribute, "Dilation", node, 1, allowZero: false);
            int? groups = OptionalPositive(attribute, "Groups", node, 1, allowZero: false);
            if (kernelWidth is null || stride is null || dilation is null || groups is null) return null;
            int kh = kernel.Value, kw = kernelWidth.Value, s = stride.Value, d = dilation.Value, g = groups.Value, cin = inShape.Channels;

            ArgumentDeclaration? inArg = attribute.Find("In");
            if (inArg is not null && ParseInt(inArg) is int declaredIn && declaredIn != 0)
            {
                if (declaredIn < 0)
                {
                    Report(DiagnosticIds.InvalidSize, inArg.Span ?? attribute.Span, "In", node, "a positive number of input channels (or left unset)", Int(declaredIn));
                    return null;
                }
                if (declaredIn != cin)
                {
                    Report(Replace(inArg, cin), DiagnosticIds.InputWidthMismatch, inArg.Span ?? attribute.Span, $"Conv2d({Int(channels.Value)}, {Int(kh)})", node, Int(declaredIn), inShape.WithBatch(), input.Node);
                    return null;
                }
            }
            if (cin % g != 0 || channels.Value % g != 0)
            {
                ArgumentDeclaration? groupsArg = attribute.Find("Groups");
                Report(DiagnosticIds.InvalidArgument, groupsArg?.Span ?? attribute.Span, "Groups", node,
                    $"a divisor of both the input channels ({Int(cin)}) and the output channels ({Int(channels.Value)})", Int(g), "each group convolves its own slice of the channels");
                return null;
            }

            ArgumentDeclaration? padArg = attribute.Find("Padding");
            int padding = ParseInt(padArg) ?? 0;
            int top, bottom, left, right;
            if (padding == -1)
            {
                if (s != 1)
                {
                    Report(DiagnosticIds.InvalidArgument, padArg?.Span ?? attribute.Span, "Padding", node, "a number of pixels when Stride > 1", "Padding.Same",
                        "PyTorch defines 'same' padding for stride 1 only");
                    return null;
                }
                // PyTorch's 'same': total d·(k − 1), the odd one at the bottom and right.
                top = d * (kh - 1) / 2; bottom = d * (kh - 1) - top;
                left = d * (kw - 1) / 2; right = d * (kw - 1) - left;
            }
            else if (padding < 0)
            {
                Report(DiagnosticIds.InvalidSize, padArg?.Span ?? attribute.Span, "Padding", node, "a number of pixels ≥ 0 or Padding.Same", Int(padding));
                return null;
            }
            else
            {
                top = bottom = left = right = padding;
            }
            int outH = WindowCount(inShape.Height, kh, s, top + bottom, d), outW = WindowCount(inShape.Width, kw, s, left + right, d);
            if (s == 1 && padding == 0 && (outH, outW) != (inShape.Height, inShape.Width) && attribute.Span is not null)
                _unpaddedConvolutions.Add((attribute.Span, inShape.Height - outH, inShape.Width - outW));
            string kernelText = kh == kw ? Int(kh) : $"{Int(kh)}x{Int(kw)}";
            if (outH < 1 || outW < 1)
            {
                // The padding that would make the window fit: size + 2p − d(k − 1) − 1 ≥ 0.
                int need = Math.Max((d * (kh - 1) + 1 - inShape.Height + 1) / 2, (d * (kw - 1) + 1 - inShape.Width + 1) / 2);
                int suggested = Math.Max(need, padding + 1);
                Report(attribute.Span is null ? null : new DiagnosticFix(FixKinds.SetArgument, "Padding = " + Int(suggested), EquatableArray.Create(attribute.Span)),
                    DiagnosticIds.EmptyMap, attribute.Span, $"Conv2d({Int(channels.Value)}, {kernelText})", node, $"{Int(Math.Max(0, outH))}x{Int(Math.Max(0, outW))}",
                    $"{Int(inShape.Height)}x{Int(inShape.Width)} from '{input.Node}'",
                    $"kernel {kernelText}, stride {Int(s)}, padding {(padding == -1 ? "same" : Int(padding))}" + (d > 1 ? $", dilation {Int(d)}" : ""),
                    $"add Padding = {Int(suggested)} or remove a pooling node before it");
                return null;
            }
            bool bias = ParseBool(attribute.Find("Bias")) ?? true;
            int init = ParseInt(attribute.Find("Init")) ?? 0;
            var options = new List<string> { Int(channels.Value), kernelText };
            if (s != 1) options.Add("Stride = " + Int(s));
            if (padding == -1) options.Add("Padding = Same");
            else if (padding != 0) options.Add("Padding = " + Int(padding));
            if (d != 1) options.Add("Dilation = " + Int(d));
            if (g != 1) options.Add("Groups = " + Int(g));
            if (!bias) options.Add("Bias = false");
            string label = $"Conv2d({string.Join(", ", options)})";
            labels.Add(from(label));
            return Add(new Op(_ops.Count, OpKind.Conv2d, node, position, EquatableArray.Create(source), Shape.Of(channels.Value, outH, outW), from(label))
            {
                Units = channels.Value, HasBias = bias, Init = (InitKind)Math.Max(0, Math.Min(3, init)),
                ParameterPrefix = parametric > 1 ? $"{node}.{Int(position)}" : node,
                KernelHeight = kh, KernelWidth = kw, StrideHeight = s, StrideWidth = s,
                PadTop = top, PadBottom = bottom, PadLeft = left, PadRight = right,
                DilationHeight = d, DilationWidth = d, Groups = g,
            });
        }

        /// <summary>SelfAttention(heads, Causal, Dropout, Bias, Steps): three ops — the fused Q/K/V projection (a Dense named as
        /// nn.MultiheadAttention's in_proj), the attention core, and the output projection (out_proj).</summary>
        private int? SelfAttention(AttributeDeclaration attribute, int position, int parametric, string node, int source, Op input, Scope scope,
            Func<string, string> from, List<string> labels)
        {
            Shape inShape = input.Shape;
            if (inShape.Rank != 2)
            {
                string fix = input.Kind == OpKind.Recurrent && !input.ReturnSequences
                    ? $"'{input.Node}' returns only its last step (ReturnSequences = false): set ReturnSequences = true on it"
                    : inShape.IsImage
                        ? "an image is not a sequence: flatten it or give its pixels as steps"
                        : "attention relates the steps of a sequence: declare one, e.g. [Input(64, 32)], or embed tokens with [Embedding]";
                Report(DiagnosticIds.NeedsSequence, attribute.Span, "SelfAttention", node, inShape.WithBatch(), input.Node, fix);
                return null;
            }
            int steps = inShape.Dimensions[0], width = inShape.Last;
            int? heads = Heads(attribute, node, input);
            if (heads is null) return null;
            if (!CheckSteps(attribute, $"SelfAttention({Int(heads.Value)})", node, steps, input)) return null;
            double? dropout = Hyper(attribute, "Dropout", 0, node, v => v >= 0 && v < 1, "in [0, 1)", "p = 1 would drop every attention weight");
            if (dropout is null) return null;
            bool causal = ParseBool(attribute.Find("Causal")) ?? false;
            bool bias = ParseBool(attribute.Find("Bias")) ?? true;
            int? padding = KeyPadding(attribute, "SelfAttention", node, steps, $"the steps of '{input.Node}'", scope);
            if (padding is null) return null;
            var options = new List<string> { Int(heads.Value) };
            if (causal) options.Add("Causal = true");
            if (dropout.Value > 0) options.Add("Dropout = " + Real(dropout.Value));
            if (!bias) options.Add("Bias = false");
            if (padding.Value >= 0) options.Add("KeyPadding = " + _ops[padding.Value].Node);
            string label = $"SelfAttention({string.Join(", ", options)})";
            labels.Add(from(label));
            string prefix = parametric > 1 ? $"{node}.{Int(position)}" : node;
            int qkv = Add(new Op(_ops.Count, OpKind.Dense, node, position, EquatableArray.Create(source), inShape.WithLast(3 * width), from(label) + ": Q, K, V projection")
            {
                Units = 3 * width, HasBias = bias, Init = InitKind.Xavier, ParameterPrefix = prefix, WeightName = "in_proj_weight", BiasName = "in_proj_bias",
            });
            int core = Add(new Op(_ops.Count, OpKind.Attention, node, position, EquatableArray.Create(qkv), inShape,
                $"{Int(heads.Value)} heads of {Int(width / heads.Value)}: softmax(Q·Kᵀ/√{Int(width / heads.Value)}{(causal ? ", causal" : "")})·V")
            {
                Heads = heads.Value, Causal = causal, Probability = (float)dropout.Value, Units = steps, KeyPadding = padding.Value,
            });
            return Add(new Op(_ops.Count, OpKind.Dense, node, position, EquatableArray.Create(core), inShape, "output projection")
            {
                Units = width, HasBias = bias, Init = InitKind.LinearZeroBias, ParameterPrefix = prefix + ".out_proj",
            });
        }

        /// <summary>
        /// The fix for a Residual whose value lost rows and columns of the map: when the node's unpadded stride-1
        /// convolutions account for exactly the loss (same channels), Padding = Padding.Same on each of them.
        /// </summary>
        private DiagnosticFix? SamePadding(Shape start, Shape end)
        {
            if (!start.IsImage || !end.IsImage || start.Channels != end.Channels || _unpaddedConvolutions.Count == 0) return null;
            int rows = _unpaddedConvolutions.Sum(c => c.Rows), columns = _unpaddedConvolutions.Sum(c => c.Columns);
            if (start.Height - end.Height != rows || start.Width - end.Width != columns) return null;
            return new DiagnosticFix(FixKinds.SetArgument, "Padding = Padding.Same", _unpaddedConvolutions.Select(c => c.Span).ToEquatableArray());
        }

        /// <summary>Heads, which must divide the width of the queries (KILN1015, naming the nearest divisor).</summary>
        private int? Heads(AttributeDeclaration attribute, string node, Op input)
        {
            int width = input.Shape.Last;
            int? heads = PositiveSize(attribute, "Heads", node, $"a positive number of attention heads, e.g. [{attribute.Name}(4)]");
            if (heads is null) return null;
            if (width % heads.Value == 0) return heads;
            var divisors = Enumerable.Range(1, Math.Min(width, 64)).Where(d => width % d == 0).ToList();
            int nearest = divisors.OrderBy(d => Math.Abs(d - heads.Value)).ThenByDescending(d => d).First();
            Report(Replace(attribute.Find("Heads"), nearest), DiagnosticIds.HeadsDoNotDivide, attribute.Find("Heads")?.Span ?? attribute.Span, node, Int(width), input.Node, Int(heads.Value), Int(nearest), attribute.Name);
            return null;
        }

        /// <summary>A node named by a cross-attention's Memory or an attention's KeyPadding: one of its scope declared before
        /// it, or of an enclosing scope (the model, for a block it repeats).</summary>
        private int? ResolveInScopes(ArgumentDeclaration? argument, string what, AttributeDeclaration attribute, string node, Scope scope)
        {
            string? name = argument?.Value;
            bool declaredHere = string.IsNullOrEmpty(name) || scope.Outputs.ContainsKey(name!) || scope.Declared.Contains(name!);
            for (Scope? outer = declaredHere ? null : scope.Parent; outer is not null; outer = outer.Parent)
            {
                if (outer.Outputs.TryGetValue(name!, out int op)) return op;
                if (outer.Failed.Contains(name!)) return null;
            }
            // Declared here, or nowhere: the usual resolution and its diagnostics.
            return ResolveNamed(argument, what, attribute, node, scope);
        }

        /// <summary>KeyPadding = nameof(X): X must be an integer [Input] with a PaddingToken and one token per key
        /// (KILN1018). The input op, −1 when unset, null after a diagnostic.</summary>
        private int? KeyPadding(AttributeDeclaration attribute, string layer, string node, int keyLength, string keys, Scope scope)
        {
            ArgumentDeclaration? argument = attribute.Find("KeyPadding");
            if (argument is null) return -1;
            int? resolved = ResolveInScopes(argument, "KeyPadding", attribute, node, scope);
            if (resolved is null) return null;
            Op named = _ops[resolved.Value];
            Op? tokens = _ops.FirstOrDefault(o => o.Kind == OpKind.Input && o.Node == named.Node);
            var span = argument.Span ?? attribute.Span;
            if (tokens is null || !tokens.IntegerInput)
                Report(DiagnosticIds.KeyPaddingMismatch, span, layer, node, named.Node,
                    tokens is null ? $"which is not an input but {named.Label} {named.Shape.WithBatch()}" : $"which holds float values {tokens.Shape.WithBatch()}",
                    "name the integer [Input] whose tokens the keys come from, declared with its PaddingToken");
            else if (tokens.PaddingToken < 0)
                Report(DiagnosticIds.KeyPaddingMismatch, span, layer, node, named.Node, "which declares no PaddingToken",
                    $"declare the token that pads it, e.g. [Input({Int(tokens.Shape.Dimensions[0])}, Of = typeof(int), PaddingToken = 0)]");
            else if (tokens.Shape.Dimensions[0] != keyLength)
                Report(DiagnosticIds.KeyPaddingMismatch, span, layer, node, named.Node,
                    $"which has {Int(tokens.Shape.Dimensions[0])} tokens per sample, but there are {Int(keyLength)} keys ({keys})",
                    "the mask needs one token per key: name the input whose tokens the keys come from");
            else
                return tokens.Id;
            return null;
        }

        /// <summary>CrossAttention(heads, Memory, Dropout, Bias, Steps): four ops — the query projection of the sequence so far
        /// (q_proj), the key and value projection of the memory (kv_proj, one product into [T_k, 2·d_model]), the attention
        /// core over the two, and the output projection (out_proj).</summary>
        private int? CrossAttention(AttributeDeclaration attribute, int position, int parametric, string node, int source, Op input, int memory,
            ArgumentDeclaration memoryArg, Scope scope, Func<string, string> from, List<string> labels)
        {
            Shape inShape = input.Shape;
            if (inShape.Rank != 2)
            {
                Report(DiagnosticIds.NeedsSequence, attribute.Span, "CrossAttention", node, inShape.WithBatch(), input.Node,
                    "its queries are the steps of a sequence: declare one, or embed tokens with [Embedding]");
                return null;
            }
            Op keys = _ops[memory];
            if (keys.Shape.Rank != 2 || keys.IntegerInput)
            {
                string fix = keys.IntegerInput ? "embed the tokens first and attend over that node, e.g. an encoder's output"
                    : keys.Shape.IsImage ? "an image is not a sequence: flatten its pixels into steps first"
                    : "attend over a node that keeps its steps (an encoder's output, a recurrent layer with ReturnSequences = true)";
                Report(DiagnosticIds.CrossAttentionMemory, memoryArg.Span ?? attribute.Span, node, keys.Node, keys.Shape.WithBatch(), fix);
                return null;
            }
            int steps = inShape.Dimensions[0], width = inShape.Last, keyLength = keys.Shape.Dimensions[0];
            int? heads = Heads(attribute, node, input);
            if (heads is null) return null;
            if (!CheckSteps(attribute, $"CrossAttention({Int(heads.Value)})", node, steps, input)) return null;
            double? dropout = Hyper(attribute, "Dropout", 0, node, v => v >= 0 && v < 1, "in [0, 1)", "p = 1 would drop every attention weight");
            if (dropout is null) return null;
            bool bias = ParseBool(attribute.Find("Bias")) ?? true;
            int? padding = KeyPadding(attribute, "CrossAttention", node, keyLength, $"the steps of '{keys.Node}'", scope);
            if (padding is null) return null;
            var options = new List<string> { Int(heads.Value), "Memory = " + keys.Node };
            if (dropout.Value > 0) options.Add("Dropout = " + Real(dropout.Value));
            if (!bias) options.Add("Bias = false");
            if (padding.Value >= 0) options.Add("KeyPadding = " + _ops[padding.Value].Node);
            string label = $"CrossAttention({string.Join(", ", options)})";
            labels.Add(from(label));
            string prefix = parametric > 1 ? $"{node}.{Int(position)}" : node;
            int query = Add(new Op(_ops.Count, OpKind.Dense, node, position, EquatableArray.Create(source), inShape, from(label) + ": Q projection")
            {
                Units = width, HasBias = bias, Init = InitKind.Xavier, ParameterPrefix = prefix + ".q_proj",
            });
            int keyValue = Add(new Op(_ops.Count, OpKind.Dense, node, position, EquatableArray.Create(memory), keys.Shape.WithLast(2 * width),
                $"K, V projection of {keys.Node}")
            {
                Units = 2 * width, HasBias = bias, Init = InitKind.Xavier, ParameterPrefix = prefix + ".kv_proj",
            });
            int dk = width / heads.Value;
            int core = Add(new Op(_ops.Count, OpKind.Attention, node, position, EquatableArray.Create(query, keyValue), inShape,
                $"{Int(heads.Value)} heads of {Int(dk)}: softmax(Q·Kᵀ/√{Int(dk)})·V over the {Int(keyLength)} steps of {keys.Node}")
            {
                Heads = heads.Value, Probability = (float)dropout.Value, Units = keyLength, KeyPadding = padding.Value,
            });
            return Add(new Op(_ops.Count, OpKind.Dense, node, position, EquatableArray.Create(core), inShape, "output projection")
            {
                Units = width, HasBias = bias, Init = InitKind.LinearZeroBias, ParameterPrefix = prefix + ".out_proj",
            });
        }

        /// <summary>Steps = n, when set, must be the length of the sequence that arrives (KILN1014; negative: KILN1001).</summary>
        private bool CheckSteps(AttributeDeclaration attribute, string layer, string node, int steps, Op input)
        {
            ArgumentDeclaration? stepsArg = attribute.Find("Steps");
            if (stepsArg is null || ParseInt(stepsArg) is not int declared || declared == 0) return true;
            if (declared < 0)
                Report(DiagnosticIds.InvalidSize, stepsArg.Span ?? attribute.Span, "Steps", node, "a positive sequence length (or left unset)", Int(declared));
            else if (declared != steps)
                Report(DiagnosticIds.SequenceLengthMismatch, stepsArg.Span ?? attribute.Span, layer, node, Int(declared), Int(steps), input.Node);
            else
                return true;
            return false;
        }

        /// <summary>⌊(size + padding − dilation·(kernel − 1) − 1) / stride⌋ + 1 (≤ 0 when the window does not fit).</summary>
        private static int WindowCount(int size, int kernel, int stride, int totalPadding, int dilation)
        {
            long span = (long)size + totalPadding - (long)dilation * (kernel - 1) - 1;
            return span < 0 ? 0 : (int)Math.Min(int.MaxValue, span / stride + 1);
        }

        /// <summary>An optional integer argument: its default when unset, else at least 1 (or 0 meaning the default).</summary>
        private int? OptionalPositive(AttributeDeclaration attribute, string name, string node, int fallback, bool allowZero)
        {
            ArgumentDeclaration? argument = attribute.Find(name);
            int? value = ParseInt(argument);
            if (value is null || (allowZero && value == 0)) return fallback;
            if (value < 1)
            {
                Report(DiagnosticIds.InvalidSize, argument?.Span ?? attribute.Span, name, node, allowZero ? "a positive number (or 0 for the default)" : "a positive number", Int(value.Value));
                return null;
            }
            return value;
        }

        /// <summary>Classes = n, when set, must be the width of the logits.</summary>
        private bool CheckClasses(AttributeDeclaration attribute, string node, Shape inShape, Op input)
        {
            ArgumentDeclaration? classesArg = attribute.Find("Classes");
            int classes = ParseInt(classesArg) ?? 0;
            if (classes < 0)
            {
                Report(DiagnosticIds.InvalidSize, classesArg?.Span ?? attribute.Span, "Classes", node, "a positive number of classes (or left unset)", Int(classes));
                return false;
            }
            if (classes != 0 && classes != inShape.Last)
            {
                Report(Replace(classesArg, inShape.Last), DiagnosticIds.LossWidthMismatch, classesArg?.Span ?? attribute.Span, node, "Classes", Int(classes), input.Node, inShape.WithBatch(), Int(inShape.Last));
                return false;
            }
            return true;
        }

        /// <summary>Width = n, when set, must be the values per sample of the prediction.</summary>
        private bool CheckWidth(AttributeDeclaration attribute, string node, Shape inShape, Op input)
        {
            ArgumentDeclaration? widthArg = attribute.Find("Width");
            int width = ParseInt(widthArg) ?? 0;
            if (width < 0)
            {
                Report(DiagnosticIds.InvalidSize, widthArg?.Span ?? attribute.Span, "Width", node, "a positive number of targets (or left unset)", Int(width));
                return false;
            }
            if (width != 0 && width != inShape.Size)
            {
                Report(Replace(widthArg, inShape.Size), DiagnosticIds.LossWidthMismatch, widthArg?.Span ?? attribute.Span, node, "Width", Int(width), input.Node, inShape.WithBatch(), inShape.Size.ToString(CultureInfo.InvariantCulture));
                return false;
            }
            return true;
        }

        /// <summary>A hyper-parameter (double) with its default; outside its range, KILN1006 at the argument.</summary>
        private double? Hyper(AttributeDeclaration attribute, string name, double fallback, string node, Func<double, bool> valid, string range, string consequence)
        {
            ArgumentDeclaration? argument = attribute.Find(name);
            double value = ParseDouble(argument) ?? fallback;
            if (double.IsNaN(value) || !valid(value))
            {
                Report(DiagnosticIds.InvalidArgument, argument?.Span ?? attribute.Span, name, node, range, Real(value), consequence);
                return null;
            }
            return value;
        }

        /// <summary>Reduction.Mean (0) or Reduction.Sum (1); a cast of another number is KILN1006.</summary>
        private bool Reduction(AttributeDeclaration attribute, string node, out bool sum)
        {
            ArgumentDeclaration? argument = attribute.Find("Reduction");
            int value = ParseInt(argument) ?? 0;
            sum = value == 1;
            if (value is 0 or 1) return true;
            Report(DiagnosticIds.InvalidArgument, argument?.Span ?? attribute.Span, "Reduction", node, "Reduction.Mean or Reduction.Sum", Int(value), "no other reduction exists");
            return false;
        }

        private static string Labelled(string name, List<string> options) => options.Count == 0 ? name : $"{name}({string.Join(", ", options)})";

        private static string Real(double value) => ((float)value).ToString("R", CultureInfo.InvariantCulture);

        /// <summary>Tensors are indexed with int: each activation (over the batch) and each parameter must fit.</summary>
        private bool TooLarge(Op op, AttributeDeclaration attribute, int batch)
        {
            var tensors = new List<(string What, long Size, string Shape)> { ("Output", op.Shape.Size * batch, op.Shape.WithBatch(Int(batch))) };
            if (op.Inputs.Count > 0)
                foreach (ParameterInfo p in op.Parameters(_ops[op.Inputs[0]].Shape)) tensors.Add((p.Name, p.Shape.Size, p.Shape.ToString()));
            foreach (var (what, size, shape) in tensors)
            {
                if (size > MaxTensorValues)
                {
                    Report(DiagnosticIds.TensorTooLarge, attribute.Span, what, op.Node, size.ToString("N0", CultureInfo.InvariantCulture), shape, MaxTensorValues.ToString("N0", CultureInfo.InvariantCulture));
                    _ops.RemoveRange(op.Id, _ops.Count - op.Id);
                    return true;
                }
            }
            return false;
        }

        private int Add(Op op)
        {
            _ops.Add(op);
            return op.Id;
        }

        /// <summary>The op a layer reads: the previous one, or the node named by From.</summary>
        private int? ResolveSource(AttributeDeclaration attribute, string argument, string node, int previous, Scope scope)
        {
            ArgumentDeclaration? from = attribute.Find(argument);
            if (from is null || from.Value is null) return previous < 0 ? null : previous;
            return ResolveNamed(from, argument, attribute, node, scope);
        }

        private int? ResolveNamed(ArgumentDeclaration? argument, string what, AttributeDeclaration attribute, string node, Scope scope)
        {
            string? name = argument?.Value;
            if (string.IsNullOrEmpty(name))
            {
                Report(DiagnosticIds.UnknownNode, argument?.Span ?? attribute.Span, "", node, OwnerName(scope), Candidates(scope));
                return null;
            }
            if (scope.Outputs.TryGetValue(name!, out int op)) return op;
            if (scope.Failed.Contains(name!)) return null;
            if (scope.Declared.Contains(name!))
                Report(DiagnosticIds.NodeReferencesLaterNode, argument?.Span ?? attribute.Span, node, name!);
            else
                Report(DiagnosticIds.UnknownNode, argument?.Span ?? attribute.Span, name!, node, OwnerName(scope), Candidates(scope));
            return null;
        }

        private string OwnerName(Scope scope) => scope.Prefix.Length == 0 ? model.Name : scope.Owner.Substring(scope.Owner.IndexOf('\'') + 1).TrimEnd('\'');

        private static string Candidates(Scope scope) =>
            scope.Outputs.Count == 0 ? "(no node is declared before this one)" : string.Join(", ", scope.Outputs.Keys.Select(n => "nameof(" + n + ")"));

        private int? PositiveSize(AttributeDeclaration attribute, string argument, string node, string expectation)
        {
            ArgumentDeclaration? arg = attribute.Find(argument);
            int? value = ParseInt(arg);
            if (value is null)
            {
                Report(DiagnosticIds.MissingSize, attribute.Span, argument, node, "give it " + expectation);
                return null;
            }
            if (value <= 0)
            {
                Report(DiagnosticIds.InvalidSize, arg?.Span ?? attribute.Span, argument, node, expectation, Int(value.Value));
                return null;
            }
            return value;
        }

        /// <summary>He for the ReLU family, Xavier before sigmoid/tanh, PyTorch's default otherwise; the activation is
        /// looked for past a batch norm, dropout or pooling that follows the layer.</summary>
        private void AssignInitialisers()
        {
            for (int i = 0; i < _ops.Count; i++)
            {
                Op op = _ops[i];
                if (!op.IsProduct) continue;
                Op? next = Reader(i);
                while (next is { Kind: OpKind.BatchNorm or OpKind.Dropout or OpKind.MaxPool2d or OpKind.AvgPool2d })
                    next = Reader(next.Id);
                InitKind init = op.Init;
                float gain = 1f;
                if (init == InitKind.None)
                {
                    init = next?.Kind switch
                    {
                        OpKind.Relu or OpKind.LeakyRelu => InitKind.He,
                        OpKind.Sigmoid or OpKind.Tanh => InitKind.Xavier,
                        _ => InitKind.PyTorchDefault,
                    };
                }
                if (init == InitKind.He)
                {
                    float slope = next?.Kind == OpKind.LeakyRelu ? next.Alpha : 0f;
                    gain = (float)Math.Sqrt(2.0 / (1.0 + slope * slope));
                }
                _ops[i] = op with { Init = init, InitGain = gain };
            }

            Op? Reader(int id) => _ops.Skip(id + 1).FirstOrDefault(o => o.Inputs.Count > 0 && o.Inputs[0] == id);
        }

        private static int? ParseInt(ArgumentDeclaration? argument) =>
            argument?.Value is string text && int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) ? value : null;

        private static double? ParseDouble(ArgumentDeclaration? argument) =>
            argument?.Value is string text && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) ? value : null;

        private static bool? ParseBool(ArgumentDeclaration? argument) =>
            argument?.Value switch { "true" => true, "false" => false, _ => null };
    }

    private static string Int(int value) => value.ToString(CultureInfo.InvariantCulture);
}
