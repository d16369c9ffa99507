using System.Linq;
using Kiln.Generators.Graph;
using Kiln.Generators.Helpers;
using Kiln.Generators.Planner;

namespace Kiln.Generators;

public sealed partial class ModelGenerator
{
    internal static partial class Emitter
    {
        private sealed partial class ModelEmitter
        {
            /// <summary>The nested decoder class's name: "Decoder", unless the model declares a member of that name.</summary>
            private string DecoderName => _model.Members.Any(m => m.Name == "Decoder") ? "KilnDecoder" : "Decoder";

            /// <summary>A decoder-only model (see <see cref="DecodePlan.Create"/>) gets a nested decoder class: incremental
            /// decoding with a key/value cache per attention op, and sampling from a prompt.</summary>
            private void EmitDecoder(DecodePlan plan)
            {
                string name = DecoderName;
                int outputWidth = _graph.Output.Shape.Last;
                int capacity = plan.Capacity;
                _w.Line("/// <summary>");
                _w.Line($"/// Incremental decoding with a key/value cache: each <see cref=\"Step\"/> reads one token per sequence and writes the");
                _w.Line($"/// outputs of its position ({I(outputWidth)} per sequence), the same as that position's row of <see cref=\"{_model.Name}.Forward\"/> over");
                _w.Line("/// the sequence so far (every attention is causal), without recomputing the prefix: each attention op keeps the keys and");
                _w.Line($"/// values of every position seen, up to <see cref=\"Capacity\"/>. It reads the model's current parameters and always runs");
                _w.Line("/// as in evaluation (dropout and noise pass through). Allocates nothing per step; not thread-safe (one decoder per thread).");
                _w.Line("/// </summary>");
                _w.Open($"public sealed class {name} : global::System.IDisposable");
                _w.Line($"/// <summary>Positions the cache holds: the model's sequence length.</summary>");
                _w.Line($"public const int Capacity = {I(capacity)};");
                _w.Line();
                _w.Line("/// <summary>Outputs per position (the logits of the next token).</summary>");
                _w.Line($"public const int OutputWidth = {I(outputWidth)};");
                _w.Line();
                _w.Line($"private const int StepFloats = {I(plan.StepFloats)}; // per sequence: every op's output at one position");
                _w.Line($"private const int CacheFloats = {I(plan.CacheFloats)}; // per sequence: the keys and values of every position");
                _w.Line();
                _w.Open("private static class StepOffsets");
                foreach (DecodeBuffer b in plan.Buffers.Where(b => b.Region is DecodeRegion.Activation or DecodeRegion.Saved))
                {
                    Op op = _graph.Ops[b.Op];
                    string what = b.Region == DecodeRegion.Activation ? "[" + I(b.Width) + "]" : op.Kind == OpKind.RmsNorm ? "1/rms" : "mean and 1/σ";
                    _w.Line($"public const int {DecodeName(b)} = {I(b.Offset)}; // {op.Node}: {op.Label} {what}");
                }
                _w.Close();
                _w.Line();
                _w.Open("private static class CacheOffsets");
                foreach (DecodeBuffer b in plan.Buffers.Where(b => b.Region is DecodeRegion.Keys or DecodeRegion.Values))
                {
                    Op op = _graph.Ops[b.Op];
                    _w.Line($"public const int {DecodeName(b)} = {I(b.Offset)}; // {op.Node}: {(b.Region == DecodeRegion.Keys ? "keys" : "values")} [{I(capacity)}, {I(op.Shape.Last)}]");
                }
                _w.Close();
                _w.Line();
                _w.Line($"private readonly {_model.Name} _model;");
                _w.Line($"private readonly {Rt}.AlignedBuffer _memory;");
                _w.Line("private readonly int[] _history = new int[Capacity];");
                _w.Line("private readonly float[] _logits;");
                _w.Line($"private readonly {Rt}.InstanceGuard _use = new({Naming.String(name)});");
                _w.Line();
                _w.Line($"/// <summary>A decoder over <paramref name=\"model\"/>'s parameters for <paramref name=\"rows\"/> sequences decoded side by side.</summary>");
                _w.Open($"public {name}({_model.Name} model, int rows = 1)");
                _w.Line("global::System.ArgumentNullException.ThrowIfNull(model);");
                _w.Line("global::System.ArgumentOutOfRangeException.ThrowIfLessThan(rows, 1);");
                _w.Line("_model = model;");
                _w.Line("Rows = rows;");
                _w.Line($"_memory = new {Rt}.AlignedBuffer(checked((long)rows * (StepFloats + CacheFloats)));");
                _w.Line("_logits = new float[checked(rows * OutputWidth)];");
                _w.Close();
                _w.Line();
                _w.Line("/// <summary>Sequences decoded side by side.</summary>");
                _w.Line("public int Rows { get; }");
                _w.Line();
                _w.Line("/// <summary>Positions decoded since the last <see cref=\"Reset\"/> (the next step's position).</summary>");
                _w.Line("public int Length { get; private set; }");
                _w.Line();
                _w.Line("/// <summary>Empties the cache: the next step is position 0 of new sequences.</summary>");
                _w.Line("public void Reset() => Length = 0;");
                _w.Line();
                EmitDecoderStep(plan);
                EmitDecoderGenerate();
                _w.Line("/// <summary>Frees the cache (the model is not affected).</summary>");
                _w.Line("public void Dispose() => _memory.Dispose();");
                _w.Close();
            }

            private void EmitDecoderStep(DecodePlan plan)
            {
                _w.Line("/// <summary>");
                _w.Line("/// Decodes one position: <paramref name=\"tokens\"/> [Rows] (the next token of each sequence) in, <paramref name=\"logits\"/>");
                _w.Line("/// [Rows, OutputWidth] out. Throws when the cache is full (<see cref=\"Length\"/> = <see cref=\"Capacity\"/>).");
                _w.Line("/// </summary>");
                _w.Open($"public void Step({ReadOnlySpan}<int> tokens, {Span}<float> logits)");
                _w.Line("using var use = _use.Enter(nameof(Step));");
                _w.Line($"{Rt}.Guard.Length(tokens.Length, Rows, 1, nameof(tokens));");
                _w.Line($"{Rt}.Guard.Length(logits.Length, Rows, OutputWidth, nameof(logits));");
                _w.Line("if (Length == Capacity)");
                _w.Line("    throw new global::System.InvalidOperationException($\"The cache holds {Capacity} positions and all are used: Reset it, or use Generate, which slides the window.\");");
                _w.Line("int rows = Rows, position = Length;");
                _w.Line($"{Span}<float> memory = _memory.Span;");
                _w.Line($"{Span}<float> step = memory.Slice(0, rows * StepFloats), cache = memory.Slice(rows * StepFloats, rows * CacheFloats);");
                _w.Line($"{ReadOnlySpan}<float> parameters = _model._memory.Span.Slice(0, ParameterFloats);");
                foreach (int id in plan.Ops)
                {
                    Op op = _graph.Ops[id];
                    if (op.FusedInto >= 0) continue;
                    Shape input = _graph.InputShape(op);
                    _w.Line();
                    string x = DecodeAct(plan, op.Inputs[0]);
                    string y = op.FusedActivation >= 0 ? DecodeAct(plan, op.FusedActivation) : DecodeAct(plan, id);
                    int width = op.Shape.Last;
                    string from = op.Inputs[0] == _graph.InputOp ? "[rows]" : $"[rows, {I(input.Last)}]";
                    if (op.FusedActivation >= 0)
                        _w.Line($"// {op.Node}: {op.Label} -> {_graph.Ops[op.FusedActivation].Label}, fused   {from} -> [rows, {I(width)}]");
                    else
                        _w.Line($"// {op.Node}: {op.Label}   {from} -> [rows, {I(width)}]");
                    switch (op.Kind)
                    {
                        case OpKind.Embedding:
                            _w.Line($"{K}.Embedding.Forward(tokens, {Slice("parameters", Param(op, "weight"))}, {y}, {I(op.Units)}, {I(width)});");
                            break;
                        case OpKind.Positions:
                        {
                            string table = op.Learned ? Slice("parameters", Param(op, "weight")) : TableField(op);
                            _w.Line($"{K}.Positions.ForwardAt({x}, {table}, {y}, rows, position, {I(width)});");
                            break;
                        }
                        case OpKind.LayerNorm or OpKind.RmsNorm:
                            _w.Line(NormForward(op, x, y, DecodeRegionOf(plan, DecodeRegion.Saved, id), "rows"));
                            break;
                        case OpKind.Dense:
                        {
                            string bias = op.HasBias ? Slice("parameters", Param(op, "bias")) : "default";
                            string head = $"{K}.Dense.Forward({x}, {Slice("parameters", Param(op, "weight"))}, {bias}, {y}, rows, {I(input.Last)}, {I(op.Units)}";
                            _w.Line(op.FusedActivation >= 0
                                ? $"{head}, {ActivationOperator(_graph.Ops[op.FusedActivation])}, default, threads: _model.Threads);"
                                : $"{head}, threads: _model.Threads);");
                            break;
                        }
                        case OpKind.Relu or OpKind.LeakyRelu or OpKind.Sigmoid or OpKind.Tanh or OpKind.Gelu or OpKind.Softmax or OpKind.Add:
                            _w.Line(ElementwiseForward(op, x, op.Kind == OpKind.Add ? DecodeAct(plan, op.Inputs[1]) : "", y, "rows"));
                            break;
                        case OpKind.Concat:
                        {
                            Shape a = _graph.Ops[op.Inputs[0]].Shape, b = _graph.Ops[op.Inputs[1]].Shape;
                            _w.Line($"{K}.Concat.Forward({x}, {DecodeAct(plan, op.Inputs[1])}, {y}, rows, {I(a.Last)}, {I(b.Last)});");
                            break;
                        }
                        case OpKind.Dropout:
                        case OpKind.GaussianNoise:
                            _w.Line("// identity when decoding (evaluation): the next op reads this op's input");
                            break;
                        case OpKind.Attention:
                        {
                            int d = width;
                            _w.Line($"// the new Q, K, V: columns [0, {I(d)}), [{I(d)}, {I(2 * d)}), [{I(2 * d)}, {I(3 * d)}) of {Name(BufferKind.Activation, op.Inputs[0])}'s row; K and V join the cache at the position");
                            _w.Line($"_model.{LayerField(op)}.Decode({x}, {I(3 * d)}, {x}.Slice({I(d)}), {x}.Slice({I(2 * d)}), {I(3 * d)}, " +
                                $"{DecodeRegionOf(plan, DecodeRegion.Keys, id)}, {DecodeRegionOf(plan, DecodeRegion.Values, id)}, position, {y}, rows);");
                            break;
                        }
                        default: throw new System.InvalidOperationException("No decoding emission for " + op.Kind);
                    }
                }
                _w.Line();
                _w.Line($"{DecodeAct(plan, _graph.OutputOp)}.CopyTo(logits);");
                _w.Line("Length = position + 1;");
                _w.Close();
                _w.Line();
            }

            private void EmitDecoderGenerate()
            {
                _w.Line("/// <summary>");
                _w.Line("/// Continues <paramref name=\"prompt\"/> (one sequence; <see cref=\"Rows\"/> must be 1) by <paramref name=\"output\"/>.Length tokens,");
                _w.Line($"/// each drawn by <see cref=\"{Rt}.Sampling.Sample\"/> from the logits of the last position (softmax at <paramref name=\"temperature\"/> over");
                _w.Line("/// the <paramref name=\"topK\"/> largest; 0 keeps every token). Starts from an empty cache. A prompt longer than");
                _w.Line("/// <see cref=\"Capacity\"/> is read from its last Capacity tokens; when the cache is full, the most recent half of the tokens");
                _w.Line("/// is read again from position 0 and decoding continues (the window slides by half a context at a time, so no step");
                _w.Line("/// recomputes the prefix).");
                _w.Line("/// </summary>");
                _w.Open($"public void Generate({ReadOnlySpan}<int> prompt, {Span}<int> output, {Rt}.KilnRandom random, float temperature = 1f, int topK = 0)");
                _w.Line("global::System.ArgumentNullException.ThrowIfNull(random);");
                _w.Line("using var use = _use.Enter(nameof(Generate));");
                _w.Line("if (Rows != 1) throw new global::System.InvalidOperationException($\"Generate continues one sequence; this decoder holds {Rows} (decode them with Step).\");");
                _w.Line("if (prompt.IsEmpty) throw new global::System.ArgumentException(\"The prompt needs at least one token.\", nameof(prompt));");
                _w.Line("if (!(temperature > 0) || float.IsInfinity(temperature)) throw new global::System.ArgumentOutOfRangeException(nameof(temperature), temperature, \"The temperature must be a finite number > 0.\");");
                _w.Line("global::System.ArgumentOutOfRangeException.ThrowIfNegative(topK);");
                _w.Line("Reset();");
                _w.Line("for (int i = global::System.Math.Max(0, prompt.Length - Capacity); i < prompt.Length; i++) Push(prompt[i]);");
                _w.Open("for (int i = 0; i < output.Length; i++)");
                _w.Line($"output[i] = {Rt}.Sampling.Sample(_logits, temperature, topK, random);");
                _w.Line("if (i + 1 < output.Length) Push(output[i]);");
                _w.Close();
                _w.Close();
                _w.Line();
                _w.Line("/// <summary>Steps one token of sequence 0, sliding the window by half a context first when the cache is full.</summary>");
                _w.Open("private void Push(int token)");
                _w.Open("if (Length == Capacity)");
                _w.Line("int keep = Capacity / 2;");
                _w.Line("global::System.MemoryExtensions.AsSpan(_history, Capacity - keep, keep).CopyTo(_history);");
                _w.Line("Reset();");
                _w.Line("for (int i = 0; i < keep; i++) Step(global::System.MemoryExtensions.AsSpan(_history, i, 1), _logits);");
                _w.Close();
                _w.Line("_history[Length] = token;");
                _w.Line("Step(global::System.MemoryExtensions.AsSpan(_history, Length, 1), _logits);");
                _w.Close();
                _w.Line();
            }

            /// <summary>The constant naming a decoder region: the op's workspace name, with "Saved", "Keys" or "Values".</summary>
            private string DecodeName(DecodeBuffer b)
            {
                string op = _names.TryGetValue((BufferKind.Activation, b.Op), out string? known) ? known : Naming.Pascal(BaseName(_graph.Ops[b.Op]));
                return b.Region switch
                {
                    DecodeRegion.Saved => op + "Saved",
                    DecodeRegion.Keys => op + "Keys",
                    DecodeRegion.Values => op + "Values",
                    _ => op,
                };
            }

            /// <summary>An op's output at the current position as a span over the decoder's rows (the tokens for the input).</summary>
            private string DecodeAct(DecodePlan plan, int op)
            {
                if (op == _graph.InputOp) return "tokens";
                return DecodeRegionOf(plan, DecodeRegion.Activation, DecodePlan.Holder(_graph, op));
            }

            private string DecodeRegionOf(DecodePlan plan, DecodeRegion region, int op)
            {
                DecodeBuffer b = plan.Find(region, op)!;
                return region is DecodeRegion.Keys or DecodeRegion.Values
                    ? $"cache.Slice(rows * CacheOffsets.{DecodeName(b)}, rows * {I(b.Width)})"
                    : $"step.Slice(rows * StepOffsets.{DecodeName(b)}, rows * {I(b.Width)})";
            }
        }
    }
}
