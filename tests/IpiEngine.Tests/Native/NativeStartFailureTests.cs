using IpiEngine.Delivery;
using IpiEngine.Native;
using Xunit;

namespace IpiEngine.Tests.Native;

/// <summary>
/// A start that throws (review, helper-42-b): <c>ipi_engine_start</c> set Starting, and only a listener that could not
/// open put it back, so after any other failure of the engine's start the engine stayed Starting for good: a second
/// start said "already started", a batch "needs a started engine". The engine cannot be started again (its pipeline
/// is faulted, or half started), so a failed start now leaves it failed: start and posts return IPI_E_FAULTED with the
/// failure, stop and destroy work. A C host cannot make the start throw short of running out of threads (its kick
/// cannot throw), so the engine is built around a managed one in Inline mode whose notifier fails fast: the start
/// delivers the record posted before it, on the starting thread, and the pipeline fails there.
/// </summary>
public unsafe class NativeStartFailureTests
{
    [Fact]
    public void A_start_that_throws_leaves_the_engine_failed_with_its_reason_and_stop_and_destroy_still_work()
    {
        ulong engine = Abi.EngineWhoseKickFails();
        try
        {
            NativeExit record = Abi.Icr(0, 1, 0x40);
            Assert.Equal(Status.Ok, Abi.Post(engine, &record)); // before start: waits in the ring

            Assert.Equal(Status.Faulted, Abi.Start(engine));
            Assert.Contains("ipi_engine_start failed", Abi.LastErrorText(), StringComparison.Ordinal);
            Assert.Contains("kick failed", Abi.LastErrorText(), StringComparison.Ordinal);

            Assert.Equal(Status.Faulted, Abi.Start(engine)); // before the fix: IPI_E_STATE, "already started"
            Assert.Contains("kick failed", Abi.LastErrorText(), StringComparison.Ordinal);
            NativeExit* batch = stackalloc NativeExit[2] { Abi.Icr(0, 1, 0x41), Abi.Icr(1, 0, 0x42) };
            uint posted = 7;
            Assert.Equal(Status.Faulted, Abi.PostBatchEx(engine, batch, 2, &posted)); // before the fix: IPI_E_STATE
            Assert.Equal(0u, posted);
            Assert.Equal(Status.Faulted, Abi.Post(engine, &record));
            Assert.Equal(Status.Faulted, Abi.TryPost(engine, &record));

            Assert.Equal(Status.Faulted, Abi.Stop(engine)); // the pipeline failure, reported by stop as always
            Assert.Equal(Status.Stopped, Abi.Post(engine, &record)); // stopped now, as after any stop
            NativeCounters counters = Abi.ReadCounters(engine);
            Assert.Equal(1ul, counters.Posted); // the record posted before start, and nothing after
            Assert.Equal(counters.Posted, counters.IpisResolved + counters.Rejected);
        }
        finally
        {
            Assert.Equal(Status.Ok, Abi.Destroy(engine));
        }
    }
}
