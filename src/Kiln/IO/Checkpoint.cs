using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Kiln.Optimizers;

namespace Kiln.IO;

/// <summary>
/// A training checkpoint in one safetensors file: the parameters under their PyTorch names (so the file is also a
/// plain <c>state_dict</c> that PyTorch and <see cref="SafeTensors.Load(string, ParameterSet)"/> read), and,
/// optionally, the optimizer's state per parameter tensor (<c>optimizer/exp_avg/Hidden1.weight</c>: a name no model
/// parameter can have), its type, step count and learning rate, and the caller's own metadata (an epoch, a data
/// position). Saving is atomic; loading validates the whole file — every tensor, dtype, shape and offset, and that
/// the state belongs to the same kind of optimizer — before anything changes, so a resume continues exactly.
/// </summary>
public static class Checkpoint
{
    /// <summary>The prefix of optimizer-state tensors in a checkpoint.</summary>
    public const string OptimizerPrefix = "optimizer/";

    /// <summary>The prefix of the caller's own tensors in a checkpoint (a trainer's early-stopping weights): <c>extra/name</c>.</summary>
    public const string ExtraPrefix = "extra/";

    private const string OptimizerKey = "kiln.optimizer", StepKey = "kiln.step", RateKey = "kiln.learning_rate", RandomKey = "kiln.random", Reserved = "kiln.";

    /// <summary>Writes the parameters and, when given, the model's buffers (batch norm's running statistics), the optimizer's
    /// state, the state of the model's random generator (dropout, noise) and <paramref name="metadata"/> (keys not
    /// starting with "kiln.") and the caller's own float <paramref name="tensors"/> (saved as 1-D tensors under
    /// <see cref="ExtraPrefix"/>) to <paramref name="path"/> atomically.</summary>
    public static void Save(string path, ParameterSet parameters, Optimizer? optimizer = null, IReadOnlyDictionary<string, string>? metadata = null, KilnRandom? random = null,
        ParameterSet? buffers = null, IReadOnlyDictionary<string, float[]>? tensors = null)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var meta = new Dictionary<string, string>(StringComparer.Ordinal);
        if (metadata is not null)
        {
            foreach (var (key, value) in metadata)
            {
                if (key.StartsWith(Reserved, StringComparison.Ordinal) || key == "format")
                    throw new ArgumentException($"Metadata key '{key}' is reserved (keys starting with '{Reserved}', and 'format').", nameof(metadata));
                meta[key] = value;
            }
        }
        List<SafeTensors.TensorEntry> entries = SafeTensors.Entries(parameters, prefix: "");
        if (buffers is not null) entries.AddRange(SafeTensors.Entries(buffers, prefix: ""));
        if (optimizer is not null)
        {
            if (optimizer.ParameterCount != parameters.Count)
                throw new ArgumentException($"The optimizer updates {optimizer.ParameterCount} parameters; the set has {parameters.Count}.", nameof(optimizer));
            for (int i = 0; i < optimizer.StateNames.Count; i++)
            {
                int index = i;
                foreach (TensorSlice slice in parameters.Tensors)
                {
                    TensorSlice s = slice;
                    entries.Add(new SafeTensors.TensorEntry($"{OptimizerPrefix}{optimizer.StateNames[i]}/{s.Name}", s.Shape,
                        () => optimizer.State(index).Slice(s.Offset, s.Length)));
                }
            }
            meta[OptimizerKey] = optimizer.GetType().Name;
            meta[StepKey] = optimizer.StepCount.ToString(CultureInfo.InvariantCulture);
            meta[RateKey] = optimizer.LearningRate.ToString("R", CultureInfo.InvariantCulture);
        }
        if (tensors is not null)
        {
            foreach (var (name, values) in tensors)
            {
                ArgumentNullException.ThrowIfNull(values, nameof(tensors));
                if (string.IsNullOrEmpty(name)) throw new ArgumentException("A tensor name is empty.", nameof(tensors));
                float[] array = values;
                entries.Add(new SafeTensors.TensorEntry(ExtraPrefix + name, new[] { array.Length }, () => array));
            }
        }
        if (random is not null)
        {
            var (s0, s1, s2, s3) = random.State;
            meta[RandomKey] = string.Join(",", new[] { s0, s1, s2, s3 }.Select(v => v.ToString("x8", CultureInfo.InvariantCulture)));
        }
        SafeTensors.Write(path, entries, meta);
    }

    /// <summary>
    /// Loads the parameters and, when <paramref name="optimizer"/> is given, its state, step count and learning rate;
    /// returns the caller's metadata. A file saved without optimizer state cannot resume an optimizer (a
    /// <see cref="CheckpointException"/> says so); nothing changes unless the whole file is valid. When
    /// <paramref name="tensors"/> is given, it receives the caller's own tensors saved with the checkpoint (by name, without
    /// the prefix); otherwise they are ignored.
    /// </summary>
    public static IReadOnlyDictionary<string, string> Load(string path, ParameterSet parameters, Optimizer? optimizer = null, KilnRandom? random = null,
        ParameterSet? buffers = null, IDictionary<string, float[]>? tensors = null)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        byte[] file = SafeTensors.ReadFile(path);
        SafeTensors.Header header = SafeTensors.ReadHeader(file, path);
        ReadOnlySpan<byte> data = file.AsSpan(header.DataStart);

        var plan = SafeTensors.Plan(header, data.Length, parameters, prefix: "", path);
        var bufferPlan = buffers is null ? null : SafeTensors.Plan(header, data.Length, buffers, prefix: "", path, allowIntegers: true);
        SafeTensors.RejectUnexpected(header, parameters, buffers, path);

        var statePlans = new List<List<(TensorSlice Slice, int Begin)>>();
        long step = 0;
        float rate = 0;
        if (optimizer is not null)
        {
            if (optimizer.ParameterCount != parameters.Count)
                throw new ArgumentException($"The optimizer updates {optimizer.ParameterCount} parameters; the set has {parameters.Count}.", nameof(optimizer));
            if (!header.Metadata.TryGetValue(OptimizerKey, out string? type))
                throw new CheckpointException($"{path}: holds no optimizer state (it was saved without an optimizer), so {optimizer.GetType().Name} cannot resume from it.");
            if (type != optimizer.GetType().Name)
                throw new CheckpointException($"{path}: holds the state of {type}; the optimizer to resume is {optimizer.GetType().Name}.");
            if (!header.Metadata.TryGetValue(StepKey, out string? stepText) || !long.TryParse(stepText, NumberStyles.None, CultureInfo.InvariantCulture, out step))
                throw new CheckpointException($"{path}: the optimizer's step count is missing or not a number.");
            if (!header.Metadata.TryGetValue(RateKey, out string? rateText) || !float.TryParse(rateText, NumberStyles.Float, CultureInfo.InvariantCulture, out rate)
                || !(rate >= 0f) || float.IsInfinity(rate))
                throw new CheckpointException($"{path}: the optimizer's learning rate is missing or not a finite number ≥ 0.");
            foreach (string state in optimizer.StateNames)
                statePlans.Add(SafeTensors.Plan(header, data.Length, parameters, $"{OptimizerPrefix}{state}/", path));
            foreach (string name in header.Entries.Keys)
            {
                if (!name.StartsWith(OptimizerPrefix, StringComparison.Ordinal)) continue;
                int slash = name.IndexOf('/', OptimizerPrefix.Length);
                string state = slash < 0 ? "" : name.Substring(OptimizerPrefix.Length, slash - OptimizerPrefix.Length);
                if (!Contains(optimizer.StateNames, state))
                    throw new CheckpointException($"{path}: optimizer state '{name}' has no place in this {optimizer.GetType().Name} (its state: {string.Join(", ", optimizer.StateNames)}); was it configured differently?");
            }
        }

        (uint, uint, uint, uint) randomState = default;
        if (random is not null)
        {
            if (!header.Metadata.TryGetValue(RandomKey, out string? text))
                throw new CheckpointException($"{path}: holds no random-generator state, so a model with dropout or noise cannot resume from it exactly.");
            string[] parts = text.Split(',');
            var words = new uint[4];
            if (parts.Length != 4 || !parts.Select((p, i) => uint.TryParse(p, NumberStyles.HexNumber, CultureInfo.InvariantCulture, out words[i])).All(ok => ok)
                || (words[0] | words[1] | words[2] | words[3]) == 0)
                throw new CheckpointException($"{path}: the random-generator state '{text}' is not four non-zero hexadecimal words.");
            randomState = (words[0], words[1], words[2], words[3]);
        }

        var extras = new List<(string Name, int Begin, int Length)>();
        if (tensors is not null)
        {
            foreach (var (name, entry) in header.Entries)
            {
                if (!name.StartsWith(ExtraPrefix, StringComparison.Ordinal)) continue;
                if (entry.DType != "F32" || entry.Shape.Length != 1)
                    throw new CheckpointException($"{path}: tensor '{name}' is {entry.DType} [{string.Join(", ", entry.Shape)}]; a checkpoint's own tensors are 1-D F32.");
                long count = SafeTensors.ElementCount(name, entry.Shape, data.Length, path);
                SafeTensors.CheckEntry(name, entry, count, data.Length, path);
                extras.Add((name.Substring(ExtraPrefix.Length), (int)entry.Begin, (int)count));
            }
        }

        // Everything is valid: now change the model and the optimizer.
        SafeTensors.Copy(plan, data, parameters);
        if (bufferPlan is not null) SafeTensors.Copy(bufferPlan, data, buffers!);
        if (optimizer is not null)
        {
            for (int i = 0; i < statePlans.Count; i++)
            {
                Span<float> state = optimizer.State(i);
                foreach ((TensorSlice slice, int begin) in statePlans[i])
                    System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(data.Slice(begin, slice.Length * sizeof(float))).CopyTo(state.Slice(slice.Offset, slice.Length));
            }
            optimizer.StepCount = step;
            optimizer.LearningRate = rate;
        }
        if (random is not null) random.State = randomState;
        foreach (var (name, begin, length) in extras)
            tensors![name] = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(data.Slice(begin, length * sizeof(float))).ToArray();

        var user = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in header.Metadata)
            if (!key.StartsWith(Reserved, StringComparison.Ordinal) && key != "format") user[key] = value;
        return user;
    }

    private static bool Contains(IReadOnlyList<string> names, string name)
    {
        foreach (string n in names) if (n == name) return true;
        return false;
    }
}
