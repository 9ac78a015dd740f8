using BenchmarkDotNet.Attributes;
using IpiEngine.Perf.RoundTrip;
using IpiEngine.Perf.Suite;

namespace IpiEngine.Benchmarks.Transport;

/// <summary>
/// A level-triggered IOAPIC pin's round trip across two engines on one loopback link (issue 16, GiantVM's layout):
/// assert on node 0, which owns the IOAPIC and the device, delivered to a vCPU on node 1, whose EOI travels back to
/// node 0 and clears remote IRR there (<see cref="IoApicRoundTrip"/>, the rig <c>ipi perf ioapic-roundtrip</c> also
/// runs). One operation is one round trip, back to back; the mean is what this gives, the p50/p99 come from
/// <c>ipi perf ioapic-roundtrip</c>. The setup's and each trip's waits are bounded (30 s a step).
/// </summary>
[BenchmarkCategory("Transport")]
[MemoryDiagnoser]
public class IoApicRoundTripBenchmarks
{
    /// <summary>Round trips per invocation.</summary>
    public const int TripsPerInvocation = 256;

    private IoApicRoundTrip _trip = null!;

    /// <summary>Starts both nodes and programs the pin.</summary>
    [GlobalSetup]
    public void Setup() => _trip = IoApicRoundTrip.Start(TimeSpan.FromSeconds(30));

    /// <summary>Assert, deliver on the other node, EOI back, remote IRR clear; <see cref="TripsPerInvocation"/> times.</summary>
    [Benchmark(OperationsPerInvoke = TripsPerInvocation)]
    [BenchmarkCategory(SuiteCategories.CrossThread)]
    public long LevelPinRoundTrip()
    {
        long ticks = 0;
        for (int i = 0; i < TripsPerInvocation; i++)
        {
            ticks += _trip.RunOnce();
        }

        return ticks;
    }

    /// <summary>Checks the counts (one assertion fired and one EOI returned per trip) and stops both nodes.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        bool exact = _trip.StopAndCheck();
        _trip.Dispose();
        if (!exact)
        {
            throw new InvalidOperationException("The IOAPIC round trips were not exact: an assertion or an EOI was lost, doubled or rejected.");
        }
    }
}
