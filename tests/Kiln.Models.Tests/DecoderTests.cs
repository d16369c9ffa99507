using System;
using System.Collections.Generic;
using System.Linq;
using Kiln.Samples.Gpt;
using Kiln.Testing;
using Xunit;

namespace Kiln.Models.Tests;

/// <summary>
/// The generated decoder of decoder-only models (incremental decoding with a key/value cache): every step's logits equal
/// that position's row of a full forward pass over the sequence so far (GptMini, TinyGpt, and a model with dropout,
/// sinusoidal positions and RMSNorm), Generate equals generation without a cache under the same window policy, a step
/// allocates nothing, and misuse is a typed exception naming what was expected.
/// </summary>
public class DecoderTests
{
    private static int[] Tokens(int count, int vocabulary, int seed)
    {
        var random = new KilnRandom(seed);
        return Enumerable.Range(0, count).Select(_ => random.Next(vocabulary)).ToArray();
    }

    /// <summary>Decodes <paramref name="rows"/> sequences of <paramref name="steps"/> tokens position by position and
    /// compares each step's logits with the full forward pass's row of that position.</summary>
    private static void AssertStepsMatchForward(int rows, int steps, int width, int[] tokens,
        Action<int[], float[]> forward, Action<int[], float[]> step, Action reset)
    {
        var full = new float[rows * steps * width];
        forward(tokens, full);
        reset();
        var column = new int[rows];
        var logits = new float[rows * width];
        double worst = 0;
        for (int t = 0; t < steps; t++)
        {
            for (int r = 0; r < rows; r++) column[r] = tokens[r * steps + t];
            step(column, logits);
            for (int r = 0; r < rows; r++)
                for (int v = 0; v < width; v++)
                {
                    float expected = full[(r * steps + t) * width + v], actual = logits[r * width + v];
                    worst = Math.Max(worst, Math.Abs(expected - actual) / (1 + Math.Abs(expected)));
                }
        }
        Assert.True(worst < 2e-5, $"largest relative difference between a decoded step and the full forward: {worst:E2}");
    }

    [Fact]
    public void GptMini_EveryStep_MatchesTheFullForward_ForThreeSequencesAtOnce()
    {
        using var model = new GptMini(seed: 3);
        model.Training = false;
        using var decoder = new GptMini.Decoder(model, rows: 3);
        int[] tokens = Tokens(3 * 64, 65, 4);
        AssertStepsMatchForward(3, 64, 65, tokens, (x, y) => model.Forward(x, y), (x, y) => decoder.Step(x, y), decoder.Reset);
        Assert.Equal(64, decoder.Length);
    }

    [Fact]
    public void TinyGpt_EveryStep_MatchesTheFullForward()
    {
        using var model = new TinyGpt(seed: 5);
        model.Training = false;
        using var decoder = new TinyGpt.Decoder(model, rows: 2);
        AssertStepsMatchForward(2, 5, 7, Tokens(2 * 5, 7, 6), (x, y) => model.Forward(x, y), (x, y) => decoder.Step(x, y), decoder.Reset);
    }

    [Fact]
    public void DropoutAndNoise_PassThroughWhenDecoding_EvenIfTheModelIsTraining()
    {
        using var model = new DecodingGpt(seed: 7);
        using var decoder = new DecodingGpt.KilnDecoder(model, rows: 2);
        int[] tokens = Tokens(2 * 6, 9, 8);
        // The reference is the forward in evaluation; the decoder ignores the model's mode.
        AssertStepsMatchForward(2, 6, 9, tokens, (x, y) =>
        {
            model.Training = false;
            model.Forward(x, y);
            model.Training = true;
        }, (x, y) => decoder.Step(x, y), decoder.Reset);
        Assert.Null(typeof(DecodingGpt).GetNestedType("Decoder")); // the node named Decoder keeps its name
    }

    [Fact]
    public void OnlyDecoderOnlyModels_GetADecoder()
    {
        Assert.NotNull(typeof(GptMini).GetNestedType("Decoder"));
        Assert.Null(typeof(PostLnEncoder).GetNestedType("Decoder"));          // float input, attention not causal
        Assert.Null(typeof(DroppingAttentionNet).GetNestedType("Decoder"));   // not causal
        Assert.Null(typeof(Kiln.Samples.CharRnn.CharLstm).GetNestedType("Decoder")); // recurrent: its own step model
    }

    /// <summary>Generation without a cache under the decoder's window policy: the model runs over the whole context for
    /// every token, and when the context is full it keeps its most recent half.</summary>
    private static List<int> GenerateWithoutCache(GptMini model, int[] prompt, int count, float temperature, int topK, KilnRandom random)
    {
        const int T = GptMini.InputSize, V = 65;
        var context = prompt.Skip(Math.Max(0, prompt.Length - T)).ToList();
        var window = new int[T];
        var logits = new float[GptMini.OutputSize];
        var output = new List<int>();
        for (int i = 0; i < count; i++)
        {
            Array.Clear(window);
            context.CopyTo(window);
            model.Forward(window, logits);
            int next = Sampling.Sample(logits.AsSpan((context.Count - 1) * V, V), temperature, topK, random);
            output.Add(next);
            if (context.Count == T) context.RemoveRange(0, T - T / 2);
            context.Add(next);
        }
        return output;
    }

    [Theory]
    [InlineData(1, 1f, 1)]     // greedy, sliding the window twice
    [InlineData(10, 0.8f, 5)]  // sampled from the top 5
    [InlineData(70, 1f, 0)]    // a prompt longer than the context
    public void Generate_EqualsGenerationWithoutACache_UnderTheSameWindowPolicy(int promptLength, float temperature, int topK)
    {
        using var model = new GptMini(seed: 11);
        model.Training = false;
        int[] prompt = Tokens(promptLength, 65, 12);
        const int count = 150;
        List<int> expected = GenerateWithoutCache(model, prompt, count, temperature, topK, new KilnRandom(13));
        using var decoder = new GptMini.Decoder(model);
        var output = new int[count];
        decoder.Generate(prompt, output, new KilnRandom(13), temperature, topK);
        Assert.Equal(expected, output);
    }

    [Fact]
    public void AStep_AndAGeneratedToken_AllocateNothing()
    {
        using var model = new GptMini(seed: 1);
        using var decoder = new GptMini.Decoder(model);
        var logits = new float[65];
        int[] token = { 3 };
        var output = new int[100];
        var random = new KilnRandom(1);
        decoder.Generate(token, output, random, 0.9f, 10); // warm: the sampler's scratch, the kernels' thread-local state
        long steps = Allocations.SteadyState(() =>
        {
            decoder.Reset();
            for (int i = 0; i < 64; i++) decoder.Step(token, logits);
        }, out string perRound);
        Assert.True(steps == 0, $"64 steps allocated {perRound} bytes per round");
        long generated = Allocations.SteadyState(() => decoder.Generate(token, output, random, 0.9f, 10), out perRound);
        Assert.True(generated == 0, $"generating 100 tokens allocated {perRound} bytes per round");
    }

    [Fact]
    public void Misuse_IsATypedException_NamingWhatWasExpected()
    {
        using var model = new GptMini(seed: 1);
        using var decoder = new GptMini.Decoder(model, rows: 2);
        var logits = new float[2 * 65];
        var e = Assert.Throws<ArgumentException>(() => decoder.Step(new[] { 1 }, logits));
        Assert.Equal("tokens", e.ParamName);
        e = Assert.Throws<ArgumentException>(() => decoder.Step(new[] { 1, 2 }, new float[65]));
        Assert.Equal("logits", e.ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => decoder.Step(new[] { 1, 65 }, logits)); // outside the vocabulary
        decoder.Reset();
        for (int i = 0; i < GptMini.Decoder.Capacity; i++) decoder.Step(new[] { 1, 2 }, logits);
        var full = Assert.Throws<InvalidOperationException>(() => decoder.Step(new[] { 1, 2 }, logits));
        Assert.Contains("64 positions", full.Message);
        var rows = Assert.Throws<InvalidOperationException>(() => decoder.Generate(new[] { 1 }, new int[3], new KilnRandom(1)));
        Assert.Contains("one sequence", rows.Message);
        using var single = new GptMini.Decoder(model);
        Assert.Throws<ArgumentException>(() => single.Generate(ReadOnlySpan<int>.Empty, new int[3], new KilnRandom(1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => single.Generate(new[] { 1 }, new int[3], new KilnRandom(1), temperature: 0f));
        Assert.Throws<ArgumentOutOfRangeException>(() => new GptMini.Decoder(model, rows: 0));
        single.Dispose();
        Assert.Throws<ObjectDisposedException>(() => single.Step(new[] { 1 }, new float[65]));
    }
}
