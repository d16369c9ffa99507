using System;
using System.IO;
using System.Runtime.CompilerServices;
using Xunit;

namespace Kiln.Generators.Tests;

/// <summary>
/// Snapshot assertions with Verify's file conventions (Verify itself is not on this machine's package mirror):
/// the expected text is committed as <c>Name.verified.cs</c> beside the test; on a mismatch the actual text is
/// written to <c>Name.received.cs</c> and the test fails. Setting <c>KILN_ACCEPT_SNAPSHOTS=1</c> (Verify:
/// auto-verify) writes the received text as the new verified file instead.
/// </summary>
internal static class Snapshot
{
    public const string AcceptVariable = "KILN_ACCEPT_SNAPSHOTS";

    public static void Verify(string actual, string name, string extension = "cs", [CallerFilePath] string callerFile = "")
    {
        string directory = Path.Combine(Path.GetDirectoryName(callerFile)!, "Snapshots");
        Directory.CreateDirectory(directory);
        string verified = Path.Combine(directory, $"{name}.verified.{extension}");
        string received = Path.Combine(directory, $"{name}.received.{extension}");
        actual = actual.Replace("\r\n", "\n");
        bool accept = Environment.GetEnvironmentVariable(AcceptVariable) is "1" or "true";

        if (File.Exists(verified) && File.ReadAllText(verified).Replace("\r\n", "\n") == actual)
        {
            if (File.Exists(received)) File.Delete(received);
            return;
        }
        if (accept)
        {
            File.WriteAllText(verified, actual);
            if (File.Exists(received)) File.Delete(received);
            return;
        }
        File.WriteAllText(received, actual);
        Assert.Fail(File.Exists(verified)
            ? $"Snapshot '{name}' differs from {verified}. Compare with {received}; set {AcceptVariable}=1 to accept."
            : $"Snapshot '{name}' has no verified file yet. Review {received}; set {AcceptVariable}=1 to accept.");
    }
}
