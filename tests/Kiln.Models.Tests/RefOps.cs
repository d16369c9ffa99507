using System;
using System.Collections.Generic;
using System.Linq;

namespace Kiln.Models.Tests;

/// <summary>Double-precision reference ops: the oracle for the generated float32 forward and backward.</summary>
internal static class RefOps
{
    public static double[] Dense(double[] x, IReadOnlyDictionary<string, double[]> p, string name, int inF, int outF, bool bias = true)
    {
        int rows = x.Length / inF;
        double[] w = p[name + ".weight"];
        double[]? b = bias ? p[name + ".bias"] : null;
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
    public static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));
    public static double Gelu(double x) => 0.5 * x * (1 + Erf(x / Math.Sqrt(2)));
    public static double GeluTanh(double x) => 0.5 * x * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));

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

    public static double[] ToDouble(ReadOnlySpan<float> values)
    {
        var result = new double[values.Length];
        for (int i = 0; i < values.Length; i++) result[i] = values[i];
        return result;
    }

    /// <summary>erf to double precision (Taylor series, and the complement's continued fraction for |x| ≥ 2.5).</summary>
    public static double Erf(double x)
    {
        double ax = Math.Abs(x), result;
        if (ax < 2.5)
        {
            double sum = 0, term = ax;
            for (int n = 0; n < 200 && Math.Abs(term) > 1e-18; n++)
            {
                sum += term / (2 * n + 1);
                term *= -ax * ax / (n + 1);
            }
            result = 2 / Math.Sqrt(Math.PI) * sum;
        }
        else
        {
            double f = ax, c = ax, d = 0;
            for (int n = 1; n < 300; n++)
            {
                double an = n / 2.0;
                d = 1 / (ax + an * d);
                c = ax + an / c;
                double delta = c * d;
                f *= delta;
                if (Math.Abs(delta - 1) < 1e-16) break;
            }
            result = 1 - Math.Exp(-ax * ax) / Math.Sqrt(Math.PI) / f;
        }
        return x < 0 ? -result : result;
    }
}
