using System;

namespace Kiln.Testing;

/// <summary>
/// Recurrent layers in double precision, written from PyTorch's documented equations (nn.RNN, nn.LSTM, nn.GRU with
/// batch_first=True; gate order i, f, g, o and r, z, n): the oracle for the kernels and for the generated models.
/// x is [n, T, F]; weights [G·H, F] and [G·H, H]; biases [G·H] or null. The initial state h0 (and c0) is [n, H] or
/// null for zeros; the final state is returned through hT (and cT).
/// </summary>
internal static class ReferenceRecurrent
{
    public enum Cell { RnnTanh, RnnRelu, Lstm, Gru }

    public static int Gates(Cell cell) => cell switch { Cell.Lstm => 4, Cell.Gru => 3, _ => 1 };

    /// <summary>Every step's hidden state [n, T, H] (or the last step's [n, H] when <paramref name="sequences"/> is false).</summary>
    public static double[] Forward(Cell cell, double[] x, int n, int T, int F, int H, double[] wIh, double[] wHh, double[]? bIh, double[]? bHh,
        bool sequences, double[]? h0, double[]? c0, out double[] hT, out double[] cT)
    {
        int G = Gates(cell);
        var h = new double[n * H];
        var c = new double[n * H];
        if (h0 is not null) Array.Copy(h0, h, h.Length);
        if (c0 is not null) Array.Copy(c0, c, c.Length);
        var y = new double[sequences ? n * T * H : n * H];
        var gi = new double[G * H];
        var gh = new double[G * H];
        for (int t = 0; t < T; t++)
        {
            var hNew = new double[n * H];
            for (int r = 0; r < n; r++)
            {
                for (int k = 0; k < G * H; k++)
                {
                    double si = bIh?[k] ?? 0, sh = bHh?[k] ?? 0;
                    for (int f = 0; f < F; f++) si += wIh[k * F + f] * x[(r * T + t) * F + f];
                    for (int j = 0; j < H; j++) sh += wHh[k * H + j] * h[r * H + j];
                    gi[k] = si;
                    gh[k] = sh;
                }
                for (int j = 0; j < H; j++)
                {
                    double hp = h[r * H + j];
                    switch (cell)
                    {
                        case Cell.RnnTanh: hNew[r * H + j] = Math.Tanh(gi[j] + gh[j]); break;
                        case Cell.RnnRelu: hNew[r * H + j] = Math.Max(0, gi[j] + gh[j]); break;
                        case Cell.Lstm:
                        {
                            double i = ReferenceMath.Sigmoid(gi[j] + gh[j]);
                            double fg = ReferenceMath.Sigmoid(gi[H + j] + gh[H + j]);
                            double g = Math.Tanh(gi[2 * H + j] + gh[2 * H + j]);
                            double o = ReferenceMath.Sigmoid(gi[3 * H + j] + gh[3 * H + j]);
                            double cn = fg * c[r * H + j] + i * g;
                            c[r * H + j] = cn;
                            hNew[r * H + j] = o * Math.Tanh(cn);
                            break;
                        }
                        default:
                        {
                            double rg = ReferenceMath.Sigmoid(gi[j] + gh[j]);
                            double z = ReferenceMath.Sigmoid(gi[H + j] + gh[H + j]);
                            double nn = Math.Tanh(gi[2 * H + j] + rg * gh[2 * H + j]);
                            hNew[r * H + j] = (1 - z) * nn + z * hp;
                            break;
                        }
                    }
                }
            }
            h = hNew;
            if (sequences)
                for (int r = 0; r < n; r++) Array.Copy(h, r * H, y, (r * T + t) * H, H);
        }
        if (!sequences) Array.Copy(h, y, h.Length);
        hT = h;
        cT = c;
        return y;
    }

    /// <summary>y[i, :] = table[tokens[i], :].</summary>
    public static double[] Embedding(int[] tokens, double[] table, int dimension)
    {
        var y = new double[tokens.Length * dimension];
        for (int i = 0; i < tokens.Length; i++) Array.Copy(table, tokens[i] * dimension, y, i * dimension, dimension);
        return y;
    }
}
