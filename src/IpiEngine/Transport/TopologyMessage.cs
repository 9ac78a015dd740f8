using System.Buffers.Binary;
using IpiEngine.Apic;

namespace IpiEngine.Transport;

/// <summary>What a <see cref="FrameKind.Topology"/> frame says (layout in <c>docs/wire-format.md</c>).</summary>
internal enum TopologyMessageType : byte
{
    /// <summary>A node asks the sequencer to order one of its vCPUs' topology writes.</summary>
    Request = 1,
    /// <summary>The sequencer's decision: write number <see cref="TopologyMessage.Index"/> of the VM, for every node to apply.</summary>
    Commit = 2,
    /// <summary>Sequencer to the writing node: every node applied its write.</summary>
    Done = 3,
    /// <summary>A node's epoch (writes applied), digest and writes held: sent on connect, after each apply, and every heartbeat interval.</summary>
    State = 4,
    /// <summary>A node to the sequencer: a commit it holds that the sequencer's State shows it lacks (a restarted sequencer recovers its log so).</summary>
    Replay = 5,
}

/// <summary>
/// One message of the topology replication protocol (<see cref="TopologyReplication"/>): 48 bytes, little-endian.
/// Fields a type does not use are zero.
/// </summary>
/// <param name="Type">What the message says.</param>
/// <param name="Origin">The node whose vCPU wrote the register (Request, Commit, Done, Replay).</param>
/// <param name="Vcpu">The vCPU that wrote it (Request, Commit, Replay).</param>
/// <param name="Register">The topology register (Request, Commit, Replay).</param>
/// <param name="Value">The value written (Request, Commit, Replay); State: the writes the node holds (applied or being applied, at least <paramref name="Index"/>).</param>
/// <param name="RequestId">The writing node's id for the write (Request, Commit, Done, Replay).</param>
/// <param name="Index">Commit, Done and Replay: the write's place in the VM's order (from 0); State: the epoch (writes applied).</param>
/// <param name="Digest">Commit and Replay: the topology digest after the write; State: the digest at the epoch.</param>
internal readonly record struct TopologyMessage(TopologyMessageType Type, int Origin, int Vcpu, ushort Register, ulong Value,
    ulong RequestId, long Index, ulong Digest)
{
    /// <summary>Bytes on the wire.</summary>
    public const int Size = 48;

    /// <summary>Writes the 48-byte image.</summary>
    public void Write(Span<byte> destination)
    {
        destination[..4].Clear();
        destination[0] = (byte)Type;
        BinaryPrimitives.WriteInt32LittleEndian(destination[4..], Origin);
        BinaryPrimitives.WriteInt32LittleEndian(destination[8..], Vcpu);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[12..], Register);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[16..], Value);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[24..], RequestId);
        BinaryPrimitives.WriteInt64LittleEndian(destination[32..], Index);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[40..], Digest);
    }

    /// <summary>
    /// Reads and validates a message of a VM with <paramref name="vcpus"/> vCPUs and node ids below
    /// <paramref name="nodes"/>; throws <see cref="LinkProtocolException"/> (<see cref="LinkFault.UnexpectedFrame"/>)
    /// for an unknown type, set reserved bytes, a node or vCPU outside the VM, a register that is not a topology
    /// register, a negative index, or a State that holds fewer writes than it applied.
    /// </summary>
    public static TopologyMessage Read(ReadOnlySpan<byte> source, int vcpus, int nodes)
    {
        var type = (TopologyMessageType)source[0];
        if (type is < TopologyMessageType.Request or > TopologyMessageType.Replay || source[1] != 0 || source[2] != 0 || source[3] != 0)
            throw Refuse($"topology message of unknown type {source[0]} or with reserved bytes set");
        var message = new TopologyMessage(type,
            BinaryPrimitives.ReadInt32LittleEndian(source[4..]),
            BinaryPrimitives.ReadInt32LittleEndian(source[8..]),
            0,
            BinaryPrimitives.ReadUInt64LittleEndian(source[16..]),
            BinaryPrimitives.ReadUInt64LittleEndian(source[24..]),
            BinaryPrimitives.ReadInt64LittleEndian(source[32..]),
            BinaryPrimitives.ReadUInt64LittleEndian(source[40..]));
        uint register = BinaryPrimitives.ReadUInt32LittleEndian(source[12..]);
        if (message.Index < 0)
            throw Refuse($"topology {type} with the negative index {message.Index}");
        if (type == TopologyMessageType.State)
        {
            if (message.Value < (ulong)message.Index || message.Value > long.MaxValue)
                throw Refuse($"topology State at epoch {message.Index} that holds {message.Value} writes");
            return message;
        }
        if ((uint)message.Origin >= (uint)nodes)
            throw Refuse($"topology {type} from node {message.Origin}, not a node of this VM");
        if (type == TopologyMessageType.Done)
            return message;
        if ((uint)message.Vcpu >= (uint)vcpus || register > ushort.MaxValue || !ApicTopology.IsTopologyRegister((ushort)register))
            throw Refuse($"topology {type} for vCPU {message.Vcpu} register 0x{register:x}: not a topology register of a vCPU of this VM");
        return message with { Register = (ushort)register };
    }

    private static LinkProtocolException Refuse(string message) => new(LinkFault.UnexpectedFrame, message);
}
