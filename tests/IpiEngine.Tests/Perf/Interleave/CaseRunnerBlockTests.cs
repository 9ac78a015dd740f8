using IpiEngine.Perf.Interleave;
using Xunit;

namespace IpiEngine.Tests.Perf.Interleave;

/// <summary>
/// A block's allocation is counted over every thread of the process (a cross-thread rig allocates on others), so a test
/// that asserts it must not share the process with tests that allocate: this collection runs alone, after the parallel
/// ones. Beside them it once read 8 B/op for a benchmark that allocates nothing.
/// </summary>
[CollectionDefinition(nameof(CaseRunnerBlockTests), DisableParallelization = true)]
[Collection(nameof(CaseRunnerBlockTests))]
public sealed class CaseRunnerBlockTests
{
    [Fact]
    public void A_block_sets_up_measures_and_cleans_up_its_own_instance_with_targeted_hooks_only_for_their_target()
    {
        var cases = InterleavedRunnerTests.Cases();
        var spin = new CaseRunner(cases.First(c => c.Id.Contains("Spin(Work: 3, Kind: Plain)", StringComparison.Ordinal)));
        var allocate = new CaseRunner(cases.First(c => c.FilterName.EndsWith(".Allocate", StringComparison.Ordinal)));
        lock (FakeSuite.Calls)
        {
            FakeSuite.Calls.Clear();
        }
        // Iterations of 50 ms, so that a stray allocation of the runtime's own (tiering, a timer) rounds to 0 per operation.
        long calls = spin.Pilot(TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(50));
        var block = spin.Block(iterations: 3, calls);
        Assert.Equal(3, block.SamplesNs.Length);
        // Work 3 spins about 300 ns per operation; the clock's own cost can only add to it.
        Assert.All(block.SamplesNs, ns => Assert.InRange(ns, 250, 20_000));
        Assert.Equal(0, block.AllocatedBytesPerOp);
        Assert.Equal(["setup", "cleanup", "setup", "cleanup"], FakeSuite.Calls);

        FakeSuite.Calls.Clear();
        var allocating = allocate.Block(iterations: 2, callsPerIteration: 100_000);
        // An int[64] is 280 B per call; the bound leaves room for the runtime's own.
        Assert.InRange(allocating.AllocatedBytesPerOp, 280, 400);
        Assert.Equal(["setup", "setup-allocate", "cleanup"], FakeSuite.Calls);
    }
}
