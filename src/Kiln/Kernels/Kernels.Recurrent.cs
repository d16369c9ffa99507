using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Kiln.Kernels;

/// <summary>The recurrent cells, with PyTorch's equations and gate order.</summary>
public enum RecurrentCell
{
    /// <summary>h' = tanh(W_ih x + b_ih + W_hh h + b_hh) (<c>nn.RNN</c>, nonlinearity 'tanh').</summary>
    RnnTanh,
    /// <summary>h' = relu(W_ih x + b_ih + W_hh h + b_hh) (<c>nn.RNN</c>, nonlinearity 'relu').</summary>
    RnnRelu,
    /// <summary><c>nn.LSTM</c>: gates i, f, g, o; c' = f⊙c + i⊙g, h' = o⊙tanh(c').</summary>
    Lstm,
    /// <summary><c>nn.GRU</c>: gates r, z, n; n = tanh(W_in x + b_in + r⊙(W_hn h + b_hn)), h' = (1 − z)⊙n + z⊙h.</summary>
    Gru,
}

/// <summary>
/// One layer of a recurrent network over a static number of steps: input [rows, T, F] (batch first, as PyTorch's
/// <c>batch_first=True</c>), output [rows, T, H] (every step) or [rows, H] (the last step), weights in PyTorch's
/// layout (<c>weight_ih</c> [G·H, F], <c>weight_hh</c> [G·H, H], G gates in PyTorch's order).
/// <para>
/// Forward: the input projection of every gate for every step is one GEMM (over T·rows rows, time-major, with the
/// biases in its epilogue); each step then adds its recurrent product h·W_hhᵀ (one GEMM of rows × G·H) and runs the
/// gate non-linearities and the state update in one vectorized pass. What the backward reads is kept in
/// <c>saved</c>: the time-major input, every hidden state (and cell state), the activated gates.
/// </para>
/// <para>
/// Backward (full backpropagation through time over the T steps; the initial state is a constant — detached, as
/// PyTorch's truncated BPTT detaches a carried state): per step, one fused pass turns dh (and dc) into the gates'
/// pre-activation gradients, and one GEMM carries dh to the previous step; the weight gradients, bias gradients and
/// the input gradient are then three GEMMs and two column sums over all steps at once.
/// </para>
/// </summary>
public sealed class RecurrentLayer
{
    private readonly float[] _bias;
    // W_hh packed once per pass for the per-step products: as the forward's Nt operand, and as the backward's Nn one.
    private readonly float[] _packedHh, _packedHhBackward;

    public RecurrentLayer(RecurrentCell cell, int steps, int inputSize, int hiddenSize, bool returnSequences)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(inputSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(hiddenSize, 1);
        Cell = cell;
        Steps = steps;
        InputSize = inputSize;
        HiddenSize = hiddenSize;
        ReturnSequences = returnSequences;
        _bias = new float[GateCount(cell) * hiddenSize];
        int gh = GateCount(cell) * hiddenSize;
        _packedHh = new float[PackedFloats(gh, hiddenSize)];
        _packedHhBackward = new float[PackedFloats(hiddenSize, gh)];
    }

    /// <summary>Room for B of n columns and depth k packed on any ISA (the ISA may be switched after construction).</summary>
    private static int PackedFloats(int n, int k) =>
        Math.Max(Gemm.PackedSize(KernelIsa.Avx512, n, k), Math.Max(Gemm.PackedSize(KernelIsa.Avx2, n, k), Gemm.PackedSize(KernelIsa.Portable, n, k)));

    public RecurrentCell Cell { get; }
    /// <summary>T: the sequence length.</summary>
    public int Steps { get; }
    /// <summary>F: features per step of the input.</summary>
    public int InputSize { get; }
    /// <summary>H: the hidden (and cell) state's width.</summary>
    public int HiddenSize { get; }
    /// <summary>Output every step's hidden state [rows, T, H], or only the last [rows, H].</summary>
    public bool ReturnSequences { get; }
    /// <summary>The instruction set the pointwise passes run on (every supported one is tested).</summary>
    public KernelIsa Isa { get; set; } = KernelInfo.Best;

    /// <summary>Gates per cell: 1 (RNN), 4 (LSTM), 3 (GRU).</summary>
    public static int GateCount(RecurrentCell cell) => cell switch { RecurrentCell.Lstm => 4, RecurrentCell.Gru => 3, _ => 1 };

    private int G => GateCount(Cell);
    private int GH => G * HiddenSize;
    private int OutputWidth => ReturnSequences ? Steps * HiddenSize : HiddenSize;

    /// <summary>Floats per sample of what the forward keeps for the backward: the time-major input T·F, the hidden
    /// states (T + 1)·H, the gates T·G·H, and per cell: LSTM the cell states (T + 1)·H; GRU W_hn·h + b_hn (T·H) and
    /// a step's recurrent product (3H).</summary>
    public static int SavedFloatsPerSample(RecurrentCell cell, int steps, int inputSize, int hiddenSize)
    {
        long t = steps, f = inputSize, h = hiddenSize, g = GateCount(cell);
        long floats = t * f + (t + 1) * h + t * g * h + cell switch
        {
            RecurrentCell.Lstm => (t + 1) * h,
            RecurrentCell.Gru => t * h + 3 * h,
            _ => 0,
        };
        return checked((int)floats);
    }

    /// <summary>Floats per sample the backward needs while it runs: the gates' gradients T·G·H (GRU: twice, the
    /// recurrent part differs in its n gate), dh and dc (2H), and the time-major input gradient T·F.</summary>
    public static int ScratchFloatsPerSample(RecurrentCell cell, int steps, int inputSize, int hiddenSize)
    {
        long t = steps, f = inputSize, h = hiddenSize, g = GateCount(cell);
        long floats = t * g * h * (cell == RecurrentCell.Gru ? 2 : 1) + 2 * h + t * f;
        return checked((int)floats);
    }

    public int SavedFloats(int rows) => rows * SavedFloatsPerSample(Cell, Steps, InputSize, HiddenSize);
    public int ScratchFloats(int rows) => rows * ScratchFloatsPerSample(Cell, Steps, InputSize, HiddenSize);

    // ---- the saved layout (rows r): xt [T, r, F] | hs [T+1, r, H] | gates [T, r, G·H] | LSTM cs [T+1, r, H] | GRU hn [T, r, H], hh [r, 3H]

    private int HiddenAt(int rows) => Steps * rows * InputSize;
    private int GatesAt(int rows) => HiddenAt(rows) + (Steps + 1) * rows * HiddenSize;
    private int ExtraAt(int rows) => GatesAt(rows) + Steps * rows * GH;

    /// <summary>
    /// The forward pass. <paramref name="initialHidden"/> (and for an LSTM <paramref name="initialCell"/>), [rows, H],
    /// may be empty: a zero state. <paramref name="finalHidden"/> and <paramref name="finalCell"/>, when not empty,
    /// receive the state after the last step (what a next chunk of the sequence starts from).
    /// </summary>
    public void Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> weightIh, ReadOnlySpan<float> weightHh,
        ReadOnlySpan<float> biasIh, ReadOnlySpan<float> biasHh, Span<float> y, Span<float> saved,
        ReadOnlySpan<float> initialHidden, ReadOnlySpan<float> initialCell, Span<float> finalHidden, Span<float> finalCell,
        int rows, int threads = 1)
    {
        int T = Steps, F = InputSize, H = HiddenSize, gh = GH;
        ArgumentOutOfRangeException.ThrowIfLessThan(rows, 1);
        Guard.Length(x.Length, rows, T * F, nameof(x));
        Guard.Length(weightIh.Length, gh, F, nameof(weightIh));
        Guard.Length(weightHh.Length, gh, H, nameof(weightHh));
        if (!biasIh.IsEmpty) Guard.Length(biasIh.Length, gh, 1, nameof(biasIh));
        if (!biasHh.IsEmpty) Guard.Length(biasHh.Length, gh, 1, nameof(biasHh));
        Guard.Length(y.Length, rows, OutputWidth, nameof(y));
        Guard.Length(saved.Length, rows, SavedFloatsPerSample(Cell, T, F, H), nameof(saved));
        CheckState(initialHidden, rows, nameof(initialHidden));
        CheckState(finalHidden, rows, nameof(finalHidden));
        if (Cell == RecurrentCell.Lstm)
        {
            CheckState(initialCell, rows, nameof(initialCell));
            CheckState(finalCell, rows, nameof(finalCell));
        }

        int rh = rows * H;
        Span<float> xt = saved.Slice(0, T * rows * F);
        Span<float> hs = saved.Slice(HiddenAt(rows), (T + 1) * rh);
        Span<float> gates = saved.Slice(GatesAt(rows), T * rows * gh);
        Span<float> cs = Cell == RecurrentCell.Lstm ? saved.Slice(ExtraAt(rows), (T + 1) * rh) : default;
        Span<float> hn = Cell == RecurrentCell.Gru ? saved.Slice(ExtraAt(rows), T * rh) : default;
        Span<float> hh = Cell == RecurrentCell.Gru ? saved.Slice(ExtraAt(rows) + T * rh, rows * 3 * H) : default;

        // The input, time-major: each step's rows are contiguous, so a step is one GEMM.
        SwapBatchTime(x, xt, rows, T, F, accumulate: false);

        // Every step's input projection at once; the biases in the epilogue (GRU: b_hh stays with the recurrent
        // product, whose n part is gated by r).
        ReadOnlySpan<float> bias = CombinedBias(biasIh, biasHh);
        Gemm.Run(Isa, Gemm.Kernel, GemmForm.Nt, xt, weightIh, gates, T * rows, gh, F, accumulate: false, bias, default(IdentityOp), default, threads);

        // Packing W_hh once pays over several steps of a product the packed kernel runs (not one step, not a
        // matrix-vector product of one or two rows: generation at batch 1).
        bool packed = T > 1 && Isa != KernelIsa.Portable && Gemm.PackingPays(GemmForm.Nt, rows, gh, H);
        if (packed) Gemm.Pack(Isa, GemmForm.Nt, weightHh, gh, H, _packedHh);
        Span<float> h0 = hs.Slice(0, rh);
        if (initialHidden.IsEmpty) h0.Clear(); else initialHidden.CopyTo(h0);
        if (Cell == RecurrentCell.Lstm)
        {
            Span<float> c0 = cs.Slice(0, rh);
            if (initialCell.IsEmpty) c0.Clear(); else initialCell.CopyTo(c0);
        }

        for (int t = 0; t < T; t++)
        {
            ReadOnlySpan<float> hPrev = hs.Slice(t * rh, rh);
            Span<float> hNext = hs.Slice((t + 1) * rh, rh);
            Span<float> g = gates.Slice(t * rows * gh, rows * gh);
            if (Cell == RecurrentCell.Gru)
            {
                if (packed) Gemm.RunPacked(Isa, hPrev, _packedHh, hh, rows, gh, H, accumulate: false, biasHh, default(IdentityOp), threads);
                else Gemm.Run(Isa, Gemm.Kernel, GemmForm.Nt, hPrev, weightHh, hh, rows, gh, H, accumulate: false, biasHh, default(IdentityOp), default, threads);
                GruStep(g, hh, hPrev, hNext, hn.Slice(t * rh, rh), rows);
            }
            else
            {
                if (packed) Gemm.RunPacked(Isa, hPrev, _packedHh, g, rows, gh, H, accumulate: true, default, default(IdentityOp), threads);
                else Gemm.Run(Isa, Gemm.Kernel, GemmForm.Nt, hPrev, weightHh, g, rows, gh, H, accumulate: true, default, default(IdentityOp), default, threads);
                if (Cell == RecurrentCell.Lstm) LstmStep(g, cs.Slice(t * rh, rh), cs.Slice((t + 1) * rh, rh), hNext, rows);
                else RnnStep(g, hNext);
            }
        }

        if (ReturnSequences) SwapBatchTime(hs.Slice(rh, T * rh), y, T, rows, H, accumulate: false);
        else hs.Slice(T * rh, rh).CopyTo(y);
        if (!finalHidden.IsEmpty) hs.Slice(T * rh, rh).CopyTo(finalHidden);
        if (Cell == RecurrentCell.Lstm && !finalCell.IsEmpty) cs.Slice(T * rh, rh).CopyTo(finalCell);
    }

    /// <summary>
    /// The backward pass from <paramref name="dy"/> (shaped as the output) over the state <paramref name="saved"/> by the
    /// last forward: the weight and bias gradients (assigned, or added with <paramref name="accumulateParameters"/>;
    /// bias spans empty when the layer has none) and, unless <paramref name="dx"/> is empty, the input gradient
    /// (assigned, or added with <paramref name="accumulateInput"/>).
    /// </summary>
    public void Backward(ReadOnlySpan<float> dy, ReadOnlySpan<float> weightIh, ReadOnlySpan<float> weightHh, ReadOnlySpan<float> saved,
        Span<float> scratch, Span<float> dx, Span<float> dWeightIh, Span<float> dWeightHh, Span<float> dBiasIh, Span<float> dBiasHh,
        int rows, bool accumulateInput, bool accumulateParameters = false, int threads = 1)
    {
        int T = Steps, F = InputSize, H = HiddenSize, gh = GH;
        ArgumentOutOfRangeException.ThrowIfLessThan(rows, 1);
        Guard.Length(dy.Length, rows, OutputWidth, nameof(dy));
        Guard.Length(weightIh.Length, gh, F, nameof(weightIh));
        Guard.Length(weightHh.Length, gh, H, nameof(weightHh));
        Guard.Length(saved.Length, rows, SavedFloatsPerSample(Cell, T, F, H), nameof(saved));
        Guard.Length(scratch.Length, rows, ScratchFloatsPerSample(Cell, T, F, H), nameof(scratch));
        if (!dx.IsEmpty) Guard.Length(dx.Length, rows, T * F, nameof(dx));
        Guard.Length(dWeightIh.Length, gh, F, nameof(dWeightIh));
        Guard.Length(dWeightHh.Length, gh, H, nameof(dWeightHh));
        if (!dBiasIh.IsEmpty) Guard.Length(dBiasIh.Length, gh, 1, nameof(dBiasIh));
        if (!dBiasHh.IsEmpty) Guard.Length(dBiasHh.Length, gh, 1, nameof(dBiasHh));

        int rh = rows * H;
        ReadOnlySpan<float> xt = saved.Slice(0, T * rows * F);
        ReadOnlySpan<float> hs = saved.Slice(HiddenAt(rows), (T + 1) * rh);
        ReadOnlySpan<float> gates = saved.Slice(GatesAt(rows), T * rows * gh);
        ReadOnlySpan<float> cs = Cell == RecurrentCell.Lstm ? saved.Slice(ExtraAt(rows), (T + 1) * rh) : default;
        ReadOnlySpan<float> hn = Cell == RecurrentCell.Gru ? saved.Slice(ExtraAt(rows), T * rh) : default;

        int at = 0;
        Span<float> dGates = scratch.Slice(at, T * rows * gh); at += T * rows * gh;
        Span<float> dGatesHh = Cell == RecurrentCell.Gru ? scratch.Slice(at, T * rows * gh) : dGates;
        if (Cell == RecurrentCell.Gru) at += T * rows * gh;
        Span<float> dh = scratch.Slice(at, rh); at += rh;
        Span<float> dc = scratch.Slice(at, rh); at += rh;
        Span<float> dxt = scratch.Slice(at, T * rows * F);

        bool packed = T > 2 && Isa != KernelIsa.Portable && Gemm.PackingPays(GemmForm.Nn, rows, H, gh);
        if (packed) Gemm.Pack(Isa, GemmForm.Nn, weightHh, H, gh, _packedHhBackward);
        dh.Clear();
        dc.Clear();
        for (int t = T - 1; t >= 0; t--)
        {
            // The output's gradient at this step joins the one coming back from the step after.
            if (ReturnSequences) AddStep(dy, dh, rows, T, t, H);
            else if (t == T - 1) TensorPrimitivesAdd(dy, dh);

            Span<float> dg = dGates.Slice(t * rows * gh, rows * gh);
            ReadOnlySpan<float> g = gates.Slice(t * rows * gh, rows * gh);
            ReadOnlySpan<float> hPrev = hs.Slice(t * rh, rh);
            switch (Cell)
            {
                case RecurrentCell.Lstm:
                    LstmStepBackward(g, cs.Slice(t * rh, rh), cs.Slice((t + 1) * rh, rh), dh, dc, dg, rows);
                    if (t > 0) StepBackward(dg, weightHh, dh, rows, accumulate: false, packed, threads);
                    break;
                case RecurrentCell.Gru:
                {
                    Span<float> dgh = dGatesHh.Slice(t * rows * gh, rows * gh);
                    GruStepBackward(g, hn.Slice(t * rh, rh), hPrev, dh, dg, dgh, rows);
                    // dh now holds dh ⊙ z (the direct path); the gates' path adds to it.
                    if (t > 0) StepBackward(dgh, weightHh, dh, rows, accumulate: true, packed, threads);
                    break;
                }
                default:
                    RnnStepBackward(hs.Slice((t + 1) * rh, rh), dh, dg);
                    if (t > 0) StepBackward(dg, weightHh, dh, rows, accumulate: false, packed, threads);
                    break;
            }
        }

        // Over every step at once: dW_ih = Σ dGᵀ·x, dW_hh = Σ dG_hhᵀ·h_prev, the biases' column sums, dX = dG·W_ih.
        int k = T * rows;
        Gemm.Run(Isa, Gemm.Kernel, GemmForm.Tn, dGates, xt, dWeightIh, gh, F, k, accumulateParameters, default, default(IdentityOp), default, threads);
        Gemm.Run(Isa, Gemm.Kernel, GemmForm.Tn, dGatesHh, hs.Slice(0, T * rh), dWeightHh, gh, H, k, accumulateParameters, default, default(IdentityOp), default, threads);
        if (!dBiasIh.IsEmpty) Reductions.ColumnSums(Isa, dGates, k, gh, dBiasIh, accumulateParameters);
        if (!dBiasHh.IsEmpty) Reductions.ColumnSums(Isa, dGatesHh, k, gh, dBiasHh, accumulateParameters);
        if (!dx.IsEmpty)
        {
            Gemm.Run(Isa, Gemm.Kernel, GemmForm.Nn, dGates, weightIh, dxt, k, F, gh, accumulate: false, default, default(IdentityOp), default, threads);
            SwapBatchTime(dxt, dx, T, rows, F, accumulate: accumulateInput);
        }
    }

    /// <summary>dh (+)= dG·W_hh, one step back: with W_hh packed for the pass, or as it lies.</summary>
    private void StepBackward(ReadOnlySpan<float> dGates, ReadOnlySpan<float> weightHh, Span<float> dh, int rows, bool accumulate, bool packed, int threads)
    {
        if (packed) Gemm.RunPacked(Isa, dGates, _packedHhBackward, dh, rows, HiddenSize, GH, accumulate, default, default(IdentityOp), threads);
        else Gemm.Run(Isa, Gemm.Kernel, GemmForm.Nn, dGates, weightHh, dh, rows, HiddenSize, GH, accumulate, default, default(IdentityOp), default, threads);
    }

    private void CheckState(ReadOnlySpan<float> state, int rows, string name)
    {
        if (!state.IsEmpty) Guard.Length(state.Length, rows, HiddenSize, name);
    }

    /// <summary>The bias of the input projection's epilogue: b_ih + b_hh (RNN, LSTM: both add to every gate), or
    /// b_ih alone (GRU); empty when the layer has no bias.</summary>
    private ReadOnlySpan<float> CombinedBias(ReadOnlySpan<float> biasIh, ReadOnlySpan<float> biasHh)
    {
        if (biasIh.IsEmpty && biasHh.IsEmpty) return default;
        Span<float> bias = _bias;
        bias.Clear();
        if (!biasIh.IsEmpty) TensorPrimitivesAdd(biasIh, bias);
        if (!biasHh.IsEmpty && Cell != RecurrentCell.Gru) TensorPrimitivesAdd(biasHh, bias);
        return bias;
    }

    private static void TensorPrimitivesAdd(ReadOnlySpan<float> source, Span<float> destination) =>
        System.Numerics.Tensors.TensorPrimitives.Add(destination, source, destination);

    /// <summary>dh[r] += dy[r, t, :] for every row.</summary>
    private static void AddStep(ReadOnlySpan<float> dy, Span<float> dh, int rows, int steps, int t, int h)
    {
        for (int r = 0; r < rows; r++)
            TensorPrimitivesAdd(dy.Slice((r * steps + t) * h, h), dh.Slice(r * h, h));
    }

    /// <summary>[a, b, w] → [b, a, w] (batch-first ↔ time-major), or added into the destination.</summary>
    internal static void SwapBatchTime(ReadOnlySpan<float> source, Span<float> destination, int a, int b, int w, bool accumulate)
    {
        for (int i = 0; i < a; i++)
        {
            for (int j = 0; j < b; j++)
            {
                ReadOnlySpan<float> from = source.Slice((i * b + j) * w, w);
                Span<float> to = destination.Slice((j * a + i) * w, w);
                if (accumulate) TensorPrimitivesAdd(from, to);
                else from.CopyTo(to);
            }
        }
    }

    // ---- the fused pointwise passes: one row at a time, whole vectors then a scalar tail through the same code ----

    private void LstmStep(Span<float> gates, ReadOnlySpan<float> cPrev, Span<float> c, Span<float> h, int rows)
    {
        int H = HiddenSize;
        for (int r = 0; r < rows; r++)
        {
            ref float g = ref MemoryMarshal.GetReference(gates.Slice(r * 4 * H));
            ref float cp = ref MemoryMarshal.GetReference(cPrev.Slice(r * H));
            ref float cn = ref MemoryMarshal.GetReference(c.Slice(r * H));
            ref float hn = ref MemoryMarshal.GetReference(h.Slice(r * H));
            int j = Isa switch
            {
                KernelIsa.Avx512 => LstmRow<Vector512<float>, Simd512>(ref g, ref cp, ref cn, ref hn, H, 0),
                KernelIsa.Avx2 => LstmRow<Vector256<float>, Simd256>(ref g, ref cp, ref cn, ref hn, H, 0),
                _ => 0,
            };
            LstmRow<float, SimdScalar>(ref g, ref cp, ref cn, ref hn, H, j);
        }
    }

    private static int LstmRow<TVec, TSimd>(ref float g, ref float cPrev, ref float c, ref float h, int H, int j)
        where TVec : struct where TSimd : ISimd<TVec>
    {
        int w = TSimd.Count;
        for (; j + w <= H; j += w)
        {
            ref float gi = ref Unsafe.Add(ref g, j);
            ref float gf = ref Unsafe.Add(ref g, H + j);
            ref float gg = ref Unsafe.Add(ref g, 2 * H + j);
            ref float go = ref Unsafe.Add(ref g, 3 * H + j);
            TVec i = Activations.Sigmoid<TVec, TSimd>(TSimd.Load(ref gi));
            TVec f = Activations.Sigmoid<TVec, TSimd>(TSimd.Load(ref gf));
            TVec n = Activations.Tanh<TVec, TSimd>(TSimd.Load(ref gg));
            TVec o = Activations.Sigmoid<TVec, TSimd>(TSimd.Load(ref go));
            TVec cNew = TSimd.MultiplyAdd(f, TSimd.Load(ref Unsafe.Add(ref cPrev, j)), TSimd.Multiply(i, n));
            TSimd.Store(i, ref gi);
            TSimd.Store(f, ref gf);
            TSimd.Store(n, ref gg);
            TSimd.Store(o, ref go);
            TSimd.Store(cNew, ref Unsafe.Add(ref c, j));
            TSimd.Store(TSimd.Multiply(o, Activations.Tanh<TVec, TSimd>(cNew)), ref Unsafe.Add(ref h, j));
        }
        return j;
    }

    private void LstmStepBackward(ReadOnlySpan<float> gates, ReadOnlySpan<float> cPrev, ReadOnlySpan<float> c, Span<float> dh, Span<float> dc, Span<float> dGates, int rows)
    {
        int H = HiddenSize;
        for (int r = 0; r < rows; r++)
        {
            ref float g = ref MemoryMarshal.GetReference(gates.Slice(r * 4 * H));
            ref float cp = ref MemoryMarshal.GetReference(cPrev.Slice(r * H));
            ref float cn = ref MemoryMarshal.GetReference(c.Slice(r * H));
            ref float dhr = ref MemoryMarshal.GetReference(dh.Slice(r * H));
            ref float dcr = ref MemoryMarshal.GetReference(dc.Slice(r * H));
            ref float dg = ref MemoryMarshal.GetReference(dGates.Slice(r * 4 * H));
            int j = Isa switch
            {
                KernelIsa.Avx512 => LstmRowBackward<Vector512<float>, Simd512>(ref g, ref cp, ref cn, ref dhr, ref dcr, ref dg, H, 0),
                KernelIsa.Avx2 => LstmRowBackward<Vector256<float>, Simd256>(ref g, ref cp, ref cn, ref dhr, ref dcr, ref dg, H, 0),
                _ => 0,
            };
            LstmRowBackward<float, SimdScalar>(ref g, ref cp, ref cn, ref dhr, ref dcr, ref dg, H, j);
        }
    }

    /// <summary>From dh and dc at a step: the gates' pre-activation gradients, and dc carried to the step before
    /// (dc ⊙ f, written back into dc).</summary>
    private static int LstmRowBackward<TVec, TSimd>(ref float g, ref float cPrev, ref float c, ref float dh, ref float dc, ref float dg, int H, int j)
        where TVec : struct where TSimd : ISimd<TVec>
    {
        int w = TSimd.Count;
        TVec one = TSimd.Broadcast(1f);
        for (; j + w <= H; j += w)
        {
            TVec i = TSimd.Load(ref Unsafe.Add(ref g, j));
            TVec f = TSimd.Load(ref Unsafe.Add(ref g, H + j));
            TVec n = TSimd.Load(ref Unsafe.Add(ref g, 2 * H + j));
            TVec o = TSimd.Load(ref Unsafe.Add(ref g, 3 * H + j));
            TVec tc = Activations.Tanh<TVec, TSimd>(TSimd.Load(ref Unsafe.Add(ref c, j)));
            TVec dhv = TSimd.Load(ref Unsafe.Add(ref dh, j));
            // dc += dh ⊙ o ⊙ (1 − tanh²c)
            TVec dcv = TSimd.MultiplyAdd(TSimd.Multiply(dhv, o), TSimd.Subtract(one, TSimd.Multiply(tc, tc)), TSimd.Load(ref Unsafe.Add(ref dc, j)));
            TVec di = TSimd.Multiply(TSimd.Multiply(dcv, n), TSimd.Multiply(i, TSimd.Subtract(one, i)));
            TVec df = TSimd.Multiply(TSimd.Multiply(dcv, TSimd.Load(ref Unsafe.Add(ref cPrev, j))), TSimd.Multiply(f, TSimd.Subtract(one, f)));
            TVec dn = TSimd.Multiply(TSimd.Multiply(dcv, i), TSimd.Subtract(one, TSimd.Multiply(n, n)));
            TVec dO = TSimd.Multiply(TSimd.Multiply(dhv, tc), TSimd.Multiply(o, TSimd.Subtract(one, o)));
            TSimd.Store(di, ref Unsafe.Add(ref dg, j));
            TSimd.Store(df, ref Unsafe.Add(ref dg, H + j));
            TSimd.Store(dn, ref Unsafe.Add(ref dg, 2 * H + j));
            TSimd.Store(dO, ref Unsafe.Add(ref dg, 3 * H + j));
            TSimd.Store(TSimd.Multiply(dcv, f), ref Unsafe.Add(ref dc, j));
        }
        return j;
    }

    private void GruStep(Span<float> gates, ReadOnlySpan<float> hh, ReadOnlySpan<float> hPrev, Span<float> h, Span<float> hn, int rows)
    {
        int H = HiddenSize;
        for (int r = 0; r < rows; r++)
        {
            ref float g = ref MemoryMarshal.GetReference(gates.Slice(r * 3 * H));
            ref float hhr = ref MemoryMarshal.GetReference(hh.Slice(r * 3 * H));
            ref float hp = ref MemoryMarshal.GetReference(hPrev.Slice(r * H));
            ref float hr = ref MemoryMarshal.GetReference(h.Slice(r * H));
            ref float hnr = ref MemoryMarshal.GetReference(hn.Slice(r * H));
            int j = Isa switch
            {
                KernelIsa.Avx512 => GruRow<Vector512<float>, Simd512>(ref g, ref hhr, ref hp, ref hr, ref hnr, H, 0),
                KernelIsa.Avx2 => GruRow<Vector256<float>, Simd256>(ref g, ref hhr, ref hp, ref hr, ref hnr, H, 0),
                _ => 0,
            };
            GruRow<float, SimdScalar>(ref g, ref hhr, ref hp, ref hr, ref hnr, H, j);
        }
    }

    private static int GruRow<TVec, TSimd>(ref float g, ref float hh, ref float hPrev, ref float h, ref float hn, int H, int j)
        where TVec : struct where TSimd : ISimd<TVec>
    {
        int w = TSimd.Count;
        for (; j + w <= H; j += w)
        {
            ref float gr = ref Unsafe.Add(ref g, j);
            ref float gz = ref Unsafe.Add(ref g, H + j);
            ref float gn = ref Unsafe.Add(ref g, 2 * H + j);
            TVec r = Activations.Sigmoid<TVec, TSimd>(TSimd.Add(TSimd.Load(ref gr), TSimd.Load(ref Unsafe.Add(ref hh, j))));
            TVec z = Activations.Sigmoid<TVec, TSimd>(TSimd.Add(TSimd.Load(ref gz), TSimd.Load(ref Unsafe.Add(ref hh, H + j))));
            TVec hnv = TSimd.Load(ref Unsafe.Add(ref hh, 2 * H + j));
            TVec n = Activations.Tanh<TVec, TSimd>(TSimd.MultiplyAdd(r, hnv, TSimd.Load(ref gn)));
            TVec hp = TSimd.Load(ref Unsafe.Add(ref hPrev, j));
            // h' = (1 − z)⊙n + z⊙h = n + z⊙(h − n)
            TSimd.Store(TSimd.MultiplyAdd(z, TSimd.Subtract(hp, n), n), ref Unsafe.Add(ref h, j));
            TSimd.Store(r, ref gr);
            TSimd.Store(z, ref gz);
            TSimd.Store(n, ref gn);
            TSimd.Store(hnv, ref Unsafe.Add(ref hn, j));
        }
        return j;
    }

    private void GruStepBackward(ReadOnlySpan<float> gates, ReadOnlySpan<float> hn, ReadOnlySpan<float> hPrev, Span<float> dh, Span<float> dGates, Span<float> dGatesHh, int rows)
    {
        int H = HiddenSize;
        for (int r = 0; r < rows; r++)
        {
            ref float g = ref MemoryMarshal.GetReference(gates.Slice(r * 3 * H));
            ref float hnr = ref MemoryMarshal.GetReference(hn.Slice(r * H));
            ref float hp = ref MemoryMarshal.GetReference(hPrev.Slice(r * H));
            ref float dhr = ref MemoryMarshal.GetReference(dh.Slice(r * H));
            ref float dg = ref MemoryMarshal.GetReference(dGates.Slice(r * 3 * H));
            ref float dgh = ref MemoryMarshal.GetReference(dGatesHh.Slice(r * 3 * H));
            int j = Isa switch
            {
                KernelIsa.Avx512 => GruRowBackward<Vector512<float>, Simd512>(ref g, ref hnr, ref hp, ref dhr, ref dg, ref dgh, H, 0),
                KernelIsa.Avx2 => GruRowBackward<Vector256<float>, Simd256>(ref g, ref hnr, ref hp, ref dhr, ref dg, ref dgh, H, 0),
                _ => 0,
            };
            GruRowBackward<float, SimdScalar>(ref g, ref hnr, ref hp, ref dhr, ref dg, ref dgh, H, j);
        }
    }

    /// <summary>From dh at a step: the input side's gate gradients [dr, dz, dn] (pre-activation), the recurrent side's
    /// [dr, dz, dn ⊙ r], and dh ⊙ z (the direct path to the step before) written back into dh.</summary>
    private static int GruRowBackward<TVec, TSimd>(ref float g, ref float hn, ref float hPrev, ref float dh, ref float dg, ref float dgh, int H, int j)
        where TVec : struct where TSimd : ISimd<TVec>
    {
        int w = TSimd.Count;
        TVec one = TSimd.Broadcast(1f);
        for (; j + w <= H; j += w)
        {
            TVec r = TSimd.Load(ref Unsafe.Add(ref g, j));
            TVec z = TSimd.Load(ref Unsafe.Add(ref g, H + j));
            TVec n = TSimd.Load(ref Unsafe.Add(ref g, 2 * H + j));
            TVec dhv = TSimd.Load(ref Unsafe.Add(ref dh, j));
            TVec dnPre = TSimd.Multiply(TSimd.Multiply(dhv, TSimd.Subtract(one, z)), TSimd.Subtract(one, TSimd.Multiply(n, n)));
            TVec dzPre = TSimd.Multiply(TSimd.Multiply(dhv, TSimd.Subtract(TSimd.Load(ref Unsafe.Add(ref hPrev, j)), n)), TSimd.Multiply(z, TSimd.Subtract(one, z)));
            TVec drPre = TSimd.Multiply(TSimd.Multiply(dnPre, TSimd.Load(ref Unsafe.Add(ref hn, j))), TSimd.Multiply(r, TSimd.Subtract(one, r)));
            TSimd.Store(drPre, ref Unsafe.Add(ref dg, j));
            TSimd.Store(dzPre, ref Unsafe.Add(ref dg, H + j));
            TSimd.Store(dnPre, ref Unsafe.Add(ref dg, 2 * H + j));
            TSimd.Store(drPre, ref Unsafe.Add(ref dgh, j));
            TSimd.Store(dzPre, ref Unsafe.Add(ref dgh, H + j));
            TSimd.Store(TSimd.Multiply(dnPre, r), ref Unsafe.Add(ref dgh, 2 * H + j));
            TSimd.Store(TSimd.Multiply(dhv, z), ref Unsafe.Add(ref dh, j));
        }
        return j;
    }

    private void RnnStep(Span<float> gates, Span<float> h)
    {
        if (Cell == RecurrentCell.RnnRelu) ElementWise.Map(Isa, default(Activations.ReluOp), gates, h);
        else ElementWise.Map(Isa, default(Activations.TanhOp), gates, h);
    }

    /// <summary>dG = dh ⊙ f′ (from the output h: 1 − h² for tanh, h &gt; 0 for ReLU).</summary>
    private void RnnStepBackward(ReadOnlySpan<float> h, ReadOnlySpan<float> dh, Span<float> dGates)
    {
        if (Cell == RecurrentCell.RnnRelu) ElementWise.Zip(Isa, default(Activations.ReluGradOp), h, dh, dGates, accumulate: false);
        else ElementWise.Zip(Isa, default(Activations.TanhGradOp), h, dh, dGates, accumulate: false);
    }
}

/// <summary>
/// A lookup table (<c>nn.Embedding</c>): row <c>token</c> of the weight [count, dimension] for each integer token. Its
/// gradient is a scatter-add of the output's gradient into the rows that were read; the padding row, when there is
/// one, gets none (as PyTorch's <c>padding_idx</c>).
/// </summary>
public static class Embedding
{
    /// <summary>y[i, :] = weight[tokens[i], :]. Throws on a token outside [0, count), naming it and its position.</summary>
    public static void Forward(ReadOnlySpan<int> tokens, ReadOnlySpan<float> weight, Span<float> y, int count, int dimension)
    {
        Guard.Length(weight.Length, count, dimension, nameof(weight));
        Guard.Length(y.Length, tokens.Length, dimension, nameof(y));
        for (int i = 0; i < tokens.Length; i++)
        {
            int token = tokens[i];
            if ((uint)token >= (uint)count) ThrowToken(token, i, count);
            weight.Slice(token * dimension, dimension).CopyTo(y.Slice(i * dimension, dimension));
        }
    }

    /// <summary>dweight (+)= Σ over positions of dy[i, :] into row tokens[i] (none into <paramref name="paddingIndex"/>, −1 for none).</summary>
    public static void Backward(ReadOnlySpan<int> tokens, ReadOnlySpan<float> dy, Span<float> dweight, int count, int dimension, int paddingIndex, bool accumulate)
    {
        Guard.Length(dweight.Length, count, dimension, nameof(dweight));
        Guard.Length(dy.Length, tokens.Length, dimension, nameof(dy));
        if (!accumulate) dweight.Clear();
        for (int i = 0; i < tokens.Length; i++)
        {
            int token = tokens[i];
            if ((uint)token >= (uint)count) ThrowToken(token, i, count);
            if (token == paddingIndex) continue;
            Span<float> row = dweight.Slice(token * dimension, dimension);
            System.Numerics.Tensors.TensorPrimitives.Add(row, dy.Slice(i * dimension, dimension), row);
        }
    }

    private static void ThrowToken(int token, int position, int count) =>
        throw new ArgumentOutOfRangeException("tokens", token, $"Token {position} is {token}; tokens must lie in [0, {count}) (the embedding's table has {count} rows).");
}
