using System.Globalization;
using System.Collections.Generic;
using System.Linq;
using Kiln.Generators.Autodiff;
using Kiln.Generators.Graph;
using Kiln.Generators.Helpers;
using Kiln.Generators.Model;
using Kiln.Generators.Planner;

namespace Kiln.Generators;

public sealed partial class ModelGenerator
{
    internal static partial class Emitter
    {
        /// <summary>Emits one model class.</summary>
        private sealed partial class ModelEmitter
        {
            private static readonly HashSet<string> ReservedLocals = new()
            {
                "rows", "labels", "targets", "optimizer", "parameters", "gradients", "workspace", "memory", "loss",
                "start", "count", "total", "classes", "path", "seed", "random", "chunk", "value",
            };

            private readonly ModelDeclaration _model;
            private readonly ModelGraph _graph;
            private readonly BackwardGraph _backward;
            private readonly MemoryPlan _plan;
            private readonly SourceWriter _w = new();
            private readonly Dictionary<(BufferKind, int), string> _names = new();
            private readonly string _inputName;
            /// <summary>The model's inputs in declaration order (one, or two for a model such as an encoder-decoder): the
            /// parameter name of each in the public methods and the constant holding its values per sample.</summary>
            private readonly List<InputInfo> _inputs = new();
            private readonly string _outputName;
            private readonly Op? _loss;
            private readonly bool _classifier;
            private readonly bool _labels;

            public ModelEmitter(ModelDeclaration model, ModelGraph graph, BackwardGraph backward, MemoryPlan plan)
            {
                _model = model;
                _graph = graph;
                _backward = backward;
                _plan = plan;
                _loss = graph.Loss;
                // A softmax classifier gets Predict (the arg-max class); integer labels or float targets follow the loss.
                _classifier = _loss?.Kind is OpKind.SoftmaxCrossEntropy or OpKind.FocalLoss;
                _labels = _loss?.UsesLabels == true;
                var used = new HashSet<string>(ReservedLocals);
                _inputName = Unique(Naming.Camel(graph.Input.Node), "Input", used);
                var constants = new HashSet<string> { "Batch", "InputSize", "OutputSize", "ParameterCount", "WorkspaceBytes" };
                foreach (Op input in graph.Inputs)
                {
                    string parameter = input.Id == graph.InputOp ? _inputName : Unique(Naming.Camel(input.Node), "Input", used);
                    // One input: InputSize, as every model; several: a size per input, by its node's name.
                    string size = graph.Inputs.Count() == 1 ? "InputSize" : Unique(Naming.Pascal(input.Node) + "Size", "_", constants);
                    _inputs.Add(new InputInfo(input, parameter, size));
                }
                // The output of a repeated block is named after the model's node that repeats it ("R", not "R.1.Body").
                _outputName = Unique(Naming.Camel(graph.Output.Node.Split('.')[0]), "Output", used);
                // Buffers are named by constants in WorkspaceOffsets: unique among themselves.
                used = new HashSet<string>();
                foreach (Buffer buffer in plan.Buffers.OrderBy(b => b.Op).ThenBy(b => b.Kind))
                {
                    string baseName = BaseName(graph.Ops[buffer.Op]);
                    string name = buffer.Kind switch
                    {
                        BufferKind.Activation => baseName,
                        BufferKind.Mask => baseName + "Mask",
                        BufferKind.Statistics => baseName + "Statistics",
                        BufferKind.Saved => baseName + "Saved",
                        BufferKind.Scratch => baseName + "Scratch",
                        _ => "D" + baseName,
                    };
                    _names[(buffer.Kind, buffer.Op)] = Unique(Naming.Pascal(name), "_", used);
                }
            }

            private static string Unique(string name, string suffix, HashSet<string> used)
            {
                string candidate = name;
                while (used.Contains(candidate)) candidate += suffix;
                used.Add(candidate);
                return Naming.Identifier(candidate);
            }

            /// <summary>"Hidden1" for a node's last op; "Hidden1Dense" for an op inside a node; with the
            /// position when a node has two ops of one kind; "LossProbabilities" for the loss's saved state.</summary>
            private string BaseName(Op op)
            {
                string node = NodeIdentifier(op.Node);
                if (op.KeepsProbabilities) return node + "Probabilities";
                if (op.IsNodeOutput) return node;
                // Self-attention's projections, by their PyTorch names (a node holds at most one self-attention per position).
                if (op.Kind == OpKind.Dense && op.WeightName == "in_proj_weight") return node + "Qkv" + (AttentionsIn(op.Node) > 1 ? I(op.Position) : "");
                if (op.Kind == OpKind.Dense && op.ParameterPrefix.EndsWith(".q_proj", System.StringComparison.Ordinal))
                    return node + "Query" + (AttentionsIn(op.Node) > 1 ? I(op.Position) : "");
                if (op.Kind == OpKind.Dense && op.ParameterPrefix.EndsWith(".kv_proj", System.StringComparison.Ordinal))
                    return node + "KeyValue" + (AttentionsIn(op.Node) > 1 ? I(op.Position) : "");
                if (op.Kind == OpKind.Dense && op.ParameterPrefix.EndsWith(".out_proj", System.StringComparison.Ordinal))
                    return node + "OutProj" + (AttentionsIn(op.Node) > 1 ? I(op.Position) : "");
                bool repeated = _graph.Ops.Count(o => o.Node == op.Node && o.Kind == op.Kind) > 1;
                string name = node + op.Kind + (repeated ? I(op.Position) : "");
                // Ops of one attribute (a recurrent stack: its layers and the dropouts between them) by their order.
                var same = _graph.Ops.Where(o => o.Node == op.Node && o.Kind == op.Kind && o.Position == op.Position).ToList();
                return same.Count > 1 ? name + "L" + I(same.IndexOf(op)) : name;
            }

            private int AttentionsIn(string node) => _graph.Ops.Count(o => o.Node == node && o.Kind == OpKind.Attention);

            /// <summary>A node path as an identifier part: "Blocks.0.Conv1" → "Blocks0Conv1".</summary>
            private static string NodeIdentifier(string node) => string.Concat(node.Split('.').Select(Naming.Pascal));

            private int OutputSize => checked((int)_graph.Output.Shape.Size);
            private string TargetName => _labels ? "labels" : "targets";
            private string TargetType => _labels ? "int" : "float";
            private int MemoryFloats => 2 * _plan.ParameterFloats + _plan.PersistentFloats + _plan.WorkspaceFloats;

            /// <summary>The model keeps state besides its parameters (batch norm's running statistics).</summary>
            private bool HasPersistent => _plan.Persistent.Count > 0;

            public string Run()
            {
                // ITrainable has one input: a model with two is trained through its own methods.
                string bases = _loss is null || _inputs.Count > 1 ? " : global::System.IDisposable" : $" : global::System.IDisposable, {Trainable}";
                OpenType(_w, _model, bases, ClassDocs());
                EmitConstants();
                EmitLayout();
                EmitFields();
                EmitConstructor();
                EmitNodes();
                EmitInitialize();
                EmitForward();
                if (DenseSlots.Count > 0) EmitPackWeights();
                if (_loss is not null)
                {
                    EmitLoss();
                    EmitTraining();
                }
                EmitCheckpoints();
                if (_loss is not null && _inputs.Count == 1) EmitTrainable();
                EmitRunForward();
                if (_loss is not null)
                {
                    EmitRunLoss();
                    EmitRunBackward();
                }
                if (DecodePlan.Create(_graph) is { } decode)
                {
                    if (_loss is not null) _w.Line(); // the backward pass ends without a blank line
                    EmitDecoder(decode);
                }
                CloseType(_w, _model);
                return _w.ToString();
            }

            // ---- documentation ----

            private IEnumerable<string> ClassDocs()
            {
                yield return "/// <summary>";
                yield return $"/// Kiln model <c>{_model.Name}</c>: {Grouped(_plan.ParameterCount)} parameters; trains on batches of up to {I(_graph.Batch)} samples.";
                yield return "/// <code>";
                foreach (string line in Explanation()) yield return "/// " + Naming.Xml(line);
                yield return "/// </code>";
                yield return "/// </summary>";
            }

            /// <summary>The model explanation: one row per node (ops, output shape, parameters, forward FLOPs per sample,
            /// workspace bytes of its buffers for a full batch), then the totals; the workspace total is the planned one,
            /// after buffers whose lifetimes do not overlap share memory.</summary>
            private List<string> Explanation()
            {
                var rows = new List<string[]> { new[] { "node", "ops", "output", "params", "FLOPs/sample", "workspace" } };
                long totalFlops = 0, totalBytes = 0;
                foreach (NodeInfo node in _graph.Nodes)
                {
                    long parameters = 0, flops = 0;
                    for (int id = node.FirstOp; id <= node.LastOp; id++)
                    {
                        Op op = _graph.Ops[id];
                        Shape input = _graph.InputShape(op);
                        parameters += op.Parameters(input).Sum(p => p.Shape.Size);
                        flops += op.Flops(input);
                    }
                    long bytes = 4L * _plan.Buffers.Where(b => b.Op >= node.FirstOp && b.Op <= node.LastOp).Sum(b => (long)b.Floats(_graph.Batch));
                    totalFlops += flops;
                    totalBytes += bytes;
                    rows.Add(new[] { node.Name, node.Label, _graph.Ops[node.LastOp].Shape.ToString(), Grouped(parameters), Grouped(flops), Bytes(bytes) });
                }
                rows.Add(new[] { "total", "", "", Grouped(_plan.ParameterCount), Grouped(totalFlops), Bytes(4L * _plan.WorkspaceFloats) });
                int[] widths = Enumerable.Range(0, 6).Select(c => rows.Max(r => r[c].Length)).ToArray();
                var lines = rows.Select(r => string.Join("  ",
                    r.Select((cell, c) => c >= 3 ? cell.PadLeft(widths[c]) : cell.PadRight(widths[c]))).TrimEnd()).ToList();
                lines.Add($"(workspace: activations, gradients and saved state for a batch of {I(_graph.Batch)}; {Bytes(totalBytes)} in all, planned into {Bytes(4L * _plan.WorkspaceFloats)})");
                return lines;
            }

            /// <summary>Bytes as B, KB or MB (binary multiples, one decimal above 10 KB only when it says something).</summary>
            private static string Bytes(long bytes) =>
                bytes < 1024 ? bytes.ToString(CultureInfo.InvariantCulture) + " B"
                : bytes < 1024 * 1024 ? (bytes / 1024.0).ToString(bytes < 10 * 1024 ? "0.0" : "0", CultureInfo.InvariantCulture) + " KB"
                : (bytes / (1024.0 * 1024)).ToString("0.0", CultureInfo.InvariantCulture) + " MB";

            // ---- constants and layout ----

            private void EmitConstants()
            {
                _w.Line("/// <summary>Samples per training step, and the most rows one inference chunk processes.</summary>");
                _w.Line($"public const int Batch = {I(_graph.Batch)};");
                foreach (InputInfo input in _inputs)
                {
                    _w.Line($"/// <summary>Values per sample of the input '{input.Op.Node}', shape {input.Op.Shape}.</summary>");
                    _w.Line($"public const int {input.Size} = {I(input.Op.Shape.Size)};");
                }
                _w.Line($"/// <summary>Values per sample of the output '{_graph.Output.Node}', shape {_graph.Output.Shape}.</summary>");
                _w.Line($"public const int OutputSize = {I(OutputSize)};");
                _w.Line("/// <summary>Trainable parameters (without alignment padding).</summary>");
                _w.Line($"public const int ParameterCount = {I(_plan.ParameterCount)};");
                _w.Line("/// <summary>Bytes of the activation and gradient workspace, from the static memory plan.</summary>");
                _w.Line($"public const long WorkspaceBytes = {I(4L * _plan.WorkspaceFloats)};");
                _w.Line();
                _w.Line(HasPersistent
                    ? "// One 64-byte-aligned arena per instance: [parameters | gradients | buffers | workspace], in floats; the buffers are"
                    : "// One 64-byte-aligned arena per instance: [parameters | gradients | workspace], in floats.");
                if (HasPersistent) _w.Line("// state saved with the parameters but not trained (batch norm's running statistics).");
                _w.Line($"private const int ParameterFloats = {I(_plan.ParameterFloats)};");
                _w.Line($"private const int WorkspaceFloats = {I(_plan.WorkspaceFloats)};");
                if (HasPersistent)
                {
                    _w.Line($"private const int BufferFloats = {I(_plan.PersistentFloats)};");
                    _w.Line($"private const int BufferStart = {I(2L * _plan.ParameterFloats)};");
                }
                _w.Line($"private const int WorkspaceStart = {I(2L * _plan.ParameterFloats + _plan.PersistentFloats)};");
                _w.Line($"private const int MemoryFloats = {I(MemoryFloats)};");
                _w.Line();
            }

            private void EmitLayout()
            {
                _w.Line("/// <summary>Where each parameter lives in <see cref=\"Parameters\"/> (its gradient at the same offset in <see cref=\"Gradients\"/>), in floats.</summary>");
                _w.Open("private static class ParameterOffsets");
                foreach (ParameterSlot p in _plan.Parameters)
                    _w.Line($"public const int {ParameterConst(p)} = {I(p.Offset)}; // {p.Name} {p.Shape}");
                _w.Close();
                _w.Line();
                if (HasPersistent)
                {
                    _w.Line("/// <summary>Where each buffer (state that is saved but not trained) lives in <see cref=\"Buffers\"/>, in floats.</summary>");
                    _w.Open("private static class BufferOffsets");
                    foreach (ParameterSlot p in _plan.Persistent)
                        _w.Line($"public const int {ParameterConst(p)} = {I(p.Offset)}; // {p.Name} {p.Shape}");
                    _w.Close();
                    _w.Line();
                }
                _w.Line("/// <summary>The memory plan: where each activation and gradient lives in the workspace (floats), and the");
                _w.Line("/// schedule steps over which it is live (forward 0.." + I(_graph.Ops.Count - 1) + ", then backward). Buffers whose lifetimes do not overlap share memory.</summary>");
                _w.Open("private static class WorkspaceOffsets");
                foreach (Buffer b in _plan.Buffers)
                {
                    string what = b.Kind switch
                    {
                        BufferKind.Activation => "activation",
                        BufferKind.Mask => "dropout mask",
                        BufferKind.Statistics => "batch statistics",
                        BufferKind.Saved => _graph.Ops[b.Op].Kind switch
                        {
                            OpKind.Recurrent => "states and gates of every step",
                            OpKind.LayerNorm => "mean and 1/σ of every row",
                            OpKind.RmsNorm => "1/rms of every row",
                            _ => _graph.Ops[b.Op].Probability > 0 ? "attention weights, and the dropped-out ones" : "attention weights",
                        },
                        BufferKind.Scratch => "backward scratch",
                        _ => "gradient",
                    };
                    _w.Line($"public const int {Name(b.Kind, b.Op)} = {I(b.Offset)}; // {what} {ShapeOf(b)}, live {I(b.Start)}..{I(b.End)}");
                }
                _w.Close();
                _w.Line();
            }

            private string ShapeOf(Buffer b)
            {
                Op op = _graph.Ops[b.Op];
                if (b.Kind == BufferKind.Statistics) return $"[2, {I(_graph.InputShape(op).ChannelWidth)}] (mean, 1/σ)";
                if (b.Kind is BufferKind.Saved or BufferKind.Scratch) return $"[B, {I(b.Width)}]";
                if (op.KeepsProbabilities) return _graph.Ops[op.Inputs[0]].Shape.WithBatch();
                return op.Shape.WithBatch();
            }

            /// <summary>The instance field holding a convolution's kernels.</summary>
            private string KernelField(Op op) => "_" + Naming.Camel(BaseName(op)) + "Kernel";

            /// <summary>The static field holding a pooling op's window geometry.</summary>
            private string WindowField(Op op) => "s_" + Naming.Camel(BaseName(op)) + "Window";

            private static string ParameterConst(ParameterSlot p) =>
                string.Concat(p.Name.Split('.', '_').Select(Naming.Pascal));

            private void EmitFields()
            {
                _w.Line($"private static readonly {Rt}.Node[] s_nodes = new {Rt}.Node[]");
                _w.Line("{");
                _w.Indentation++;
                foreach (NodeInfo node in _graph.Nodes)
                {
                    Op last = _graph.Ops[node.LastOp];
                    long parameters = 0;
                    for (int id = node.FirstOp; id <= node.LastOp; id++)
                        parameters += _graph.Ops[id].Parameters(_graph.InputShape(_graph.Ops[id])).Sum(p => p.Shape.Size);
                    string dims = string.Join(", ", last.Shape.Dimensions.Select(d => I(d)));
                    _w.Line($"new {Rt}.Node({Naming.String(node.Name)}, {Naming.String(node.Label)}, new int[] {{ {dims} }}, {I(parameters)}L),");
                }
                _w.Indentation--;
                _w.Line("};");
                _w.Line();
                _w.Line($"private readonly {Rt}.AlignedBuffer _memory;");
                _w.Line();
                _w.Line("/// <summary>Every trainable tensor, by PyTorch-style name (e.g. <c>" + Naming.Xml(_plan.Parameters.FirstOrDefault()?.Name ?? "none") + "</c>), in one flat buffer.</summary>");
                _w.Line($"public {Rt}.ParameterSet Parameters {{ get; }}");
                _w.Line();
                _w.Line("/// <summary>The gradients of the last <c>ComputeGradients</c> or <c>TrainStep</c>, laid out as <see cref=\"Parameters\"/>.</summary>");
                _w.Line($"public {Rt}.ParameterSet Gradients {{ get; }}");
                _w.Line();
                _w.Line(HasPersistent
                    ? "/// <summary>State saved and loaded with the parameters but not trained (PyTorch's buffers), e.g. <c>" + Naming.Xml(_plan.Persistent[0].Name) + "</c>.</summary>"
                    : "/// <summary>State saved with the parameters but not trained (PyTorch's buffers): none in this model.</summary>");
                _w.Line($"public {Rt}.ParameterSet Buffers {{ get; }}");
                _w.Line();
                foreach (Op op in _graph.Ops.Where(o => o.Kind == OpKind.Conv2d))
                {
                    Shape input = _graph.InputShape(op);
                    _w.Line($"/// <summary>{Naming.Xml(op.Node)}: {Naming.Xml(op.Label)}, {Naming.Xml(input.ToString())} -> {Naming.Xml(op.Shape.ToString())}: its tap tables and weight scratch.</summary>");
                    _w.Line($"private readonly {K}.Conv2d {KernelField(op)} = new(new {K}.ConvGeometry({I(input.Channels)}, {I(input.Height)}, {I(input.Width)}, {I(op.Units)}, " +
                        $"{I(op.KernelHeight)}, {I(op.KernelWidth)}, {I(op.StrideHeight)}, {I(op.StrideWidth)}, {I(op.PadTop)}, {I(op.PadBottom)}, {I(op.PadLeft)}, {I(op.PadRight)}, " +
                        $"{I(op.DilationHeight)}, {I(op.DilationWidth)}, {I(op.Groups)}));");
                    _w.Line();
                }
                foreach (Op op in _graph.Ops.Where(o => o.Kind is OpKind.MaxPool2d or OpKind.AvgPool2d))
                {
                    Shape input = _graph.InputShape(op);
                    _w.Line($"/// <summary>{Naming.Xml(op.Node)}: {Naming.Xml(op.Label)}, {Naming.Xml(input.ToString())} -> {Naming.Xml(op.Shape.ToString())}.</summary>");
                    _w.Line($"private static readonly {K}.PoolGeometry {WindowField(op)} = new({I(input.Channels)}, {I(input.Height)}, {I(input.Width)}, " +
                        $"{I(op.KernelHeight)}, {I(op.KernelWidth)}, {I(op.StrideHeight)}, {I(op.StrideWidth)}, {I(op.PadTop)}, {I(op.PadLeft)});");
                    _w.Line();
                }
                foreach (Op op in _graph.Ops.Where(o => o.Kind == OpKind.Recurrent))
                {
                    Shape input = _graph.InputShape(op);
                    _w.Line($"/// <summary>{Naming.Xml(op.Node)}: {Naming.Xml(op.Label)}, {Naming.Xml(input.ToString())} -> {Naming.Xml(op.Shape.ToString())}: the step loop over {I(input.Dimensions[0])} steps.</summary>");
                    _w.Line($"private readonly {K}.RecurrentLayer {LayerField(op)} = new({K}.RecurrentCell.{op.Cell}, {I(input.Dimensions[0])}, {I(input.Last)}, {I(op.Units)}, returnSequences: {Bool(op.ReturnSequences)});");
                    _w.Line();
                }
                foreach (Op op in _graph.Ops.Where(o => o.Kind == OpKind.Attention))
                {
                    Shape input = _graph.InputShape(op);
                    int dk = op.Shape.Last / op.Heads;
                    _w.Line($"/// <summary>{Naming.Xml(op.Node)}: {Naming.Xml(op.Label)}, {I(op.Heads)} heads over {I(op.Shape.Dimensions[0])} queries and {I(op.Units)} keys.</summary>");
                    _w.Line($"private readonly {K}.MultiHeadAttention {LayerField(op)} = new({I(op.Heads)}, {I(dk)}, {I(op.Shape.Dimensions[0])}, {I(op.Units)}, causal: {Bool(op.Causal)}" +
                        (op.Probability > 0 ? $", dropout: {Naming.Float(op.Probability)});" : ");"));
                    _w.Line();
                }
                foreach (Op tokens in PaddedInputs)
                {
                    _w.Line($"/// <summary>Per sample of the current rows: the position of the first padding token ({I(tokens.PaddingToken)}) in '{Naming.Xml(tokens.Node)}', the keys an attention with KeyPadding = {Naming.Xml(tokens.Node)} lets its queries see.</summary>");
                    _w.Line($"private readonly int[] {LengthsField(tokens)} = new int[Batch];");
                    _w.Line();
                }
                foreach (Op op in _graph.Ops.Where(o => o.Kind == OpKind.Positions && !o.Learned))
                {
                    _w.Line($"/// <summary>{Naming.Xml(op.Node)}: the sinusoidal positions {Naming.Xml(op.Shape.ToString())} added to every sample.</summary>");
                    _w.Line($"private static readonly float[] {TableField(op)} = {K}.Positions.Sinusoidal({I(op.Shape.Dimensions[0])}, {I(op.Shape.Last)});");
                    _w.Line();
                }
                if (HasRecurrent)
                {
                    foreach (var stack in RecurrentStacks)
                    {
                        Op first = stack.First();
                        _w.Line($"/// <summary>{Naming.Xml(first.Node)}: the state its {I(stack.Count)} layer(s) ended the last pass in (and start the next from, with CarryState).</summary>");
                        _w.Line($"private readonly {Rt}.RecurrentState {StateField(first)};");
                        _w.Line();
                    }
                    _w.Line("/// <summary>Each recurrent node's final state after every pass: PyTorch's h_n (and c_n), [layers, Batch, hidden].</summary>");
                    _w.Line($"public {Rt}.RecurrentStates States {{ get; }}");
                    _w.Line();
                    _w.Line("/// <summary>Whether each pass starts from <see cref=\"States\"/> (the state the previous one ended in, or one written there) instead of");
                    _w.Line("/// zeros: truncated backpropagation through time over a long sequence given in consecutive chunks. No gradient flows into");
                    _w.Line("/// the carried state (it is detached, as in PyTorch). Default false.</summary>");
                    _w.Line("public bool CarryState { get; set; }");
                    _w.Line();
                }
                _w.Line("/// <summary>The most threads one kernel call may use (default 1). Only the products large enough to gain are split.</summary>");
                _w.Line("public int Threads { get; set; } = 1;");
                _w.Line();
                _w.Line("/// <summary>Training mode (the default, as PyTorch's <c>model.train()</c>): dropout and noise act. Set false to evaluate");
                _w.Line("/// (<c>model.eval()</c>): they pass their input through. Every pass follows it: Forward, Predict, Evaluate and training.</summary>");
                _w.Line("public bool Training { get; set; } = true;");
                _w.Line();
                _w.Line("/// <summary>Check mode, off by default (PyTorch's <c>detect_anomaly</c>): every pass verifies that the parameters, the input, each");
                _w.Line($"/// node's activation, the loss and each gradient are finite, and throws a <see cref=\"{Rt}.NonFiniteException\"/> naming the node, the");
                _w.Line("/// tensor and the training step at the first NaN or infinity. When off, each check is one untaken branch. Compiling with");
                _w.Line("/// <c>KILN_NO_FINITE_CHECKS</c> defined removes the checks altogether (the mode then cannot be turned on).</summary>");
                _w.Line("#if KILN_NO_FINITE_CHECKS");
                _w.Line("public bool CheckFinite { get => false; set { if (value) throw new global::System.NotSupportedException(\"This model was compiled with KILN_NO_FINITE_CHECKS defined.\"); } }");
                _w.Line("#else");
                _w.Line("public bool CheckFinite { get; set; }");
                _w.Line("#endif");
                _w.Line();
                if (_loss is not null)
                {
                    _w.Line("/// <summary>Training steps begun (calls of <c>ComputeGradients</c>, directly or through <c>TrainStep</c>); check mode names the step by it.</summary>");
                    _w.Line("private long _steps;");
                    _w.Line();
                }
                _w.Line("/// <summary>Detects a call from a second thread while one is running: an instance is not thread-safe.</summary>");
                _w.Line($"private readonly {Rt}.InstanceGuard _use = new({Naming.String(_model.Name)});");
                _w.Line();
                if (DenseSlots.Count > 0)
                {
                    _w.Line("/// <summary>The Dense weights packed by <see cref=\"PackWeights\"/>, in use while the parameters are unchanged since.</summary>");
                    _w.Line($"private readonly {K}.PackedWeights _packedWeights = new({I(DenseSlots.Count)});");
                    _w.Line();
                }
                if (HasRandomOps)
                {
                    _w.Line("/// <summary>The generator dropout and noise draw from, seeded from the constructor's seed; a checkpoint saves its state.</summary>");
                    _w.Line($"public {Rt}.KilnRandom Random {{ get; }}");
                    _w.Line();
                }
                _w.Line("/// <summary>The declared nodes in data-flow order.</summary>");
                _w.Line($"public static global::System.Collections.Generic.IReadOnlyList<{Rt}.Node> Nodes => s_nodes;");
                _w.Line();
                _w.Line("/// <summary>The model explanation: per node, its ops, output shape, parameters, forward FLOPs and workspace bytes.</summary>");
                _w.Line("public const string Summary =");
                _w.Indentation++;
                List<string> lines = Explanation();
                for (int i = 0; i < lines.Count; i++)
                    _w.Line(Naming.String(lines[i] + "\n") + (i + 1 < lines.Count ? " +" : ";"));
                _w.Indentation--;
                _w.Line();
            }

            private void EmitConstructor()
            {
                _w.Line("/// <summary>Creates the model with its parameters initialised from <paramref name=\"seed\"/>.</summary>");
                _w.Open($"public {_model.Name}(int seed = 0)");
                _w.Line($"_memory = new {Rt}.AlignedBuffer(MemoryFloats);");
                _w.Line($"Parameters = new {Rt}.ParameterSet(_memory, 0, ParameterFloats, CreateSlices());");
                _w.Line($"Gradients = new {Rt}.ParameterSet(_memory, ParameterFloats, ParameterFloats, CreateSlices());");
                _w.Line(HasPersistent
                    ? $"Buffers = new {Rt}.ParameterSet(_memory, BufferStart, BufferFloats, CreateBufferSlices());"
                    : $"Buffers = new {Rt}.ParameterSet(_memory, 0, 0, global::System.Array.Empty<{Rt}.TensorSlice>());");
                if (HasRecurrent)
                {
                    foreach (var stack in RecurrentStacks)
                    {
                        Op first = stack.First();
                        _w.Line($"{StateField(first)} = new {Rt}.RecurrentState({Naming.String(first.Node)}, {I(stack.Count)}, Batch, {I(first.Units)}, hasCell: {Bool(first.Cell == RecurrentKind.Lstm)});");
                    }
                    _w.Line($"States = new {Rt}.RecurrentStates({string.Join(", ", RecurrentStacks.Select(st => StateField(st.First())))});");
                }
                _w.Line("InitializeParameters(seed);");
                if (HasRandomOps) _w.Line($"Random = new {Rt}.KilnRandom(seed * 1_000_003L + 7); // a stream apart from the initialisation's");
                _w.Close();
                _w.Line();
                _w.Open($"private static {Rt}.TensorSlice[] CreateSlices() => new {Rt}.TensorSlice[]");
                foreach (ParameterSlot p in _plan.Parameters)
                    _w.Line($"new {Rt}.TensorSlice({Naming.String(p.Name)}, new int[] {{ {string.Join(", ", p.Shape.Dimensions.Select(d => I(d)))} }}, ParameterOffsets.{ParameterConst(p)}),");
                _w.Close(";");
                _w.Line();
                if (HasPersistent)
                {
                    _w.Open($"private static {Rt}.TensorSlice[] CreateBufferSlices() => new {Rt}.TensorSlice[]");
                    foreach (ParameterSlot p in _plan.Persistent)
                        _w.Line($"new {Rt}.TensorSlice({Naming.String(p.Name)}, new int[] {{ {string.Join(", ", p.Shape.Dimensions.Select(d => I(d)))} }}, BufferOffsets.{ParameterConst(p)}),");
                    _w.Close(";");
                    _w.Line();
                }
                _w.Line("/// <summary>Frees the model's memory.</summary>");
                _w.Line("public void Dispose() => _memory.Dispose();");
                _w.Line();
            }

            private void EmitNodes()
            {
                for (int i = 0; i < _graph.Nodes.Count; i++)
                {
                    NodeInfo node = _graph.Nodes[i];
                    _w.Line($"/// <summary>{Naming.Xml(node.Name)}: {Naming.Xml(node.Label)}, output {_graph.Ops[node.LastOp].Shape}.</summary>");
                    _w.Line($"{Prefix(node.Modifiers)}partial {Rt}.Node {node.Name} {{ get => s_nodes[{I(i)}]; }}");
                }
                _w.Line();
            }

            private void EmitInitialize()
            {
                _w.Line(HasPersistent
                    ? "/// <summary>Re-draws every parameter from <paramref name=\"seed\"/> (He, Xavier or PyTorch's default per layer) and resets the buffers.</summary>"
                    : "/// <summary>Re-draws every parameter from <paramref name=\"seed\"/> (He, Xavier or PyTorch's default per layer).</summary>");
                _w.Open("public void InitializeParameters(int seed)");
                _w.Line($"var random = new {Rt}.KilnRandom(seed);");
                _w.Line($"{Span}<float> parameters = Parameters.Span;");
                _w.Line("parameters.Clear();");
                foreach (Op op in _graph.Ops.Where(o => o.Kind == OpKind.Embedding))
                {
                    string W = Slice("parameters", Param(op, "weight"));
                    _w.Line($"// {op.Node}: {op.Label}: N(0, 1), PyTorch's nn.Embedding default" + (op.PaddingIndex >= 0 ? $"; the padding row {I(op.PaddingIndex)} zero" : ""));
                    _w.Line($"{Rt}.Initializers.Normal({W}, 1f, random);");
                    if (op.PaddingIndex >= 0) _w.Line($"{W}.Slice({I(op.PaddingIndex * op.Shape.Last)}, {I(op.Shape.Last)}).Clear();");
                }
                foreach (Op op in _graph.Ops.Where(o => o.Kind == OpKind.Recurrent))
                {
                    _w.Line($"// {op.Node}: {op.Label}: PyTorch's default, U(±1/√{I(op.Units)}) for every weight and bias");
                    foreach (ParameterSlot p in _plan.Parameters.Where(p => p.Op == op.Id))
                        _w.Line($"{Rt}.Initializers.PyTorchLinear({Slice("parameters", p)}, {I(op.Units)}, random);");
                }
                foreach (Op op in _graph.Ops.Where(o => o.Kind is OpKind.LayerNorm or OpKind.RmsNorm && o.HasBias))
                {
                    _w.Line($"// {op.Node}: {op.Label}: weight one{(op.Kind == OpKind.LayerNorm ? ", bias zero" : "")}");
                    _w.Line($"{Slice("parameters", Param(op, "weight"))}.Fill(1f);");
                }
                foreach (Op op in _graph.Ops.Where(o => o.Kind == OpKind.Positions && o.Learned))
                {
                    _w.Line($"// {op.Node}: {op.Label}: N(0, 1), as an nn.Embedding over the positions");
                    _w.Line($"{Rt}.Initializers.Normal({Slice("parameters", Param(op, "weight"))}, 1f, random);");
                }
                foreach (Op op in _graph.Ops.Where(o => o.IsProduct || (o.Kind == OpKind.BatchNorm && o.HasBias)))
                {
                    ParameterSlot weight = _plan.Parameters.First(p => p.Op == op.Id && p.Role == "weight");
                    ParameterSlot? bias = _plan.Parameters.FirstOrDefault(p => p.Op == op.Id && p.Role == "bias");
                    string W = Slice("parameters", weight);
                    if (op.Kind == OpKind.BatchNorm)
                    {
                        _w.Line($"// {op.Node}: {op.Label}: weight one, bias zero");
                        _w.Line($"{W}.Fill(1f);");
                        continue;
                    }
                    Shape input = _graph.InputShape(op);
                    // A filter sees (in / groups)·kh·kw inputs and feeds out·kh·kw outputs (PyTorch's fans).
                    int fanIn = op.Kind == OpKind.Conv2d ? input.Channels / op.Groups * op.KernelHeight * op.KernelWidth : input.Last;
                    int fanOut = op.Kind == OpKind.Conv2d ? op.Units * op.KernelHeight * op.KernelWidth : op.Units;
                    string layer = op.Kind == OpKind.Conv2d ? "Conv2d" : "Linear";
                    switch (op.Init)
                    {
                        case InitKind.He:
                            _w.Line($"// {op.Node}: {op.Label}: He uniform, gain {Naming.Float(op.InitGain)}; bias zero");
                            _w.Line($"{Rt}.Initializers.KaimingUniform({W}, {I(fanIn)}, {Naming.Float(op.InitGain)}, random);");
                            break;
                        case InitKind.LinearZeroBias:
                            _w.Line($"// {op.Node}: {op.Label}: PyTorch's {layer} default, U(±1/√{I(fanIn)}); bias zero (as nn.MultiheadAttention's out_proj)");
                            _w.Line($"{Rt}.Initializers.PyTorchLinear({W}, {I(fanIn)}, random);");
                            break;
                        case InitKind.Xavier:
                            _w.Line($"// {op.Node}: {op.Label}: Xavier uniform; bias zero");
                            _w.Line($"{Rt}.Initializers.XavierUniform({W}, {I(fanIn)}, {I(fanOut)}, 1f, random);");
                            break;
                        default:
                            _w.Line($"// {op.Node}: {op.Label}: PyTorch's {layer} default, U(±1/√{I(fanIn)}) for weight and bias");
                            _w.Line($"{Rt}.Initializers.PyTorchLinear({W}, {I(fanIn)}, random);");
                            if (bias is not null) _w.Line($"{Rt}.Initializers.PyTorchLinear({Slice("parameters", bias)}, {I(fanIn)}, random);");
                            break;
                    }
                }
                if (HasPersistent)
                {
                    _w.Line($"{Span}<float> buffers = Buffers.Span;");
                    _w.Line("buffers.Clear();");
                    foreach (ParameterSlot p in _plan.Persistent.Where(p => p.Role == "running_var"))
                        _w.Line($"{Slice("buffers", p, "BufferOffsets")}.Fill(1f); // {p.Name} starts at 1");
                }
                _w.Close();
                _w.Line();
            }

            // ---- public surface ----

            private void EmitForward()
            {
                string inShape = _graph.Input.Shape.WithBatch("rows");
                string outShape = _graph.Output.Shape.WithBatch("rows");
                _w.Line($"/// <summary>Inference: <paramref name=\"{_outputName.TrimStart('@')}\"/> {Naming.Xml(outShape)} from <paramref name=\"{_inputName.TrimStart('@')}\"/> {Naming.Xml(inShape)}, for any number of rows (run in chunks of at most <see cref=\"Batch\"/>).</summary>");
                _w.Open($"public void Forward({InputParameters}, {Span}<float> {_outputName})");
                _w.Line("using var use = _use.Enter(nameof(Forward));");
                EmitRows(inShape);
                _w.Line($"{Rt}.Guard.Length({_outputName}.Length, rows, OutputSize, nameof({_outputName}));");
                if (HasRecurrent) _w.Line($"if (CarryState) {Rt}.Guard.CarriedRows(rows, Batch, nameof({_inputName}));");
                _w.Line($"{ReadOnlySpan}<float> output = {OutputSource()};");
                _w.Open("for (int start = 0; start < rows; start += Batch)");
                _w.Line("int count = global::System.Math.Min(Batch, rows - start);");
                _w.Line($"RunForward({InputChunks}, count);");
                _w.Line($"output.Slice({OutputStart}, count * OutputSize).CopyTo({_outputName}.Slice(start * OutputSize, count * OutputSize));");
                _w.Close();
                _w.Close();
                _w.Line();
                if (_classifier)
                {
                    _w.Line($"/// <summary>The most likely class of each row of <paramref name=\"{_inputName.TrimStart('@')}\"/> {Naming.Xml(inShape)} (the arg-max of the logits).</summary>");
                    _w.Open($"public void Predict({InputParameters}, {Span}<int> classes)");
                    _w.Line("using var use = _use.Enter(nameof(Predict));");
                    EmitRows(inShape);
                    _w.Line($"{Rt}.Guard.Length(classes.Length, rows, {ClassesPerRow}, nameof(classes));");
                    if (HasRecurrent) _w.Line($"if (CarryState) {Rt}.Guard.CarriedRows(rows, Batch, nameof({_inputName}));");
                    _w.Line($"{ReadOnlySpan}<float> output = {OutputSource()};");
                    _w.Open("for (int start = 0; start < rows; start += Batch)");
                    _w.Line("int count = global::System.Math.Min(Batch, rows - start);");
                    _w.Line($"RunForward({InputChunks}, count);");
                    _w.Line($"{K}.Reductions.ArgMaxRows(output.Slice({OutputStart}, count * OutputSize), classes.Slice({Times("start", ClassesPerRow)}, {Times("count", ClassesPerRow)}), {(ClassesPerRow == "1" ? "OutputSize" : I(_graph.Output.Shape.Last))});");
                    _w.Close();
                    _w.Close();
                    _w.Line();
                }
            }

            /// <summary>Where the output of a chunk is read: its workspace buffer, or the input itself when the model
            /// applies no op before its loss.</summary>
            private string OutputSource() =>
                _graph.OutputOp == _graph.InputOp
                    ? _inputName
                    : $"_memory.Slice(WorkspaceStart + WorkspaceOffsets.{Name(BufferKind.Activation, _graph.OutputOp)}, Batch * OutputSize)";

            private string OutputStart => _graph.OutputOp == _graph.InputOp ? $"start * {_inputs[0].Size}" : "0";

            /// <summary>The Dense ops in graph order, each with its slot in the packed weights.</summary>
            private System.Collections.Generic.Dictionary<int, int> DenseSlots =>
                _denseSlots ??= _graph.Ops.Where(o => o.Kind == OpKind.Dense).Select((o, slot) => (o.Id, slot)).ToDictionary(p => p.Id, p => p.slot);

            private System.Collections.Generic.Dictionary<int, int>? _denseSlots;

            private void EmitPackWeights()
            {
                _w.Line("/// <summary>Packs every Dense layer's weight once into the layout its product reads, so that inference (Forward, Predict,");
                _w.Line("/// Evaluate) stops repacking it on every call — what ONNX Runtime does when it creates a session. The packs are used while the");
                _w.Line("/// parameters are unchanged since: a training step, a load, an initialization or any access to <c>Parameters.Span</c> or its");
                _w.Line("/// indexers ends their use (products then pack per call again, as before) until this is called again. A span of the parameters");
                _w.Line("/// taken before this call and written after it is not seen: take it again. Memory: one more copy of the Dense weights.</summary>");
                _w.Open("public void PackWeights()");
                _w.Line("using var use = _use.Enter(nameof(PackWeights));");
                _w.Line($"{ReadOnlySpan}<float> parameters = Parameters.Values;");
                foreach (Op op in _graph.Ops.Where(o => o.Kind == OpKind.Dense))
                    _w.Line($"_packedWeights.Pack({I(DenseSlots[op.Id])}, {Slice("parameters", Param(op, "weight"))}, {I(op.Units)}, {I(_graph.InputShape(op).Last)}); // {op.Node}: weight [{I(op.Units)} out, {I(_graph.InputShape(op).Last)} in]");
                _w.Line("_packedWeights.Seal(Parameters);");
                _w.Close();
                _w.Line();
                _w.Line("/// <summary>Whether <see cref=\"PackWeights\"/>' packs are in use: packed, and the parameters unchanged since.</summary>");
                _w.Line("public bool WeightsPacked => _packedWeights.Current;");
                _w.Line();
                _w.Line("/// <summary>Drops the packs of <see cref=\"PackWeights\"/> and their memory.</summary>");
                _w.Line("public void ReleasePackedWeights() => _packedWeights.Release();");
                _w.Line();
            }

            private void EmitLoss()
            {
                string inShape = _graph.Input.Shape.WithBatch("rows");
                _w.Line(_loss!.SumReduction
                    ? "/// <summary>The loss summed over every row, without computing gradients (evaluation; any number of rows).</summary>"
                    : "/// <summary>The mean loss over every row, without computing gradients (evaluation; any number of rows).</summary>");
                _w.Open($"public float Evaluate({InputParameters}, {ReadOnlySpan}<{TargetType}> {TargetName})");
                _w.Line("using var use = _use.Enter(nameof(Evaluate));");
                EmitRows(inShape);
                _w.Line($"{Rt}.Guard.Length({TargetName}.Length, rows, {TargetWidth}, nameof({TargetName}));");
                if (HasRecurrent) _w.Line($"if (CarryState) {Rt}.Guard.CarriedRows(rows, Batch, nameof({_inputName}));");
                _w.Line("double total = 0;");
                _w.Open("for (int start = 0; start < rows; start += Batch)");
                _w.Line("int count = global::System.Math.Min(Batch, rows - start);");
                _w.Line($"RunForward({InputChunks}, count);");
                string chunkLoss = $"RunLoss({InputChunks}, {TargetName}.Slice({Times("start", TargetWidth)}, {Times("count", TargetWidth)}), count)";
                // A mean over a chunk weighs by its rows; a sum adds up as it is.
                _w.Line(_loss.SumReduction ? $"total += {chunkLoss};" : $"total += (double){chunkLoss} * count;");
                _w.Close();
                _w.Line(_loss.SumReduction ? "return (float)total;" : "return (float)(total / rows);");
                _w.Close();
                _w.Line();
            }

            /// <summary>Targets per sample: one label per row of the logits (a sequence has one per step), else the output's values.</summary>
            /// <summary>Classes Predict gives per sample: one per row of the logits (per step of a sequence).</summary>
            private string ClassesPerRow => I(_graph.Output.Shape.RowsPerSample);

            private string TargetWidth => _labels ? I(_graph.Output.Shape.RowsPerSample) : "OutputSize";

            /// <summary>The element type of the (first) input: float values, or int tokens.</summary>
            private string InputType => TypeOf(_graph.Input);

            private static string TypeOf(Op input) => input.IntegerInput ? "int" : "float";

            private sealed record InputInfo(Op Op, string Name, string Size);

            /// <summary>The inputs as parameters: "ReadOnlySpan&lt;float&gt; pixels", or one per input.</summary>
            private string InputParameters => string.Join(", ", _inputs.Select(i => $"{ReadOnlySpan}<{TypeOf(i.Op)}> {i.Name}"));

            private string InputArguments => string.Join(", ", _inputs.Select(i => i.Name));

            /// <summary>Each input's rows [start, start + count) of a chunk.</summary>
            private string InputChunks => string.Join(", ", _inputs.Select(i => $"{i.Name}.Slice(start * {i.Size}, count * {i.Size})"));

            /// <summary>The rows of a call, from the first input; every further input must hold as many.</summary>
            private void EmitRows(string inShape)
            {
                InputInfo first = _inputs[0];
                _w.Line($"int rows = {Rt}.Guard.Rows({first.Name}.Length, {first.Size}, nameof({first.Name}), {Naming.String(inShape)});");
                foreach (InputInfo other in _inputs.Skip(1))
                    _w.Line($"{Rt}.Guard.Length({other.Name}.Length, rows, {other.Size}, nameof({other.Name}));");
            }

            /// <summary>"mean" or "summed", as the loss reduces.</summary>
            private string LossWord => _loss?.SumReduction == true ? "summed" : "mean";

            private void EmitTraining()
            {
                string inShape = _graph.Input.Shape.WithBatch("rows");
                _w.Line($"/// <summary>Forward and backward over one batch of up to <see cref=\"Batch\"/> rows: returns the {LossWord} loss and leaves the gradients in <see cref=\"Gradients\"/>.</summary>");
                _w.Open($"public float ComputeGradients({InputParameters}, {ReadOnlySpan}<{TargetType}> {TargetName})");
                _w.Line("using var use = _use.Enter(nameof(ComputeGradients));");
                EmitRows(inShape);
                _w.Line($"{Rt}.Guard.Batch(rows, Batch, nameof({_inputName}));");
                _w.Line($"{Rt}.Guard.Length({TargetName}.Length, rows, {TargetWidth}, nameof({TargetName}));");
                _w.Line("_steps++;");
                _w.Line($"if (CheckFinite) {Rt}.FiniteCheck.Check(Parameters, \"parameter\", _steps);");
                _w.Line($"RunForward({InputArguments}, rows);");
                _w.Line($"float loss = RunLoss({InputArguments}, {TargetName}, rows);");
                _w.Line($"if (CheckFinite) {Rt}.FiniteCheck.CheckLoss(loss, {Naming.String(_loss!.Node)}, _steps);");
                _w.Line($"RunBackward({InputArguments}, {TargetName}, rows);");
                _w.Line("return loss;");
                _w.Close();
                _w.Line();
                _w.Line($"/// <summary>One training step: forward, backward and the optimizer's update. Returns the {LossWord} loss of the batch.</summary>");
                _w.Open($"public float TrainStep({InputParameters}, {ReadOnlySpan}<{TargetType}> {TargetName}, {Rt}.Optimizers.Optimizer optimizer)");
                _w.Line("global::System.ArgumentNullException.ThrowIfNull(optimizer);");
                _w.Line("using var use = _use.Enter(nameof(TrainStep));");
                _w.Line($"float loss = ComputeGradients({InputArguments}, {TargetName});");
                _w.Line("optimizer.Step(Parameters.Span, Gradients.Span);");
                _w.Line("return loss;");
                _w.Close();
                _w.Line();
            }

            private void EmitCheckpoints()
            {
                _w.Line(HasPersistent
                    ? "/// <summary>Writes the parameters and buffers to a safetensors file (a PyTorch state_dict's names and layouts), atomically.</summary>"
                    : "/// <summary>Writes the parameters to a safetensors file (PyTorch names and layouts), atomically.</summary>");
                _w.Line(HasPersistent
                    ? $"public void Save(string path) => {Rt}.IO.SafeTensors.Save(path, Parameters, Buffers);"
                    : $"public void Save(string path) => {Rt}.IO.SafeTensors.Save(path, Parameters);");
                _w.Line();
                _w.Line(HasPersistent
                    ? "/// <summary>Reads the parameters and buffers from a safetensors file; the file is validated whole before anything changes.</summary>"
                    : "/// <summary>Reads the parameters from a safetensors file; the file is validated whole before anything changes.</summary>");
                _w.Line(HasPersistent
                    ? $"public void Load(string path) => {Rt}.IO.SafeTensors.Load(path, Parameters, Buffers);"
                    : $"public void Load(string path) => {Rt}.IO.SafeTensors.Load(path, Parameters);");
                _w.Line();
                _w.Line("/// <summary>Writes a training checkpoint atomically: the parameters, the optimizer's state, step count and learning rate,");
                _w.Line("/// <paramref name=\"metadata\"/> (e.g. the epoch and the data position) and the caller's own <paramref name=\"tensors\"/>, so that a");
                _w.Line("/// run can resume exactly.</summary>");
                _w.Line($"public void Save(string path, {Rt}.Optimizers.Optimizer optimizer, global::System.Collections.Generic.IReadOnlyDictionary<string, string>? metadata = null, global::System.Collections.Generic.IReadOnlyDictionary<string, float[]>? tensors = null) =>");
                _w.Line($"    {Rt}.IO.Checkpoint.Save(path, Parameters, optimizer ?? throw new global::System.ArgumentNullException(nameof(optimizer)), metadata{(HasRandomOps ? ", Random" : ", null")}{(HasPersistent ? ", Buffers" : ", null")}, tensors);");
                _w.Line();
                _w.Line("/// <summary>Resumes from a training checkpoint: the parameters and the optimizer's state, step count and learning rate;");
                _w.Line("/// returns the checkpoint's metadata, and its own tensors into <paramref name=\"tensors\"/> when given. The file is validated whole");
                _w.Line("/// before anything changes.</summary>");
                _w.Line($"public global::System.Collections.Generic.IReadOnlyDictionary<string, string> Load(string path, {Rt}.Optimizers.Optimizer optimizer, global::System.Collections.Generic.IDictionary<string, float[]>? tensors = null) =>");
                _w.Line($"    {Rt}.IO.Checkpoint.Load(path, Parameters, optimizer ?? throw new global::System.ArgumentNullException(nameof(optimizer)){(HasRandomOps ? ", Random" : ", null")}{(HasPersistent ? ", Buffers" : ", null")}, tensors);");
                _w.Line();
            }

            /// <summary>The interface generic code trains through (ITrainable&lt;float, TTarget&gt;).</summary>
            private string Trainable => $"{Rt}.ITrainable<{InputType}, {TargetType}>";

            private void EmitTrainable()
            {
                _w.Line($"// {Trainable}: the sizes by the interface's names; the methods above implement the rest.");
                _w.Line($"int {Trainable}.BatchSize => Batch;");
                _w.Line($"int {Trainable}.InputWidth => InputSize;");
                _w.Line($"int {Trainable}.OutputWidth => OutputSize;");
                _w.Line($"int {Trainable}.TargetWidth => {TargetWidth};");
                _w.Line($"{Rt}.Reduction {Trainable}.LossReduction => {ReductionOf(_loss!)};");
                _w.Line();
            }

            // ---- the passes ----

            private void EmitRunForward()
            {
                _w.Line($"/// <summary>The forward pass over <paramref name=\"rows\"/> ≤ <see cref=\"Batch\"/> rows; activations stay in the workspace.</summary>");
                _w.Open($"private void RunForward({InputParameters}, int rows)");
                _w.Line($"{Span}<float> memory = _memory.Span;");
                _w.Line($"{ReadOnlySpan}<float> parameters = memory.Slice(0, ParameterFloats);");
                _w.Line($"{Span}<float> workspace = memory.Slice(WorkspaceStart, WorkspaceFloats);");
                if (HasPersistent) _w.Line($"{Span}<float> buffers = memory.Slice(BufferStart, BufferFloats);");
                foreach (InputInfo input in _inputs.Where(i => !i.Op.IntegerInput))
                    _w.Line($"if (CheckFinite) {Rt}.FiniteCheck.Check({input.Name}, {Naming.String(input.Op.Node)}, \"input\", {StepCount});");
                foreach (Op tokens in PaddedInputs)
                {
                    _w.Line();
                    _w.Line($"// {tokens.Node}: each sample's length, up to its first padding token {I(tokens.PaddingToken)} (the keys from there on are hidden)");
                    _w.Line($"{K}.MultiHeadAttention.KeyLengths({Act(tokens.Id)}, {I(tokens.Shape.Dimensions[0])}, {I(tokens.PaddingToken)}, {KeyLengths(tokens.Id)});");
                }
                foreach (Op op in _graph.Ops)
                {
                    if (op.Kind == OpKind.Input || op.IsLoss || op.FusedInto >= 0) continue;
                    Shape input = _graph.InputShape(op);
                    _w.Line();
                    if (op.FusedActivation >= 0)
                    {
                        Op activation = _graph.Ops[op.FusedActivation];
                        string where = op.Kind == OpKind.Conv2d ? "the convolution's epilogue" : "the GEMM epilogue";
                        _w.Line($"// {op.Node}: {op.Label} -> {activation.Label}, fused: bias and activation in {where}   {input.WithBatch()} -> {op.Shape.WithBatch()}");
                    }
                    else
                    {
                        _w.Line($"// {op.Node}: {op.Label}   {input.WithBatch()} -> {op.Shape.WithBatch()}");
                    }
                    string y = op.FusedActivation >= 0 ? "" : Act(op.Id);
                    string x = Act(op.Inputs[0]);
                    switch (op.Kind)
                    {
                        case OpKind.Dense:
                        {
                            string bias = op.HasBias ? Slice("parameters", Param(op, "bias")) : "default";
                            string weight = Slice("parameters", Param(op, "weight"));
                            EmitProduct(op, $"{K}.Dense.Forward({x}, {weight}, {bias}, ", $", {RowsOf(input)}, {I(input.Last)}, {I(op.Units)}",
                                $", packed: _packedWeights.For({I(DenseSlots[op.Id])})");
                            break;
                        }
                        case OpKind.Relu or OpKind.LeakyRelu or OpKind.Sigmoid or OpKind.Tanh or OpKind.Gelu or OpKind.Softmax or OpKind.Add:
                            _w.Line(ElementwiseForward(op, x, op.Kind == OpKind.Add ? Act(op.Inputs[1]) : "", y, RowsOf(op.Shape)));
                            break;
                        case OpKind.Dropout: _w.Line($"{K}.Dropout.Forward({x}, {y}, {Mask(op.Id)}, {Naming.Float(op.Probability)}, Training, Random);"); break;
                        case OpKind.GaussianNoise: _w.Line($"{K}.GaussianNoise.Forward({x}, {y}, {Naming.Float(op.Probability)}, Training, Random);"); break;
                        case OpKind.ChannelsLast: _w.Line($"{K}.Layout.ToChannelsLast({x}, {y}, rows, {I(op.Shape.Channels)}, {I(op.Shape.Pixels)}, threads: Threads);"); break;
                        case OpKind.ChannelsFirst: _w.Line($"{K}.Layout.ToChannelsFirst({x}, {y}, rows, {I(op.Shape.Channels)}, {I(op.Shape.Pixels)}, threads: Threads);"); break;
                        case OpKind.Flatten:
                            _w.Line(input.IsImage
                                ? $"{K}.Layout.ToChannelsFirst({x}, {y}, rows, {I(input.Channels)}, {I(input.Pixels)}, threads: Threads); // PyTorch's flatten order: channel, row, column"
                                : $"{x}.CopyTo({y});");
                            break;
                        case OpKind.Conv2d:
                        {
                            string bias = op.HasBias ? Slice("parameters", Param(op, "bias")) : "default";
                            string weight = Slice("parameters", Param(op, "weight"));
                            EmitProduct(op, $"{KernelField(op)}.Forward({x}, {weight}, {bias}, ", ", rows");
                            break;
                        }
                        case OpKind.MaxPool2d: _w.Line($"{K}.MaxPool.Forward({WindowField(op)}, {x}, {y}, rows, threads: Threads);"); break;
                        case OpKind.AvgPool2d:
                            _w.Line($"{K}.AvgPool.Forward({WindowField(op)}, {x}, {y}, rows{(op.CountIncludePad ? "" : ", countIncludePad: false")}, threads: Threads);");
                            break;
                        case OpKind.GlobalAvgPool: _w.Line($"{K}.GlobalAvgPool.Forward({x}, {y}, rows, {I(input.Pixels)}, {I(input.Channels)});"); break;
                        case OpKind.BatchNorm:
                        {
                            string weight = op.HasBias ? Slice("parameters", Param(op, "weight")) : "default";
                            string bias = op.HasBias ? Slice("parameters", Param(op, "bias")) : "default";
                            string mean = Slice("buffers", Persistent(op, "running_mean"), "BufferOffsets"), variance = Slice("buffers", Persistent(op, "running_var"), "BufferOffsets");
                            string rows = RowsOf(input), channels = I(input.ChannelWidth);
                            _w.Open("if (Training)");
                            _w.Line($"{K}.BatchNorm.ForwardTraining({x}, {weight}, {bias}, {y}, {mean}, {variance}, {Statistics(op.Id)}, {rows}, {channels}, {Naming.Float(op.Momentum)}, {Naming.Float(op.Epsilon)});");
                            _w.Line($"buffers[BufferOffsets.{ParameterConst(Persistent(op, "num_batches_tracked"))}] += 1; // num_batches_tracked");
                            _w.Close();
                            _w.Open("else");
                            _w.Line($"{K}.BatchNorm.ForwardEvaluation({x}, {weight}, {bias}, {y}, {mean}, {variance}, {Statistics(op.Id)}, {rows}, {channels}, {Naming.Float(op.Epsilon)});");
                            _w.Close();
                            break;
                        }
                        case OpKind.Concat:
                        {
                            Shape a = _graph.Ops[op.Inputs[0]].Shape, b = _graph.Ops[op.Inputs[1]].Shape;
                            _w.Line($"{K}.Concat.Forward({x}, {Act(op.Inputs[1])}, {y}, {RowsOf(op.Shape)}, {I(a.ChannelWidth)}, {I(b.ChannelWidth)});");
                            break;
                        }
                        case OpKind.Embedding:
                            _w.Line($"{K}.Embedding.Forward({x}, {Slice("parameters", Param(op, "weight"))}, {y}, {I(op.Units)}, {I(op.Shape.Last)});");
                            break;
                        case OpKind.Recurrent:
                        {
                            string state = StateField(op), layer = I(op.Layer);
                            bool cell = op.Cell == RecurrentKind.Lstm;
                            string bih = op.HasBias ? Slice("parameters", Param(op, "bias_ih")) : "default", bhh = op.HasBias ? Slice("parameters", Param(op, "bias_hh")) : "default";
                            _w.Line($"{LayerField(op)}.Forward({x}, {Slice("parameters", Param(op, "weight_ih"))}, {Slice("parameters", Param(op, "weight_hh"))}, {bih}, {bhh}, {y}, {SavedOf(op.Id)},");
                            _w.Line($"    CarryState ? {state}.HiddenOf({layer}, rows) : default, {(cell ? $"CarryState ? {state}.CellOf({layer}, rows) : default" : "default")},");
                            _w.Line($"    {state}.HiddenOf({layer}, rows), {(cell ? $"{state}.CellOf({layer}, rows)" : "default")}, rows, threads: Threads);");
                            break;
                        }
                        case OpKind.LayerNorm or OpKind.RmsNorm:
                            _w.Line(NormForward(op, x, y, SavedOf(op.Id), RowsOf(input)));
                            break;
                        case OpKind.Attention:
                        {
                            int d = op.Shape.Last;
                            _w.Line(op.Inputs.Count == 1
                                ? $"// Q, K, V: columns [0, {I(d)}), [{I(d)}, {I(2 * d)}), [{I(2 * d)}, {I(3 * d)}) of each row of {Name(BufferKind.Activation, op.Inputs[0])} (stride {I(3 * d)}), read in place"
                                : $"// Q: the rows of {Name(BufferKind.Activation, op.Inputs[0])}; K, V: columns [0, {I(d)}), [{I(d)}, {I(2 * d)}) of each row of {Name(BufferKind.Activation, op.Inputs[1])} (stride {I(2 * d)}), read in place");
                            var (q, qStride, k, v, kStride) = AttentionOperands(op, Act);
                            string random = op.Probability > 0 ? "Training, Random" : "false, null";
                            _w.Line($"{LayerField(op)}.Forward({q}, {qStride}, {k}, {v}, {kStride}, {y}, {SavedOf(op.Id)}, rows, {KeyLengths(op.KeyPadding)}, {random}, threads: Threads);");
                            break;
                        }
                        case OpKind.Positions:
                            _w.Line($"{K}.Positions.Forward({x}, {(op.Learned ? PositionTable(op, "parameters") : TableField(op))}, {y}, rows);");
                            break;
                        default: throw new System.InvalidOperationException("No forward emission for " + op.Kind);
                    }
                    Op produced = op.FusedActivation >= 0 ? _graph.Ops[op.FusedActivation] : op;
                    string label = op.FusedActivation >= 0 ? op.Label + " -> " + produced.Label : op.Label;
                    _w.Line($"if (CheckFinite) {Rt}.FiniteCheck.Check({Act(produced.Id)}, {Naming.String(produced.Node)}, {Naming.String("output of its " + label)}, {StepCount});");
                }
                _w.Close();
                _w.Line();
            }

            private void EmitRunLoss()
            {
                Op loss = _loss!;
                Op prediction = _graph.Ops[loss.Inputs[0]];
                _w.Line($"/// <summary>{Naming.Xml(loss.Node)}: {Naming.Xml(loss.Label)} over the last forward pass.</summary>");
                _w.Open($"private float RunLoss({InputParameters}, {ReadOnlySpan}<{TargetType}> {TargetName}, int rows)");
                _w.Line($"{Span}<float> workspace = _memory.Slice(WorkspaceStart, WorkspaceFloats);");
                _w.Line($"// {loss.Node}: {loss.Label}   {prediction.Shape.WithBatch()} -> []");
                string p = Act(prediction.Id), rows = RowsOf(prediction.Shape), classes = I(prediction.Shape.Last), reduction = ReductionOf(loss);
                string call = loss.Kind switch
                {
                    OpKind.SoftmaxCrossEntropy when loss.SoftTargets =>
                        $"SoftTargetCrossEntropyForward({p}, targets, {Act(loss.Id)}, {rows}, {classes}, {Naming.Float(loss.LabelSmoothing)}, {reduction})",
                    OpKind.SoftmaxCrossEntropy =>
                        $"SoftmaxCrossEntropyForward({p}, labels, {Act(loss.Id)}, {rows}, {classes}, {Naming.Float(loss.LabelSmoothing)}, {reduction}{IgnoreIndexOf(loss)})",
                    OpKind.FocalLoss =>
                        $"FocalLossForward({p}, labels, {Act(loss.Id)}, {rows}, {classes}, {Naming.Float(loss.Gamma)}, {Naming.Float(loss.Alpha)}, {reduction})",
                    OpKind.MeanSquaredError => $"MeanSquaredErrorForward({p}, targets, {reduction})",
                    OpKind.L1Loss => $"L1Forward({p}, targets, {reduction})",
                    OpKind.HuberLoss => $"HuberForward({p}, targets, {Naming.Float(loss.Delta)}, {reduction})",
                    OpKind.BinaryCrossEntropyWithLogits => $"BinaryCrossEntropyWithLogitsForward({p}, targets, {reduction})",
                    OpKind.BinaryFocalLoss => $"BinaryFocalLossForward({p}, targets, {Naming.Float(loss.Gamma)}, {Naming.Float(loss.Alpha)}, {reduction})",
                    _ => throw new System.InvalidOperationException("No loss emission for " + loss.Kind),
                };
                _w.Line($"return {K}.Losses.{call};");
                _w.Close();
                _w.Line();
            }

            private void EmitRunBackward()
            {
                _w.Line("/// <summary>The backward pass, in reverse: each step is the vector-Jacobian product of one forward op;");
                _w.Line("/// a gradient read by several ops is assigned by the first step and accumulated (+=) by the others.</summary>");
                _w.Open($"private void RunBackward({InputParameters}, {ReadOnlySpan}<{TargetType}> {TargetName}, int rows)");
                _w.Line($"{Span}<float> memory = _memory.Span;");
                _w.Line($"{ReadOnlySpan}<float> parameters = memory.Slice(0, ParameterFloats);");
                _w.Line($"{Span}<float> gradients = memory.Slice(ParameterFloats, ParameterFloats);");
                _w.Line($"{Span}<float> workspace = memory.Slice(WorkspaceStart, WorkspaceFloats);");
                foreach (BackwardStep step in _backward.Steps)
                {
                    Op op = _graph.Ops[step.Op];
                    Shape input = _graph.InputShape(op);
                    _w.Line();
                    _w.Line($"// backward of {op.Node}: {op.Label}   d{op.Shape.WithBatch()} -> d{input.WithBatch()}" + (step.HasParameters ? ", d" + string.Join(", d", op.Parameters(input).Select(p => p.Name.Substring(p.Name.LastIndexOf('.') + 1) + p.Shape)) : ""));
                    string Dx(int i) => Grad(op.Inputs[i]);
                    string Acc(int i) => Bool(step.InputAccumulates[i]);
                    switch (op.Kind)
                    {
                        case OpKind.SoftmaxCrossEntropy when op.SoftTargets:
                            _w.Line($"{K}.Losses.SoftTargetCrossEntropyBackward({Act(op.Id)}, targets, {Dx(0)}, {RowsOf(input)}, {I(input.Last)}, accumulate: {Acc(0)}, {Naming.Float(op.LabelSmoothing)}, {ReductionOf(op)});");
                            break;
                        case OpKind.SoftmaxCrossEntropy:
                            _w.Line($"{K}.Losses.SoftmaxCrossEntropyBackward({Act(op.Id)}, labels, {Dx(0)}, {RowsOf(input)}, {I(input.Last)}, accumulate: {Acc(0)}, {Naming.Float(op.LabelSmoothing)}, {ReductionOf(op)}{IgnoreIndexOf(op)});");
                            break;
                        case OpKind.FocalLoss:
                            _w.Line($"{K}.Losses.FocalLossBackward({Act(op.Id)}, labels, {Dx(0)}, {RowsOf(input)}, {I(input.Last)}, accumulate: {Acc(0)}, {Naming.Float(op.Gamma)}, {Naming.Float(op.Alpha)}, {ReductionOf(op)});");
                            break;
                        case OpKind.MeanSquaredError:
                            _w.Line($"{K}.Losses.MeanSquaredErrorBackward({Act(op.Inputs[0])}, targets, {Dx(0)}, accumulate: {Acc(0)}, {ReductionOf(op)});");
                            break;
                        case OpKind.L1Loss:
                            _w.Line($"{K}.Losses.L1Backward({Act(op.Inputs[0])}, targets, {Dx(0)}, accumulate: {Acc(0)}, {ReductionOf(op)});");
                            break;
                        case OpKind.HuberLoss:
                            _w.Line($"{K}.Losses.HuberBackward({Act(op.Inputs[0])}, targets, {Dx(0)}, accumulate: {Acc(0)}, {Naming.Float(op.Delta)}, {ReductionOf(op)});");
                            break;
                        case OpKind.BinaryCrossEntropyWithLogits:
                            _w.Line($"{K}.Losses.BinaryCrossEntropyWithLogitsBackward({Act(op.Inputs[0])}, targets, {Dx(0)}, accumulate: {Acc(0)}, {ReductionOf(op)});");
                            break;
                        case OpKind.BinaryFocalLoss:
                            _w.Line($"{K}.Losses.BinaryFocalLossBackward({Act(op.Inputs[0])}, targets, {Dx(0)}, accumulate: {Acc(0)}, {Naming.Float(op.Gamma)}, {Naming.Float(op.Alpha)}, {ReductionOf(op)});");
                            break;
                        case OpKind.Dense:
                        {
                            string dbias = op.HasBias ? Slice("gradients", Param(op, "bias")) : "default";
                            _w.Line($"{K}.Dense.BackwardParameters({Act(op.Inputs[0])}, {Grad(op.Id)}, {Slice("gradients", Param(op, "weight"))}, {dbias}, {RowsOf(input)}, {I(input.Last)}, {I(op.Units)}, accumulate: false{Threads(op)});");
                            if (step.InputNeedsGradient[0])
                                _w.Line($"{K}.Dense.BackwardInput({Grad(op.Id)}, {Slice("parameters", Param(op, "weight"))}, {Dx(0)}, {RowsOf(input)}, {I(input.Last)}, {I(op.Units)}, accumulate: {Acc(0)}{Threads(op)});");
                            break;
                        }
                        case OpKind.Relu: _w.Line($"{K}.Activations.ReluBackward({Act(op.Id)}, {Grad(op.Id)}, {Dx(0)}, accumulate: {Acc(0)});"); break;
                        case OpKind.LeakyRelu: _w.Line($"{K}.Activations.LeakyReluBackward({Act(op.Inputs[0])}, {Grad(op.Id)}, {Dx(0)}, {Naming.Float(op.Alpha)}, accumulate: {Acc(0)});"); break;
                        case OpKind.Sigmoid: _w.Line($"{K}.Activations.SigmoidBackward({Act(op.Id)}, {Grad(op.Id)}, {Dx(0)}, accumulate: {Acc(0)});"); break;
                        case OpKind.Tanh: _w.Line($"{K}.Activations.TanhBackward({Act(op.Id)}, {Grad(op.Id)}, {Dx(0)}, accumulate: {Acc(0)});"); break;
                        case OpKind.Gelu: _w.Line($"{K}.Activations.GeluBackward({Act(op.Inputs[0])}, {Grad(op.Id)}, {Dx(0)}, approximate: {Bool(op.Approximate)}, accumulate: {Acc(0)});"); break;
                        case OpKind.Softmax: _w.Line($"{K}.Softmax.Backward({Act(op.Id)}, {Grad(op.Id)}, {Dx(0)}, {RowsOf(op.Shape)}, {I(op.Shape.Last)}, accumulate: {Acc(0)});"); break;
                        case OpKind.Dropout: _w.Line($"{K}.Dropout.Backward({Grad(op.Id)}, {Mask(op.Id)}, {Dx(0)}, Training, accumulate: {Acc(0)});"); break;
                        case OpKind.GaussianNoise: _w.Line($"{K}.Add.Backward({Grad(op.Id)}, {Dx(0)}, accumulate: {Acc(0)});"); break;
                        case OpKind.ChannelsFirst:
                            _w.Line($"{K}.Layout.ToChannelsFirstBackward({Grad(op.Id)}, {Dx(0)}, rows, {I(op.Shape.Channels)}, {I(op.Shape.Pixels)}, accumulate: {Acc(0)}, threads: Threads);");
                            break;
                        case OpKind.Flatten:
                            _w.Line(input.IsImage
                                ? $"{K}.Layout.ToChannelsFirstBackward({Grad(op.Id)}, {Dx(0)}, rows, {I(input.Channels)}, {I(input.Pixels)}, accumulate: {Acc(0)}, threads: Threads);"
                                : $"{K}.Add.Backward({Grad(op.Id)}, {Dx(0)}, accumulate: {Acc(0)});");
                            break;
                        case OpKind.Conv2d:
                        {
                            string dbias = op.HasBias ? Slice("gradients", Param(op, "bias")) : "default";
                            _w.Line($"{KernelField(op)}.BackwardParameters({Act(op.Inputs[0])}, {Grad(op.Id)}, {Slice("gradients", Param(op, "weight"))}, {dbias}, rows, accumulate: false{Threads(op)});");
                            if (step.InputNeedsGradient[0])
                                _w.Line($"{KernelField(op)}.BackwardInput({Grad(op.Id)}, {Slice("parameters", Param(op, "weight"))}, {Dx(0)}, rows, accumulate: {Acc(0)}{Threads(op)});");
                            break;
                        }
                        case OpKind.MaxPool2d:
                            _w.Line($"{K}.MaxPool.Backward({WindowField(op)}, {Act(op.Inputs[0])}, {Act(op.Id)}, {Grad(op.Id)}, {Dx(0)}, rows, accumulate: {Acc(0)});");
                            break;
                        case OpKind.AvgPool2d:
                            _w.Line($"{K}.AvgPool.Backward({WindowField(op)}, {Grad(op.Id)}, {Dx(0)}, rows, accumulate: {Acc(0)}{(op.CountIncludePad ? "" : ", countIncludePad: false")});");
                            break;
                        case OpKind.GlobalAvgPool:
                            _w.Line($"{K}.GlobalAvgPool.Backward({Grad(op.Id)}, {Dx(0)}, rows, {I(input.Pixels)}, {I(input.Channels)}, accumulate: {Acc(0)});");
                            break;
                        case OpKind.BatchNorm:
                        {
                            string weight = op.HasBias ? Slice("parameters", Param(op, "weight")) : "default";
                            string dweight = op.HasBias ? Slice("gradients", Param(op, "weight")) : "default";
                            string dbias = op.HasBias ? Slice("gradients", Param(op, "bias")) : "default";
                            string dx = step.InputNeedsGradient[0] ? Dx(0) : "default";
                            _w.Line($"{K}.BatchNorm.Backward({Act(op.Inputs[0])}, {Grad(op.Id)}, {weight}, {Statistics(op.Id)}, {dx}, {dweight}, {dbias}, {RowsOf(input)}, {I(input.ChannelWidth)}, Training, accumulate: {(step.InputNeedsGradient[0] ? Acc(0) : "false")});");
                            break;
                        }
                        case OpKind.Concat:
                        {
                            Shape a = _graph.Ops[op.Inputs[0]].Shape, b = _graph.Ops[op.Inputs[1]].Shape;
                            string da = step.InputNeedsGradient[0] ? Dx(0) : "default", db = step.InputNeedsGradient[1] ? Dx(1) : "default";
                            _w.Line($"{K}.Concat.Backward({Grad(op.Id)}, {da}, {db}, {RowsOf(op.Shape)}, {I(a.ChannelWidth)}, {I(b.ChannelWidth)}, " +
                                $"accumulateA: {(step.InputNeedsGradient[0] ? Acc(0) : "false")}, accumulateB: {(step.InputNeedsGradient[1] ? Acc(1) : "false")});");
                            break;
                        }
                        case OpKind.Add:
                            for (int i = 0; i < op.Inputs.Count; i++)
                                if (step.InputNeedsGradient[i]) _w.Line($"{K}.Add.Backward({Grad(op.Id)}, {Dx(i)}, accumulate: {Acc(i)});");
                            break;
                        case OpKind.Embedding:
                            _w.Line($"{K}.Embedding.Backward({Act(op.Inputs[0])}, {Grad(op.Id)}, {Slice("gradients", Param(op, "weight"))}, {I(op.Units)}, {I(op.Shape.Last)}, {I(op.PaddingIndex)}, accumulate: false);");
                            break;
                        case OpKind.Recurrent:
                        {
                            string dx = step.InputNeedsGradient[0] ? Dx(0) : "default";
                            string dbih = op.HasBias ? Slice("gradients", Param(op, "bias_ih")) : "default", dbhh = op.HasBias ? Slice("gradients", Param(op, "bias_hh")) : "default";
                            _w.Line($"{LayerField(op)}.Backward({Grad(op.Id)}, {Slice("parameters", Param(op, "weight_ih"))}, {Slice("parameters", Param(op, "weight_hh"))}, {SavedOf(op.Id)}, {ScratchOf(op.Id)},");
                            _w.Line($"    {dx}, {Slice("gradients", Param(op, "weight_ih"))}, {Slice("gradients", Param(op, "weight_hh"))}, {dbih}, {dbhh}, rows, accumulateInput: {(step.InputNeedsGradient[0] ? Acc(0) : "false")}, threads: Threads);");
                            break;
                        }
                        case OpKind.LayerNorm:
                        {
                            string weight = op.HasBias ? Slice("parameters", Param(op, "weight")) : "default";
                            string dweight = op.HasBias ? Slice("gradients", Param(op, "weight")) : "default", dbias = op.HasBias ? Slice("gradients", Param(op, "bias")) : "default";
                            string dx = step.InputNeedsGradient[0] ? Dx(0) : "default";
                            _w.Line($"{K}.LayerNorm.Backward({Act(op.Inputs[0])}, {Grad(op.Id)}, {weight}, {SavedOf(op.Id)}, {dx}, {dweight}, {dbias}, {RowsOf(input)}, {I(input.Last)}, accumulate: {(step.InputNeedsGradient[0] ? Acc(0) : "false")});");
                            break;
                        }
                        case OpKind.RmsNorm:
                        {
                            string weight = op.HasBias ? Slice("parameters", Param(op, "weight")) : "default";
                            string dweight = op.HasBias ? Slice("gradients", Param(op, "weight")) : "default";
                            string dx = step.InputNeedsGradient[0] ? Dx(0) : "default";
                            _w.Line($"{K}.RmsNorm.Backward({Act(op.Inputs[0])}, {Grad(op.Id)}, {weight}, {SavedOf(op.Id)}, {dx}, {dweight}, {RowsOf(input)}, {I(input.Last)}, accumulate: {(step.InputNeedsGradient[0] ? Acc(0) : "false")});");
                            break;
                        }
                        case OpKind.Attention:
                        {
                            var (q, qStride, k, v, kStride) = AttentionOperands(op, Act);
                            _w.Line($"{LayerField(op)}.Backward({Grad(op.Id)}, {q}, {qStride}, {k}, {v}, {kStride}, {SavedOf(op.Id)},");
                            string training = op.Probability > 0 ? "Training" : "false";
                            if (op.Inputs.Count == 1)
                            {
                                string dx = Dx(0);
                                int d = op.Shape.Last;
                                _w.Line($"    {dx}, {dx}.Slice({I(d)}), {dx}.Slice({I(2 * d)}), rows, accumulate: {Acc(0)}, {KeyLengths(op.KeyPadding)}, {training}, threads: Threads);");
                            }
                            else
                            {
                                // Cross-attention: dQ into the query projection's gradient, dK and dV into the key/value
                                // projection's. Both projections exist for this op alone, so this is their first gradient.
                                if (Acc(0) != "false" || Acc(1) != "false")
                                    throw new System.InvalidOperationException("A cross-attention's projections are read by it alone.");
                                var (dq, _, dk, dv, _) = AttentionOperands(op, Grad);
                                _w.Line($"    {dq}, {dk}, {dv}, rows, accumulate: false, {KeyLengths(op.KeyPadding)}, {training}, threads: Threads);");
                            }
                            break;
                        }
                        case OpKind.Positions:
                            if (op.Learned) _w.Line($"{K}.Positions.BackwardTable({Grad(op.Id)}, {PositionTable(op, "gradients")}, rows, accumulate: false);");
                            if (step.InputNeedsGradient[0]) _w.Line($"{K}.Add.Backward({Grad(op.Id)}, {Dx(0)}, accumulate: {Acc(0)});");
                            break;
                        default: throw new System.InvalidOperationException("No backward emission for " + op.Kind);
                    }
                    for (int i = 0; i < op.Inputs.Count; i++)
                        if (step.InputNeedsGradient[i])
                            _w.Line($"if (CheckFinite) {Rt}.FiniteCheck.Check({Dx(i)}, {Naming.String(op.Node)}, {Naming.String($"gradient w.r.t. the input of its {op.Label} (the output of '{_graph.Ops[op.Inputs[i]].Node}')")}, _steps);");
                    foreach (ParameterSlot p in _plan.Parameters.Where(p => p.Op == op.Id))
                        _w.Line($"if (CheckFinite) {Rt}.FiniteCheck.Check({Slice("gradients", p)}, {Naming.String(op.Node)}, {Naming.String("gradient of " + p.Name)}, _steps);");
                }
                _w.Close();
            }

            /// <summary>An attention op's Q, K and V as strided views of its input buffers (activations or, with
            /// <paramref name="buffer"/> = Grad, their gradients): self-attention reads all three from one fused [T, 3·D]
            /// projection, cross-attention Q from [T_q, D] and K, V from one [T_k, 2·D] projection of the memory.</summary>
            private (string Q, string QueryStride, string K, string V, string KeyStride) AttentionOperands(Op op, System.Func<int, string> buffer)
            {
                int d = op.Shape.Last;
                if (op.Inputs.Count == 1)
                {
                    string x = buffer(op.Inputs[0]);
                    return (x, I(3 * d), $"{x}.Slice({I(d)})", $"{x}.Slice({I(2 * d)})", I(3 * d));
                }
                string q = buffer(op.Inputs[0]), kv = buffer(op.Inputs[1]);
                return (q, I(d), kv, $"{kv}.Slice({I(d)})", I(2 * d));
            }

            /// <summary>The forward call of an op acting on each value or row alone (an activation, softmax, a sum with
            /// <paramref name="x2"/>) over <paramref name="rows"/> rows: the same in the training pass and in a decoding step.</summary>
            private static string ElementwiseForward(Op op, string x, string x2, string y, string rows) => op.Kind switch
            {
                OpKind.Relu => $"{K}.Activations.ReluForward({x}, {y});",
                OpKind.LeakyRelu => $"{K}.Activations.LeakyReluForward({x}, {y}, {Naming.Float(op.Alpha)});",
                OpKind.Sigmoid => $"{K}.Activations.SigmoidForward({x}, {y});",
                OpKind.Tanh => $"{K}.Activations.TanhForward({x}, {y});",
                OpKind.Gelu => $"{K}.Activations.GeluForward({x}, {y}, approximate: {Bool(op.Approximate)});",
                OpKind.Softmax => $"{K}.Softmax.Forward({x}, {y}, {rows}, {I(op.Shape.Last)});",
                OpKind.Add => $"{K}.Add.Forward({x}, {x2}, {y});",
                _ => throw new System.InvalidOperationException("Not an element-wise op: " + op.Kind),
            };

            /// <summary>The forward call of a layer norm or RMS norm over <paramref name="rows"/> rows, its statistics into <paramref name="saved"/>.</summary>
            private string NormForward(Op op, string x, string y, string saved, string rows)
            {
                string weight = op.HasBias ? Slice("parameters", Param(op, "weight")) : "default";
                if (op.Kind == OpKind.RmsNorm)
                    return $"{K}.RmsNorm.Forward({x}, {weight}, {y}, {saved}, {rows}, {I(op.Shape.Last)}, {Naming.Float(op.Epsilon)});";
                string bias = op.HasBias ? Slice("parameters", Param(op, "bias")) : "default";
                return $"{K}.LayerNorm.Forward({x}, {weight}, {bias}, {y}, {saved}, {rows}, {I(op.Shape.Last)}, {Naming.Float(op.Epsilon)});";
            }

            /// <summary>The runtime operator struct of an activation fused into a GEMM epilogue.</summary>
            private static string ActivationOperator(Op activation) => activation.Kind switch
            {
                OpKind.Relu => $"default({K}.Activations.ReluOp)",
                OpKind.LeakyRelu => $"new {K}.Activations.LeakyReluOp({Naming.Float(activation.Alpha)})",
                OpKind.Sigmoid => $"default({K}.Activations.SigmoidOp)",
                OpKind.Tanh => $"default({K}.Activations.TanhOp)",
                OpKind.Gelu => activation.Approximate ? $"default({K}.Activations.GeluTanhOp)" : $"default({K}.Activations.GeluOp)",
                _ => throw new System.InvalidOperationException("Not a fusable activation: " + activation.Kind),
            };

            /// <summary>Emits a product's forward call, <c>head</c> + output + <c>tail</c>: into the op's own
            /// activation, or, with a fused activation, into the activation's (keeping the pre-activation when the
            /// activation's derivative needs it).</summary>
            private void EmitProduct(Op op, string head, string tail, string last = "")
            {
                if (op.FusedActivation < 0)
                {
                    _w.Line($"{head}{Act(op.Id)}{tail}{Threads(op)}{last});");
                    return;
                }
                Op activation = _graph.Ops[op.FusedActivation];
                string pre = Differentiator.Rule(activation.Kind).NeedsInput ? Act(op.Id) : "default";
                _w.Line($"{head}{Act(activation.Id)}{tail}, {ActivationOperator(activation)}, preActivation: {pre}{Threads(op)}{last});");
            }

            /// <summary>Products worth splitting across threads (decided here, from the shapes at the full batch)
            /// take the instance's <c>Threads</c>; the rest stay on one thread. The threshold is the runtime's
            /// <c>Gemm.ParallelFlops</c>.</summary>
            private string Threads(Op product)
            {
                long flops = _graph.Batch * product.Flops(_graph.InputShape(product));
                return flops >= 4_000_000 ? ", threads: Threads" : "";
            }

            // ---- naming helpers ----

            private string Name(BufferKind kind, int op) => _names[(kind, op)];

            /// <summary>The activation of an op as a span expression (the caller's input for the Input op).</summary>
            private string Act(int op)
            {
                foreach (InputInfo input in _inputs)
                    if (input.Op.Id == op) return input.Name;
                Buffer b = _plan.Find(BufferKind.Activation, op)!;
                return $"workspace.Slice(WorkspaceOffsets.{Name(b.Kind, b.Op)}, rows * {I(b.Width)})";
            }

            private string Mask(int op)
            {
                Buffer b = _plan.Find(BufferKind.Mask, op)!;
                return $"workspace.Slice(WorkspaceOffsets.{Name(b.Kind, b.Op)}, rows * {I(b.Width)})";
            }

            private bool HasRandomOps => _graph.Ops.Any(o => o.IsRandom);

            private bool HasRecurrent => _graph.Ops.Any(o => o.Kind == OpKind.Recurrent);

            /// <summary>The recurrent ops grouped by the attribute that declared them (a stack of layers), in order.</summary>
            private List<List<Op>> RecurrentStacks => _graph.Ops.Where(o => o.Kind == OpKind.Recurrent)
                .GroupBy(o => (o.Node, o.Position)).Select(g => g.OrderBy(o => o.Layer).ToList()).ToList();

            /// <summary>The instance field holding a recurrent layer's step loop.</summary>
            private string LayerField(Op op) => "_" + Naming.Camel(BaseName(op)) + "Layer";

            /// <summary>A cross-entropy's ignore_index argument when it is not PyTorch's default (the kernel's too).</summary>
            private static string IgnoreIndexOf(Op loss) => loss.IgnoreIndex == Op.DefaultIgnoreIndex ? "" : ", ignoreIndex: " + I(loss.IgnoreIndex);

            /// <summary>The integer inputs some attention's KeyPadding names, each once.</summary>
            private IEnumerable<Op> PaddedInputs =>
                _graph.Ops.Where(o => o.Kind == OpKind.Attention && o.KeyPadding >= 0).Select(o => o.KeyPadding).Distinct().OrderBy(i => i).Select(i => _graph.Ops[i]);

            /// <summary>The field holding the key lengths of a padded input, per sample of the current rows.</summary>
            private string LengthsField(Op tokens) => "_" + Naming.Camel(NodeIdentifier(tokens.Node)) + "KeyLengths";

            /// <summary>The key lengths an attention passes: the current rows' lengths of its KeyPadding input, or none.</summary>
            private string KeyLengths(int tokens) => tokens < 0 ? "default" : $"new {Span}<int>({LengthsField(_graph.Ops[tokens])}, 0, rows)";

            /// <summary>The static field holding a sinusoidal positions table.</summary>
            private string TableField(Op op) => "s_" + Naming.Camel(BaseName(op)) + "Table";

            /// <summary>The rows of a learned positions table the sequence uses (the first T of its Length).</summary>
            private string PositionTable(Op op, string buffer) =>
                $"{buffer}.Slice(ParameterOffsets.{ParameterConst(Param(op, "weight"))}, {I(op.Shape.Size)})";

            /// <summary>The instance field holding a recurrent stack's state (one per attribute).</summary>
            private string StateField(Op op)
            {
                bool several = _graph.Ops.Where(o => o.Kind == OpKind.Recurrent && o.Node == op.Node).Select(o => o.Position).Distinct().Count() > 1;
                return "_" + Naming.Camel(NodeIdentifier(op.Node)) + (several ? "At" + I(op.Position) : "") + "State";
            }

            /// <summary>A recurrent layer's states and gates kept for its backward.</summary>
            private string SavedOf(int op)
            {
                Buffer b = _plan.Find(BufferKind.Saved, op)!;
                return $"workspace.Slice(WorkspaceOffsets.{Name(b.Kind, b.Op)}, rows * {I(b.Width)})";
            }

            private string ScratchOf(int op)
            {
                Buffer b = _plan.Find(BufferKind.Scratch, op)!;
                return $"workspace.Slice(WorkspaceOffsets.{Name(b.Kind, b.Op)}, rows * {I(b.Width)})";
            }

            /// <summary>A batch norm's saved mean and 1/σ (one per channel, not per sample).</summary>
            private string Statistics(int op)
            {
                Buffer b = _plan.Find(BufferKind.Statistics, op)!;
                return $"workspace.Slice(WorkspaceOffsets.{Name(b.Kind, b.Op)}, {I(b.Width)})";
            }

            private ParameterSlot Persistent(Op op, string role) => _plan.Persistent.First(p => p.Op == op.Id && p.Role == role);

            private string Grad(int op)
            {
                Buffer b = _plan.Find(BufferKind.Gradient, op)!;
                return $"workspace.Slice(WorkspaceOffsets.{Name(b.Kind, b.Op)}, rows * {I(b.Width)})";
            }

            private ParameterSlot Param(Op op, string role) => _plan.Parameters.First(p => p.Op == op.Id && p.Role == role);

            private static string Slice(string buffer, ParameterSlot p, string offsets = "ParameterOffsets") =>
                $"{buffer}.Slice({offsets}.{ParameterConst(p)}, {I(p.Length)})";

            /// <summary>Rows a last-dimension op sees: the batch times every leading dimension.</summary>
            private static string RowsOf(Shape shape)
            {
                long leading = shape.RowsPerSample;
                return leading == 1 ? "rows" : $"rows * {I(leading)}";
            }

            private static string Times(string name, string factor) => factor == "1" ? name : name + " * " + factor;

            private static string Bool(bool value) => value ? "true" : "false";

            /// <summary>The training step check mode names: the count of ComputeGradients calls (a model without a loss has none).</summary>
            private string StepCount => _loss is null ? "0" : "_steps";

            private static string ReductionOf(Op loss) => loss.SumReduction ? $"{Rt}.Reduction.Sum" : $"{Rt}.Reduction.Mean";
        }
    }
}
