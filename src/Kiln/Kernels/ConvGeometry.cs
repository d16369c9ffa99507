using System;

namespace Kiln.Kernels;

/// <summary>
/// The static shape of a 2-D convolution (PyTorch's <c>nn.Conv2d</c>): input [C, H, W] per image, output
/// [OutChannels, OutHeight, OutWidth], weight [OutChannels, InChannels / Groups, KernelHeight, KernelWidth]. Padding may
/// differ per side (PyTorch's <c>padding="same"</c> with an even kernel pads one more at the bottom and right).
/// Images are stored channels-last (NHWC): a pixel's channels are contiguous.
/// </summary>
public sealed record ConvGeometry
{
    public ConvGeometry(int inChannels, int inHeight, int inWidth, int outChannels, int kernelHeight, int kernelWidth,
        int strideHeight, int strideWidth, int padTop, int padBottom, int padLeft, int padRight,
        int dilationHeight, int dilationWidth, int groups)
    {
        Positive(inChannels, nameof(inChannels));
        Positive(inHeight, nameof(inHeight));
        Positive(inWidth, nameof(inWidth));
        Positive(outChannels, nameof(outChannels));
        Positive(kernelHeight, nameof(kernelHeight));
        Positive(kernelWidth, nameof(kernelWidth));
        Positive(strideHeight, nameof(strideHeight));
        Positive(strideWidth, nameof(strideWidth));
        Positive(dilationHeight, nameof(dilationHeight));
        Positive(dilationWidth, nameof(dilationWidth));
        Positive(groups, nameof(groups));
        if (padTop < 0 || padBottom < 0 || padLeft < 0 || padRight < 0)
            throw new ArgumentOutOfRangeException(nameof(padTop), $"Padding cannot be negative (top {padTop}, bottom {padBottom}, left {padLeft}, right {padRight}).");
        if (inChannels % groups != 0 || outChannels % groups != 0)
            throw new ArgumentException($"Groups = {groups} must divide both the input channels ({inChannels}) and the output channels ({outChannels}).", nameof(groups));
        InChannels = inChannels; InHeight = inHeight; InWidth = inWidth; OutChannels = outChannels;
        KernelHeight = kernelHeight; KernelWidth = kernelWidth; StrideHeight = strideHeight; StrideWidth = strideWidth;
        PadTop = padTop; PadBottom = padBottom; PadLeft = padLeft; PadRight = padRight;
        DilationHeight = dilationHeight; DilationWidth = dilationWidth; Groups = groups;
        OutHeight = WindowCount(inHeight, kernelHeight, strideHeight, padTop + padBottom, dilationHeight);
        OutWidth = WindowCount(inWidth, kernelWidth, strideWidth, padLeft + padRight, dilationWidth);
        if (OutHeight < 1 || OutWidth < 1)
            throw new ArgumentException($"The convolution would produce a {Math.Max(0, OutHeight)}x{Math.Max(0, OutWidth)} map: input {inHeight}x{inWidth}, " +
                $"kernel {kernelHeight}x{kernelWidth}, stride {strideHeight}x{strideWidth}, padding {padTop}/{padBottom}/{padLeft}/{padRight}, dilation {dilationHeight}x{dilationWidth}.");
    }

    /// <summary>A square kernel with the same stride, padding and dilation in both directions (PyTorch's int arguments).</summary>
    public static ConvGeometry Square(int inChannels, int inHeight, int inWidth, int outChannels, int kernel,
        int stride = 1, int padding = 0, int dilation = 1, int groups = 1) =>
        new(inChannels, inHeight, inWidth, outChannels, kernel, kernel, stride, stride, padding, padding, padding, padding, dilation, dilation, groups);

    /// <summary>⌊(size + padding − dilation·(kernel − 1) − 1) / stride⌋ + 1, PyTorch's formula (≤ 0 when the window does not fit).</summary>
    public static int WindowCount(int size, int kernel, int stride, int totalPadding, int dilation)
    {
        long span = (long)size + totalPadding - (long)dilation * (kernel - 1) - 1;
        return span < 0 ? 0 : (int)Math.Min(int.MaxValue, span / stride + 1);
    }

    public int InChannels { get; }
    public int InHeight { get; }
    public int InWidth { get; }
    public int OutChannels { get; }
    public int OutHeight { get; }
    public int OutWidth { get; }
    public int KernelHeight { get; }
    public int KernelWidth { get; }
    public int StrideHeight { get; }
    public int StrideWidth { get; }
    public int PadTop { get; }
    public int PadBottom { get; }
    public int PadLeft { get; }
    public int PadRight { get; }
    public int DilationHeight { get; }
    public int DilationWidth { get; }
    public int Groups { get; }

    /// <summary>Input channels per group: the depth a filter sees at each tap.</summary>
    public int GroupInChannels => InChannels / Groups;
    /// <summary>Output channels per group.</summary>
    public int GroupOutChannels => OutChannels / Groups;
    /// <summary>Kernel positions (taps): KernelHeight × KernelWidth.</summary>
    public int Taps => KernelHeight * KernelWidth;
    public int InPixels => InHeight * InWidth;
    public int OutPixels => OutHeight * OutWidth;
    /// <summary>Values per input image.</summary>
    public int InputSize => InPixels * InChannels;
    /// <summary>Values per output image.</summary>
    public int OutputSize => OutPixels * OutChannels;
    /// <summary>Weight values: OutChannels × InChannels/Groups × KernelHeight × KernelWidth.</summary>
    public int WeightSize => OutChannels * GroupInChannels * Taps;
    /// <summary>Multiply-adds per image.</summary>
    public long MultiplyAdds => (long)OutPixels * OutChannels * GroupInChannels * Taps;

    /// <summary>A 1×1 convolution with stride 1 and no padding: a matrix product over pixels.</summary>
    public bool IsPointwise => KernelHeight == 1 && KernelWidth == 1 && StrideHeight == 1 && StrideWidth == 1
        && PadTop == 0 && PadBottom == 0 && PadLeft == 0 && PadRight == 0 && Groups == 1;

    /// <summary>One filter per channel (Groups = InChannels = OutChannels).</summary>
    public bool IsDepthwise => Groups == InChannels && OutChannels == InChannels && Groups > 1;

    public override string ToString() =>
        $"Conv2d {InChannels}x{InHeight}x{InWidth} -> {OutChannels}x{OutHeight}x{OutWidth}, kernel {KernelHeight}x{KernelWidth}, stride {StrideHeight}x{StrideWidth}, " +
        $"padding {PadTop}/{PadBottom}/{PadLeft}/{PadRight}, dilation {DilationHeight}x{DilationWidth}, groups {Groups}";

    private static void Positive(int value, string name)
    {
        if (value < 1) throw new ArgumentOutOfRangeException(name, value, $"{name} must be at least 1.");
    }
}

/// <summary>How a convolution's forward and input gradient compute.</summary>
public enum ConvAlgorithm
{
    /// <summary>Winograd F(4×4, 3×3) for 3×3, stride 1, padding 1, channel counts that are multiples of 8, in all three
    /// passes; im2col otherwise.</summary>
    Auto = 0,
    /// <summary>im2col gathered per micro-panel on the packed GEMM, always.</summary>
    Im2col = 1,
    /// <summary>Winograd F(2×2, 3×3) for every pass where Winograd applies; im2col otherwise.</summary>
    Winograd2x2 = 2,
    /// <summary>As <see cref="Auto"/>: F(4×4, 3×3) where Winograd applies.</summary>
    Winograd4x4 = 3,
}
