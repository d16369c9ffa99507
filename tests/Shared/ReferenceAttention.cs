using System;

namespace Kiln.Testing;

/// <summary>Double-precision layer norm, RMS norm and multi-head attention, written from PyTorch's definitions with plain
/// loops: the oracle the kernels and the generated Transformer models are checked against.</summary>
internal static class ReferenceAttention
{
    /// <summary>nn.LayerNorm over the last dimension (biased variance); weight and bias may be null.</summary>
    public static double[] LayerNorm(double[] x, int rows, int width, double[]? weight, double[]? bias, double epsilon)
    {
        var y = new double[x.Length];
        for (int r = 0; r < rows; r++)
        {
            double mean = 0, variance = 0;
            for (int c = 0; c < width; c++) mean += x[r * width + c];
            mean /= width;
            for (int c = 0; c < width; c++) variance += (x[r * width + c] - mean) * (x[r * width + c] - mean);
            variance /= width;
            double inverse = 1 / Math.Sqrt(variance + epsilon);
            for (int c = 0; c < width; c++)
                y[r * width + c] = (x[r * width + c] - mean) * inverse * (weight?[c] ?? 1) + (bias?[c] ?? 0);
        }
        return y;
    }

    /// <summary>RMSNorm: x / √(mean(x²) + ε) · weight.</summary>
    public static double[] RmsNorm(double[] x, int rows, int width, double[]? weight, double epsilon)
    {
        var y = new double[x.Length];
        for (int r = 0; r < rows; r++)
        {
            double squares = 0;
            for (int c = 0; c < width; c++) squares += x[r * width + c] * x[r * width + c];
            double inverse = 1 / Math.Sqrt(squares / width + epsilon);
            for (int c = 0; c < width; c++) y[r * width + c] = x[r * width + c] * inverse * (weight?[c] ?? 1);
        }
        return y;
    }

    /// <summary>
    /// The attention core: for each sample b and head h, softmax(Q_h K_hᵀ/√d_k) with query i seeing keys [0, limit),
    /// limit = min(causal ? i + 1 : T_k, length_b), times <paramref name="keep"/> (a dropout multiplier per weight, or
    /// null), times V_h. Q is read as rows*T_q rows of stride <paramref name="queryStride"/> from offset
    /// <paramref name="qOffset"/>; K and V likewise with <paramref name="keyStride"/>. Output [rows, T_q, H·d_k].
    /// A query that sees no key outputs zeros.
    /// </summary>
    public static double[] Attention(double[] qSource, int qOffset, int queryStride, double[] kvSource, int kOffset, int vOffset, int keyStride,
        int rows, int heads, int headSize, int tq, int tk, bool causal, int[]? lengths, double[]? keep)
    {
        int width = heads * headSize;
        var output = new double[rows * tq * width];
        double scale = 1 / Math.Sqrt(headSize);
        var scores = new double[tk];
        for (int b = 0; b < rows; b++)
        for (int h = 0; h < heads; h++)
        for (int i = 0; i < tq; i++)
        {
            int limit = Math.Min(causal ? i + 1 : tk, lengths?[b] ?? tk);
            if (limit <= 0) continue;
            double max = double.NegativeInfinity;
            for (int j = 0; j < limit; j++)
            {
                double s = 0;
                for (int d = 0; d < headSize; d++)
                    s += qSource[qOffset + (b * tq + i) * queryStride + h * headSize + d] * scale * kvSource[kOffset + (b * tk + j) * keyStride + h * headSize + d];
                scores[j] = s;
                max = Math.Max(max, s);
            }
            double sum = 0;
            for (int j = 0; j < limit; j++) sum += scores[j] = Math.Exp(scores[j] - max);
            for (int j = 0; j < limit; j++)
            {
                double p = scores[j] / sum * (keep?[((b * heads + h) * tq + i) * tk + j] ?? 1);
                for (int d = 0; d < headSize; d++)
                    output[(b * tq + i) * width + h * headSize + d] += p * kvSource[vOffset + (b * tk + j) * keyStride + h * headSize + d];
            }
        }
        return output;
    }
}
