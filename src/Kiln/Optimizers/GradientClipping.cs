using System;
using System.Numerics.Tensors;

namespace Kiln.Optimizers;

/// <summary>Gradient clipping, as PyTorch's <c>clip_grad_norm_</c> and <c>clip_grad_value_</c>, over the flat gradient buffer.</summary>
public static class GradientClipping
{
    /// <summary>
    /// Scales every gradient by min(1, maxNorm / (‖g‖₂ + 1e−6)) when the global L2 norm exceeds <paramref name="maxNorm"/>;
    /// returns the norm before clipping (as PyTorch, which also returns it). A non-finite norm is returned without
    /// scaling, so the caller can see it.
    /// </summary>
    public static float ClipByGlobalNorm(Span<float> gradients, float maxNorm)
    {
        if (!(maxNorm > 0f)) throw new ArgumentOutOfRangeException(nameof(maxNorm), maxNorm, "The maximum norm must be > 0.");
        float norm = TensorPrimitives.Norm(gradients);
        if (!float.IsFinite(norm)) return norm;
        float scale = maxNorm / (norm + 1e-6f);
        if (scale < 1f) TensorPrimitives.Multiply(gradients, scale, gradients);
        return norm;
    }

    /// <summary>Clamps every gradient to [−<paramref name="clipValue"/>, <paramref name="clipValue"/>].</summary>
    public static void ClipByValue(Span<float> gradients, float clipValue)
    {
        if (!(clipValue > 0f)) throw new ArgumentOutOfRangeException(nameof(clipValue), clipValue, "The clip value must be > 0.");
        TensorPrimitives.Clamp(gradients, -clipValue, clipValue, gradients);
    }
}
