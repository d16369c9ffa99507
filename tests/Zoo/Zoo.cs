using System;
using System.Collections.Generic;
using Kiln.Data;
using Kiln.Optimizers;
using Kiln.Samples.CharRnn;
using Kiln.Samples.Cifar;
using Kiln.Samples.Gpt;
using Kiln.Samples.Mnist;

namespace Kiln.Zoo;

/// <summary>
/// One zoo model (DESIGN.md, Z1–Z5) with its own batch of data and its Adam: what the side-by-side runner times, what
/// the allocation test steps. Each model family's issue adds one adapter and one <see cref="ZooEntry"/> here.
/// </summary>
public interface IZooModel : IDisposable
{
    /// <summary>The model's thread setting.</summary>
    int Threads { get; set; }

    /// <summary>One training step (forward + backward + Adam) on the zoo batch; returns the loss.</summary>
    float TrainStep();

    /// <summary>Inference (the forward pass to the outputs) over the first <paramref name="rows"/> samples of the batch.</summary>
    void Infer(int rows);

    /// <summary>The model's <c>PackWeights</c>: later inference reads its Dense weights packed once, until a training step.</summary>
    void PackWeights();
}

/// <summary>A zoo model that generates token by token: the side-by-side runner times a whole context of generation
/// with its cache and without one.</summary>
public interface IGenerativeZooModel : IZooModel
{
    /// <summary>Tokens one <see cref="Generate"/> produces (the context length).</summary>
    int GenerationLength { get; }

    /// <summary>Greedy generation of <see cref="GenerationLength"/> tokens from one token: with the key/value cache
    /// (one incremental step per token), or without it (the model over the whole window for every token).</summary>
    void Generate(bool cached);
}

/// <summary>A zoo model: its id, sizes as the compiler computed them, FLOPs per sample, and how to build it.</summary>
/// <param name="Id">Z1…Z5, as in DESIGN.md and the PyTorch script.</param>
/// <param name="Description">What it is.</param>
/// <param name="Batch">The zoo batch (training and batched inference).</param>
/// <param name="ParameterCount">Parameters (the generated constant).</param>
/// <param name="WorkspaceBytes">Activations and gradients, planned at compile time (the generated constant).</param>
/// <param name="InferenceFlopsPerSample">Multiply-adds × 2 of the forward pass, per sample.</param>
/// <param name="TrainingFlopsPerSample">Forward, every weight gradient and the input gradients that are needed, per sample.</param>
/// <param name="Create">Builds the model with a seed, its Adam (lr 1e−3) and its batch of built-in data.</param>
/// <param name="SingleRowFlops">When set, inference at batch 1 is something else than a batch of one: for the
/// recurrent models one step of generation (one character in, the next one's logits out, the state carried), and these
/// are its FLOPs.</param>
public sealed record ZooEntry(string Id, string Description, int Batch, long ParameterCount, long WorkspaceBytes,
    double InferenceFlopsPerSample, double TrainingFlopsPerSample, Func<int, IZooModel> Create, double? SingleRowFlops = null);

/// <summary>The zoo models that exist so far.</summary>
public static class ZooModels
{
    public static IReadOnlyList<ZooEntry> All { get; } = new[]
    {
        // Z1: 2·(784·256 + 256·128 + 128·10) per sample forward; training adds the three weight gradients (the same
        // again) and the input gradients of the upper two layers, 2·(256·128 + 128·10).
        new ZooEntry("Z1", "MLP 784-256-128-10, ReLU, softmax cross-entropy", MnistMlp.Batch, MnistMlp.ParameterCount, MnistMlp.WorkspaceBytes,
            469_888, 1_006_144, seed => new Z1Model(seed)),
        // Z2: multiply-adds per sample — conv1 32·32·32·27, conv2 32·32·32·288, conv3 16·16·64·288, conv4 16·16·64·576,
        // dense 4096·256 + 256·10 — 25,528,832, so 51,057,664 FLOPs forward; training adds every weight gradient (the
        // same again) and every input gradient but conv1's (the same less 2·884,736).
        new ZooEntry("Z2", "CNN 3x32x32: conv3x3 32-32, maxpool, conv3x3 64-64, maxpool, dense 256-10, ReLU, softmax cross-entropy", CifarCnn.Batch,
            CifarCnn.ParameterCount, CifarCnn.WorkspaceBytes, 51_057_664, 151_403_520, seed => new Z2Model(seed)),
        // Z3: per sample (64 steps) forward — the LSTM's input products 64·2·64·512, its recurrent products 64·2·128·512,
        // the Dense at every step 64·2·128·65 — 13,647,872 FLOPs; training adds the weight gradients (the same again)
        // and the input gradients (the same again: dX of the Dense, dh through W_hh, dX through W_ih). Generation: one
        // step, 2·(64 + 128)·512 + 2·128·65.
        new ZooEntry("Z3", "char LSTM: vocab 65, embedding 64, LSTM 128, 64 steps, dense to vocab every step", CharLstm.Batch,
            CharLstm.ParameterCount, CharLstm.WorkspaceBytes, 13_647_872, 40_943_616, seed => new RecurrentZooModel(lstm: true, seed), SingleRowFlops: 213_248),
        // Z4: as Z3 with 3 gates instead of 4.
        new ZooEntry("Z4", "char GRU: as Z3 with a GRU", CharGru.Batch,
            CharGru.ParameterCount, CharGru.WorkspaceBytes, 10_502_144, 31_506_432, seed => new RecurrentZooModel(lstm: false, seed), SingleRowFlops: 164_096),
        // Z5: per sample (64 steps), per block — the Q/K/V projection 2·64·128·384, the attention core 4·64·64·128
        // (Q·Kᵀ and P·V over 4 heads of 32; the causal mask does not skip the hidden half), the output projection
        // 2·64·128·128, the feed-forward 2·2·64·128·512 — 27,262,976; two blocks and the head 2·64·128·65: 55,590,912 FLOPs
        // forward. Training adds every weight gradient (the products again, 51,396,608), every input gradient (the same),
        // and the attention core's backward (8·64·64·128 per block).
        new ZooEntry("Z5", "GPT-mini: vocab 65, context 64, d_model 128, 4 heads, FF 512, 2 pre-LN causal blocks, learned positions, GELU", GptMini.Batch,
            GptMini.ParameterCount, GptMini.WorkspaceBytes, 55_590_912, 166_772_736, seed => new GptZooModel(seed)),
    };

    public static ZooEntry Find(string id)
    {
        foreach (ZooEntry entry in All)
            if (string.Equals(entry.Id, id, StringComparison.OrdinalIgnoreCase)) return entry;
        throw new ArgumentException($"No zoo model '{id}'; the zoo has: {string.Join(", ", Ids())}.", nameof(id));
    }

    private static IEnumerable<string> Ids()
    {
        foreach (ZooEntry entry in All) yield return entry.Id;
    }
}

/// <summary>Z1 on a batch of the built-in rendered digits.</summary>
internal sealed class Z1Model : IZooModel
{
    private readonly MnistMlp _model;
    private readonly Adam _adam;
    private readonly float[] _pixels;
    private readonly int[] _labels;
    private readonly float[] _logits = new float[MnistMlp.Batch * MnistMlp.OutputSize];

    public Z1Model(int seed)
    {
        Dataset data = SyntheticDigits.Generate(MnistMlp.Batch, seed);
        _pixels = data.Features;
        _labels = data.Labels;
        _model = new MnistMlp(seed);
        _adam = new Adam(_model.Parameters, lr: 1e-3f);
    }

    public int Threads { get => _model.Threads; set => _model.Threads = value; }

    public float TrainStep() => _model.TrainStep(_pixels, _labels, _adam);

    public void PackWeights() => _model.PackWeights();

    public void Infer(int rows) =>
        _model.Forward(_pixels.AsSpan(0, rows * MnistMlp.InputSize), _logits.AsSpan(0, rows * MnistMlp.OutputSize));

    public void Dispose()
    {
        _adam.Dispose();
        _model.Dispose();
    }
}

/// <summary>Z2 on a batch of the built-in drawn shapes.</summary>
internal sealed class Z2Model : IZooModel
{
    private readonly CifarCnn _model;
    private readonly Adam _adam;
    private readonly float[] _pixels;
    private readonly int[] _labels;
    private readonly float[] _logits = new float[CifarCnn.Batch * CifarCnn.OutputSize];

    public Z2Model(int seed)
    {
        Dataset data = SyntheticShapes.Generate(CifarCnn.Batch, seed);
        _pixels = data.Features;
        _labels = data.Labels;
        _model = new CifarCnn(seed);
        _adam = new Adam(_model.Parameters, lr: 1e-3f);
    }

    public int Threads { get => _model.Threads; set => _model.Threads = value; }

    public float TrainStep() => _model.TrainStep(_pixels, _labels, _adam);

    public void PackWeights() => _model.PackWeights();

    public void Infer(int rows) =>
        _model.Forward(_pixels.AsSpan(0, rows * CifarCnn.InputSize), _logits.AsSpan(0, rows * CifarCnn.OutputSize));

    public void Dispose()
    {
        _adam.Dispose();
        _model.Dispose();
    }
}

/// <summary>Z3 (LSTM) or Z4 (GRU) on a batch of random characters; inference at batch 1 is one step of generation with
/// the one-character model (the same layers at batch 1, its state carried from call to call).</summary>
internal sealed class RecurrentZooModel : IZooModel
{
    private readonly ITrainable<int, int> _model;
    private readonly IDisposable _generator;
    private readonly Action<int[], float[]> _generate;
    private readonly Action<int> _generatorThreads;
    private readonly Adam _adam;
    private readonly int[] _tokens;
    private readonly int[] _labels;
    private readonly int[] _token = { 7 };
    private readonly float[] _logits = new float[CharLstm.Batch * CharLstm.OutputSize];
    private readonly float[] _stepLogits = new float[CharLstmStep.OutputSize];

    public RecurrentZooModel(bool lstm, int seed)
    {
        var random = new KilnRandom(seed);
        _tokens = new int[CharLstm.Batch * CharLstm.InputSize];
        _labels = new int[_tokens.Length];
        for (int i = 0; i < _tokens.Length; i++)
        {
            _tokens[i] = random.Next(65);
            _labels[i] = random.Next(65);
        }
        if (lstm)
        {
            var step = new CharLstmStep(seed) { CarryState = true };
            (_model, _generator, _generate, _generatorThreads) = (new CharLstm(seed), step, (t, l) => step.Forward(t, l), n => step.Threads = n);
        }
        else
        {
            var step = new CharGruStep(seed) { CarryState = true };
            (_model, _generator, _generate, _generatorThreads) = (new CharGru(seed), step, (t, l) => step.Forward(t, l), n => step.Threads = n);
        }
        _adam = new Adam(_model.Parameters, lr: 1e-3f);
    }

    public int Threads
    {
        get => _model.Threads;
        set
        {
            _model.Threads = value;
            _generatorThreads(value);
        }
    }

    public float TrainStep() => _model.TrainStep(_tokens, _labels, _adam);

    public void PackWeights()
    {
        if (_model is CharLstm lstm) lstm.PackWeights();
        else ((CharGru)_model).PackWeights();
    }

    public void Infer(int rows)
    {
        if (rows == 1) _generate(_token, _stepLogits);
        else _model.Forward(_tokens.AsSpan(0, rows * CharLstm.InputSize), _logits.AsSpan(0, rows * CharLstm.OutputSize));
    }

    public void Dispose()
    {
        _adam.Dispose();
        _model.Dispose();
        _generator.Dispose();
    }
}

/// <summary>Z5 on a batch of random characters (inference at batch 1: one sequence of 64).</summary>
internal sealed class GptZooModel : IGenerativeZooModel
{
    private readonly GptMini _model;
    private readonly GptMini.Decoder _decoder;
    private readonly int[] _token = new int[1];
    private readonly int[] _window = new int[GptMini.InputSize];
    private readonly float[] _stepLogits = new float[GptMini.Decoder.OutputWidth];
    private readonly Adam _adam;
    private readonly int[] _tokens;
    private readonly int[] _labels;
    private readonly float[] _logits = new float[GptMini.Batch * GptMini.OutputSize];

    public GptZooModel(int seed)
    {
        var random = new KilnRandom(seed);
        _tokens = new int[GptMini.Batch * GptMini.InputSize];
        _labels = new int[_tokens.Length];
        for (int i = 0; i < _tokens.Length; i++)
        {
            _tokens[i] = random.Next(65);
            _labels[i] = random.Next(65);
        }
        _model = new GptMini(seed);
        _adam = new Adam(_model.Parameters, lr: 1e-3f);
        _decoder = new GptMini.Decoder(_model);
    }

    public int GenerationLength => GptMini.InputSize;

    public void Generate(bool cached)
    {
        const int vocabulary = GptMini.Decoder.OutputWidth;
        int token = 7;
        if (cached)
        {
            _decoder.Reset();
            for (int i = 0; i < GenerationLength; i++)
            {
                _token[0] = token;
                _decoder.Step(_token, _stepLogits);
                token = System.Numerics.Tensors.TensorPrimitives.IndexOfMax(_stepLogits);
            }
            return;
        }
        // Without a cache: the whole (causal) window every time; positions past the context do not affect the logits read.
        Array.Clear(_window);
        for (int i = 0; i < GenerationLength; i++)
        {
            _window[i] = token;
            _model.Forward(_window, _logits.AsSpan(0, GptMini.OutputSize));
            token = System.Numerics.Tensors.TensorPrimitives.IndexOfMax(_logits.AsSpan(i * vocabulary, vocabulary));
        }
    }

    public int Threads { get => _model.Threads; set => _model.Threads = value; }

    public float TrainStep() => _model.TrainStep(_tokens, _labels, _adam);

    public void PackWeights() => _model.PackWeights();

    public void Infer(int rows) =>
        _model.Forward(_tokens.AsSpan(0, rows * GptMini.InputSize), _logits.AsSpan(0, rows * GptMini.OutputSize));

    public void Dispose()
    {
        _decoder.Dispose();
        _adam.Dispose();
        _model.Dispose();
    }
}
