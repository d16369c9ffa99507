using System;

namespace Kiln;

/// <summary>
/// A small seeded generator (xoshiro128**, seeded through SplitMix64) with the same sequence on every runtime,
/// JIT or NativeAOT, so a seed fixes a model's initial weights and a data order everywhere.
/// </summary>
public sealed class KilnRandom
{
    private uint _s0, _s1, _s2, _s3;

    public KilnRandom(long seed) => Reseed(seed);

    /// <summary>Restarts the sequence from <paramref name="seed"/>, as a new generator would (no allocation).</summary>
    public void Reseed(long seed)
    {
        ulong x = (ulong)seed;
        ulong a = SplitMix(ref x), b = SplitMix(ref x);
        _s0 = (uint)a; _s1 = (uint)(a >> 32); _s2 = (uint)b; _s3 = (uint)(b >> 32);
        if ((_s0 | _s1 | _s2 | _s3) == 0) _s0 = 1;
    }

    /// <summary>The generator's whole state (a checkpoint saves it so that a resumed run draws the same numbers).</summary>
    public (uint S0, uint S1, uint S2, uint S3) State
    {
        get => (_s0, _s1, _s2, _s3);
        set
        {
            if ((value.S0 | value.S1 | value.S2 | value.S3) == 0) throw new ArgumentException("The all-zero state never leaves zero.", nameof(value));
            (_s0, _s1, _s2, _s3) = value;
        }
    }

    /// <summary>The next 32 random bits.</summary>
    public uint NextUInt()
    {
        uint result = RotateLeft(_s1 * 5, 7) * 9;
        uint t = _s1 << 9;
        _s2 ^= _s0; _s3 ^= _s1; _s1 ^= _s2; _s0 ^= _s3;
        _s2 ^= t;
        _s3 = RotateLeft(_s3, 11);
        return result;
    }

    /// <summary>Uniform in [0, 1), 24 random bits.</summary>
    public float NextFloat() => (NextUInt() >> 8) * (1f / (1 << 24));

    /// <summary>Uniform in [low, high).</summary>
    public float Uniform(float low, float high) => low + (high - low) * NextFloat();

    /// <summary>Uniform integer in [0, maxExclusive).</summary>
    public int Next(int maxExclusive)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxExclusive);
        return (int)((NextUInt() * (ulong)maxExclusive) >> 32);
    }

    /// <summary>Standard normal (Box–Muller).</summary>
    public float Gaussian()
    {
        double u1 = 1.0 - (NextUInt() / 4294967296.0); // (0, 1]
        double u2 = NextUInt() / 4294967296.0;
        return (float)(Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2));
    }

    /// <summary>Fills <paramref name="values"/> uniformly in [low, high).</summary>
    public void FillUniform(Span<float> values, float low, float high)
    {
        for (int i = 0; i < values.Length; i++) values[i] = Uniform(low, high);
    }

    /// <summary>Shuffles <paramref name="values"/> in place (Fisher–Yates).</summary>
    public void Shuffle(Span<int> values)
    {
        for (int i = values.Length - 1; i > 0; i--)
        {
            int j = Next(i + 1);
            (values[i], values[j]) = (values[j], values[i]);
        }
    }

    private static uint RotateLeft(uint x, int k) => (x << k) | (x >> (32 - k));

    private static ulong SplitMix(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
