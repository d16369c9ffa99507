using System;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

namespace Kiln.Kernels;

/// <summary>
/// The core of multi-head scaled dot-product attention (PyTorch's <c>nn.MultiheadAttention</c> between its input and
/// output projections, <c>F.scaled_dot_product_attention</c> per head): for each sample and head,
/// P = softmax(mask(Q·Kᵀ/√d_k)), optionally dropped out, and O = P·V, the heads' outputs side by side.
/// <para>
/// Q, K and V are read in place from the projections' outputs: row i of a sample's queries is <c>q[(b·T_q + i)·qStride ..]</c>
/// with head h at column h·d_k, so one [T, 3·d_model] buffer of a fused Q/K/V projection serves as all three (as views
/// at column offsets 0, d_model, 2·d_model with stride 3·d_model). Each (sample, head) is one unit of work; units are
/// split across threads. When d_k is a whole number of vectors and no dropout acts, a unit runs the fused path
/// (<c>Kernels.Attention.Fused.cs</c>: products on register tiles straight from the strided buffers, skipping what the
/// masks zero); otherwise its head is copied into contiguous tiles (Q pre-scaled by 1/√d_k, as PyTorch does), the
/// scores are one GEMM into the saved probabilities, the mask and softmax one pass over each row, and the output one
/// GEMM. Both save the same probabilities.
/// </para>
/// <para>
/// Masks: <see cref="Causal"/> lets query i see keys 0..i (PyTorch's <c>is_causal</c>, aligned top-left); per-sample key
/// lengths (a padding mask) hide keys at and past each sample's length. A query that sees no key gets a zero output
/// (PyTorch's would be NaN). The backward reads the saved probabilities (and, with dropout, the dropped ones) and the
/// same Q, K, V; it writes (or adds to) dQ, dK, dV in the same strided layout.
/// </para>
/// </summary>
public sealed unsafe partial class MultiHeadAttention
{
    public MultiHeadAttention(int heads, int headSize, int queryLength, int keyLength, bool causal, float dropout = 0f)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(heads, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(headSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(queryLength, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(keyLength, 1);
        if (!(dropout >= 0f && dropout < 1f)) throw new ArgumentOutOfRangeException(nameof(dropout), dropout, "A dropout probability lies in [0, 1).");
        Heads = heads;
        HeadSize = headSize;
        QueryLength = queryLength;
        KeyLength = keyLength;
        Causal = causal;
        DropoutProbability = dropout;
        Scale = 1f / MathF.Sqrt(headSize);
    }

    public int Heads { get; }
    /// <summary>d_k: the width of one head's queries, keys and values.</summary>
    public int HeadSize { get; }
    /// <summary>T_q: queries per sample.</summary>
    public int QueryLength { get; }
    /// <summary>T_k: keys (and values) per sample.</summary>
    public int KeyLength { get; }
    public bool Causal { get; }
    /// <summary>The probability of dropping an attention weight in training (PyTorch's <c>dropout</c> argument).</summary>
    public float DropoutProbability { get; }
    /// <summary>1/√d_k.</summary>
    public float Scale { get; }
    /// <summary>Heads × d_k: the width of an output row (d_model).</summary>
    public int Width => Heads * HeadSize;
    /// <summary>The instruction set the products run on (every supported one is tested).</summary>
    public KernelIsa Isa { get; set; } = KernelInfo.Best;

    /// <summary>Floats per sample the forward keeps for the backward: the probabilities [H, T_q, T_k], and with dropout
    /// also the dropped-out ones.</summary>
    public static int SavedFloatsPerSample(int heads, int queryLength, int keyLength, bool dropout) =>
        checked(heads * queryLength * keyLength * (dropout ? 2 : 1));

    public int SavedFloats(int rows) => checked(rows * SavedFloatsPerSample(Heads, QueryLength, KeyLength, DropoutProbability > 0));

    private int HeadFloats => QueryLength * KeyLength;
    private int SampleSaved => SavedFloatsPerSample(Heads, QueryLength, KeyLength, DropoutProbability > 0);

    /// <summary>
    /// The forward pass over <paramref name="rows"/> samples. <paramref name="keyLengths"/> (one per sample, in
    /// [0, T_k]) may be empty: every key is seen. Dropout acts only when <paramref name="training"/> (drawing from
    /// <paramref name="random"/> in a fixed order, so the result does not depend on the thread count).
    /// </summary>
    public void Forward(ReadOnlySpan<float> q, int queryStride, ReadOnlySpan<float> k, ReadOnlySpan<float> v, int keyStride,
        Span<float> output, Span<float> saved, int rows, ReadOnlySpan<int> keyLengths = default, bool training = false,
        KilnRandom? random = null, int threads = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rows, 1);
        CheckStrided(q.Length, rows * QueryLength, queryStride, nameof(q));
        CheckStrided(k.Length, rows * KeyLength, keyStride, nameof(k));
        CheckStrided(v.Length, rows * KeyLength, keyStride, nameof(v));
        Guard.Length(output.Length, rows, QueryLength * Width, nameof(output));
        Guard.Length(saved.Length, rows, SampleSaved, nameof(saved));
        CheckLengths(keyLengths, rows);
        bool dropping = training && DropoutProbability > 0;
        if (dropping)
        {
            ArgumentNullException.ThrowIfNull(random);
            // The masks, drawn in one fixed order before the work is split; the units turn them into P ⊙ mask.
            for (int b = 0; b < rows; b++)
                Dropout.DrawMask(saved.Slice(b * SampleSaved + Heads * HeadFloats, Heads * HeadFloats), DropoutProbability, random);
        }
        fixed (float* pq = q, pk = k, pv = v, po = output, ps = saved)
        fixed (int* pl = keyLengths)
        {
            var job = Job.ForThisThread;
            job.Set(this, backward: false, pq, pk, pv, queryStride, keyStride, po, ps, keyLengths.IsEmpty ? null : pl, dropping,
                null, null, null, null, accumulate: false);
            Run(job, rows, threads);
        }
    }

    /// <summary>
    /// The backward pass: from dO [rows, T_q, H·d_k] and the forward's saved state, dQ, dK and dV (assigned, or added
    /// when <paramref name="accumulate"/>) in the strided layout of Q, K and V. <paramref name="training"/> must be what
    /// the forward ran with.
    /// </summary>
    public void Backward(ReadOnlySpan<float> dOutput, ReadOnlySpan<float> q, int queryStride, ReadOnlySpan<float> k, ReadOnlySpan<float> v, int keyStride,
        ReadOnlySpan<float> saved, Span<float> dq, Span<float> dk, Span<float> dv, int rows, bool accumulate, ReadOnlySpan<int> keyLengths = default,
        bool training = false, int threads = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rows, 1);
        Guard.Length(dOutput.Length, rows, QueryLength * Width, nameof(dOutput));
        CheckStrided(q.Length, rows * QueryLength, queryStride, nameof(q));
        CheckStrided(k.Length, rows * KeyLength, keyStride, nameof(k));
        CheckStrided(v.Length, rows * KeyLength, keyStride, nameof(v));
        CheckStrided(dq.Length, rows * QueryLength, queryStride, nameof(dq));
        CheckStrided(dk.Length, rows * KeyLength, keyStride, nameof(dk));
        CheckStrided(dv.Length, rows * KeyLength, keyStride, nameof(dv));
        Guard.Length(saved.Length, rows, SampleSaved, nameof(saved));
        CheckLengths(keyLengths, rows);
        fixed (float* pdo = dOutput, pq = q, pk = k, pv = v, ps = saved, pdq = dq, pdk = dk, pdv = dv)
        fixed (int* pl = keyLengths)
        {
            var job = Job.ForThisThread;
            job.Set(this, backward: true, pq, pk, pv, queryStride, keyStride, null, ps, keyLengths.IsEmpty ? null : pl,
                training && DropoutProbability > 0, pdo, pdq, pdk, pdv, accumulate);
            Run(job, rows, threads);
        }
    }

    /// <summary>
    /// One step of incremental decoding with a key/value cache (causal self-attention only): for each of the
    /// <paramref name="rows"/> sequences, the new key and value rows (strided, as in <see cref="Forward"/>) are written
    /// at <paramref name="position"/> of the caches, and the new query attends over the cached keys 0..position — the
    /// same result as row <paramref name="position"/> of a full causal forward over the sequence so far, with no
    /// recomputation of the prefix. Each cache is [rows, T_k, H·d_k] (T_k, the layer's key length, is the capacity).
    /// Runs in evaluation mode (no dropout); allocates nothing.
    /// </summary>
    public void Decode(ReadOnlySpan<float> q, int queryStride, ReadOnlySpan<float> k, ReadOnlySpan<float> v, int keyStride,
        Span<float> keyCache, Span<float> valueCache, int position, Span<float> output, int rows)
    {
        if (!Causal) throw new InvalidOperationException("Incremental decoding needs a causal layer: without the mask a query would see keys that do not exist yet.");
        ArgumentOutOfRangeException.ThrowIfLessThan(rows, 1);
        if ((uint)position >= (uint)KeyLength)
            throw new ArgumentOutOfRangeException(nameof(position), position, $"The cache holds positions 0..{KeyLength - 1}.");
        CheckStrided(q.Length, rows, queryStride, nameof(q));
        CheckStrided(k.Length, rows, keyStride, nameof(k));
        CheckStrided(v.Length, rows, keyStride, nameof(v));
        Guard.Length(keyCache.Length, rows, KeyLength * Width, nameof(keyCache));
        Guard.Length(valueCache.Length, rows, KeyLength * Width, nameof(valueCache));
        Guard.Length(output.Length, rows, Width, nameof(output));
        int W = Width, dk = HeadSize, seen = position + 1;
        Span<float> scores = KeyLength <= 1024 ? stackalloc float[KeyLength] : RowScratch.Get(KeyLength);
        scores = scores.Slice(0, seen);
        for (int r = 0; r < rows; r++)
        {
            Span<float> keys = keyCache.Slice(r * KeyLength * W, KeyLength * W), values = valueCache.Slice(r * KeyLength * W, KeyLength * W);
            k.Slice(r * keyStride, W).CopyTo(keys.Slice(position * W, W));
            v.Slice(r * keyStride, W).CopyTo(values.Slice(position * W, W));
            ReadOnlySpan<float> query = q.Slice(r * queryStride, W);
            Span<float> o = output.Slice(r * W, W);
            for (int h = 0; h < Heads; h++)
            {
                ReadOnlySpan<float> qh = query.Slice(h * dk, dk);
                for (int j = 0; j < seen; j++) scores[j] = TensorPrimitives.Dot(qh, keys.Slice(j * W + h * dk, dk)) * Scale;
                Softmax.Row(scores, scores);
                Span<float> oh = o.Slice(h * dk, dk);
                TensorPrimitives.Multiply(values.Slice(h * dk, dk), scores[0], oh);
                for (int j = 1; j < seen; j++) TensorPrimitives.MultiplyAdd(values.Slice(j * W + h * dk, dk), scores[j], oh, oh);
            }
        }
    }

    /// <summary>
    /// The key lengths of a right-padded batch of token sequences (PyTorch's <c>key_padding_mask = tokens == pad</c> when
    /// the padding is trailing): for each of the <c>lengths.Length</c> samples of <paramref name="steps"/> tokens, the
    /// position of its first <paramref name="paddingToken"/>, or <paramref name="steps"/> when it has none. What follows
    /// the first padding token counts as padding whatever it holds.
    /// </summary>
    public static void KeyLengths(ReadOnlySpan<int> tokens, int steps, int paddingToken, Span<int> lengths)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 1);
        Guard.Length(tokens.Length, lengths.Length, steps, nameof(tokens));
        for (int b = 0; b < lengths.Length; b++)
        {
            int first = tokens.Slice(b * steps, steps).IndexOf(paddingToken);
            lengths[b] = first < 0 ? steps : first;
        }
    }

    private void Run(Job job, int rows, int threads)
    {
        job.Rows = rows;
        int units = rows * Heads;
        // A unit is 4·T_q·T_k·d_k FLOPs; splitting pays once there are a few hundred thousand of them per thread.
        long flops = 4L * units * QueryLength * KeyLength * HeadSize;
        int parts = threads <= 1 || flops < Gemm.ParallelFlops ? 1 : Math.Min(Math.Min(threads, KernelThreads.MaxThreads), units);
        if (parts == 1) job.Execute(0, 1);
        else KernelThreads.Run(job, parts);
        job.Clear();
    }

    private void CheckStrided(int length, int count, int stride, string argument)
    {
        if (stride < Width)
            throw new ArgumentOutOfRangeException(argument + "Stride", stride, $"A row of '{argument}' holds {Heads} heads of {HeadSize} values: its stride must be at least {Width}.");
        long needed = (long)(count - 1) * stride + Width;
        if (length < needed)
            throw new ArgumentException($"'{argument}' has {length} values; {count} rows of stride {stride} with {Width} values each need at least {needed}.", argument);
    }

    private void CheckLengths(ReadOnlySpan<int> lengths, int rows)
    {
        if (lengths.IsEmpty) return;
        Guard.Length(lengths.Length, rows, 1, "keyLengths");
        for (int i = 0; i < lengths.Length; i++)
        {
            if ((uint)lengths[i] > (uint)KeyLength)
                throw new ArgumentOutOfRangeException("keyLengths", lengths[i], $"Sample {i} has key length {lengths[i]}; lengths must lie in [0, {KeyLength}].");
        }
    }

    /// <summary>The keys query <paramref name="query"/> of a sample sees: [0, limit).</summary>
    private int Limit(int query, int keyLength) => Causal ? Math.Min(query + 1, keyLength) : keyLength;

    // ---- one (sample, head) ----

    /// <summary>Per thread: the backward's tiles (Q̃, dO, dQ; K, V, dK, dV; dP), which also hold the forward's.</summary>
    private int ScratchFloats => 3 * QueryLength * HeadSize + 4 * KeyLength * HeadSize + HeadFloats;

    private void ForwardUnit(Job j, int b, int h, Span<float> scratch)
    {
        int tq = QueryLength, tk = KeyLength, dk = HeadSize, W = Width;
        Span<float> qs = scratch.Slice(0, tq * dk), ks = scratch.Slice(tq * dk, tk * dk), vs = scratch.Slice(tq * dk + tk * dk, tk * dk);
        Span<float> os = scratch.Slice(tq * dk + 2 * tk * dk, tq * dk);
        Gather(j.Q + (long)b * tq * j.QueryStride + h * dk, j.QueryStride, tq, dk, qs, Scale);
        Gather(j.K + (long)b * tk * j.KeyStride + h * dk, j.KeyStride, tk, dk, ks, 1f);
        Gather(j.V + (long)b * tk * j.KeyStride + h * dk, j.KeyStride, tk, dk, vs, 1f);

        var p = new Span<float>(j.Saved + (long)b * SampleSaved + (long)h * HeadFloats, HeadFloats);
        Gemm.Run(Isa, GemmKernel.Auto, GemmForm.Nt, qs, ks, p, tq, tk, dk, false, default, default(IdentityOp), default);
        int keys = j.Lengths == null ? tk : j.Lengths[b];
        for (int i = 0; i < tq; i++)
        {
            Span<float> row = p.Slice(i * tk, tk);
            int limit = Limit(i, keys);
            if (limit > 0) Softmax.Row(row.Slice(0, limit), row.Slice(0, limit));
            row.Slice(limit).Clear();
        }
        Span<float> weights = p;
        if (j.Dropping)
        {
            var dropped = new Span<float>(j.Saved + (long)b * SampleSaved + (long)(Heads + h) * HeadFloats, HeadFloats);
            TensorPrimitives.Multiply(p, dropped, dropped); // the mask drawn there becomes P ⊙ mask
            weights = dropped;
        }
        Gemm.Run(Isa, GemmKernel.Auto, GemmForm.Nn, weights, vs, os, tq, dk, tk, false, default, default(IdentityOp), default);
        float* o = j.Output + (long)b * tq * W + h * dk;
        for (int i = 0; i < tq; i++)
            os.Slice(i * dk, dk).CopyTo(new Span<float>(o + (long)i * W, dk));
    }

    private void BackwardUnit(Job j, int b, int h, Span<float> scratch)
    {
        int tq = QueryLength, tk = KeyLength, dk = HeadSize, W = Width;
        int qf = tq * dk, kf = tk * dk;
        Span<float> qs = scratch.Slice(0, qf), dos = scratch.Slice(qf, qf), dqs = scratch.Slice(2 * qf, qf);
        Span<float> ks = scratch.Slice(3 * qf, kf), vs = scratch.Slice(3 * qf + kf, kf), dks = scratch.Slice(3 * qf + 2 * kf, kf), dvs = scratch.Slice(3 * qf + 3 * kf, kf);
        Span<float> dp = scratch.Slice(3 * qf + 4 * kf, HeadFloats);
        Gather(j.Q + (long)b * tq * j.QueryStride + h * dk, j.QueryStride, tq, dk, qs, Scale);
        Gather(j.K + (long)b * tk * j.KeyStride + h * dk, j.KeyStride, tk, dk, ks, 1f);
        Gather(j.V + (long)b * tk * j.KeyStride + h * dk, j.KeyStride, tk, dk, vs, 1f);
        Gather(j.DOutput + (long)b * tq * W + h * dk, W, tq, dk, dos, 1f);

        var p = new ReadOnlySpan<float>(j.Saved + (long)b * SampleSaved + (long)h * HeadFloats, HeadFloats);
        ReadOnlySpan<float> weights = j.Dropping
            ? new ReadOnlySpan<float>(j.Saved + (long)b * SampleSaved + (long)(Heads + h) * HeadFloats, HeadFloats)
            : p;
        // dV = Wᵀ·dO (W the weights the forward multiplied V by), dW = dO·Vᵀ.
        Gemm.Run(Isa, GemmKernel.Auto, GemmForm.Tn, weights, dos, dvs, tk, dk, tq, false, default, default(IdentityOp), default);
        Gemm.Run(Isa, GemmKernel.Auto, GemmForm.Nt, dos, vs, dp, tq, tk, dk, false, default, default(IdentityOp), default);
        if (j.Dropping)
        {
            // Through the dropout: kept weights were scaled by 1/(1 − p), dropped ones pass nothing.
            float keep = 1f / (1f - DropoutProbability);
            for (int i = 0; i < dp.Length; i++) dp[i] = weights[i] != 0f ? dp[i] * keep : 0f;
        }
        // Through the softmax, row by row: dS = P ⊙ (dP − Σ dP⊙P); masked keys have P = 0 and get nothing.
        for (int i = 0; i < tq; i++)
        {
            ReadOnlySpan<float> pr = p.Slice(i * tk, tk);
            Span<float> dr = dp.Slice(i * tk, tk);
            ElementWise.Zip(Isa, new Softmax.SoftmaxGradOp(TensorPrimitives.Dot(pr, dr)), pr, dr, dr, accumulate: false);
        }
        // S = Q̃·Kᵀ with Q̃ = Q/√d_k: dQ = (dS·K)/√d_k, dK = dSᵀ·Q̃.
        Gemm.Run(Isa, GemmKernel.Auto, GemmForm.Nn, dp, ks, dqs, tq, dk, tk, false, default, default(IdentityOp), default);
        Gemm.Run(Isa, GemmKernel.Auto, GemmForm.Tn, dp, qs, dks, tk, dk, tq, false, default, default(IdentityOp), default);
        Scatter(dqs, j.DQ + (long)b * tq * j.QueryStride + h * dk, j.QueryStride, tq, dk, Scale, j.Accumulate);
        Scatter(dks, j.DK + (long)b * tk * j.KeyStride + h * dk, j.KeyStride, tk, dk, 1f, j.Accumulate);
        Scatter(dvs, j.DV + (long)b * tk * j.KeyStride + h * dk, j.KeyStride, tk, dk, 1f, j.Accumulate);
    }

    /// <summary>Copies <paramref name="count"/> strided rows of <paramref name="width"/> values into a tile, scaled.</summary>
    private static void Gather(float* source, int stride, int count, int width, Span<float> tile, float scale)
    {
        for (int i = 0; i < count; i++)
        {
            var row = new ReadOnlySpan<float>(source + (long)i * stride, width);
            if (scale == 1f) row.CopyTo(tile.Slice(i * width, width));
            else TensorPrimitives.Multiply(row, scale, tile.Slice(i * width, width));
        }
    }

    /// <summary>Writes (or adds) a tile, scaled, into strided rows.</summary>
    private static void Scatter(ReadOnlySpan<float> tile, float* destination, int stride, int count, int width, float scale, bool accumulate)
    {
        for (int i = 0; i < count; i++)
        {
            ReadOnlySpan<float> row = tile.Slice(i * width, width);
            var target = new Span<float>(destination + (long)i * stride, width);
            if (accumulate) TensorPrimitives.MultiplyAdd(row, scale, target, target);
            else if (scale == 1f) row.CopyTo(target);
            else TensorPrimitives.Multiply(row, scale, target);
        }
    }

    /// <summary>The arguments of one pass, reused per calling thread (dispatch allocates nothing); the units of
    /// [0, rows·heads) are split evenly between the parts.</summary>
    private sealed class Job : IParallelWork
    {
        [ThreadStatic] private static Job? t_job;
        [ThreadStatic] private static float[]? t_scratch;

        public static Job ForThisThread => t_job ??= new Job();

        private MultiHeadAttention? _layer;
        private bool _backward;
        public float* Q, K, V, Output, Saved, DOutput, DQ, DK, DV;
        public int* Lengths;
        public int QueryStride, KeyStride, Rows;
        public bool Dropping, Accumulate;

        public void Set(MultiHeadAttention layer, bool backward, float* q, float* k, float* v, int queryStride, int keyStride, float* output,
            float* saved, int* lengths, bool dropping, float* dOutput, float* dq, float* dk, float* dv, bool accumulate)
        {
            _layer = layer; _backward = backward;
            Q = q; K = k; V = v; QueryStride = queryStride; KeyStride = keyStride; Output = output; Saved = saved; Lengths = lengths;
            Dropping = dropping; DOutput = dOutput; DQ = dq; DK = dk; DV = dv; Accumulate = accumulate;
        }

        public void Clear()
        {
            _layer = null;
            Q = K = V = Output = Saved = DOutput = DQ = DK = DV = null;
            Lengths = null;
        }

        public void Execute(int part, int parts)
        {
            MultiHeadAttention layer = _layer!;
            int units = Rows * layer.Heads;
            int begin = (int)((long)units * part / parts), end = (int)((long)units * (part + 1) / parts);
            bool fused = layer.UsesFused(Dropping);
            int need = fused ? layer.FusedScratchFloats : layer.ScratchFloats;
            float[]? scratch = t_scratch;
            if (scratch is null || scratch.Length < need) t_scratch = scratch = GC.AllocateUninitializedArray<float>(need, pinned: true);
            float* pinned = (float*)Unsafe.AsPointer(ref scratch[0]);
            for (int unit = begin; unit < end; unit++)
            {
                int b = unit / layer.Heads, h = unit % layer.Heads;
                if (fused)
                {
                    if (_backward) layer.FusedBackwardUnit(this, b, h, pinned);
                    else layer.FusedForwardUnit(this, b, h, pinned);
                }
                else if (_backward) layer.BackwardUnit(this, b, h, scratch);
                else layer.ForwardUnit(this, b, h, scratch);
            }
        }
    }
}

/// <summary>Positional encodings added to a sequence [T, D] (the same table for every sample): learned (a trained
/// [T, D] table, as an <c>nn.Embedding(T, D)</c> over the positions) or fixed sinusoids (Vaswani et al.).</summary>
public static class Positions
{
    /// <summary>y = x + table, the table [T, D] added to every sample of <paramref name="rows"/>.</summary>
    public static void Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> table, Span<float> y, int rows)
    {
        int perSample = table.Length;
        if (perSample == 0) throw new ArgumentException("The position table is empty.", nameof(table));
        Guard.Length(x.Length, rows, perSample, nameof(x));
        Guard.Length(y.Length, rows, perSample, nameof(y));
        for (int r = 0; r < rows; r++)
            TensorPrimitives.Add(x.Slice(r * perSample, perSample), table, y.Slice(r * perSample, perSample));
    }

    /// <summary>y = x + table[position], one position's row of the table [≥ position + 1, D] added to each of the rows
    /// of x [rows, D] (a step of incremental decoding).</summary>
    public static void ForwardAt(ReadOnlySpan<float> x, ReadOnlySpan<float> table, Span<float> y, int rows, int position, int dimension)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(dimension, 1);
        if (position < 0 || (long)(position + 1) * dimension > table.Length)
            throw new ArgumentOutOfRangeException(nameof(position), position, $"The position table has {table.Length / dimension} rows.");
        Guard.Length(x.Length, rows, dimension, nameof(x));
        Guard.Length(y.Length, rows, dimension, nameof(y));
        ReadOnlySpan<float> row = table.Slice(position * dimension, dimension);
        for (int r = 0; r < rows; r++)
            TensorPrimitives.Add(x.Slice(r * dimension, dimension), row, y.Slice(r * dimension, dimension));
    }

    /// <summary>dtable = Σ over samples of dy (assigned, or added when <paramref name="accumulate"/>).</summary>
    public static void BackwardTable(ReadOnlySpan<float> dy, Span<float> dtable, int rows, bool accumulate)
    {
        int perSample = dtable.Length;
        Guard.Length(dy.Length, rows, perSample, nameof(dy));
        if (!accumulate) dtable.Clear();
        for (int r = 0; r < rows; r++)
            TensorPrimitives.Add(dy.Slice(r * perSample, perSample), dtable, dtable);
    }

    /// <summary>The sinusoidal table [steps, dimension]: PE(t, 2i) = sin(t / 10000^(2i/D)), PE(t, 2i + 1) = cos(t / 10000^(2i/D)),
    /// computed in double precision.</summary>
    public static float[] Sinusoidal(int steps, int dimension)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(dimension, 1);
        var table = new float[checked(steps * dimension)];
        for (int t = 0; t < steps; t++)
            for (int c = 0; c < dimension; c++)
            {
                double angle = t / Math.Pow(10000.0, (c - c % 2) / (double)dimension);
                table[t * dimension + c] = (float)(c % 2 == 0 ? Math.Sin(angle) : Math.Cos(angle));
            }
        return table;
    }
}
