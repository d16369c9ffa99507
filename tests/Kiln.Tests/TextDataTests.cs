using System;
using System.IO;
using System.Linq;
using System.Text;
using Kiln.Data;
using Xunit;

namespace Kiln.Tests;

/// <summary>The character-level text pipeline: vocabulary, the truncated-BPTT chunks, and the text reader on files the
/// tests write (valid, with a byte-order mark, invalid UTF-8, empty).</summary>
public class TextDataTests
{
    [Fact]
    public void Shakespeare65_HasTheZooVocabulary_AndRoundTrips()
    {
        CharVocabulary v = CharVocabulary.Shakespeare65;
        Assert.Equal(65, v.Count);
        Assert.Equal(0, v.TokenOf('\n'));
        Assert.Equal(-1, v.TokenOf('#'));
        int[] tokens = v.Encode("To be,\r\nor not!", ' ', out int replaced);
        Assert.Equal(0, replaced);
        Assert.Equal("To be,\nor not!", v.Decode(tokens)); // carriage returns dropped
        Assert.Throws<ArgumentOutOfRangeException>(() => v.CharacterOf(65));
    }

    [Fact]
    public void Encode_ReplacesCharactersOutsideTheVocabulary_AndCountsThem()
    {
        var v = new CharVocabulary("ab ab");
        Assert.Equal(3, v.Count);
        int[] tokens = v.Encode("abc é", ' ', out int replaced);
        Assert.Equal(2, replaced);
        Assert.Equal("ab   ", v.Decode(tokens));
        Assert.Throws<ArgumentException>(() => v.Encode("a", 'z', out _));
    }

    [Fact]
    public void SequenceChunks_ContinueEachRowsStream_WithTargetsOneLater()
    {
        int[] tokens = Enumerable.Range(0, 23).ToArray();
        var chunks = new SequenceChunks(tokens, rows: 2, steps: 3); // streams of 11: [0, 11) and [11, 22)
        Assert.Equal(3, chunks.Count);                             // (11 - 1) / 3
        var inputs = new int[6];
        var targets = new int[6];
        chunks.Get(1, inputs, targets);
        Assert.Equal(new[] { 3, 4, 5, 14, 15, 16 }, inputs);
        Assert.Equal(new[] { 4, 5, 6, 15, 16, 17 }, targets);
        Assert.Throws<ArgumentOutOfRangeException>(() => chunks.Get(3, inputs, targets));
        var e = Assert.Throws<ArgumentException>(() => new SequenceChunks(new int[7], rows: 2, steps: 3));
        Assert.Contains("too few", e.Message);
    }

    [Fact]
    public void TextFile_ReadsUtf8WithOrWithoutAByteOrderMark_AndRejectsBadFiles()
    {
        string path = Path.Combine(Path.GetTempPath(), $"kiln-text-{Guid.NewGuid():N}.txt");
        try
        {
            File.WriteAllText(path, "Thus it is:\nthe Volsces", new UTF8Encoding(encoderShouldEmitUTF8Identifier: true));
            Assert.Equal("Thus it is:\nthe Volsces", TextFile.Read(path));
            File.WriteAllBytes(path, new byte[] { (byte)'o', (byte)'k', 0xC3, 0x28, (byte)'!' });
            var e = Assert.Throws<DataFormatException>(() => TextFile.Read(path));
            Assert.Contains("not UTF-8", e.Message);
            Assert.Contains("0xC3", e.Message);
            File.WriteAllBytes(path, Array.Empty<byte>());
            e = Assert.Throws<DataFormatException>(() => TextFile.Read(path));
            Assert.Contains("empty", e.Message);
            Assert.Throws<FileNotFoundException>(() => TextFile.Read(path + ".missing"));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
