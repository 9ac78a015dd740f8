using IpiEngine.Cli.Run;
using IpiEngine.Perf.Calibration;
using Xunit;

namespace IpiEngine.Tests.Run;

/// <summary>
/// <c>ipi run --baseline</c>'s comparison per core state: each side's rate is its count over its time in that state's
/// slices; mixed and unknown slices count in no state, and a state without both sides gives no ratio.
/// </summary>
public class BaselineSlicesTests
{
    private static readonly BaselineSlice[] Slices =
    [
        Slice(BaselineSlice.Engine, 0.5, 100, 60, 70),
        Slice(BaselineSlice.Probe, 0.5, 400, 70, 65),
        Slice(BaselineSlice.Engine, 0.5, 300, 65, 400), // near, then far: mixed
        Slice(BaselineSlice.Probe, 0.5, 50, 400, 380),
        Slice(BaselineSlice.Engine, 0.25, 60, 380, 390),
        Slice(BaselineSlice.Probe, 0.25, 40, 390, null), // no reading after: unknown
        Slice(BaselineSlice.Engine, 0.5, 200, null, 60),
        Slice(BaselineSlice.Probe, 1.0, 600, 60, 61),
    ];

    [Fact]
    public void Each_state_compares_only_its_own_slices()
    {
        var near = BaselineSlices.ByState(Slices, CoreDistanceState.Near);
        var far = BaselineSlices.ByState(Slices, CoreDistanceState.Far);

        Assert.Equal((1, 2), (near.EngineSlices, near.ProbeSlices));
        Assert.Equal(200.0, near.EngineIpisPerSecond); // 100 in 0.5 s
        Assert.Equal(1000.0 / 1.5, near.ProbeIpisPerSecond!.Value, 9); // 400 + 600 in 0.5 + 1.0 s
        Assert.Equal(200.0 / (1000.0 / 1.5), near.EngineToProbe!.Value, 9);
        Assert.Equal((1, 1), (far.EngineSlices, far.ProbeSlices));
        Assert.Equal(240.0, far.EngineIpisPerSecond);
        Assert.Equal(100.0, far.ProbeIpisPerSecond);
        Assert.Equal(2.4, far.EngineToProbe!.Value, 9);
    }

    [Fact]
    public void A_state_with_one_side_only_gives_no_ratio()
    {
        var onlyEngineFar = new[] { Slice(BaselineSlice.Engine, 0.5, 100, 400, 400), Slice(BaselineSlice.Probe, 0.5, 100, 400, 60) };

        var far = BaselineSlices.ByState(onlyEngineFar, CoreDistanceState.Far);
        var near = BaselineSlices.ByState(onlyEngineFar, CoreDistanceState.Near);

        Assert.Equal((1, 0), (far.EngineSlices, far.ProbeSlices));
        Assert.Equal(200.0, far.EngineIpisPerSecond);
        Assert.Null(far.ProbeIpisPerSecond);
        Assert.Null(far.EngineToProbe);
        Assert.Equal((0, 0), (near.EngineSlices, near.ProbeSlices));
        Assert.Null(near.EngineIpisPerSecond);
        Assert.Null(near.EngineToProbe);
    }

    [Fact]
    public void The_queue_is_compared_with_the_engine_from_its_own_slices_only()
    {
        BaselineSlice[] rounds =
        [
            Slice(BaselineSlice.Engine, 0.5, 100, 60, 70),
            Slice(BaselineSlice.Probe, 0.5, 400, 70, 65),
            Slice(BaselineSlice.Queue, 0.5, 50, 65, 62),
            Slice(BaselineSlice.Engine, 0.5, 30, 400, 420),
            Slice(BaselineSlice.Probe, 0.5, 10, 420, 410),
            Slice(BaselineSlice.Queue, 0.25, 30, 410, 390),
        ];

        var near = BaselineSlices.QueueByState(rounds, CoreDistanceState.Near);
        var far = BaselineSlices.QueueByState(rounds, CoreDistanceState.Far);
        var probeNear = BaselineSlices.ByState(rounds, CoreDistanceState.Near);

        Assert.Equal((1, 1), (near.EngineSlices, near.QueueSlices));
        Assert.Equal(200.0, near.EngineIpisPerSecond);
        Assert.Equal(100.0, near.QueueIpisPerSecond);
        Assert.Equal(2.0, near.EngineToQueue!.Value, 9);
        Assert.Equal(0.5, far.EngineToQueue!.Value, 9); // 60/s against 120/s
        Assert.Equal(0.25, probeNear.EngineToProbe!.Value, 9); // the probe's ratio ignores the queue's slices
    }

    private static BaselineSlice Slice(string run, double seconds, long count, double? before, double? after)
        => new(run, seconds, count, count / seconds, before, after, CoreDistanceThresholds.Default.Classify(before, after));
}
