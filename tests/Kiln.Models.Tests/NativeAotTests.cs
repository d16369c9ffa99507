using System;
using System.Diagnostics;
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
        string project = Path.Combine(RepositoryRoot(), "samples", "NativeAot", "NativeAot.csproj");
        string aot = Path.Combine(_directory, "aot"), jit = Path.Combine(_directory, "jit");
        Run("dotnet", $"publish \"{project}\" -c Release -o \"{aot}\" -nologo");
        Run("dotnet", $"publish \"{project}\" -c Release -o \"{jit}\" -p:PublishAot=false -nologo");

        string binary = Path.Combine(aot, "NativeAot");
        Assert.True(File.Exists(binary), "no native binary");
        Assert.False(File.Exists(Path.Combine(aot, "NativeAot.dll")), "the AOT publish left IL behind: it is not a native build");
        string[] native = Run(binary, "120").Split('\n', StringSplitOptions.RemoveEmptyEntries);
        string[] managed = Run(Path.Combine(jit, "NativeAot"), "120").Split('\n', StringSplitOptions.RemoveEmptyEntries);

        Assert.Equal("mode: NativeAOT", native[0]);
        Assert.Equal("mode: JIT", managed[0]);
        Assert.Equal($"kernels: {Kiln.Kernels.KernelInfo.Describe(Kiln.Kernels.KernelInfo.Best)}", native[1]);
        Assert.Contains(native, l => l.StartsWith("loss digest:", StringComparison.Ordinal));
        Assert.Equal(managed.Skip(1), native.Skip(1));
    }

    private static string Run(string file, string arguments)
    {
        var start = new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        using Process process = Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(8)), $"{file} {arguments} timed out");
        Assert.True(process.ExitCode == 0, $"{file} {arguments} exited {process.ExitCode}:\n{output}\n{error.Result}");
        return output.Replace("\r", "");
    }

    internal static string RepositoryRoot()
    {
        string? directory = AppContext.BaseDirectory;
        while (directory is not null && !File.Exists(Path.Combine(directory, "Compiler.sln")))
            directory = Path.GetDirectoryName(directory);
        return directory ?? throw new InvalidOperationException("Compiler.sln not found above the test directory.");
    }
}
