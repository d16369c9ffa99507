using System;
using Kiln.Kernels;

namespace Kiln.Testing;

/// <summary>
/// Double-precision convolution and pooling, written from the definitions (PyTorch's formulas) with plain loops over
/// channels-last images [images, H, W, C] and PyTorch's weight layout [out, in / groups, kh, kw]: the oracle the
/// kernels and the generated models are checked against.
/// </summary>
internal static class ReferenceConv
{
    /// <summary>The input pixel (ih, iw) tap (kh, kw) of output pixel (oh, ow) reads, and whether it lies inside the image.</summary>
    private static bool Source(ConvGeometry g, int oh, int ow, int kh, int kw, out int ih, out int iw)
    {
        ih = oh * g.StrideHeight - g.PadTop + kh * g.DilationHeight;
        iw = ow * g.StrideWidth - g.PadLeft + kw * g.DilationWidth;
        return ih >= 0 && ih < g.InHeight && iw >= 0 && iw < g.InWidth;
    }

    public static double[] Forward(ConvGeometry g, double[] x, double[] w, double[]? bias, int images)
    {
        int cin = g.GroupInChannels, cout = g.GroupOutChannels;
        var y = new double[images * g.OutputSize];
        for (int n = 0; n < images; n++)
            for (int oh = 0; oh < g.OutHeight; oh++)
                for (int ow = 0; ow < g.OutWidth; ow++)
                    for (int o = 0; o < g.OutChannels; o++)
                    {
                        int group = o / cout;
                        double sum = bias is null ? 0 : bias[o];
                        for (int kh = 0; kh < g.KernelHeight; kh++)
                            for (int kw = 0; kw < g.KernelWidth; kw++)
                            {
                                if (!Source(g, oh, ow, kh, kw, out int ih, out int iw)) continue;
                                for (int i = 0; i < cin; i++)
                                    sum += x[((n * g.InHeight + ih) * g.InWidth + iw) * g.InChannels + group * cin + i]
                                        * w[((o * cin + i) * g.KernelHeight + kh) * g.KernelWidth + kw];
                            }
                        y[((n * g.OutHeight + oh) * g.OutWidth + ow) * g.OutChannels + o] = sum;
                    }
        return y;
    }

    public static double[] BackwardInput(ConvGeometry g, double[] dy, double[] w, int images)
    {
        int cin = g.GroupInChannels, cout = g.GroupOutChannels;
        var dx = new double[images * g.InputSize];
        for (int n = 0; n < images; n++)
            for (int oh = 0; oh < g.OutHeight; oh++)
                for (int ow = 0; ow < g.OutWidth; ow++)
                    for (int o = 0; o < g.OutChannels; o++)
                    {
                        int group = o / cout;
                        double d = dy[((n * g.OutHeight + oh) * g.OutWidth + ow) * g.OutChannels + o];
                        for (int kh = 0; kh < g.KernelHeight; kh++)
                            for (int kw = 0; kw < g.KernelWidth; kw++)
                            {
                                if (!Source(g, oh, ow, kh, kw, out int ih, out int iw)) continue;
                                for (int i = 0; i < cin; i++)
                                    dx[((n * g.InHeight + ih) * g.InWidth + iw) * g.InChannels + group * cin + i]
                                        += d * w[((o * cin + i) * g.KernelHeight + kh) * g.KernelWidth + kw];
                            }
                    }
        return dx;
    }

    public static (double[] Weight, double[] Bias) BackwardParameters(ConvGeometry g, double[] x, double[] dy, int images)
    {
        int cin = g.GroupInChannels, cout = g.GroupOutChannels;
        var dw = new double[g.WeightSize];
        var db = new double[g.OutChannels];
        for (int n = 0; n < images; n++)
            for (int oh = 0; oh < g.OutHeight; oh++)
                for (int ow = 0; ow < g.OutWidth; ow++)
                    for (int o = 0; o < g.OutChannels; o++)
                    {
                        int group = o / cout;
                        double d = dy[((n * g.OutHeight + oh) * g.OutWidth + ow) * g.OutChannels + o];
                        db[o] += d;
                        for (int kh = 0; kh < g.KernelHeight; kh++)
                            for (int kw = 0; kw < g.KernelWidth; kw++)
                            {
                                if (!Source(g, oh, ow, kh, kw, out int ih, out int iw)) continue;
                                for (int i = 0; i < cin; i++)
                                    dw[((o * cin + i) * g.KernelHeight + kh) * g.KernelWidth + kw]
                                        += d * x[((n * g.InHeight + ih) * g.InWidth + iw) * g.InChannels + group * cin + i];
                            }
                    }
        return (dw, db);
    }

    /// <summary>Max (or average) pooling: each output the max (or the sum / divisor) of its window's in-image positions.</summary>
    public static double[] Pool(PoolGeometry g, double[] x, int images, bool max, bool countIncludePad = true)
    {
        var y = new double[images * g.OutputSize];
        for (int n = 0; n < images; n++)
            for (int oh = 0; oh < g.OutHeight; oh++)
                for (int ow = 0; ow < g.OutWidth; ow++)
                    for (int c = 0; c < g.Channels; c++)
                    {
                        double acc = max ? double.NegativeInfinity : 0;
                        int count = 0;
                        foreach (int at in Window(g, n, oh, ow, c))
                        {
                            acc = max ? Math.Max(acc, x[at]) : acc + x[at];
                            count++;
                        }
                        if (!max) acc /= countIncludePad ? g.KernelHeight * g.KernelWidth : count;
                        y[((n * g.OutHeight + oh) * g.OutWidth + ow) * g.Channels + c] = acc;
                    }
        return y;
    }

    /// <summary>The pooling backward: to the first maximum of each window, or spread over the window.</summary>
    public static double[] PoolBackward(PoolGeometry g, double[] x, double[] dy, int images, bool max, bool countIncludePad = true)
    {
        var dx = new double[images * g.InputSize];
        for (int n = 0; n < images; n++)
            for (int oh = 0; oh < g.OutHeight; oh++)
                for (int ow = 0; ow < g.OutWidth; ow++)
                    for (int c = 0; c < g.Channels; c++)
                    {
                        double d = dy[((n * g.OutHeight + oh) * g.OutWidth + ow) * g.Channels + c];
                        var window = new System.Collections.Generic.List<int>(Window(g, n, oh, ow, c));
                        if (max)
                        {
                            int best = window[0];
                            foreach (int at in window) if (x[at] > x[best]) best = at;
                            dx[best] += d;
                        }
                        else
                        {
                            foreach (int at in window) dx[at] += d / (countIncludePad ? g.KernelHeight * g.KernelWidth : window.Count);
                        }
                    }
        return dx;
    }

    private static System.Collections.Generic.IEnumerable<int> Window(PoolGeometry g, int n, int oh, int ow, int c)
    {
        for (int kh = 0; kh < g.KernelHeight; kh++)
            for (int kw = 0; kw < g.KernelWidth; kw++)
            {
                int ih = oh * g.StrideHeight - g.PadHeight + kh, iw = ow * g.StrideWidth - g.PadWidth + kw;
                if (ih >= 0 && ih < g.InHeight && iw >= 0 && iw < g.InWidth)
                    yield return ((n * g.InHeight + ih) * g.InWidth + iw) * g.Channels + c;
            }
    }

    /// <summary>Batch normalization over [rows, channels] with the batch's statistics (biased variance).</summary>
    public static double[] BatchNorm(double[] x, double[]? gamma, double[]? beta, int rows, int channels, double epsilon,
        out double[] mean, out double[] variance)
    {
        mean = new double[channels];
        variance = new double[channels];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < channels; c++) mean[c] += x[r * channels + c] / rows;
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < channels; c++) variance[c] += Math.Pow(x[r * channels + c] - mean[c], 2) / rows;
        var y = new double[x.Length];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < channels; c++)
                y[r * channels + c] = (x[r * channels + c] - mean[c]) / Math.Sqrt(variance[c] + epsilon) * (gamma?[c] ?? 1) + (beta?[c] ?? 0);
        return y;
    }

    public static double[] ToDouble(float[] values) => Array.ConvertAll(values, v => (double)v);
}
