using System.Diagnostics;
using IpiEngine.Native;
using Xunit;

namespace IpiEngine.Tests.Native;

/// <summary>
/// Stop racing C producers and a second C stopper (issue 17, items 4 and 5), through the exports in-process: a post
/// returns IPI_OK only if its record is resolved by the drain, IPI_E_STOPPED otherwise (never IPI_E_STATE, never
/// IPI_OK once ipi_engine_stop has returned), and every ipi_engine_stop returns only when nothing is in flight.
/// </summary>
public unsafe class NativeStopRaceTests
{
    [Theory]
    [InlineData(0u)] // fused
    [InlineData(1u)] // per stage
    public void Posts_racing_two_stops_are_resolved_or_refused_with_stopped(uint threading)
    {
        var clock = Stopwatch.StartNew();
        int cycles = 0;
        while (cycles < 3 || (clock.Elapsed < TimeSpan.FromSeconds(1.2) && cycles < 200))
        {
            cycles++;
            RunCycle(threading, cycles);
        }
    }

    private static void RunCycle(uint threading, int cycle)
    {
        const int Producers = 4;
        const int Stoppers = 2;
        NativeConfig config = Abi.Config(Producers);
        config.RingCapacity = 2;
        config.ThreadingMode = threading;
        ulong engine = Abi.CreateOrFail(config);
        try
        {
            Assert.Equal(Status.Ok, Abi.Start(engine));
            var ok = new long[Producers];
            var okAfterStop = new long[Producers];
            var otherStatus = new int[Producers];
            int stopsReturned = 0;
            var threads = new List<Thread>();
            for (int p = 0; p < Producers; p++)
            {
                int vcpu = p;
                var thread = new Thread(() =>
                {
                    var budget = Stopwatch.StartNew();
                    for (uint tag = 0; budget.Elapsed < TimeSpan.FromSeconds(10); tag++)
                    {
                        bool stopped = Volatile.Read(ref stopsReturned) > 0;
                        NativeExit record = Abi.Icr((uint)vcpu, (uint)((vcpu + 1) % Producers), 0x20 + (tag % 200), tag);
                        int status = Abi.Post(engine, &record);
                        if (status == Status.Stopped)
                        {
                            return;
                        }

                        if (status != Status.Ok)
                        {
                            otherStatus[vcpu] = status;
                            return;
                        }

                        Volatile.Write(ref ok[vcpu], ok[vcpu] + 1);
                        okAfterStop[vcpu] += stopped ? 1 : 0;
                    }
                }) { IsBackground = true };
                threads.Add(thread);
                thread.Start();
            }

            var warm = Stopwatch.StartNew();
            while (Volatile.Read(ref ok[0]) < 2 && warm.ElapsedMilliseconds < 200)
            {
                Thread.Yield();
            }

            var stopStatus = new int[Stoppers];
            var inFlight = new long[Stoppers];
            var stoppers = new Thread[Stoppers];
            for (int s = 0; s < Stoppers; s++)
            {
                int index = s;
                stoppers[s] = new Thread(() =>
                {
                    stopStatus[index] = Abi.Stop(engine);
                    NativeCounters counters = default;
                    counters.StructSize = (uint)sizeof(NativeCounters);
                    Abi.Counters(engine, &counters);
                    inFlight[index] = (long)(counters.Posted - counters.Latched - counters.TopologyWrites - counters.IpisResolved - counters.Rejected);
                    Interlocked.Increment(ref stopsReturned);
                }) { IsBackground = true };
                stoppers[s].Start();
            }

            foreach (Thread thread in stoppers.Concat(threads))
            {
                Assert.True(thread.Join(TimeSpan.FromSeconds(20)), $"cycle {cycle}: a thread did not finish");
            }

            Assert.All(stopStatus, s => Assert.Equal(Status.Ok, s));
            Assert.All(inFlight, n => Assert.True(n == 0, $"cycle {cycle}: ipi_engine_stop returned with {n} records in flight"));
            Assert.All(otherStatus, s => Assert.True(s == 0, $"cycle {cycle}: a post racing stop got {Abi.Message(s)} ({s})"));
            Assert.All(okAfterStop, n => Assert.True(n == 0, $"cycle {cycle}: ipi_post returned IPI_OK {n} times after ipi_engine_stop returned"));
            NativeCounters final = default;
            final.StructSize = (uint)sizeof(NativeCounters);
            Assert.Equal(Status.Ok, Abi.Counters(engine, &final));
            Assert.Equal((ulong)ok.Sum(), final.Posted);
            Assert.Equal(final.Posted, final.Latched + final.TopologyWrites + final.IpisResolved + final.Rejected);
            Assert.Equal(final.DestinationsResolved, final.Delivered + final.Coalesced + final.Forwarded);
        }
        finally
        {
            Abi.Destroy(engine);
        }
    }
}
