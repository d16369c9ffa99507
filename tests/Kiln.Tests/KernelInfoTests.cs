using System;
using Kiln.Kernels;
using Xunit;

namespace Kiln.Tests;

public class KernelInfoTests
{
    /// <summary>.ci/run reruns these tests with AVX-512 or every intrinsic switched off and names the variant the
    /// process must then pick, so a setting the runtime ignores cannot pass unnoticed.</summary>
    [Fact]
    public void BestVariant_IsTheOneTheEnvironmentAllows()
    {
        Assert.Equal(KernelIsa.Portable, KernelInfo.Supported[0]);
        Assert.Equal(KernelInfo.Supported[^1], KernelInfo.Best);
        string? expected = Environment.GetEnvironmentVariable("KILN_EXPECT_ISA");
        if (expected is not null) Assert.Equal(Enum.Parse<KernelIsa>(expected), KernelInfo.Best);
    }
}
