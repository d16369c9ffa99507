using System;

namespace Kiln.Data;

/// <summary>
/// Coloured shapes on textured backgrounds, 3×32×32 like CIFAR-10 (channels-first, values in [0, 1]), so the CNN
/// samples run with no download. The class is the shape — disc, ring, square, frame, triangle, diamond, plus,
/// cross, horizontal stripes, vertical stripes — never the colour: every sample draws its own colours (shape and
/// background at least a fixed distance apart), position, size, rotation, a background gradient and pixel noise,
/// and shapes are anti-aliased, so a model has to learn shape from local edges as on real images.
/// </summary>
public static class SyntheticShapes
{
    public const int Channels = 3;
    public const int Side = 32;
    public const int Size = Channels * Side * Side;
    public const int Classes = 10;

    /// <summary>The class names, in label order.</summary>
    public static readonly string[] Names =
        ["disc", "ring", "square", "frame", "triangle", "diamond", "plus", "cross", "horizontal stripes", "vertical stripes"];

    /// <summary>Renders <paramref name="count"/> samples, labels cycling through the classes in shuffled order.</summary>
    public static Dataset Generate(int count, int seed)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var random = new KilnRandom(seed);
        var pixels = new float[count * Size];
        var labels = new int[count];
        for (int i = 0; i < count; i++) labels[i] = i % Classes;
        random.Shuffle(labels);
        for (int i = 0; i < count; i++)
            Render(labels[i], random, pixels.AsSpan(i * Size, Size));
        return new Dataset(pixels, labels, Size, Classes);
    }

    /// <summary>Draws one sample of shape <paramref name="shape"/> into a [3, 32, 32] image.</summary>
    public static void Render(int shape, KilnRandom random, Span<float> image)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)shape, (uint)Classes, nameof(shape));
        ArgumentNullException.ThrowIfNull(random);
        if (image.Length != Size) throw new ArgumentException($"An image has {Size} values [3, 32, 32]; got {image.Length}.", nameof(image));

        Span<float> background = stackalloc float[3], foreground = stackalloc float[3], slope = stackalloc float[6];
        do
        {
            for (int c = 0; c < 3; c++) { background[c] = random.NextFloat(); foreground[c] = random.NextFloat(); }
        }
        while (Distance(background, foreground) < 0.45f);
        for (int i = 0; i < 6; i++) slope[i] = random.Uniform(-0.15f, 0.15f);

        float radius = random.Uniform(7f, 12f);
        float cx = random.Uniform(radius + 1, Side - radius - 1), cy = random.Uniform(radius + 1, Side - radius - 1);
        float angle = shape is 2 or 3 or 6 or 7 ? random.Uniform(-0.35f, 0.35f) : random.Uniform(-0.5f, 0.5f);
        float thickness = random.Uniform(0.18f, 0.3f); // of the radius: rings, frames, bars, stripes
        float cos = MathF.Cos(angle), sin = MathF.Sin(angle);
        float noise = random.Uniform(0.02f, 0.08f);

        for (int y = 0; y < Side; y++)
        {
            for (int x = 0; x < Side; x++)
            {
                // Coverage from 2×2 subsamples (anti-aliasing), in the shape's rotated unit frame.
                float coverage = 0;
                for (int sy = 0; sy < 2; sy++)
                    for (int sx = 0; sx < 2; sx++)
                    {
                        float px = x + 0.25f + 0.5f * sx - cx, py = y + 0.25f + 0.5f * sy - cy;
                        float u = (cos * px + sin * py) / radius, v = (-sin * px + cos * py) / radius;
                        if (Inside(shape, u, v, thickness)) coverage += 0.25f;
                    }
                float gx = (x - Side / 2f) / Side, gy = (y - Side / 2f) / Side;
                for (int c = 0; c < 3; c++)
                {
                    float back = background[c] + slope[c] * gx + slope[3 + c] * gy;
                    float value = back + coverage * (foreground[c] - back) + noise * random.Gaussian();
                    image[(c * Side + y) * Side + x] = Math.Clamp(value, 0f, 1f);
                }
            }
        }
    }

    private static bool Inside(int shape, float u, float v, float t)
    {
        float au = MathF.Abs(u), av = MathF.Abs(v), r2 = u * u + v * v;
        return shape switch
        {
            0 => r2 <= 1f,
            1 => r2 <= 1f && r2 >= (1 - 2 * t) * (1 - 2 * t),
            2 => au <= 0.85f && av <= 0.85f,
            3 => au <= 0.85f && av <= 0.85f && (au >= 0.85f - 1.6f * t || av >= 0.85f - 1.6f * t),
            4 => v <= 0.75f && v >= -1f + 1.75f * au,                // upright triangle
            5 => au + av <= 1f,
            6 => (au <= t && av <= 1f) || (av <= t && au <= 1f),
            7 => MathF.Abs(u - v) <= 1.41f * t && au <= 0.8f && av <= 0.8f || MathF.Abs(u + v) <= 1.41f * t && au <= 0.8f && av <= 0.8f,
            8 => au <= 1f && av <= 1f && ((int)MathF.Floor((v + 1f) / (2 * t)) & 1) == 0,
            9 => au <= 1f && av <= 1f && ((int)MathF.Floor((u + 1f) / (2 * t)) & 1) == 0,
            _ => false,
        };
    }

    private static float Distance(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        float sum = 0;
        for (int i = 0; i < a.Length; i++) sum += (a[i] - b[i]) * (a[i] - b[i]);
        return MathF.Sqrt(sum);
    }
}
