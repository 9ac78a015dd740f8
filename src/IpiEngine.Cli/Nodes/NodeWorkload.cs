using System.Diagnostics;
using IpiEngine.Delivery;
using IpiEngine.Transport;

namespace IpiEngine.Cli.Nodes;

/// <summary>
/// The transport tests' link-level stream (no engine): every vCPU of this node sends <c>perSource</c> fixed IPIs (vector 0xFD) to the
/// vCPUs of each other node in turn, tagged with a per-source, per-peer counter, so that the receiver can check
/// exactly-once delivery, per-source order and the destination of every record.
/// </summary>
internal static class NodeWorkload
{
    /// <summary>The record a source sends with tag <paramref name="tag"/> to the vCPUs <paramref name="remote"/> of one node.</summary>
    public static RemoteDelivery Make(uint source, ulong tag, ReadOnlySpan<uint> remote, long timestamp = 0)
    {
        uint destination = remote[(int)((source + tag) % (ulong)remote.Length)];
        return new RemoteDelivery(tag, timestamp, source, destination, 0x0000_00FD, destination);
    }

    /// <summary>The vCPUs placed on <paramref name="node"/>.</summary>
    public static uint[] VcpusOf(IReadOnlyList<int> nodeOfVcpu, int node)
    {
        var list = new List<uint>();
        for (int v = 0; v < nodeOfVcpu.Count; v++)
        {
            if (nodeOfVcpu[v] == node)
                list.Add((uint)v);
        }
        return [.. list];
    }

    /// <summary>Forwards the workload through <paramref name="transport"/> in batches; returns the records forwarded.</summary>
    public static long Run(NodeTransport transport, IReadOnlyList<int> nodeOfVcpu, int perSource, int batch, bool stamp)
    {
        ArgumentNullException.ThrowIfNull(transport);
        var local = VcpusOf(nodeOfVcpu, transport.NodeId);
        var buffer = new RemoteDelivery[Math.Max(1, batch)];
        long total = 0;
        foreach (var link in transport.Links)
        {
            var remote = VcpusOf(nodeOfVcpu, link.PeerNode);
            if (remote.Length == 0 || local.Length == 0)
                continue;
            int filled = 0;
            for (int tag = 0; tag < perSource; tag++)
            {
                long now = stamp ? Stopwatch.GetTimestamp() : 0;
                foreach (uint source in local)
                {
                    buffer[filled++] = Make(source, (ulong)tag, remote, now);
                    if (filled == buffer.Length)
                    {
                        link.Forward(buffer);
                        filled = 0;
                    }
                }
            }
            link.Forward(buffer.AsSpan(0, filled));
            total += (long)perSource * local.Length;
        }
        return total;
    }
}
