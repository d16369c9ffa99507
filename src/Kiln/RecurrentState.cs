using System;
using System.Collections;
using System.Collections.Generic;

namespace Kiln;

/// <summary>
/// The state a recurrent node (an <c>Rnn</c>, <c>Lstm</c> or <c>Gru</c> attribute, all its stacked layers) ended its
/// last pass in — PyTorch's <c>h_n</c> (and <c>c_n</c>): <see cref="Hidden"/> is [layers, Batch, hidden], row r of
/// layer l at <c>(l·Batch + r)·hidden</c>. A pass over fewer rows than the model's Batch uses the first rows.
/// <para>
/// It is the recurrent layers' final state as an output, after every Forward, Evaluate or training step; and their
/// initial state as an input when the model's <c>CarryState</c> is true (truncated backpropagation through time: a
/// long sequence in chunks, each starting where the last ended, with no gradient flowing back across the boundary
/// — PyTorch's <c>h.detach()</c>). Write into it to give a pass a chosen initial state; <see cref="Reset"/> zeroes it.
/// </para>
/// </summary>
public sealed class RecurrentState
{
    private readonly float[] _hidden;
    private readonly float[] _cell;

    public RecurrentState(string node, int layers, int batch, int hiddenSize, bool hasCell)
    {
        ArgumentNullException.ThrowIfNull(node);
        ArgumentOutOfRangeException.ThrowIfLessThan(layers, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(hiddenSize, 1);
        Node = node;
        Layers = layers;
        Batch = batch;
        HiddenSize = hiddenSize;
        _hidden = new float[checked(layers * batch * hiddenSize)];
        _cell = hasCell ? new float[_hidden.Length] : Array.Empty<float>();
    }

    /// <summary>The node the state belongs to.</summary>
    public string Node { get; }
    public int Layers { get; }
    /// <summary>Rows held: the model's Batch.</summary>
    public int Batch { get; }
    public int HiddenSize { get; }
    /// <summary>Whether there is a cell state (an LSTM).</summary>
    public bool HasCell => _cell.Length > 0;

    /// <summary>The hidden state [layers, Batch, hidden].</summary>
    public Span<float> Hidden => _hidden;

    /// <summary>The cell state [layers, Batch, hidden] of an LSTM; empty otherwise.</summary>
    public Span<float> Cell => _cell;

    /// <summary>The hidden state of one layer's first <paramref name="rows"/> rows.</summary>
    public Span<float> HiddenOf(int layer, int rows) => Slice(_hidden, layer, rows);

    /// <summary>The cell state of one layer's first <paramref name="rows"/> rows (empty without a cell state).</summary>
    public Span<float> CellOf(int layer, int rows) => HasCell ? Slice(_cell, layer, rows) : default;

    /// <summary>Zeroes the state: the next pass with <c>CarryState</c> starts a new sequence.</summary>
    public void Reset()
    {
        Array.Clear(_hidden);
        Array.Clear(_cell);
    }

    private Span<float> Slice(float[] values, int layer, int rows)
    {
        if ((uint)layer >= (uint)Layers) throw new ArgumentOutOfRangeException(nameof(layer), layer, $"'{Node}' has {Layers} layer(s).");
        if (rows < 1 || rows > Batch) throw new ArgumentOutOfRangeException(nameof(rows), rows, $"'{Node}' holds the state of at most {Batch} rows.");
        return values.AsSpan(layer * Batch * HiddenSize, rows * HiddenSize);
    }
}

/// <summary>The recurrent states of a model, in declaration order, also by node name.</summary>
public sealed class RecurrentStates : IReadOnlyList<RecurrentState>
{
    private readonly RecurrentState[] _states;

    public RecurrentStates(params RecurrentState[] states) => _states = states ?? throw new ArgumentNullException(nameof(states));

    public int Count => _states.Length;

    public RecurrentState this[int index] => _states[index];

    /// <summary>The state of the node named <paramref name="node"/> (use <c>nameof</c>).</summary>
    public RecurrentState this[string node]
    {
        get
        {
            foreach (RecurrentState state in _states)
                if (state.Node == node) return state;
            throw new KeyNotFoundException($"No recurrent node '{node}'; the recurrent nodes are: {string.Join(", ", Array.ConvertAll(_states, s => s.Node))}.");
        }
    }

    /// <summary>Zeroes every state.</summary>
    public void Reset()
    {
        foreach (RecurrentState state in _states) state.Reset();
    }

    public IEnumerator<RecurrentState> GetEnumerator() => ((IEnumerable<RecurrentState>)_states).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => _states.GetEnumerator();
}
