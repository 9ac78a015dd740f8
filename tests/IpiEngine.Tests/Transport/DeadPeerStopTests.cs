using System.Net;
using System.Net.Sockets;
using IpiEngine.Apic;
using IpiEngine.Delivery;
using IpiEngine.Transport;
using Xunit;

namespace IpiEngine.Tests.Transport;

/// <summary>Issue 17.6: <see cref="Engine.Stop"/> returns in bounded time whatever a peer does, and counts what it could not hand over.</summary>
public class DeadPeerStopTests
{
    private static readonly int[] TwoNodes = [0, 0, 1, 1];

    /// <summary>The "peer": a listener that accepts connections and never reads a byte (the handshake never completes).</summary>
    private sealed class DeadPeer : IAsyncDisposable
    {
        private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        private readonly List<Socket> _held = [];
        private readonly Task _accepting;

        public DeadPeer()
        {
            _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            _listener.Listen(8);
            _accepting = Task.Run(async () =>
            {
                try
                {
                    while (true)
                        _held.Add(await _listener.AcceptAsync());
                }
                catch (Exception e) when (e is SocketException or ObjectDisposedException)
                {
                }
            });
        }

        /// <summary>Node 0 of <see cref="TwoNodes"/>, started, forwarding to this peer through a window of 64 records.</summary>
        public (NodeTransport Transport, Engine Engine) StartNode()
        {
            var transport = new NodeTransport(new TransportOptions
            {
                NodeId = 0,
                NodeOfVcpu = TwoNodes,
                Key = LoopbackCluster.Key,
                Peers = [new PeerAddress(1, (IPEndPoint)_listener.LocalEndPoint!)],
                WindowRecords = 64,
            });
            var engine = new Engine(new EngineOptions { VcpuCount = TwoNodes.Length, Placement = new VcpuPlacement(TwoNodes, 0), Forwarder = transport });
            transport.Start(new EngineSink(engine));
            engine.Start();
            return (transport, engine);
        }

        public async ValueTask DisposeAsync()
        {
            _listener.Dispose();
            await _accepting;
            foreach (var s in _held)
                s.Dispose();
        }
    }

    [Fact]
    public async Task A_try_post_never_waits_for_a_peer_that_never_reads_even_when_the_pipeline_is_parked()
    {
        // One remote IPI at a time with pauses, so the fused pipeline parks between them and each try-post finds its doorbell
        // bit clear: the poster may then do the pipeline's work itself (the idle assist), forwarding included. Once the
        // link's window of 64 is full, forwarding waits for the peer; a try-post must not (it hung in 4 of 25 runs of the
        // test below, CI's one hang, before try-posts stopped assisting on engines that forward).
        await using var deadPeer = new DeadPeer();
        var (transport, engine) = deadPeer.StartNode();
        try
        {
            int taken = 0;
            var posting = Task.Run(() =>
            {
                for (int i = 0; i < 200; i++)
                {
                    taken += engine.TryPost(0, ApicRegister.X2Icr, (3UL << 32) | 0x40, 3, tag: (ulong)i) ? 1 : 0;
                    Thread.Sleep(2); // long enough for the pipeline to park
                }
            }, TestContext.Current.CancellationToken);
            bool returned = await Task.WhenAny(posting, Task.Delay(TimeSpan.FromSeconds(20), TestContext.Current.CancellationToken)) == posting;
            Assert.True(returned, "a try-post did not return within 20 s while the peer never reads");
            await posting;
            Assert.True(taken > 64, $"only {taken} try-posts taken: the window of 64 never filled");
        }
        finally
        {
            await transport.DisposeAsync(); // releases a poster still waiting in the link (so the test run goes on)
            engine.Dispose();
        }
    }

    [Fact]
    public async Task Stop_returns_in_bounded_time_when_the_peer_accepts_and_never_reads()
    {
        await using var deadPeer = new DeadPeer();
        var (transport, engine) = deadPeer.StartNode();
        Task stop = Task.CompletedTask;
        try
        {
            // vCPU 0 sends vector 0x40 to vCPU 3 (node 1) and, in between, vector 0x41 to vCPU 1 (local). TryPost: the
            // rings may fill while the stuck peer holds the pipeline (policy Wait), and the test must not hang on that.
            long remote = 0, local = 0;
            var posting = System.Diagnostics.Stopwatch.StartNew();
            for (int i = 0; i < 5_000 && posting.Elapsed < TimeSpan.FromSeconds(2); i++)
            {
                remote += engine.TryPost(0, ApicRegister.X2Icr, (3UL << 32) | 0x40, 3, tag: (ulong)i) ? 1 : 0;
                local += engine.TryPost(0, ApicRegister.X2Icr, (1UL << 32) | 0x41, 1, tag: (ulong)i) ? 1 : 0;
            }
            Assert.True(remote > 64, $"only {remote} remote IPIs posted: the window of 64 never filled");
            stop = Task.Run(engine.Stop, TestContext.Current.CancellationToken);
            // Bounded: the test fails instead of hanging when Stop does not return.
            bool returned = await Task.WhenAny(stop, Task.Delay(TimeSpan.FromSeconds(20), TestContext.Current.CancellationToken)) == stop;
            Assert.True(returned, "Engine.Stop did not return within 20 s while the peer never reads");
            await stop;

            var counters = engine.ReadCounters();
            var link = transport.Link(1).Counters;
            Assert.Equal(remote + local, counters.IpisResolved);
            Assert.True(counters.ConservationHolds, counters.ToString());
            // Every remote destination is accounted for: handed to the link or counted as not handed over.
            Assert.Equal(remote, counters.Forwarded + counters.PeerUnreachable);
            Assert.Equal(counters.Forwarded, link.Forwarded);
            // The peer acknowledged nothing: what the link took is still in flight (kept for a resend), the rest counted.
            Assert.Equal(0, link.Acknowledged);
            Assert.Equal(link.Forwarded, link.InFlight);
            Assert.True(counters.PeerUnreachable > 0 && link.Abandoned == counters.PeerUnreachable, $"unreachable {counters.PeerUnreachable}, abandoned {link.Abandoned}");
            Assert.True(engine.TakePending(1).IsPending(0x41)); // local deliveries were not held up
        }
        finally
        {
            await transport.DisposeAsync(); // also releases a Stop that is still stuck (so the test run goes on)
            await stop.WaitAsync(TimeSpan.FromSeconds(20), CancellationToken.None).ContinueWith(_ => { }, TaskScheduler.Default);
            engine.Dispose();
        }
    }
}
