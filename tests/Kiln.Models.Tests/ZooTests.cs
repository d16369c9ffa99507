using System;
using System.Collections.Generic;
using System.Linq;
using Kiln.Testing;
using Kiln.Zoo;
using Xunit;

namespace Kiln.Models.Tests;

/// <summary>Every zoo model present (tests/Zoo/Zoo.cs): no managed allocation per training step or inference call.</summary>
public class ZooTests
{
    public static IEnumerable<object[]> Models() =>
        from entry in ZooModels.All
        from threads in new[] { 1, 2 }
        select new object[] { entry.Id, threads };

    [Theory]
    [MemberData(nameof(Models))]
    public void TrainingStepAndInference_AllocateNothing_AfterWarmUp(string id, int threads)
    {
        ZooEntry entry = ZooModels.Find(id);
        using IZooModel model = entry.Create(1);
        model.Threads = threads;
        for (int i = 0; i < 5; i++)
        {
            model.TrainStep();
            model.Infer(entry.Batch);
            model.Infer(1);
        }
        float loss = 0;
        long bytes = Allocations.SteadyState(() =>
        {
            for (int i = 0; i < 10; i++)
            {
                loss = model.TrainStep();
                model.Infer(entry.Batch);
                model.Infer(1);
            }
        }, out string rounds);
        Assert.True(bytes == 0, $"{id} at {threads} threads, bytes per round of 10 steps: {rounds}");
        Assert.True(float.IsFinite(loss) && loss > 0, $"{id}: loss {loss}");
    }

    [Fact]
    public void Zoo_HasZ1_AndFindNamesTheModelsOnAMiss()
    {
        Assert.Contains(ZooModels.All, e => e.Id == "Z1" && e.Batch == 64 && e.ParameterCount == 235_146);
        var e = Assert.Throws<ArgumentException>(() => ZooModels.Find("Z9"));
        Assert.Contains("Z1", e.Message);
    }
}
