using System.Security.Cryptography;
using IpiEngine.Cli.TraceNodes;
using IpiEngine.Transport;

namespace IpiEngine.Cli.Nodes;

/// <summary>
/// A node's warm-up (<c>ipi node --warmup-ms</c>; <c>ipi run --nodes</c> passes its <c>--warmup</c>): before the node
/// builds its own transport and engine, its whole path (posting, the idle assist, resolution, forwarding, framing and
/// tagging, the links' send and receive loops, arrivals, delivery) runs in this process on a throw-away VM of two nodes
/// on loopback, built as a node builds its own (<see cref="NodeCommand.NewEngine"/>, <see cref="NodeCommand.NewArrivals"/>),
/// then drained and disposed. Nothing of it is counted, as with <c>ipi run</c>'s warm-up on a throw-away engine.
/// </summary>
/// <remarks>
/// Node processes compile optimized at once (tiering off): without a warm-up, the first records of a run waited for the
/// compiler and the thread pool's start. Measured (2 nodes, 2 s at 1 M IPIs/s, far): deliveries posted in the first
/// 50 ms took 28-62 ms at p50 and those of the next 50 ms 9-27 ms, against 0.1-0.4 ms after the first 0.15 s, which
/// made up most of a short run's p99.
/// </remarks>
internal static class NodeWarmUp
{
    /// <summary>The throw-away links' queues (records): a small window, so the warm-up waits for room rather than filling 512 MiB.</summary>
    private const int WindowRecords = 1 << 16;

    /// <summary>How long the throw-away VM may take to connect, and then to drain, before it is dropped undrained.</summary>
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Runs <paramref name="script"/> for <see cref="NodeRunArguments.Warmup"/> on both nodes of a throw-away two-node VM
    /// (vCPU v on node v % 2) with the node's threading, assist, rate, batch, SVR writes, local targets and encryption;
    /// false when the throw-away VM did not connect, or did not drain, within <see cref="Patience"/> (it is dropped anyway).
    /// </summary>
    public static async Task<bool> RunAsync(NodeScript script, NodeRunArguments args, LocalTargets localTargets, bool encrypt, CancellationToken ct)
    {
        int[] placement = [.. Enumerable.Range(0, script.Script.Vcpus.Length).Select(v => v % 2)];
        byte[] key = RandomNumberGenerator.GetBytes(32);
        var transports = new NodeTransport?[2];
        var engines = new Engine?[2];
        var kernels = new KernelStandIn?[2];
        try
        {
            for (int node = 1; node >= 0; node--) // node 1 listens first: node 0 dials the port it got
            {
                var transport = transports[node] = new NodeTransport(new TransportOptions
                {
                    NodeId = node,
                    NodeOfVcpu = placement,
                    Key = key,
                    Encrypt = encrypt,
                    WindowRecords = WindowRecords,
                    Peers = [node == 0 ? new PeerAddress(1, transports[1]!.LocalEndPoint) : new PeerAddress(0)],
                });
                var engine = engines[node] = NodeCommand.NewEngine(script, placement, node, localTargets, transport, args with { PipelineCpus = null });
                (var arrivals, kernels[node]) = NodeCommand.NewArrivals(script, placement, node, localTargets, engine);
                transport.Start(arrivals);
                engine.Start();
            }

            if (!await NodeCommand.WaitAsync(() => transports.All(t => t!.Links.All(l => l.IsConnected)), Patience, ct))
            {
                return false;
            }

            await Task.WhenAll(Enumerable.Range(0, 2).Select(node => Task.Run(() => script.Post(engines[node]!, NodeWorkload.VcpusOf(placement, node),
                ipisPerVcpu: 0, args.Warmup, args.Rate, kernels[node], ct, args.SvrWriteEvery, args.Batch, args.PaceStepMicroseconds,
                args.SendBatch ? transports[node] : null), CancellationToken.None)));
            return await NodeCommand.WaitAsync(() => engines.All(e => e!.ReadCounters().InFlight == 0) && transports.All(t => t!.Links.All(l => l.Counters.InFlight == 0)), Patience, ct);
        }
        finally
        {
            foreach (var transport in transports)
            {
                if (transport is not null)
                {
                    await transport.DisposeAsync(); // first: no arrival may reach an engine after it is freed
                }
            }

            foreach (var engine in engines)
            {
                engine?.Dispose();
            }
        }
    }
}
