using IpiEngine.Cli.Nodes;
using IpiEngine.Delivery;
using Xunit;

namespace IpiEngine.Tests.Transport;

/// <summary>Test side of <see cref="NodeWorkload"/>: runs it, and checks a node's whole received stream strictly.</summary>
public static class Workload
{
    public static void Run(IpiEngine.Transport.NodeTransport transport, int[] nodeOfVcpu, int perSource, int batch = 64)
        => NodeWorkload.Run(transport, nodeOfVcpu, perSource, batch, stamp: false);

    /// <summary>
    /// Asserts that <paramref name="received"/> holds, for every source on another node, tags
    /// <paramref name="firstTag"/>..perSource-1 exactly once, in order, each at the right destination.
    /// </summary>
    public static void AssertExactlyOnceInOrder((int From, RemoteDelivery Delivery)[] received, int[] nodeOfVcpu, int self, int perSource, int firstTag = 0)
    {
        var remoteOfSelf = NodeWorkload.VcpusOf(nodeOfVcpu, self);
        var next = new Dictionary<uint, ulong>();
        foreach (var (from, d) in received)
        {
            Assert.Equal(nodeOfVcpu[d.SourceVcpu], from);
            ulong expected = next.TryGetValue(d.SourceVcpu, out var n) ? n : (ulong)firstTag;
            Assert.True(d.Tag == expected, $"source {d.SourceVcpu}: got tag {d.Tag}, expected {expected} (lost, doubled or reordered)");
            Assert.Equal(NodeWorkload.Make(d.SourceVcpu, d.Tag, remoteOfSelf).DestinationVcpu, d.DestinationVcpu);
            next[d.SourceVcpu] = expected + 1;
        }
        var sources = Enumerable.Range(0, nodeOfVcpu.Length).Where(v => nodeOfVcpu[v] != self).Select(v => (uint)v);
        foreach (uint source in sources)
            Assert.Equal((ulong)perSource, next.TryGetValue(source, out var n) ? n : (ulong)firstTag);
    }
}
