using IpiEngine.Cli.TraceNodes;
using IpiEngine.Tests.Transport;
using IpiEngine.Trace;
using IpiEngine.Transport;

namespace IpiEngine.Tests.Run;

/// <summary>
/// A trace replayed over N nodes in this process: one <see cref="TraceNode"/> per node, each with its own engine and a
/// real <see cref="NodeTransport"/> on loopback (vCPU v on node v % N), the rendezvous a barrier; bounded in time.
/// </summary>
internal static class InProcessTraceNodes
{
    public sealed record Outcome(TraceNodesMerge Merge, TraceNodeReport[] Reports, ReplayResult Sequential, ExitRecord[] Exits);

    /// <summary>
    /// Runs the trace at <paramref name="prefix"/>; <paramref name="link"/> (node, the node's receiving side) may put a
    /// sink of the test's in front of what arrives at a node, as a faulty link would be.
    /// </summary>
    public static Outcome Run(string prefix, int nodes, ThreadingMode threading, LocalTargets localTargets,
        Func<int, RemoteDeliverySink, RemoteDeliverySink>? link = null)
    {
        uint[] ids = TraceReader.ReadVcpus(prefix + ".vcpus.csv");
        ExitRecord[] exits = TraceReader.ReadExits(prefix + ".exits.csv", ids.Length);
        ReplayResult sequential = SequentialReplay.Run(ids, exits);
        int[] placement = [.. Enumerable.Range(0, ids.Length).Select(v => v % nodes)];
        var timeout = TimeSpan.FromSeconds(60);
        var transports = new NodeTransport[nodes];
        var members = new TraceNode[nodes];
        try
        {
            for (int node = nodes - 1; node >= 0; node--) // each node dials the higher ids, already listening
            {
                transports[node] = new NodeTransport(new TransportOptions
                {
                    NodeId = node,
                    NodeOfVcpu = placement,
                    Key = LoopbackCluster.Key,
                    Peers = [.. Enumerable.Range(0, nodes).Where(p => p != node).Select(p => new PeerAddress(p, p > node ? transports[p].LocalEndPoint : null))],
                });
                members[node] = new TraceNode(new TraceNodeSetup(node, placement, ids, exits, sequential, threading, localTargets, timeout), transports[node]);
                transports[node].Start(link?.Invoke(node, members[node].Arrivals) ?? members[node].Arrivals);
                members[node].Start();
            }

            Require(() => transports.All(t => t.Links.All(l => l.IsConnected)), timeout, "the links did not come up");
            using var rendezvous = new InProcessRendezvous(nodes);
            using var cancel = new CancellationTokenSource(timeout);
            var failures = new Exception?[nodes];
            var threads = members.Select((member, node) => new Thread(() =>
            {
                try
                {
                    member.Post(rendezvous, cancel.Token);
                }
                catch (Exception e)
                {
                    failures[node] = e;
                    cancel.Cancel();
                }
            }) { IsBackground = true }).ToArray();
            foreach (var thread in threads)
                thread.Start();
            foreach (var thread in threads)
            {
                if (!thread.Join(2 * timeout)) // the posts give up at the token's timeout: a thread still running is stuck
                {
                    cancel.Cancel();
                    throw new TimeoutException($"a node's posting thread did not finish within {2 * timeout.TotalSeconds:0} s");
                }
            }
            var failure = failures.FirstOrDefault(f => f is not null and not OperationCanceledException) ?? failures.FirstOrDefault(f => f is not null);
            if (failure is not null)
                throw new InvalidOperationException("a node failed: " + failure.Message, failure);

            Require(() => members.All(m => m.Drained), timeout, "the nodes did not drain");
            var finished = members.Select(m => m.Finish()).ToArray();
            var merge = TraceNodesMerge.Merge(sequential, placement, finished.SelectMany(f => f.Deliveries));
            return new Outcome(merge, [.. finished.Select(f => f.Report)], sequential, exits);
        }
        finally
        {
            foreach (var transport in transports)
            {
                if (transport is not null)
                    transport.DisposeAsync().AsTask().GetAwaiter().GetResult(); // first: nothing reaches an engine after it is freed
            }

            foreach (var member in members)
                member?.Dispose();
        }
    }

    private static void Require(Func<bool> condition, TimeSpan timeout, string what)
    {
        if (!LoopbackCluster.WaitUntilAsync(condition, timeout).GetAwaiter().GetResult())
            throw new TimeoutException($"{what} within {timeout.TotalSeconds:0} s.");
    }
}
