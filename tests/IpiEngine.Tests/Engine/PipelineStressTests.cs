using IpiEngine.Pipeline;
using Xunit;

namespace IpiEngine.Tests.Facade;

/// <summary>
/// The concurrent engine against the sequential reference, in both threading modes and every wait strategy, with
/// 1 to 64 producer threads on a 2-core machine: exactly once per (IPI, destination), per-source order per
/// destination, conservation exact, every descriptor holding exactly what the reference sent.
/// </summary>
public class PipelineStressTests
{
    public static TheoryData<ThreadingMode, WaitStrategyKind, int> Cases()
    {
        var data = new TheoryData<ThreadingMode, WaitStrategyKind, int>();
        foreach (ThreadingMode mode in Enum.GetValues<ThreadingMode>())
        {
            foreach (WaitStrategyKind wait in Enum.GetValues<WaitStrategyKind>())
            {
                foreach (int producers in new[] { 1, 2, 8, 64 })
                {
                    data.Add(mode, wait, producers);
                }
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Concurrent_engine_delivers_exactly_what_the_reference_resolves(ThreadingMode mode, WaitStrategyKind wait, int producers)
    {
        bool x2Apic = producers > 8;
        int vcpus = x2Apic ? producers : 8;
        int perVcpu = x2Apic ? 12 : 60;
        var scenario = new StressScenario(vcpus, x2Apic, epochs: 3, perVcpu, seed: (int)mode * 1000 + (int)wait * 100 + producers);
        using Engine engine = StressRun.Run(scenario, producers, mode, wait);
        StressRun.AssertMatchesReference(engine, scenario);
    }
}
