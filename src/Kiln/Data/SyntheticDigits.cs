using System;

namespace Kiln.Data;

/// <summary>
/// Handwriting-like digits rendered procedurally, 28×28 like MNIST, so samples run with no download. Each
/// digit is a set of pen strokes; every sample draws them with its own rotation, scale, shear, offset, stroke
/// width and per-point wobble, then adds pixel noise — so the classes overlap and accuracy means something.
/// </summary>
public static class SyntheticDigits
{
    public const int Side = 28;
    public const int Size = Side * Side;
    public const int Classes = 10;

    // Strokes in a unit box (x right, y down), each a polyline.
    private static readonly float[][][] Strokes =
    [
        [Ellipse(0.5f, 0.5f, 0.26f, 0.36f, 18)],
        [[0.36f, 0.26f, 0.52f, 0.12f, 0.52f, 0.88f]],
        [[0.26f, 0.3f, 0.36f, 0.15f, 0.56f, 0.12f, 0.72f, 0.24f, 0.7f, 0.42f, 0.26f, 0.86f, 0.78f, 0.86f]],
        [[0.26f, 0.16f, 0.7f, 0.16f, 0.46f, 0.44f, 0.7f, 0.58f, 0.66f, 0.82f, 0.46f, 0.88f, 0.24f, 0.8f]],
        [[0.62f, 0.88f, 0.62f, 0.12f, 0.2f, 0.62f, 0.82f, 0.62f]],
        [[0.74f, 0.12f, 0.32f, 0.12f, 0.28f, 0.46f, 0.58f, 0.42f, 0.74f, 0.6f, 0.62f, 0.84f, 0.26f, 0.84f]],
        [[0.66f, 0.12f, 0.38f, 0.32f, 0.28f, 0.64f, 0.4f, 0.87f, 0.62f, 0.86f, 0.72f, 0.66f, 0.56f, 0.5f, 0.3f, 0.58f]],
        [[0.22f, 0.13f, 0.78f, 0.13f, 0.42f, 0.88f], [0.36f, 0.5f, 0.68f, 0.5f]],
        [Ellipse(0.5f, 0.3f, 0.19f, 0.17f, 14), Ellipse(0.5f, 0.68f, 0.23f, 0.2f, 14)],
        [Ellipse(0.48f, 0.32f, 0.21f, 0.19f, 14), [0.69f, 0.32f, 0.64f, 0.88f]],
    ];

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

    /// <summary>Draws one sample of <paramref name="digit"/> into a 28×28 image.</summary>
    public static void Render(int digit, KilnRandom random, Span<float> image)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)digit, (uint)Classes, nameof(digit));
        if (image.Length != Size) throw new ArgumentException($"An image has {Size} pixels; got {image.Length}.", nameof(image));

        float angle = random.Uniform(-0.3f, 0.3f);
        float scale = random.Uniform(0.75f, 1.05f) * Side;
        float aspect = random.Uniform(0.8f, 1.15f);
        float shear = random.Uniform(-0.3f, 0.3f);
        float dx = random.Uniform(-2.5f, 2.5f), dy = random.Uniform(-2.5f, 2.5f);
        float width = random.Uniform(0.9f, 1.9f);
        float cos = MathF.Cos(angle), sin = MathF.Sin(angle);

        // Transform every stroke point once (with a small wobble per point), into pixel coordinates.
        float[][] strokes = Strokes[digit];
        Span<float> points = stackalloc float[64];
        image.Clear();
        foreach (float[] stroke in strokes)
        {
            int n = stroke.Length / 2;
            for (int p = 0; p < n; p++)
            {
                float u = stroke[2 * p] - 0.5f + random.Uniform(-0.05f, 0.05f);
                float v = stroke[2 * p + 1] - 0.5f + random.Uniform(-0.05f, 0.05f);
                u = (u + shear * v) * aspect;
                points[2 * p] = Side / 2f + dx + scale * (cos * u - sin * v);
                points[2 * p + 1] = Side / 2f + dy + scale * (sin * u + cos * v);
            }
            for (int s = 0; s + 1 < n; s++)
                DrawSegment(image, points[2 * s], points[2 * s + 1], points[2 * s + 2], points[2 * s + 3], width);
        }

        // A stray pen mark on about a third of the samples.
        if (random.NextFloat() < 0.35f)
        {
            float sx = random.Uniform(2f, Side - 2f), sy = random.Uniform(2f, Side - 2f);
            float length = random.Uniform(3f, 9f), direction = random.Uniform(0f, 2 * MathF.PI);
            DrawSegment(image, sx, sy, sx + length * MathF.Cos(direction), sy + length * MathF.Sin(direction), random.Uniform(0.6f, 1.4f));
        }

        float noise = random.Uniform(0.05f, 0.2f);
        for (int i = 0; i < image.Length; i++)
            image[i] = Math.Clamp(image[i] + noise * random.Gaussian(), 0f, 1f);
    }

    private static void DrawSegment(Span<float> image, float x0, float y0, float x1, float y1, float width)
    {
        int minX = Math.Max(0, (int)MathF.Floor(MathF.Min(x0, x1) - width - 1));
        int maxX = Math.Min(Side - 1, (int)MathF.Ceiling(MathF.Max(x0, x1) + width + 1));
        int minY = Math.Max(0, (int)MathF.Floor(MathF.Min(y0, y1) - width - 1));
        int maxY = Math.Min(Side - 1, (int)MathF.Ceiling(MathF.Max(y0, y1) + width + 1));
        float ex = x1 - x0, ey = y1 - y0;
        float lengthSquared = MathF.Max(ex * ex + ey * ey, 1e-6f);
        for (int y = minY; y <= maxY; y++)
        {
            for (int x = minX; x <= maxX; x++)
            {
                float px = x + 0.5f - x0, py = y + 0.5f - y0;
                float t = Math.Clamp((px * ex + py * ey) / lengthSquared, 0f, 1f);
                float qx = px - t * ex, qy = py - t * ey;
                float distance = MathF.Sqrt(qx * qx + qy * qy);
                float ink = Math.Clamp(width - distance + 0.5f, 0f, 1f); // anti-aliased edge one pixel wide
                ref float pixel = ref image[y * Side + x];
                if (ink > pixel) pixel = ink;
            }
        }
    }

    private static float[] Ellipse(float cx, float cy, float rx, float ry, int segments)
    {
        var points = new float[2 * (segments + 1)];
        for (int i = 0; i <= segments; i++)
        {
            float a = 2 * MathF.PI * i / segments;
            points[2 * i] = cx + rx * MathF.Sin(a);
            points[2 * i + 1] = cy - ry * MathF.Cos(a);
        }
        return points;
    }
}
