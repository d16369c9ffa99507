using System;
using System.Diagnostics;
using System.IO;
using Xunit;

namespace Kiln.Models.Tests;

/// <summary>What the end-to-end tests (NativeAOT, the package) share: the repository root, and running a program
/// (dotnet, or a binary they built) to completion with its output captured.</summary>
internal static class ChildProcess
{
    /// <summary>Runs <paramref name="file"/> and returns its standard output; fails the test on a timeout or a non-zero
    /// exit, with both streams in the message. The test host's MSBuild settings are kept out of child builds.</summary>
    public static string Run(string file, string arguments, string? directory = null)
    {
        var start = new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (directory is not null) start.WorkingDirectory = directory;
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment.Remove("MSBuildExtensionsPath");
        start.Environment.Remove("MSBUILD_EXE_PATH");
        start.Environment.Remove("MSBuildSDKsPath");
        using Process process = Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(8)), $"{file} {arguments} timed out");
        Assert.True(process.ExitCode == 0, $"{file} {arguments} exited {process.ExitCode}:\n{output}\n{error.Result}");
        return output.Replace("\r", "");
    }

    /// <summary>The folder holding Compiler.sln, above the test's directory.</summary>
    public static string RepositoryRoot()
    {
        string? directory = AppContext.BaseDirectory;
        while (directory is not null && !File.Exists(Path.Combine(directory, "Compiler.sln")))
            directory = Path.GetDirectoryName(directory);
        return directory ?? throw new InvalidOperationException("Compiler.sln not found above the test directory.");
    }
}
