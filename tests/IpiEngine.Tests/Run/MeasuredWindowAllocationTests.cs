using Xunit;

namespace IpiEngine.Tests.Run;

/// <summary>
/// Allocation is counted process-wide, so these runs must not share the process with other tests: the collection
/// runs alone, after the parallel ones.
/// </summary>
[CollectionDefinition(nameof(MeasuredWindowAllocationTests), DisableParallelization = true)]
[Collection(nameof(MeasuredWindowAllocationTests))]
public class MeasuredWindowAllocationTests
{
    [Theory]
    [InlineData("fused", "8")]
    [InlineData("per-stage", "1")]
    public void The_measured_window_allocates_nothing_per_ipi(string threading, string batch)
    {
        // Exact zero is what the Release run shows; the runtime's tiering may still allocate a little in a short
        // window, so bound the bytes per IPI: a single allocation per post or delivery would be 24 bytes or more.
        var json = SyntheticRunTests.RunJson("--count", "400000", "--warmup", "0.3s", "--vcpus", "4", "--threading", threading, "--batch", batch);

        var posted = json.GetProperty("posted").GetInt64();
        var allocated = json.GetProperty("allocatedBytes").GetInt64();
        Assert.True(allocated < posted / 4, $"{allocated} bytes allocated for {posted} IPIs");
    }

}
