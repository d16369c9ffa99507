using System;
using System.Collections.Generic;

namespace Kiln;

/// <summary>
/// One declared node of a model: its name, the ops it applies, and its per-sample output shape (the batch
/// dimension is not included). Instances are created by generated code and shared by all model instances.
/// </summary>
public sealed class Node
{
    private readonly int[] _shape;

    public Node(string name, string op, int[] shape, long parameters)
    {
        Name = name;
        Op = op;
        _shape = shape;
        ParameterCount = parameters;
    }

    /// <summary>The member name of the node in the model class.</summary>
    public string Name { get; }

    /// <summary>The ops of the node as declared, e.g. <c>Dense(256) -> Relu</c>.</summary>
    public string Op { get; }

    /// <summary>The output shape of one sample.</summary>
    public IReadOnlyList<int> Shape => _shape;

    /// <summary>The number of trainable scalars the node owns.</summary>
    public long ParameterCount { get; }

    /// <summary>Number of values per sample.</summary>
    public int Size
    {
        get
        {
            int size = 1;
            foreach (int d in _shape) size *= d;
            return size;
        }
    }

    public override string ToString() => $"{Name}: {Op} -> [{string.Join(", ", _shape)}]";
}
