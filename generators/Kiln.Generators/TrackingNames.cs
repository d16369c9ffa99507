namespace Kiln.Generators;

/// <summary>Names of the tracked pipeline steps, so caching tests can assert each one.</summary>
public static class TrackingNames
{
    public const string Declarations = nameof(Declarations);
    public const string Compiled = nameof(Compiled);
    public const string Sources = nameof(Sources);
    public const string Diagnostics = nameof(Diagnostics);
    public const string Blocks = nameof(Blocks);
    public const string BlockList = nameof(BlockList);
    public const string CompiledBlocks = nameof(CompiledBlocks);
}
