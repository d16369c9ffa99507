using System;
using System.IO;
using System.Linq;
using Xunit;

namespace Kiln.Models.Tests;

/// <summary>
/// The NativeAOT sample publishes as a single native binary here, runs on the best kernel variant, and its
/// results (losses, weights, accuracy) match a JIT build of the same program bit for bit.
/// </summary>
public sealed class NativeAotTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "kiln-aot-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_directory)) Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public void NativeAotBinary_PublishesRuns_AndMatchesTheJitBuild()
    {
        string project = Path.Combine(ChildProcess.RepositoryRoot(), "samples", "NativeAot", "NativeAot.csproj");
        string aot = Path.Combine(_directory, "aot"), jit = Path.Combine(_directory, "jit");
        ChildProcess.Run("dotnet", $"publish \"{project}\" -c Release -o \"{aot}\" -nologo");
        ChildProcess.Run("dotnet", $"publish \"{project}\" -c Release -o \"{jit}\" -p:PublishAot=false -nologo");

        string binary = Path.Combine(aot, "NativeAot");
        Assert.True(File.Exists(binary), "no native binary");
        Assert.False(File.Exists(Path.Combine(aot, "NativeAot.dll")), "the AOT publish left IL behind: it is not a native build");
        string[] native = ChildProcess.Run(binary, "120").Split('\n', StringSplitOptions.RemoveEmptyEntries);
        string[] managed = ChildProcess.Run(Path.Combine(jit, "NativeAot"), "120").Split('\n', StringSplitOptions.RemoveEmptyEntries);

        Assert.Equal("mode: NativeAOT", native[0]);
        Assert.Equal("mode: JIT", managed[0]);
        Assert.Equal($"kernels: {Kiln.Kernels.KernelInfo.Describe(Kiln.Kernels.KernelInfo.Best)}", native[1]);
        Assert.Contains(native, l => l.StartsWith("loss digest:", StringComparison.Ordinal));
        Assert.Equal(managed.Skip(1), native.Skip(1));
    }
}
