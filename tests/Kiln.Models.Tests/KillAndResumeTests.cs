using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading;
using Xunit;
using Xunit.Abstractions;

namespace Kiln.Models.Tests;

/// <summary>
/// Nothing is lost when training dies: the MNIST sample runs as a child process with a training checkpoint every few
/// steps, is killed at random moments (possibly while it writes a checkpoint), restarted with --resume each time, and
/// must end exactly where an uninterrupted run ends: the same per-epoch losses and accuracies in its log, the same step
/// count and test accuracy, and byte-identical final weights.
/// </summary>
public sealed class KillAndResumeTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("kiln-kill-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_directory, recursive: true); } catch (IOException) { } // a killed child may still hold a file briefly
    }

    /// <summary>The sample as the solution builds it (the test project references it so that it is built first).</summary>
    private static string SampleDll()
    {
#if DEBUG
        const string configuration = "Debug";
#else
        const string configuration = "Release";
#endif
        string dll = Path.Combine(ChildProcess.RepositoryRoot(), "samples", "Mnist", "bin", configuration, "net10.0", "Mnist.dll");
        Assert.True(File.Exists(dll), $"{dll} is missing: build the solution (the test project's reference to samples/Mnist builds it).");
        return dll;
    }

    private static string Arguments(string prefix) =>
        $"\"{SampleDll()}\" --epochs 3 --train-samples 6000 --seed 4 --checkpoint-every 5 --resume --checkpoint \"{prefix}.safetensors\" --log \"{prefix}.csv\"";

    private static Process Start(string arguments, StringBuilder stdout)
    {
        var start = new ProcessStartInfo("dotnet", arguments) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (stdout) stdout.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (stdout) stdout.AppendLine(e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private static string RunToEnd(string arguments)
    {
        var stdout = new StringBuilder();
        using Process process = Start(arguments, stdout);
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(5)), "the sample timed out");
        process.WaitForExit(); // flush the output events
        Assert.True(process.ExitCode == 0, $"the sample exited {process.ExitCode}:\n{stdout}");
        return stdout.ToString();
    }

    [Fact]
    public void KilledAtRandomPoints_ResumesFromTheLastCheckpoint_WithTheSameLossesAsAnUninterruptedRun()
    {
        string reference = Path.Combine(_directory, "reference"), killed = Path.Combine(_directory, "killed");
        var clock = Stopwatch.StartNew();
        string uninterrupted = RunToEnd(Arguments(reference));
        double seconds = clock.Elapsed.TotalSeconds;

        int seed = Environment.GetEnvironmentVariable("KILN_KILL_SEED") is { } text ? int.Parse(text, System.Globalization.CultureInfo.InvariantCulture) : 20261122;
        var random = new Random(seed);
        output.WriteLine($"kill seed {seed} (set KILN_KILL_SEED to repeat); an uninterrupted run takes {seconds:F1} s");
        int killsDuringTraining = 0;
        var stages = new List<string>();
        for (int attempt = 0; attempt < 12 && killsDuringTraining < 3; attempt++)
        {
            var stdout = new StringBuilder();
            var run = Stopwatch.StartNew();
            using Process process = Start(Arguments(killed), stdout);
            // A random moment after the first training checkpoint exists (a kill before it only shows that a run with
            // nothing saved starts over; a fast host reaches it late in a short run): kills land mid-epoch, between
            // epochs, during validation, and some while a checkpoint is being written.
            bool exited = false;
            while (!File.Exists(killed + ".safetensors.training") && !(exited = process.WaitForExit(5))) { }
            long checkpointAt = run.ElapsedMilliseconds;
            int delay = (int)(checkpointAt + 1000 * seconds * (0.05 + 0.6 * random.NextDouble()));
            if (!exited) exited = process.WaitForExit(Math.Max(0, delay - (int)run.ElapsedMilliseconds));
            bool checkpointed = File.Exists(killed + ".safetensors.training");
            if (!exited)
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit();
                if (checkpointed) killsDuringTraining++;
                stages.Add($"killed after {delay} ms" + (checkpointed ? "" : " (before the first checkpoint)"));
            }
            else
            {
                process.WaitForExit();
                Assert.True(process.ExitCode == 0, $"the sample exited {process.ExitCode}:\n{stdout}");
                stages.Add($"finished in {run.ElapsedMilliseconds} ms, before the kill at {delay} ms");
                // The host ran it faster than the reference run (a shared machine's speed moves): time later kills by it.
                seconds = Math.Min(seconds, run.Elapsed.TotalSeconds);
                // Finished: start over from nothing (the kills so far no longer lead to the final result).
                killsDuringTraining = 0;
                foreach (string file in new[] { ".safetensors", ".safetensors.training", ".csv" }) File.Delete(killed + file);
            }
        }
        output.WriteLine(string.Join("; ", stages));
        Assert.True(killsDuringTraining >= 1, "no kill landed during training: " + string.Join("; ", stages));

        string resumed = RunToEnd(Arguments(killed));
        Assert.Contains("resumed from the last training checkpoint", resumed, StringComparison.Ordinal);

        // The same epochs, losses, accuracies and learning rates (the last column, seconds, differs).
        static string[] Log(string path) => File.ReadAllLines(path).Select(line => line[..line.LastIndexOf(',')]).ToArray();
        Assert.Equal(Log(reference + ".csv"), Log(killed + ".csv"));
        Assert.Equal(File.ReadAllBytes(reference + ".safetensors"), File.ReadAllBytes(killed + ".safetensors"));
        static string Result(string text) => text.Split('\n').Single(l => l.StartsWith("test accuracy:", StringComparison.Ordinal)).Split(" in ")[0];
        Assert.Equal(Result(uninterrupted), Result(resumed));
        output.WriteLine(Result(resumed));
    }
}
