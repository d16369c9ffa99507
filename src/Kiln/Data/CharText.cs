using System;
using System.IO;
using System.Text;

namespace Kiln.Data;

/// <summary>
/// A character vocabulary for character-level language models: character ↔ token. Characters outside it are mapped
/// to a replacement character of the vocabulary when text is encoded (and counted), so any text can be read.
/// </summary>
public sealed class CharVocabulary
{
    private readonly string _characters;
    private readonly int[] _index = new int[char.MaxValue + 1];

    /// <summary>The 65 characters of the "tiny Shakespeare" corpus (Karpathy's char-rnn), the vocabulary of zoo
    /// models Z3 and Z4: newline, space, <c>!$&amp;',-.3:;?</c> and the letters.</summary>
    public static CharVocabulary Shakespeare65 { get; } = new("\n !$&',-.3:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");

    /// <summary>A vocabulary of the distinct characters of <paramref name="characters"/>, in that order.</summary>
    public CharVocabulary(string characters)
    {
        ArgumentNullException.ThrowIfNull(characters);
        if (characters.Length == 0) throw new ArgumentException("A vocabulary needs at least one character.", nameof(characters));
        Array.Fill(_index, -1);
        var distinct = new StringBuilder();
        foreach (char c in characters)
        {
            if (_index[c] >= 0) continue;
            _index[c] = distinct.Length;
            distinct.Append(c);
        }
        _characters = distinct.ToString();
    }

    /// <summary>Tokens in the vocabulary.</summary>
    public int Count => _characters.Length;

    /// <summary>The characters, token by token.</summary>
    public string Characters => _characters;

    /// <summary>The token of <paramref name="c"/>, or −1 when it is not in the vocabulary.</summary>
    public int TokenOf(char c) => _index[c];

    /// <summary>The character of <paramref name="token"/>.</summary>
    public char CharacterOf(int token) => (uint)token < (uint)_characters.Length
        ? _characters[token]
        : throw new ArgumentOutOfRangeException(nameof(token), token, $"Tokens lie in [0, {_characters.Length}).");

    /// <summary>
    /// The tokens of <paramref name="text"/>. A character outside the vocabulary becomes <paramref name="replacement"/>
    /// (which must be in it; carriage returns are dropped); <paramref name="replaced"/> counts them.
    /// </summary>
    public int[] Encode(string text, char replacement, out int replaced)
    {
        ArgumentNullException.ThrowIfNull(text);
        int fallback = TokenOf(replacement);
        if (fallback < 0) throw new ArgumentException($"The replacement '{replacement}' is not in the vocabulary.", nameof(replacement));
        var tokens = new int[text.Length];
        int n = 0;
        replaced = 0;
        foreach (char c in text)
        {
            if (c == '\r') continue;
            int token = _index[c];
            if (token < 0)
            {
                token = fallback;
                replaced++;
            }
            tokens[n++] = token;
        }
        return n == tokens.Length ? tokens : tokens.AsSpan(0, n).ToArray();
    }

    /// <summary>The text of <paramref name="tokens"/>.</summary>
    public string Decode(ReadOnlySpan<int> tokens)
    {
        var builder = new StringBuilder(tokens.Length);
        foreach (int token in tokens) builder.Append(CharacterOf(token));
        return builder.ToString();
    }
}

/// <summary>
/// A token stream cut for truncated backpropagation through time: the text is split into <see cref="Rows"/>
/// parallel streams (row r reads the r-th stretch of the text), and chunk k of an epoch is, in every row, the next
/// <see cref="Steps"/> tokens of its stream, with the targets one token later. Consecutive chunks continue each row's
/// stream, so a model that carries its recurrent state from chunk to chunk (<c>CarryState</c>) sees one long text
/// per row.
/// </summary>
public sealed class SequenceChunks
{
    private readonly int[] _tokens;
    private readonly int _streamLength;

    public SequenceChunks(int[] tokens, int rows, int steps)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        ArgumentOutOfRangeException.ThrowIfLessThan(rows, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 1);
        _streamLength = tokens.Length / rows;
        if (_streamLength < steps + 1)
            throw new ArgumentException($"{tokens.Length:N0} tokens are too few for {rows} streams of at least {steps + 1} tokens ({rows * (steps + 1):N0} tokens).", nameof(tokens));
        _tokens = tokens;
        Rows = rows;
        Steps = steps;
    }

    public int Rows { get; }
    public int Steps { get; }

    /// <summary>Chunks per pass over the text (each stream's length less one, in whole chunks).</summary>
    public int Count => (_streamLength - 1) / Steps;

    /// <summary>Chunk <paramref name="index"/>: inputs and targets, each [Rows, Steps] row-major.</summary>
    public void Get(int index, Span<int> inputs, Span<int> targets)
    {
        if ((uint)index >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(index), index, $"There are {Count} chunks.");
        Guard.Length(inputs.Length, Rows, Steps, nameof(inputs));
        Guard.Length(targets.Length, Rows, Steps, nameof(targets));
        for (int r = 0; r < Rows; r++)
        {
            int start = r * _streamLength + index * Steps;
            _tokens.AsSpan(start, Steps).CopyTo(inputs.Slice(r * Steps, Steps));
            _tokens.AsSpan(start + 1, Steps).CopyTo(targets.Slice(r * Steps, Steps));
        }
    }
}

/// <summary>Reads a text file for a language model: UTF-8 (a byte-order mark is accepted), validated.</summary>
public static class TextFile
{
    /// <summary>The file's text; <see cref="DataFormatException"/> when it is not valid UTF-8 (naming the byte) or empty.</summary>
    public static string Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        byte[] bytes = File.ReadAllBytes(path);
        int start = bytes.Length >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF ? 3 : 0;
        var strict = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
        string text;
        try
        {
            text = strict.GetString(bytes, start, bytes.Length - start);
        }
        catch (DecoderFallbackException e)
        {
            throw new DataFormatException($"'{path}' is not UTF-8 text: invalid byte 0x{(e.BytesUnknown is { Length: > 0 } b ? b[0] : 0):X2} at offset {start + Math.Max(0, e.Index):N0}.", e);
        }
        if (text.Length == 0) throw new DataFormatException($"'{path}' is empty; a language model needs text to learn from.");
        return text;
    }
}
