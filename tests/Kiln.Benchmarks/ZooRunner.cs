using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json;
using System.Threading;
using Kiln.Kernels;
using Kiln.Zoo;

namespace Kiln.Benchmarks;

/// <summary>
/// The zoo side by side: Kiln (in this process), PyTorch eager and PyTorch traced + frozen (pytorch/zoo.py workers)
/// and ONNX Runtime (onnx/zoo.mjs workers), one worker process per side and thread count, all driven from here in
/// interleaved rounds so that every side sees the same clock and the same neighbours. Each round times a run of
/// iterations and keeps its median; the table shows the median of the round medians and, for each ratio, the range
/// of the per-round ratios. Then fresh processes measure the peak working set of training. Run it through
/// <c>tests/Kiln.Benchmarks/zoo-vs-pytorch.sh</c>, which installs PyTorch and ONNX Runtime when missing.
/// </summary>
public static class ZooRunner
{
    private static readonly string[] Modes = { "train", "infer", "infer1" };

    private sealed record Row(string Model, string Mode, int Threads, double Kiln, double[] KilnRounds,
        Dictionary<string, (double Median, double Low, double High)> Others, double Flops, int Samples);

    public static void Run(string[] args)
    {
        string root = Option(args, "--root") ?? Directory.GetCurrentDirectory();
        int rounds = int.Parse(Option(args, "--rounds") ?? "7", CultureInfo.InvariantCulture);
        int[] threads = (Option(args, "--threads") ?? "1,2").Split(',').Select(int.Parse).ToArray();
        string[] models = (Option(args, "--models") ?? string.Join(",", ZooModels.All.Select(e => e.Id))).Split(',');
        string onnxDirectory = Option(args, "--onnx") ?? Path.Combine(root, "tests/Kiln.Benchmarks/onnx/models");
        string? markdown = Option(args, "--markdown");

        double peak = FmaPeak.Measure(best: true);
        Console.WriteLine($"Zoo side by side, {DateTime.UtcNow:yyyy-MM-dd} UTC; FMA peak {peak:F1} GFLOP/s per core ({KernelInfo.Describe(KernelInfo.Best)}); " +
            $"{rounds} interleaved rounds; cores: {Environment.ProcessorCount}");

        var rows = new List<Row>();
        var generation = new List<string>();
        foreach (int t in threads)
        {
            using var torch = Worker.Start("PyTorch", "/usr/bin/python3", $"\"{Path.Combine(root, "tests/Kiln.Benchmarks/pytorch/zoo.py")}\" --serve", t, root);
            using var ort = Worker.Start("ONNX Runtime", "node", $"\"{Path.Combine(root, "tests/Kiln.Benchmarks/onnx/zoo.mjs")}\" \"{onnxDirectory}\"", t, root);
            foreach (string id in models)
            {
                ZooEntry entry = ZooModels.Find(id);
                using IZooModel kiln = entry.Create(1);
                kiln.Threads = t;
                foreach (string mode in Modes)
                    rows.Add(Measure(entry, kiln, mode, t, rounds, torch, ort));
                if (kiln is IGenerativeZooModel generative)
                    generation.Add(MeasureGeneration(entry, generative, t, rounds, torch));
            }
        }

        var table = new StringBuilder();
        table.AppendLine("| model | mode | threads | Kiln ms | PyTorch ms | PyTorch / Kiln | PyTorch jit ms | jit / Kiln | ONNX Runtime ms | ORT / Kiln | Kiln samples/s | Kiln GFLOP/s | of peak |");
        table.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (Row r in rows)
        {
            double gflops = r.Flops / (r.Kiln * 1e-6) / 1e9;
            table.AppendLine($"| {r.Model} | {Describe(r.Mode, ZooModels.Find(r.Model))} | {r.Threads} | {r.Kiln / 1000:F3} | " +
                $"{Cell(r, "eager")} | {Cell(r, "jit")} | {Cell(r, "ort")} | {r.Samples / (r.Kiln * 1e-6):N0} | {gflops:F1} | {gflops / (peak * r.Threads):P0} |");
        }
        Console.WriteLine();
        Console.Write(table);
        Console.WriteLine("(ratio > 1: Kiln faster; in brackets the range of the per-round ratios; — : that side has no such mode; Kiln's inference reads its Dense weights packed once by PackWeights)");

        var generated = new StringBuilder();
        if (generation.Count > 0)
        {
            generated.AppendLine("| model | threads | Kiln, KV cache µs/token | Kiln, no cache µs/token | cache speed-up | PyTorch eager, no cache µs/token | PyTorch / Kiln |");
            generated.AppendLine("|---|---:|---:|---:|---:|---:|---:|");
            foreach (string line in generation) generated.AppendLine(line);
            Console.WriteLine();
            Console.Write(generated);
            Console.WriteLine("(greedy generation of a whole context from one token, per token; in brackets the range of the per-round ratios)");
        }

        string memory = MeasureMemory(root, models);
        Console.WriteLine();
        Console.Write(memory);
        if (markdown is not null) File.WriteAllText(markdown, table + "\n" + generated + "\n" + memory);
    }

    private static string Describe(string mode, ZooEntry entry) => mode switch
    {
        "train" => $"train step, batch {entry.Batch}",
        "infer" => $"inference, batch {entry.Batch}",
        _ => entry.SingleRowFlops is null ? "inference, batch 1" : "generation step, batch 1",
    };

    private static string Cell(Row r, string side)
    {
        if (!r.Others.TryGetValue(side, out var other)) return "— | —";
        return $"{other.Median / 1000:F3} | {other.Median / r.Kiln:F2}× ({other.Low:F2}–{other.High:F2})";
    }

    private static Row Measure(ZooEntry entry, IZooModel kiln, string mode, int threads, int rounds, Worker torch, Worker ort)
    {
        int samples = mode == "infer1" ? 1 : entry.Batch;
        double flops = mode == "infer1" && entry.SingleRowFlops is double single ? single
            : samples * (mode == "train" ? entry.TrainingFlopsPerSample : entry.InferenceFlopsPerSample);
        Action step = mode == "train" ? () => kiln.TrainStep() : () => kiln.Infer(samples);
        // Inference reads the Dense weights packed once (the model's PackWeights), as ONNX Runtime's session packs them
        // when it is created; the training rows before this packed per call (a step changes the weights).
        if (mode != "train") kiln.PackWeights();

        // Warm-up: every side once (JIT, tracing, thread pools), and an estimate that sizes the rounds to about 100 ms.
        var sides = new List<(string Name, Worker Worker, string Variant)> { ("eager", torch, "eager") };
        if (mode != "train") { sides.Add(("jit", torch, "jit")); sides.Add(("ort", ort, "")); }
        // Kiln runs first for 3 s on a new model instance, 0.5 s on a further mode: the generated code starts at tier 0
        // and is recompiled fully optimized only after it has run a while (tiered compilation; measured here: a Z1
        // step is still 2× slower than steady state after 400 steps); a steady-state figure must come after that.
        var warm = Stopwatch.StartNew();
        TimeSpan warmFor = TimeSpan.FromSeconds(mode == Modes[0] ? 3 : 0.5);
        while (warm.Elapsed < warmFor) step();
        double estimate = Median(TimeKiln(step, 20));
        int iterations = (int)Math.Clamp(100_000 / estimate, 10, 5000);
        foreach (var side in sides) side.Worker.Time(entry.Id, mode, side.Variant, iterations);

        var kilnRounds = new double[rounds];
        var others = sides.ToDictionary(s => s.Name, _ => new double[rounds]);
        for (int round = 0; round < rounds; round++)
        {
            Pause(threads);
            kilnRounds[round] = Median(TimeKiln(step, iterations));
            foreach (var side in sides)
            {
                Pause(threads);
                double[] times = side.Worker.Time(entry.Id, mode, side.Variant, iterations);
                others[side.Name][round] = times.Length == 0 ? double.NaN : Median(times);
            }
        }
        double kilnMedian = Median(kilnRounds);
        var summary = new Dictionary<string, (double, double, double)>();
        foreach (var (name, values) in others)
        {
            if (values.Any(double.IsNaN)) continue;
            double[] ratios = values.Select((v, i) => v / kilnRounds[i]).ToArray();
            summary[name] = (Median(values), ratios.Min(), ratios.Max());
        }
        Console.WriteLine($"  {entry.Id} {Describe(mode, entry)}, {threads} thread(s): Kiln {kilnMedian:F1} µs" +
            string.Concat(summary.Select(s => $", {s.Key} {s.Value.Item1:F1} µs")));
        return new Row(entry.Id, mode, threads, kilnMedian, kilnRounds, summary, flops, samples);
    }

    /// <summary>Generation of a whole context, per token: Kiln with its key/value cache, Kiln without it (the model over
    /// the window for every token) and PyTorch eager without a cache (the model over the tokens so far for every token,
    /// as nanoGPT's generate does), in interleaved rounds.</summary>
    private static string MeasureGeneration(ZooEntry entry, IGenerativeZooModel kiln, int threads, int rounds, Worker torch)
    {
        int tokens = kiln.GenerationLength;
        var warm = Stopwatch.StartNew();
        while (warm.Elapsed < TimeSpan.FromSeconds(1)) { kiln.Generate(true); kiln.Generate(false); }
        int iterations = (int)Math.Clamp(100_000 / Median(TimeKiln(() => kiln.Generate(false), 5)), 3, 500);
        int cachedIterations = (int)Math.Clamp(100_000 / Median(TimeKiln(() => kiln.Generate(true), 5)), 3, 5000);
        torch.Time(entry.Id, "generate", "eager", 2);
        var cached = new double[rounds];
        var uncached = new double[rounds];
        var eager = new double[rounds];
        for (int round = 0; round < rounds; round++)
        {
            Pause(threads);
            cached[round] = Median(TimeKiln(() => kiln.Generate(true), cachedIterations)) / tokens;
            Pause(threads);
            uncached[round] = Median(TimeKiln(() => kiln.Generate(false), iterations)) / tokens;
            Pause(threads);
            double[] times = torch.Time(entry.Id, "generate", "eager", Math.Max(3, iterations / 2));
            eager[round] = times.Length == 0 ? double.NaN : Median(times) / tokens;
        }
        double[] speedUps = uncached.Select((u, i) => u / cached[i]).ToArray();
        double[] ratios = eager.Select((e, i) => e / cached[i]).ToArray();
        string torchCells = eager.Any(double.IsNaN) ? "— | —"
            : $"{Median(eager):F1} | {Median(eager) / Median(cached):F1}× ({ratios.Min():F1}–{ratios.Max():F1})";
        Console.WriteLine($"  {entry.Id} generation, {threads} thread(s): Kiln cached {Median(cached):F1} µs/token, no cache {Median(uncached):F1}, PyTorch {Median(eager):F1}");
        return $"| {entry.Id} | {threads} | {Median(cached):F1} | {Median(uncached):F1} | {Median(uncached) / Median(cached):F1}× ({speedUps.Min():F1}–{speedUps.Max():F1}) | {torchCells} |";
    }

    /// <summary>With several threads every side's pool spins for a while after its last call; a pause lets them
    /// block before the next side runs.</summary>
    private static void Pause(int threads)
    {
        if (threads > 1) Thread.Sleep(100);
    }

    private static double[] TimeKiln(Action step, int iterations)
    {
        step();
        var times = new double[iterations];
        for (int i = 0; i < iterations; i++)
        {
            long start = Stopwatch.GetTimestamp();
            step();
            times[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
        }
        return times;
    }

    private static double Median(double[] values)
    {
        double[] sorted = (double[])values.Clone();
        Array.Sort(sorted);
        int n = sorted.Length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }

    // ---- memory ----

    /// <summary>Peak resident set of 50 training steps in a fresh process per side (1 thread), and the growth over
    /// the process's resident set before the model was built; beside them the bytes Kiln planned at compile time.</summary>
    private static string MeasureMemory(string root, string[] models)
    {
        var text = new StringBuilder();
        text.AppendLine("| model | Kiln peak RSS | Kiln growth | PyTorch peak RSS | PyTorch growth | Kiln parameters + gradients + Adam state | Kiln workspace (compile time) |");
        text.AppendLine("|---|---:|---:|---:|---:|---:|---:|");
        foreach (string id in models)
        {
            ZooEntry entry = ZooModels.Find(id);
            var kiln = RunForJson(Environment.ProcessPath!, $"zoo-memory {id}", root, null);
            var torch = RunForJson("/usr/bin/python3", $"\"{Path.Combine(root, "tests/Kiln.Benchmarks/pytorch/zoo.py")}\" --memory {id}", root, 1);
            long state = entry.ParameterCount * 4 * sizeof(float);
            text.AppendLine($"| {id} | {Mb(kiln, "peak_kb")} | {Growth(kiln)} | {Mb(torch, "peak_kb")} | {Growth(torch)} | {state / 1048576.0:F2} MB | {entry.WorkspaceBytes / 1048576.0:F2} MB |");
        }
        return text.ToString();
    }

    private static string Mb(JsonElement? result, string field) =>
        result is { } r ? $"{r.GetProperty(field).GetInt64() / 1024.0:F1} MB" : "—";

    private static string Growth(JsonElement? result) =>
        result is { } r ? $"{(r.GetProperty("peak_kb").GetInt64() - r.GetProperty("baseline_kb").GetInt64()) / 1024.0:F1} MB" : "—";

    private static JsonElement? RunForJson(string file, string arguments, string root, int? threads)
    {
        try
        {
            var info = new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = root };
            if (threads is int t) Worker.SetThreadEnvironment(info, t);
            using var process = Process.Start(info)!;
            string output = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            string? last = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault();
            return process.ExitCode == 0 && last is not null ? JsonDocument.Parse(last).RootElement.Clone() : null;
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or JsonException)
        {
            Console.WriteLine($"  memory: {file} {arguments} failed: {e.Message}");
            return null;
        }
    }

    /// <summary>The <c>zoo-memory MODEL</c> command: this process's resident set before building the model, and its
    /// peak after 50 training steps.</summary>
    public static void Memory(string id)
    {
        ZooEntry entry = ZooModels.Find(id);
        long baseline = StatusKb("VmRSS");
        using IZooModel model = entry.Create(1);
        for (int i = 0; i < 50; i++) model.TrainStep();
        Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, long> { ["baseline_kb"] = baseline, ["peak_kb"] = StatusKb("VmHWM") }));
    }

    private static long StatusKb(string field)
    {
        foreach (string line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith(field + ":", StringComparison.Ordinal))
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
        return -1;
    }

    private static string? Option(string[] args, string name)
    {
        int at = Array.IndexOf(args, name);
        return at >= 0 && at + 1 < args.Length ? args[at + 1] : null;
    }

    /// <summary>A worker process (PyTorch or ONNX Runtime) answering one JSON line per command; a side that cannot
    /// start is reported once and left out of the table.</summary>
    private sealed class Worker : IDisposable
    {
        private readonly Process? _process;
        private readonly string _name;

        private Worker(string name, Process? process) { _name = name; _process = process; }

        public static Worker Start(string name, string file, string arguments, int threads, string root)
        {
            try
            {
                var info = new ProcessStartInfo(file, arguments)
                {
                    RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = false, WorkingDirectory = root,
                };
                SetThreadEnvironment(info, threads);
                var process = Process.Start(info)!;
                string? ready = process.StandardOutput.ReadLine();
                if (ready is null || !ready.Contains("\"ready\"", StringComparison.Ordinal))
                {
                    Console.WriteLine($"  {name} ({threads} thread(s)) did not start: {ready ?? "no output"}");
                    process.Kill();
                    return new Worker(name, null);
                }
                Console.WriteLine($"  {name} worker, {threads} thread(s): {ready}");
                return new Worker(name, process);
            }
            catch (System.ComponentModel.Win32Exception e)
            {
                Console.WriteLine($"  {name} is not available ({file}: {e.Message}); run tests/Kiln.Benchmarks/zoo-vs-pytorch.sh to install it.");
                return new Worker(name, null);
            }
        }

        /// <summary>The thread settings every side gets: its own variable plus the BLAS/OpenMP pools PyTorch uses
        /// (torch.set_num_threads does not limit OpenBLAS), and PyTorch's best allocator settings here.</summary>
        public static void SetThreadEnvironment(ProcessStartInfo info, int threads)
        {
            string t = threads.ToString(CultureInfo.InvariantCulture);
            info.Environment["KILN_THREADS"] = t;
            info.Environment["OPENBLAS_NUM_THREADS"] = t;
            info.Environment["OMP_NUM_THREADS"] = t;
            info.Environment["MALLOC_MMAP_THRESHOLD_"] = "67108864";
            info.Environment["MALLOC_TRIM_THRESHOLD_"] = "134217728";
            // Several threads: the OpenMP build of OpenBLAS, so that one pool (OpenMP's, shared with PyTorch) uses the
            // cores rather than two (DESIGN.md); the script installs it.
            const string openMpBlas = "/usr/lib/x86_64-linux-gnu/openblas-openmp";
            if (threads > 1 && Directory.Exists(openMpBlas)) info.Environment["LD_LIBRARY_PATH"] = openMpBlas;
        }

        /// <summary>Per-iteration microseconds of one round, or none when the side is missing.</summary>
        public double[] Time(string model, string mode, string variant, int iterations)
        {
            if (_process is null) return Array.Empty<double>();
            string command = JsonSerializer.Serialize(new Dictionary<string, object> { ["model"] = model, ["mode"] = mode, ["variant"] = variant, ["iterations"] = iterations });
            _process.StandardInput.WriteLine(command);
            _process.StandardInput.Flush();
            string? answer = _process.StandardOutput.ReadLine();
            if (answer is null) throw new InvalidOperationException($"{_name} worker exited during '{command}'.");
            return JsonDocument.Parse(answer).RootElement.GetProperty("us").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        }

        public void Dispose()
        {
            if (_process is null) return;
            try
            {
                _process.StandardInput.Close();
                if (!_process.WaitForExit(5000)) _process.Kill();
            }
            finally
            {
                _process.Dispose();
            }
        }
    }
}
