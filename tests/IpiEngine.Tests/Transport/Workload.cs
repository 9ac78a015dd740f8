using IpiEngine.Delivery;
using Xunit;

namespace IpiEngine.Tests.Transport;

/// <summary>
/// A deterministic stream of remote deliveries: each local vCPU in turn sends to a remote vCPU chosen from its own
/// counter, tagged with that counter, so a receiver can check exactly-once, order and destination per source.
/// </summary>
public static class Workload
{
    public static RemoteDelivery Make(uint source, ulong tag, IReadOnlyList<uint> remote)
    {
        uint destination = remote[(int)((source + tag) % (ulong)remote.Count)];
        return new RemoteDelivery(tag, 0, source, destination, 0x0000_00FD, destination);
    }

    /// <summary>Forwards <paramref name="perSource"/> records from every vCPU on <paramref name="node"/> to each other node, in batches.</summary>
    public static void Run(IpiEngine.Transport.NodeTransport transport, int[] nodeOfVcpu, int perSource, int batch = 64)
    {
        int node = transport.NodeId;
        var local = Enumerable.Range(0, nodeOfVcpu.Length).Where(v => nodeOfVcpu[v] == node).Select(v => (uint)v).ToArray();
        var buffer = new RemoteDelivery[batch];
        foreach (int peer in nodeOfVcpu.Distinct().Where(n => n != node))
        {
            var remote = Enumerable.Range(0, nodeOfVcpu.Length).Where(v => nodeOfVcpu[v] == peer).Select(v => (uint)v).ToArray();
            int filled = 0;
            for (int tag = 0; tag < perSource; tag++)
            {
                foreach (uint source in local)
                {
                    buffer[filled++] = Make(source, (ulong)tag, remote);
                    if (filled == batch)
                    {
                        transport.Forward(peer, buffer);
                        filled = 0;
                    }
                }
            }
            transport.Forward(peer, buffer.AsSpan(0, filled));
        }
    }

    /// <summary>
    /// Asserts that <paramref name="received"/> holds, for every source on another node, tags
    /// <paramref name="firstTag"/>..perSource-1 exactly once, in order, each at the right destination.
    /// </summary>
    public static void AssertExactlyOnceInOrder((int From, RemoteDelivery Delivery)[] received, int[] nodeOfVcpu, int self, int perSource, int firstTag = 0)
    {
        var remoteOfSelf = Enumerable.Range(0, nodeOfVcpu.Length).Where(v => nodeOfVcpu[v] == self).Select(v => (uint)v).ToArray();
        var next = new Dictionary<uint, ulong>();
        foreach (var (from, d) in received)
        {
            Assert.Equal(nodeOfVcpu[d.SourceVcpu], from);
            ulong expected = next.TryGetValue(d.SourceVcpu, out var n) ? n : (ulong)firstTag;
            Assert.True(d.Tag == expected, $"source {d.SourceVcpu}: got tag {d.Tag}, expected {expected} (lost, doubled or reordered)");
            Assert.Equal(Make(d.SourceVcpu, d.Tag, remoteOfSelf).DestinationVcpu, d.DestinationVcpu);
            next[d.SourceVcpu] = expected + 1;
        }
        var sources = Enumerable.Range(0, nodeOfVcpu.Length).Where(v => nodeOfVcpu[v] != self).Select(v => (uint)v);
        foreach (uint source in sources)
            Assert.Equal((ulong)perSource, next.TryGetValue(source, out var n) ? n : (ulong)firstTag);
    }
}
