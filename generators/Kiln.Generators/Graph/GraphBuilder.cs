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
/// when there is none.
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
        "Training", "Random",
    };

    /// <summary>The largest tensor (values) a model may have: 2²⁸ floats, 1 GiB.</summary>
    public const long MaxTensorValues = 1L << 28;

    public static (ModelGraph? Graph, EquatableArray<DiagnosticInfo> Diagnostics) Build(ModelDeclaration model)
    {
        var builder = new Builder(model);
        ModelGraph? graph = builder.Run();
        return (builder.Errors.Count == 0 ? graph : null, builder.Errors.ToEquatableArray());
    }

    private sealed class Builder(ModelDeclaration model)
    {
        public readonly List<DiagnosticInfo> Errors = new();
        private readonly List<Op> _ops = new();
        private readonly List<NodeInfo> _nodes = new();
        private readonly Dictionary<string, int> _nodeOutput = new(StringComparer.Ordinal);
        private readonly HashSet<string> _declared = new(StringComparer.Ordinal);
        private bool _shapesValid = true;

        private void Report(string id, SourceSpan? span, params string[] args) => Errors.Add(DiagnosticInfo.Create(id, span, args));

        public ModelGraph? Run()
        {
            if (!model.IsPartial)
            {
                Report(DiagnosticIds.ModelNotPartial, model.NameSpan, model.Name);
                return null;
            }
            foreach (ContainingType outer in model.ContainingTypes)
            {
                if (!outer.IsPartial) Report(DiagnosticIds.ContainingTypeNotPartial, model.NameSpan, model.Name, outer.Name);
            }
            if (model.IsGeneric) Report(DiagnosticIds.UnsupportedModelClass, model.NameSpan, model.Name, "generic");
            if (model.IsStatic) Report(DiagnosticIds.UnsupportedModelClass, model.NameSpan, model.Name, "static");
            if (Errors.Count > 0) return null;

            int batch = model.Batch ?? 0;
            if (model.Batch is null)
                Report(DiagnosticIds.MissingSize, model.ModelAttributeSpan, "Batch", model.Name, "set the training batch size, e.g. [Model(Batch = 64)]");
            else if (batch <= 0)
                Report(DiagnosticIds.InvalidSize, model.BatchSpan ?? model.ModelAttributeSpan, "Batch", model.Name, "a positive number of samples", Int(batch));

            foreach (MemberDeclaration member in model.Members)
            {
                if (!_declared.Add(member.Name))
                    Report(DiagnosticIds.DuplicateNode, member.Span, member.Name, model.Name);
            }
            if (Errors.Count > 0) return null;

            int lossOp = -1;
            string? lossNode = null;
            bool reportedAfterLoss = false;
            int previous = -1;
            foreach (MemberDeclaration member in model.Members)
            {
                if (!member.IsPartialNodeProperty)
                {
                    if (member.Attributes.Count > 0) Report(DiagnosticIds.NodeNotPartialNodeProperty, member.Span, member.Name);
                    continue;
                }
                if (member.Attributes.Count == 0)
                {
                    Report(DiagnosticIds.NodeWithoutOps, member.Span, member.Name);
                    continue;
                }
                if (ReservedNames.Contains(member.Name))
                {
                    Report(DiagnosticIds.ReservedNodeName, member.Span, member.Name);
                    continue;
                }
                if (lossNode is not null)
                {
                    if (!reportedAfterLoss) Report(DiagnosticIds.NodeAfterLoss, member.Attributes[0].Span ?? member.Span, member.Name, lossNode);
                    reportedAfterLoss = true;
                    continue;
                }

                int firstOp = _ops.Count;
                int parametric = member.Attributes.Count(a => a.Name == "Dense");
                for (int position = 0; position < member.Attributes.Count; position++)
                {
                    AttributeDeclaration attribute = member.Attributes[position];
                    if (lossNode is not null)
                    {
                        if (!reportedAfterLoss) Report(DiagnosticIds.NodeAfterLoss, attribute.Span, member.Name, lossNode);
                        reportedAfterLoss = true;
                        break;
                    }
                    int? op = AddOp(member, attribute, position, previous, parametric);
                    if (op is not null && TooLarge(_ops[op.Value], attribute, Math.Max(1, batch)))
                        op = null;
                    if (op is null)
                    {
                        _shapesValid = false;
                        continue;
                    }
                    previous = op.Value;
                    if (_ops[op.Value].IsLoss)
                    {
                        lossOp = op.Value;
                        lossNode = member.Name;
                    }
                }
                if (_ops.Count > firstOp)
                {
                    int last = _ops.Count - 1;
                    _ops[last] = _ops[last] with { IsNodeOutput = true };
                    _nodeOutput[member.Name] = last;
                    string label = string.Join(" -> ", _ops.Skip(firstOp).Select(o => o.Label));
                    _nodes.Add(new NodeInfo(member.Name, member.Modifiers, firstOp, last, label));
                }
                else
                {
                    _shapesValid = false;
                }
            }

            if (_ops.Count == 0 || _ops[0].Kind != OpKind.Input)
            {
                if (!Errors.Any(e => e.Id is DiagnosticIds.ModelHasNoInput or DiagnosticIds.InputMisplaced))
                    Report(DiagnosticIds.ModelHasNoInput, model.NameSpan, model.Name);
                return null;
            }
            if (Errors.Count > 0 || !_shapesValid) return null;

            AssignInitialisers();
            int outputOp = lossOp >= 0 ? _ops[lossOp].Inputs[0] : _ops.Count - 1;
            return new ModelGraph(model.Name, batch, _ops.ToEquatableArray(), _nodes.ToEquatableArray(), 0, outputOp, lossOp);
        }

        private int? AddOp(MemberDeclaration member, AttributeDeclaration attribute, int position, int previous, int parametric)
        {
            string node = member.Name;
            if (attribute.Name == "Input")
            {
                if (_ops.Count > 0 || position > 0)
                {
                    Report(DiagnosticIds.InputMisplaced, attribute.Span, node,
                        _ops.Count > 0 ? "this model already reads its input at '" + _ops[0].Node + "' (models with two inputs are not supported yet)" : "move it before the other attributes");
                    return null;
                }
                ArgumentDeclaration? of = attribute.Find("Of");
                if (of is { Kind: ArgumentKind.Type } && of.Value is not ("float" or "System.Single"))
                {
                    Report(DiagnosticIds.UnsupportedInputType, of.Span ?? attribute.Span, node, of.Value ?? "?");
                    return null;
                }
                int? width = PositiveSize(attribute, "Width", node, "a positive number of features");
                if (width is null) return null;
                return Add(new Op(_ops.Count, OpKind.Input, node, position, EquatableArray<int>.Empty, Shape.Of(width.Value), $"Input({Int(width.Value)})"));
            }

            if (_ops.Count == 0)
            {
                // Nothing to read yet: the model has no input before this node (reported once).
                if (!Errors.Any(e => e.Id is DiagnosticIds.ModelHasNoInput or DiagnosticIds.InputMisplaced))
                    Report(DiagnosticIds.ModelHasNoInput, attribute.Span ?? member.Span, model.Name);
                return null;
            }

            int? source = ResolveSource(attribute, "From", node, previous);
            if (source is null) return null;
            if (!_shapesValid) return null; // an earlier shape error: do not cascade
            Op input = _ops[source.Value];
            Shape inShape = input.Shape;
            string From(string label) => source.Value == previous ? label : $"{label} from {input.Node}";

            switch (attribute.Name)
            {
                case "Dense":
                {
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
                            Report(DiagnosticIds.InputWidthMismatch, inArg.Span ?? attribute.Span, $"Dense({Int(units.Value)})", node, Int(declaredIn), inShape.WithBatch(), input.Node);
                            return null;
                        }
                    }
                    bool bias = ParseBool(attribute.Find("Bias")) ?? true;
                    int init = ParseInt(attribute.Find("Init")) ?? 0;
                    string label = bias ? $"Dense({Int(units.Value)})" : $"Dense({Int(units.Value)}, Bias = false)";
                    return Add(new Op(_ops.Count, OpKind.Dense, node, position, EquatableArray.Create(source.Value), inShape.WithLast(units.Value), From(label))
                    {
                        Units = units.Value,
                        HasBias = bias,
                        Init = (InitKind)Math.Max(0, Math.Min(3, init)),
                        ParameterPrefix = parametric > 1 ? $"{node}.{Int(position)}" : node,
                    });
                }
                case "Relu":
                    return Elementwise(OpKind.Relu, From("Relu"));
                case "Sigmoid":
                    return Elementwise(OpKind.Sigmoid, From("Sigmoid"));
                case "Tanh":
                    return Elementwise(OpKind.Tanh, From("Tanh"));
                case "Softmax":
                    return Elementwise(OpKind.Softmax, From("Softmax"));
                case "Dropout":
                {
                    double? p = Hyper(attribute, "Probability", 0.5, node, v => v >= 0 && v < 1, "in [0, 1)", "p = 1 would zero everything and scale by infinity");
                    if (p is null) return null;
                    return Add(new Op(_ops.Count, OpKind.Dropout, node, position, EquatableArray.Create(source.Value), inShape, From($"Dropout({Real(p.Value)})")) { Probability = (float)p.Value });
                }
                case "GaussianNoise":
                {
                    double? std = Hyper(attribute, "StandardDeviation", 0, node, v => v >= 0 && !double.IsInfinity(v), "a finite number ≥ 0", "a noise level cannot be negative");
                    if (std is null) return null;
                    return Add(new Op(_ops.Count, OpKind.GaussianNoise, node, position, EquatableArray.Create(source.Value), inShape, From($"GaussianNoise({Real(std.Value)})")) { Probability = (float)std.Value });
                }
                case "Gelu":
                {
                    bool approximate = ParseBool(attribute.Find("Approximate")) ?? false;
                    return Add(new Op(_ops.Count, OpKind.Gelu, node, position, EquatableArray.Create(source.Value), inShape, From(approximate ? "Gelu(tanh)" : "Gelu")) { Approximate = approximate });
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
                    return Add(new Op(_ops.Count, OpKind.LeakyRelu, node, position, EquatableArray.Create(source.Value), inShape,
                        From($"LeakyRelu({((float)alpha).ToString("R", CultureInfo.InvariantCulture)})")) { Alpha = (float)alpha });
                }
                case "Add":
                {
                    ArgumentDeclaration? skipArg = attribute.Find("Skip");
                    int? skip = ResolveNamed(skipArg, "Skip", attribute, node);
                    if (skip is null) return null;
                    Op other = _ops[skip.Value];
                    if (other.Shape != inShape)
                    {
                        Report(DiagnosticIds.AddShapeMismatch, skipArg?.Span ?? attribute.Span, node, inShape.WithBatch(), input.Node, other.Shape.WithBatch(), other.Node);
                        return null;
                    }
                    return Add(new Op(_ops.Count, OpKind.Add, node, position, EquatableArray.Create(source.Value, skip.Value), inShape, From($"Add({other.Node})")));
                }
                case "SoftmaxCrossEntropy":
                {
                    if (!CheckClasses(attribute, node, inShape, input)) return null;
                    bool soft = ParseBool(attribute.Find("SoftTargets")) ?? false;
                    double? smoothing = Hyper(attribute, "LabelSmoothing", 0, node, v => v >= 0 && v < 1, "in [0, 1)", "ε = 1 would make every target uniform");
                    if (smoothing is null || !Reduction(attribute, node, out bool sum)) return null;
                    var options = new List<string>();
                    if (soft) options.Add("soft targets");
                    if (smoothing.Value != 0) options.Add("smoothing " + Real(smoothing.Value));
                    if (sum) options.Add("sum");
                    return Add(new Op(_ops.Count, OpKind.SoftmaxCrossEntropy, node, position, EquatableArray.Create(source.Value), Shape.Scalar, From(Labelled("SoftmaxCrossEntropy", options)))
                    { SoftTargets = soft, LabelSmoothing = (float)smoothing.Value, SumReduction = sum });
                }
                case "FocalLoss":
                {
                    if (!CheckClasses(attribute, node, inShape, input)) return null;
                    double? gamma = Hyper(attribute, "Gamma", 2, node, v => v >= 0, "≥ 0", "a negative γ would weigh the easy samples up");
                    double? alpha = Hyper(attribute, "Alpha", 1, node, v => v > 0, "> 0", "the loss would vanish or change sign");
                    if (gamma is null || alpha is null || !Reduction(attribute, node, out bool sum)) return null;
                    var options = new List<string> { "γ " + Real(gamma.Value), "α " + Real(alpha.Value) };
                    if (sum) options.Add("sum");
                    return Add(new Op(_ops.Count, OpKind.FocalLoss, node, position, EquatableArray.Create(source.Value), Shape.Scalar, From(Labelled("FocalLoss", options)))
                    { Gamma = (float)gamma.Value, Alpha = (float)alpha.Value, SumReduction = sum });
                }
                case "MeanSquaredError":
                case "L1Loss":
                case "BinaryCrossEntropyWithLogits":
                {
                    if (!CheckWidth(attribute, node, inShape, input) || !Reduction(attribute, node, out bool sum)) return null;
                    OpKind kind = attribute.Name switch
                    {
                        "MeanSquaredError" => OpKind.MeanSquaredError,
                        "L1Loss" => OpKind.L1Loss,
                        _ => OpKind.BinaryCrossEntropyWithLogits,
                    };
                    return Add(new Op(_ops.Count, kind, node, position, EquatableArray.Create(source.Value), Shape.Scalar,
                        From(Labelled(attribute.Name, sum ? new List<string> { "sum" } : new List<string>()))) { SumReduction = sum });
                }
                case "HuberLoss":
                {
                    if (!CheckWidth(attribute, node, inShape, input)) return null;
                    double? delta = Hyper(attribute, "Delta", 1, node, v => v > 0 && !double.IsInfinity(v), "a finite number > 0", "the quadratic part would be empty");
                    if (delta is null || !Reduction(attribute, node, out bool sum)) return null;
                    var options = new List<string> { "δ " + Real(delta.Value) };
                    if (sum) options.Add("sum");
                    return Add(new Op(_ops.Count, OpKind.HuberLoss, node, position, EquatableArray.Create(source.Value), Shape.Scalar, From(Labelled("HuberLoss", options)))
                    { Delta = (float)delta.Value, SumReduction = sum });
                }
                case "BinaryFocalLoss":
                {
                    if (!CheckWidth(attribute, node, inShape, input)) return null;
                    double? gamma = Hyper(attribute, "Gamma", 2, node, v => v >= 0, "≥ 0", "a negative γ would weigh the easy samples up");
                    double? alpha = Hyper(attribute, "Alpha", 0.25, node, v => v <= 1, "in [0, 1] (or negative for no weighting)", "1 − α would weigh the negatives below 0");
                    if (gamma is null || alpha is null || !Reduction(attribute, node, out bool sum)) return null;
                    var options = new List<string> { "γ " + Real(gamma.Value), alpha.Value < 0 ? "no α" : "α " + Real(alpha.Value) };
                    if (sum) options.Add("sum");
                    return Add(new Op(_ops.Count, OpKind.BinaryFocalLoss, node, position, EquatableArray.Create(source.Value), Shape.Scalar, From(Labelled("BinaryFocalLoss", options)))
                    { Gamma = (float)gamma.Value, Alpha = (float)alpha.Value, SumReduction = sum });
                }
                default:
                    // Every layer attribute of the runtime has a case above; one without is a compiler bug
                    // (reported as KILN9999 by Compile), never a silently missing model.
                    throw new InvalidOperationException($"No shape rule for layer '{attribute.Name}'.");
            }

            int? Elementwise(OpKind kind, string label) =>
                Add(new Op(_ops.Count, kind, node, position, EquatableArray.Create(source.Value), inShape, label));
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
                Report(DiagnosticIds.LossWidthMismatch, classesArg?.Span ?? attribute.Span, node, "Classes", Int(classes), input.Node, inShape.WithBatch(), Int(inShape.Last));
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
                Report(DiagnosticIds.LossWidthMismatch, widthArg?.Span ?? attribute.Span, node, "Width", Int(width), input.Node, inShape.WithBatch(), inShape.Size.ToString(CultureInfo.InvariantCulture));
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
                    _ops.RemoveAt(_ops.Count - 1);
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
        private int? ResolveSource(AttributeDeclaration attribute, string argument, string node, int previous)
        {
            ArgumentDeclaration? from = attribute.Find(argument);
            if (from is null || from.Value is null) return previous < 0 ? null : previous;
            return ResolveNamed(from, argument, attribute, node);
        }

        private int? ResolveNamed(ArgumentDeclaration? argument, string what, AttributeDeclaration attribute, string node)
        {
            string? name = argument?.Value;
            if (string.IsNullOrEmpty(name))
            {
                Report(DiagnosticIds.UnknownNode, argument?.Span ?? attribute.Span, "", node, model.Name, Candidates());
                return null;
            }
            if (_nodeOutput.TryGetValue(name!, out int op)) return op;
            if (_declared.Contains(name!))
                Report(DiagnosticIds.NodeReferencesLaterNode, argument?.Span ?? attribute.Span, node, name!);
            else
                Report(DiagnosticIds.UnknownNode, argument?.Span ?? attribute.Span, name!, node, model.Name, Candidates());
            return null;
        }

        private string Candidates() =>
            _nodeOutput.Count == 0 ? "(no node is declared before this one)" : string.Join(", ", _nodeOutput.Keys.Select(n => "nameof(" + n + ")"));

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

        /// <summary>He for the ReLU family, Xavier before sigmoid/tanh, PyTorch's default otherwise.</summary>
        private void AssignInitialisers()
        {
            for (int i = 0; i < _ops.Count; i++)
            {
                Op op = _ops[i];
                if (op.Kind != OpKind.Dense) continue;
                Op? next = _ops.Skip(i + 1).FirstOrDefault(o => o.Inputs.Count > 0 && o.Inputs[0] == i);
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
