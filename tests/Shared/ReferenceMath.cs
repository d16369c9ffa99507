using System;

namespace Kiln.Testing;

/// <summary>Double-precision reference functions shared by the runtime and model tests (linked into both).</summary>
internal static class ReferenceMath
{
    public static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));

    public static double Gelu(double x) => 0.5 * x * (1 + Erf(x / Math.Sqrt(2)));

    public static double GeluGrad(double x) => 0.5 * (1 + Erf(x / Math.Sqrt(2))) + x * Math.Exp(-0.5 * x * x) / Math.Sqrt(2 * Math.PI);

    public static double GeluTanh(double x) => 0.5 * x * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));

    public static double GeluTanhGrad(double x)
    {
        double t = Math.Tanh(Math.Sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x));
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * Math.Sqrt(2 / Math.PI) * (1 + 3 * 0.044715 * x * x);
    }

    /// <summary>erf to double precision: Taylor series below 2.5, the complement's continued fraction (Lentz) above.</summary>
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
