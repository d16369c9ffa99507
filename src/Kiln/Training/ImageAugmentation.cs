using System;

namespace Kiln.Training;

/// <summary>A change applied to the features of a training batch [rows, FeatureSize] in place (augmentation);
/// unlike <see cref="IBatchTransform"/> it leaves the targets alone, so it works with labels too.</summary>
public interface IFeatureTransform
{
    void Apply(Span<float> features, int rows);

    /// <summary>The transform's generator (a checkpoint saves its state), or null.</summary>
    KilnRandom? Random { get; }
}

/// <summary>
/// The standard CIFAR augmentation on channels-first images [channels, height, width], each sample drawn on its
/// own: a random crop of the image padded by <see cref="CropPadding"/> zeros on every side (torchvision's
/// <c>RandomCrop(32, padding=4)</c>, i.e. a shift by −p..p pixels in each direction with zeros shifted in), a
/// horizontal flip with probability 1/2 (<c>RandomHorizontalFlip</c>), and cutout (DeVries &amp; Taylor): a
/// <see cref="CutoutSize"/>-square, centred on a uniformly drawn pixel and clipped at the border, set to zero. The
/// order is crop, flip, cutout. No allocation per batch.
/// </summary>
public sealed class ImageAugmentation : IFeatureTransform
{
    private readonly float[] _scratch;

    public ImageAugmentation(int channels, int height, int width, int cropPadding = 4, bool horizontalFlip = true, int cutoutSize = 0, long seed = 1)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(channels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegative(cropPadding);
        ArgumentOutOfRangeException.ThrowIfNegative(cutoutSize);
        if (cropPadding >= Math.Min(height, width))
            throw new ArgumentOutOfRangeException(nameof(cropPadding), cropPadding, $"The crop padding must be less than the image side ({Math.Min(height, width)}).");
        (Channels, Height, Width, CropPadding, HorizontalFlip, CutoutSize) = (channels, height, width, cropPadding, horizontalFlip, cutoutSize);
        _scratch = new float[channels * height * width];
        Random = new KilnRandom(seed);
    }

    public int Channels { get; }
    public int Height { get; }
    public int Width { get; }
    public int CropPadding { get; }
    public bool HorizontalFlip { get; }
    public int CutoutSize { get; }
    public KilnRandom Random { get; }

    public int ImageSize => Channels * Height * Width;

    public void Apply(Span<float> features, int rows)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        if (features.Length < (long)rows * ImageSize)
            throw new ArgumentException($"{rows} images of [{Channels}, {Height}, {Width}] need {rows * ImageSize} values; the batch has {features.Length}.", nameof(features));
        for (int r = 0; r < rows; r++)
        {
            Span<float> image = features.Slice(r * ImageSize, ImageSize);
            int dy = CropPadding > 0 ? Random.Next(2 * CropPadding + 1) - CropPadding : 0;
            int dx = CropPadding > 0 ? Random.Next(2 * CropPadding + 1) - CropPadding : 0;
            bool flip = HorizontalFlip && (Random.NextUInt() & 1) != 0;
            if (dy != 0 || dx != 0 || flip) ShiftAndFlip(image, dy, dx, flip);
            if (CutoutSize > 0) Cutout(image, Random.Next(Height), Random.Next(Width));
        }
    }

    /// <summary>Output pixel (y, x) = input (y + dy, x + dx) of the (flipped) image, zero outside — the crop at
    /// offset (p + dy, p + dx) of the zero-padded image.</summary>
    private void ShiftAndFlip(Span<float> image, int dy, int dx, bool flip)
    {
        image.CopyTo(_scratch);
        image.Clear();
        int x0 = Math.Max(0, -dx), x1 = Math.Min(Width, Width - dx); // output columns with a source
        if (x1 <= x0) return;
        for (int c = 0; c < Channels; c++)
            for (int y = Math.Max(0, -dy); y < Math.Min(Height, Height - dy); y++)
            {
                ReadOnlySpan<float> source = _scratch.AsSpan((c * Height + y + dy) * Width, Width);
                Span<float> target = image.Slice((c * Height + y) * Width, Width);
                if (!flip)
                {
                    source.Slice(x0 + dx, x1 - x0).CopyTo(target.Slice(x0, x1 - x0));
                }
                else
                {
                    // The flipped image's column x is the original's Width − 1 − x.
                    for (int x = x0; x < x1; x++) target[x] = source[Width - 1 - (x + dx)];
                }
            }
    }

    private void Cutout(Span<float> image, int cy, int cx)
    {
        int y0 = Math.Max(0, cy - CutoutSize / 2), y1 = Math.Min(Height, cy - CutoutSize / 2 + CutoutSize);
        int x0 = Math.Max(0, cx - CutoutSize / 2), x1 = Math.Min(Width, cx - CutoutSize / 2 + CutoutSize);
        if (x1 <= x0) return;
        for (int c = 0; c < Channels; c++)
            for (int y = y0; y < y1; y++)
                image.Slice((c * Height + y) * Width + x0, x1 - x0).Clear();
    }
}
