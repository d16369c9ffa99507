using System;
using System.Globalization;
using System.IO;
using System.IO.Compression;
using System.Linq;
using Xunit;

namespace Kiln.Models.Tests;

/// <summary>
/// What a new user does: <c>dotnet pack</c> makes the Kiln package (runtime in lib/, generator and code fixes in
/// analyzers/dotnet/cs);
/// a brand-new console project in a temporary folder references it from a local folder feed, declares a model, builds
/// — the generator runs from the package — trains, and the loss falls. The sources are packed from a copy, so the
/// repository's build outputs (loaded by the other tests) are never touched; the new project restores into its own
/// package folder, so no earlier package of the same version can stand in for this one.
/// </summary>
public sealed class PackageTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "kiln-package-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_directory)) Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public void PackedPackage_InAFreshConsoleProject_GeneratesTheModel_AndTrains()
    {
        string root = ChildProcess.RepositoryRoot();
        string copy = Path.Combine(_directory, "source"), feed = Path.Combine(_directory, "feed"), app = Path.Combine(_directory, "app");
        foreach (string file in new[] { "Directory.Build.props", "Directory.Packages.props", "README.md" })
            CopyFile(Path.Combine(root, file), Path.Combine(copy, file));
        CopyTree(Path.Combine(root, "src", "Kiln"), Path.Combine(copy, "src", "Kiln"));
        foreach (string project in new[] { "Kiln.Generators", "Kiln.CodeFixes" })
            CopyTree(Path.Combine(root, "generators", project), Path.Combine(copy, "generators", project));

        const string version = "0.1.0-fresh";
        ChildProcess.Run("dotnet", $"pack \"{Path.Combine(copy, "src", "Kiln", "Kiln.csproj")}\" -c Release -o \"{feed}\" -p:Version={version} -nologo", copy);
        string package = Path.Combine(feed, $"Kiln.{version}.nupkg");
        Assert.True(File.Exists(package), "dotnet pack made no package");
        using (ZipArchive zip = ZipFile.OpenRead(package))
        {
            string[] entries = zip.Entries.Select(e => e.FullName).ToArray();
            Assert.Contains("analyzers/dotnet/cs/Kiln.Generators.dll", entries);
            Assert.Contains("analyzers/dotnet/cs/Kiln.CodeFixes.dll", entries);
            Assert.Contains("lib/net10.0/Kiln.dll", entries);
            Assert.Contains("lib/net9.0/Kiln.dll", entries);
            Assert.DoesNotContain(entries, e => e.StartsWith("lib/", StringComparison.Ordinal) && e.EndsWith("Kiln.Generators.dll", StringComparison.Ordinal));
        }

        Directory.CreateDirectory(app);
        File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <config><add key="globalPackagesFolder" value="{Path.Combine(_directory, "packages")}" /></config>
              <packageSources><add key="kiln-local" value="{feed}" /></packageSources>
              <fallbackPackageFolders><add key="machine" value="{MachinePackages()}" /></fallbackPackageFolders>
            </configuration>
            """);
        File.WriteAllText(Path.Combine(app, "FreshApp.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <Nullable>enable</Nullable>
                <ImplicitUsings>enable</ImplicitUsings>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="Kiln" Version="{version}" />
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(app, "Quadrants.cs"), """
            using Kiln;

            namespace FreshApp;

            /// <summary>Which quadrant a point lies in.</summary>
            [Model(Batch = 32)]
            public partial class Quadrants
            {
                [Input(2)]            public partial Node Point { get; }
                [Dense(32), Relu]     public partial Node Hidden { get; }
                [Dense(4)]            public partial Node Logits { get; }
                [SoftmaxCrossEntropy] public partial Node Loss { get; }
            }
            """);
        File.WriteAllText(Path.Combine(app, "Program.cs"), """
            using System.Globalization;
            using FreshApp;
            using Kiln.Optimizers;

            var random = new Random(7);
            using var model = new Quadrants(seed: 1);
            using var adam = new Adam(model.Parameters, lr: 1e-2f);
            var points = new float[Quadrants.Batch * Quadrants.InputSize];
            var labels = new int[Quadrants.Batch];
            float first = 0, last = 0;
            for (int step = 0; step < 200; step++)
            {
                for (int i = 0; i < Quadrants.Batch; i++)
                {
                    float x = (float)(random.NextDouble() * 2 - 1), y = (float)(random.NextDouble() * 2 - 1);
                    points[2 * i] = x; points[2 * i + 1] = y;
                    labels[i] = (x >= 0 ? 0 : 1) + (y >= 0 ? 0 : 2);
                }
                float loss = model.TrainStep(points, labels, adam);
                if (step == 0) first = loss;
                if (step >= 190) last += loss / 10;
            }
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"first {first:R} last {last:R}"));
            """);
        // Warnings as errors: the compiler must load the generator, and skip the code-fix assembly beside it, silently.
        ChildProcess.Run("dotnet", "build -c Release -nologo -warnaserror", app);
        string output = ChildProcess.Run("dotnet", "run -c Release --no-build", app).Trim();

        string[] parts = output.Split(' ');
        Assert.True(parts.Length == 4 && parts[0] == "first" && parts[2] == "last", $"unexpected output: {output}");
        double first = double.Parse(parts[1], CultureInfo.InvariantCulture), last = double.Parse(parts[3], CultureInfo.InvariantCulture);
        Assert.InRange(first, 1.0, 2.0); // about ln 4 at the start
        Assert.True(last < first / 4, $"the loss did not fall: first {first}, mean of the last ten {last}");
    }

    private static string MachinePackages() =>
        Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } configured
            ? configured
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");

    private static void CopyFile(string from, string to)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(to)!);
        File.Copy(from, to);
    }

    /// <summary>A project's sources without its build outputs.</summary>
    private static void CopyTree(string from, string to)
    {
        foreach (string file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            string relative = Path.GetRelativePath(from, file);
            string top = relative.Split(Path.DirectorySeparatorChar)[0];
            if (top is "bin" or "obj") continue;
            CopyFile(file, Path.Combine(to, relative));
        }
    }
}
