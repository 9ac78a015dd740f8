using System.Globalization;
using IpiEngine.Apic;
using IpiEngine.Cli.TraceNodes;
using IpiEngine.Transport;

namespace IpiEngine.Cli.Nodes;

/// <summary>
/// What an <c>ipi node --control</c> process answers on standard input while it serves, before <c>go</c>: a node that
/// is told nothing else keeps its links up, forwards and applies what its peers send, until <c>stop</c>. Lines:
/// <list type="bullet">
/// <item><c>write VCPU REGISTER VALUE</c> (register and value in hex, VCPU one of this node's): a topology write,
/// replicated to every node; prints <c>written EPOCH DIGEST</c> once every node applied it, or <c>write-failed
/// REASON</c> (<see cref="TopologyWriteFailure"/>) with the sentence on standard error.</item>
/// <item><c>topology</c>: prints <c>topology EPOCH DIGEST WRITES PEER_WRITES</c> (writes applied here, the chained
/// digest in hex, and the engine's topology-write counters).</item>
/// </list>
/// A line it does not know is named on standard error and ignored.
/// </summary>
internal static class NodeControl
{
    /// <summary>Serves control lines until <c>go</c> (true), <c>stop</c> (false) or the end of input (null: nobody controls it any more).</summary>
    public static async Task<bool?> ServeUntilGoAsync(Engine engine, NodeTransport transport, int[] placement, int self, KernelStandIn? kernel,
        CancellationToken ct)
    {
        while (await Console.In.ReadLineAsync(ct) is { } raw)
        {
            string line = raw.Trim();
            if (line.StartsWith("go", StringComparison.Ordinal))
                return true;
            if (line.StartsWith("stop", StringComparison.Ordinal))
                return false;
            if (line == "topology")
                Console.Out.WriteLine(Topology(engine, transport));
            else if (line.StartsWith("write ", StringComparison.Ordinal))
                Console.Out.WriteLine(await Task.Run(() => Write(line, engine, transport, placement, self, kernel), CancellationToken.None));
            else if (line.Length > 0)
                Console.Error.WriteLine($"node {self}: unknown control line \"{line}\" (go, stop, write VCPU REGISTER VALUE, topology)");
        }
        return null;
    }

    /// <summary>
    /// The <c>topology</c> line. The epoch and digest are read first, together, and the counters after them: read the
    /// other way round, a write applied between the reads showed its epoch beside counters that did not count it yet.
    /// </summary>
    internal static string Topology(Engine engine, NodeTransport transport)
    {
        var (epoch, digest) = transport.Replication.Position();
        var counters = engine.ReadCounters();
        return string.Create(CultureInfo.InvariantCulture, $"topology {epoch} {digest:x16} {counters.TopologyWrites} {counters.PeerTopologyWrites}");
    }

    /// <summary>One <c>write</c> line: posted as the vCPU's own write (no other thread posts for it before <c>go</c>).</summary>
    private static string Write(string line, Engine engine, NodeTransport transport, int[] placement, int self, KernelStandIn? kernel)
    {
        var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length != 4 || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int vcpu)
            || !ushort.TryParse(Hex(parts[2]), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ushort register)
            || !ulong.TryParse(Hex(parts[3]), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong value))
            return Refuse(self, "bad-line", $"\"{line}\" is not write VCPU REGISTER VALUE (register and value in hex)");
        if (vcpu >= placement.Length || placement[vcpu] != self)
            return Refuse(self, "not-local", $"vCPU {vcpu} is not a vCPU of this node");
        if (!ApicTopology.IsTopologyRegister(register))
            return Refuse(self, "not-topology", $"register 0x{register:x} is not a topology register");
        try
        {
            var record = new ExitRecord((ushort)vcpu, register, value, 0, 0, 0);
            kernel?.Write(record); // the kernel sees the write first, as KVM does
            engine.Post(vcpu, register, value, 0); // returns once every node applied it
        }
        catch (TopologyWriteException e)
        {
            return Refuse(self, e.Failure.ToString(), e.Message);
        }
        var (epoch, digest) = transport.Replication.Position();
        return string.Create(CultureInfo.InvariantCulture, $"written {epoch} {digest:x16}");
    }

    private static string Hex(string text) => text.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? text[2..] : text;

    private static string Refuse(int self, string reason, string sentence)
    {
        Console.Error.WriteLine($"node {self}: {sentence}.");
        return "write-failed " + reason;
    }
}
