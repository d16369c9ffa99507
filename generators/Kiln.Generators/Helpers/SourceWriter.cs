using System;
using System.Text;

namespace Kiln.Generators.Helpers;

/// <summary>A tiny indenting writer for emitted C# (after System.Text.Json's generator).</summary>
public sealed class SourceWriter
{
    private readonly StringBuilder _builder = new();
    private int _indent;

    public int Indentation
    {
        get => _indent;
        set => _indent = Math.Max(0, value);
    }

    public SourceWriter Line(string text = "")
    {
        if (text.Length > 0)
        {
            foreach (string line in text.Split('\n'))
            {
                if (line.Length > 0) _builder.Append(' ', 4 * _indent).Append(line.TrimEnd('\r'));
                _builder.Append('\n');
            }
        }
        else
        {
            _builder.Append('\n');
        }
        return this;
    }

    public SourceWriter Open(string text)
    {
        Line(text);
        Line("{");
        _indent++;
        return this;
    }

    public SourceWriter Close(string suffix = "")
    {
        _indent--;
        Line("}" + suffix);
        return this;
    }

    public override string ToString() => _builder.ToString();
}
