using System;
using System.Collections.Generic;
using System.Linq;

namespace Kiln.Models.Tests;

/// <summary>Double-precision reference ops: the oracle for the generated float32 forward and backward.</summary>
internal static class RefOps
{
    public static double[] Dense(double[] x, IReadOnlyDictionary<string, double[]> p, string name, int inF, int outF, bool bias = true) =>
        Dense(x, p[name + ".weight"], bias ? p[name + ".bias"] : null, inF, outF);

    /// <summary>y = x·wᵀ + b over rows of <paramref name="inF"/> (w in PyTorch's [out, in] layout; b may be null).</summary>
    public static double[] Dense(double[] x, double[] w, double[]? b, int inF, int outF)
    {
        int rows = x.Length / inF;
        var y = new double[rows * outF];
        for (int r = 0; r < rows; r++)
            for (int o = 0; o < outF; o++)
            {
                double s = b?[o] ?? 0;
                for (int i = 0; i < inF; i++) s += x[r * inF + i] * w[o * inF + i];
                y[r * outF + o] = s;
            }
        return y;
    }

    public static double[] Map(double[] x, Func<double, double> f) => x.Select(f).ToArray();

    public static double[] Add(double[] a, double[] b) => a.Zip(b, (u, v) => u + v).ToArray();

    public static double Relu(double x) => Math.Max(x, 0);
    public static double Sigmoid(double x) => Kiln.Testing.ReferenceMath.Sigmoid(x);
    public static double Gelu(double x) => Kiln.Testing.ReferenceMath.Gelu(x);
    public static double GeluTanh(double x) => Kiln.Testing.ReferenceMath.GeluTanh(x);

    public static double[] Softmax(double[] x, int width)
    {
        var y = new double[x.Length];
        for (int r = 0; r < x.Length / width; r++)
        {
            double max = Enumerable.Range(0, width).Max(j => x[r * width + j]);
            double sum = Enumerable.Range(0, width).Sum(j => Math.Exp(x[r * width + j] - max));
            for (int j = 0; j < width; j++) y[r * width + j] = Math.Exp(x[r * width + j] - max) / sum;
        }
        return y;
    }

    public static double Mse(double[] prediction, float[] target) =>
        prediction.Select((p, i) => (p - target[i]) * (p - target[i])).Sum() / prediction.Length;

    public static double CrossEntropy(double[] logits, int[] labels, int classes)
    {
        double total = 0;
        for (int r = 0; r < labels.Length; r++)
        {
            double max = Enumerable.Range(0, classes).Max(j => logits[r * classes + j]);
            double sum = Enumerable.Range(0, classes).Sum(j => Math.Exp(logits[r * classes + j] - max));
            total += Math.Log(sum) + max - logits[r * classes + labels[r]];
        }
        return total / labels.Length;
    }

    public static double L1(double[] prediction, float[] target, bool sum = false) =>
        prediction.Select((p, i) => Math.Abs(p - target[i])).Sum() / (sum ? 1 : prediction.Length);

    public static double Huber(double[] prediction, float[] target, double delta) =>
        prediction.Select((p, i) =>
        {
            double d = Math.Abs(p - target[i]);
            return d < delta ? 0.5 * d * d : delta * (d - 0.5 * delta);
        }).Sum() / prediction.Length;

    public static double MseSum(double[] prediction, float[] target) => Mse(prediction, target) * prediction.Length;

    public static double BinaryCrossEntropyWithLogits(double[] logits, float[] target) =>
        logits.Select((x, i) => -(target[i] * Math.Log(Sigmoid(x)) + (1 - target[i]) * Math.Log(1 - Sigmoid(x)))).Sum() / logits.Length;

    /// <summary>torchvision's sigmoid_focal_loss, mean over elements, straight from its definition.</summary>
    public static double BinaryFocal(double[] logits, float[] target, double gamma, double alpha) =>
        logits.Select((x, i) =>
        {
            double p = Sigmoid(x), t = target[i];
            double ce = -(t * Math.Log(p) + (1 - t) * Math.Log(1 - p));
            double pt = p * t + (1 - p) * (1 - t);
            return (alpha * t + (1 - alpha) * (1 - t)) * ce * Math.Pow(1 - pt, gamma);
        }).Sum() / logits.Length;

    /// <summary>Multi-class focal loss −α(1 − p_y)^γ log p_y, mean over rows.</summary>
    public static double Focal(double[] logits, int[] labels, int classes, double gamma, double alpha)
    {
        double[] p = Softmax(logits, classes);
        return labels.Select((y, r) => -alpha * Math.Pow(1 - p[r * classes + y], gamma) * Math.Log(p[r * classes + y])).Sum() / labels.Length;
    }

    /// <summary>Cross-entropy against a distribution q per row (smoothed with ε), mean over rows unless summed.</summary>
    public static double SoftCrossEntropy(double[] logits, double[] q, int classes, double smoothing, bool sum)
    {
        double[] p = Softmax(logits, classes);
        int rows = logits.Length / classes;
        double total = 0;
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < classes; c++)
                total -= ((1 - smoothing) * q[r * classes + c] + smoothing / classes) * Math.Log(p[r * classes + c]);
        return total / (sum ? 1 : rows);
    }

    public static double[] OneHot(int[] labels, int classes)
    {
        var q = new double[labels.Length * classes];
        for (int r = 0; r < labels.Length; r++) q[r * classes + labels[r]] = 1;
        return q;
    }

    public static double[] ToDouble(ReadOnlySpan<float> values)
    {
        var result = new double[values.Length];
        for (int i = 0; i < values.Length; i++) result[i] = values[i];
        return result;
    }

    // ---- images (channels-last inside, as the kernels keep them; the model's input and flatten are channels-first) ----

    /// <summary>[n, C, H·W] → [n, H·W, C].</summary>
    public static double[] ToChannelsLast(double[] nchw, int images, int channels, int pixels)
    {
        var y = new double[nchw.Length];
        for (int n = 0; n < images; n++)
            for (int c = 0; c < channels; c++)
                for (int p = 0; p < pixels; p++) y[(n * pixels + p) * channels + c] = nchw[(n * channels + c) * pixels + p];
        return y;
    }

    /// <summary>[n, H·W, C] → [n, C, H·W] (PyTorch's flatten order).</summary>
    public static double[] ToChannelsFirst(double[] nhwc, int images, int channels, int pixels)
    {
        var y = new double[nhwc.Length];
        for (int n = 0; n < images; n++)
            for (int c = 0; c < channels; c++)
                for (int p = 0; p < pixels; p++) y[(n * channels + c) * pixels + p] = nhwc[(n * pixels + p) * channels + c];
        return y;
    }

    public static double[] Conv(double[] x, IReadOnlyDictionary<string, double[]> p, string name, Kiln.Kernels.ConvGeometry g, int images, bool bias = true) =>
        Kiln.Testing.ReferenceConv.Forward(g, x, p[name + ".weight"], bias ? p[name + ".bias"] : null, images);

    /// <summary>Batch norm with the batch's statistics over [rows, channels].</summary>
    public static double[] BatchNorm(double[] x, IReadOnlyDictionary<string, double[]> p, string name, int channels, double epsilon = 1e-5) =>
        Kiln.Testing.ReferenceConv.BatchNorm(x, p[name + ".weight"], p[name + ".bias"], x.Length / channels, channels, epsilon, out _, out _);

    public static double[] GlobalAverage(double[] x, int images, int pixels, int channels)
    {
        var y = new double[images * channels];
        for (int n = 0; n < images; n++)
            for (int q = 0; q < pixels; q++)
                for (int c = 0; c < channels; c++) y[n * channels + c] += x[(n * pixels + q) * channels + c] / pixels;
        return y;
    }

    /// <summary>Rows of a and b side by side.</summary>
    public static double[] Concat(double[] a, double[] b, int widthA, int widthB)
    {
        int rows = a.Length / widthA;
        var y = new double[rows * (widthA + widthB)];
        for (int r = 0; r < rows; r++)
        {
            Array.Copy(a, r * widthA, y, r * (widthA + widthB), widthA);
            Array.Copy(b, r * widthB, y, r * (widthA + widthB) + widthA, widthB);
        }
        return y;
    }
}
