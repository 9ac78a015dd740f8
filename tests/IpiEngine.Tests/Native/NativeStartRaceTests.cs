using System.Diagnostics;
using IpiEngine.Native;
using Xunit;

namespace IpiEngine.Tests.Native;

/// <summary>
/// Posts racing <c>ipi_engine_start</c> (review, helper-42): the header promises <c>IPI_E_WOULD_BLOCK</c> for a full
/// ring until the engine is started, then waiting. The life-cycle state used to read Running before the rings were
/// started, so a post that found its ring full in that window waited on rings nobody drained yet and got IPI_E_STATE.
/// </summary>
public unsafe class NativeStartRaceTests
{
    [Fact]
    public void A_post_racing_start_on_a_full_ring_returns_ok_or_would_block_and_nothing_else()
    {
        var clock = Stopwatch.StartNew();
        int cycles = 0;
        while (cycles < 20 || (clock.Elapsed < TimeSpan.FromSeconds(1.5) && cycles < 400))
        {
            cycles++;
            RunCycle(cycles);
        }
    }

    private static void RunCycle(int cycle)
    {
        NativeConfig config = Abi.Config(2);
        config.RingCapacity = 2;
        ulong engine = Abi.CreateOrFail(config);
        try
        {
            for (uint tag = 0; tag < 2; tag++)
            {
                NativeExit fill = Abi.Icr(0, 1, 0x40, tag);
                Assert.Equal(Status.Ok, Abi.TryPost(engine, &fill)); // the ring (capacity 2) is full before start
            }

            int other = Status.Ok;
            int oks = 0;
            bool go = false;
            var poster = new Thread(() =>
            {
                while (!Volatile.Read(ref go))
                {
                    Thread.SpinWait(1);
                }

                var budget = Stopwatch.StartNew();
                for (uint tag = 2; oks < 4 && budget.Elapsed < TimeSpan.FromSeconds(5); tag++)
                {
                    NativeExit record = Abi.Icr(0, 1, 0x40, tag);
                    int status = Abi.Post(engine, &record);
                    if (status == Status.Ok)
                        oks++;
                    else if (status != Status.WouldBlock)
                    {
                        other = status;
                        return;
                    }
                }
            }) { IsBackground = true };
            poster.Start();
            Volatile.Write(ref go, true);
            Thread.SpinWait(cycle % 50 * 20); // vary where in the poster's loop the start lands
            Assert.Equal(Status.Ok, Abi.Start(engine));
            Assert.True(poster.Join(TimeSpan.FromSeconds(10)), "the poster did not finish");
            Assert.True(other == Status.Ok, $"cycle {cycle}: a post racing start returned {other} (only IPI_OK or IPI_E_WOULD_BLOCK are allowed)");
            Assert.Equal(4, oks); // once started, posts wait and go through
            Assert.Equal(Status.Ok, Abi.Stop(engine));
        }
        finally
        {
            Abi.Destroy(engine);
        }
    }
}
