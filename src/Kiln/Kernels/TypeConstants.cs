namespace Kiln.Kernels;

/// <summary>
/// An integer known from a type: a kernel generic over <c>TRows : IConstant</c> is compiled once per value, with
/// the value folded into its code (the JIT and the NativeAOT compiler specialise generic code per struct argument),
/// so one kernel body gives straight-line code for every tile height. The generator uses the same mechanism to
/// pass a layer's shape to its kernels.
/// </summary>
public interface IConstant
{
    static abstract int Value { get; }
}

/// <summary>1 as a type.</summary>
public readonly struct Const1 : IConstant { public static int Value => 1; }
/// <summary>2 as a type.</summary>
public readonly struct Const2 : IConstant { public static int Value => 2; }
/// <summary>3 as a type.</summary>
public readonly struct Const3 : IConstant { public static int Value => 3; }
/// <summary>4 as a type.</summary>
public readonly struct Const4 : IConstant { public static int Value => 4; }
/// <summary>6 as a type.</summary>
public readonly struct Const6 : IConstant { public static int Value => 6; }
/// <summary>8 as a type.</summary>
public readonly struct Const8 : IConstant { public static int Value => 8; }
/// <summary>10 as a type.</summary>
public readonly struct Const10 : IConstant { public static int Value => 10; }
/// <summary>12 as a type.</summary>
public readonly struct Const12 : IConstant { public static int Value => 12; }
/// <summary>16 as a type.</summary>
public readonly struct Const16 : IConstant { public static int Value => 16; }

/// <summary>
/// A GEMM's sizes as type-level constants (C[M, N], depth K): code generic over a shape is compiled once per shape
/// with the sizes folded in (see <c>Gemm.Run&lt;TShape, TAct&gt;</c>).
/// </summary>
public interface IGemmShape
{
    static abstract int M { get; }
    static abstract int N { get; }
    static abstract int K { get; }
}

/// <summary>No static shape: the sizes are the run-time arguments (M = N = K = -1 marks it).</summary>
public readonly struct RuntimeShape : IGemmShape
{
    public static int M => -1;
    public static int N => -1;
    public static int K => -1;
}
