// netstandard2.0 lacks the types that records and init accessors need; the compiler only needs them to exist.
namespace System.Runtime.CompilerServices
{
    internal static class IsExternalInit { }
}
