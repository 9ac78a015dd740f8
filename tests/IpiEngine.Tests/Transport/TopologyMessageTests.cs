using IpiEngine.Apic;
using IpiEngine.Transport;
using Xunit;

namespace IpiEngine.Tests.Transport;

/// <summary>The 48-byte topology message: layout, and every malformed message refused before it is acted on.</summary>
public class TopologyMessageTests
{
    private const int Vcpus = 4, Nodes = 2;

    private static readonly TopologyMessage Commit = new(TopologyMessageType.Commit, 1, 3, ApicRegister.ApicBase, 0xFEE0_0C00, 0x1122_3344_5566_7788, 5, 0xAABB_CCDD_EEFF_0011);

    private static byte[] Bytes(in TopologyMessage message)
    {
        var bytes = new byte[TopologyMessage.Size];
        message.Write(bytes);
        return bytes;
    }

    [Fact]
    public void A_message_round_trips_in_the_documented_little_endian_layout()
    {
        var bytes = Bytes(Commit);
        Assert.Equal(2, bytes[0]);                                  // type
        Assert.Equal(1, BitConverter.ToInt32(bytes, 4));            // origin
        Assert.Equal(3, BitConverter.ToInt32(bytes, 8));            // vCPU
        Assert.Equal(0x1Bu, BitConverter.ToUInt32(bytes, 12));      // register
        Assert.Equal(0xFEE0_0C00ul, BitConverter.ToUInt64(bytes, 16));
        Assert.Equal(5, BitConverter.ToInt64(bytes, 32));           // index
        Assert.Equal(Commit, TopologyMessage.Read(bytes, Vcpus, Nodes));
    }

    [Theory]
    [InlineData(0, 0)]      // type 0
    [InlineData(0, 6)]      // type past Replay
    [InlineData(2, 1)]      // reserved byte
    [InlineData(4, 2)]      // origin 2: not a node of this VM
    [InlineData(8, 4)]      // vCPU 4: not a vCPU of this VM
    [InlineData(12, 0x00)]  // register 0x000: not a topology register
    [InlineData(13, 0x03)]  // register 0x31B: not a topology register
    [InlineData(39, 0x80)]  // negative index
    public void A_malformed_message_is_refused_with_a_reason(int offset, byte value)
    {
        var bytes = Bytes(Commit);
        bytes[offset] = value;
        var e = Assert.Throws<LinkProtocolException>(() => TopologyMessage.Read(bytes, Vcpus, Nodes));
        Assert.Equal(LinkFault.UnexpectedFrame, e.Fault);
    }

    [Fact]
    public void A_replay_is_checked_like_the_commit_it_carries()
    {
        var replay = Commit with { Type = TopologyMessageType.Replay };
        var bytes = Bytes(replay);
        Assert.Equal(5, bytes[0]);
        Assert.Equal(replay, TopologyMessage.Read(bytes, Vcpus, Nodes));
        bytes[8] = 4; // vCPU 4: not a vCPU of this VM
        Assert.Equal(LinkFault.UnexpectedFrame, Assert.Throws<LinkProtocolException>(() => TopologyMessage.Read(bytes, Vcpus, Nodes)).Fault);
    }

    [Theory]
    [InlineData(7ul, true)]              // holds the 7 writes it applied
    [InlineData(8ul, true)]              // and one its applier is applying
    [InlineData(6ul, false)]             // holds fewer than it applied
    [InlineData(1ul << 63, false)]       // past any count
    public void A_state_holds_at_least_the_writes_it_applied(ulong held, bool valid)
    {
        var bytes = Bytes(new TopologyMessage(TopologyMessageType.State, 1, 0, 0, held, 0, 7, 0x1234));
        if (valid)
            Assert.Equal(held, TopologyMessage.Read(bytes, Vcpus, Nodes).Value);
        else
            Assert.Equal(LinkFault.UnexpectedFrame, Assert.Throws<LinkProtocolException>(() => TopologyMessage.Read(bytes, Vcpus, Nodes)).Fault);
    }

    [Fact]
    public void A_topology_frame_must_have_its_exact_length()
    {
        var header = new byte[FrameHeader.Size];
        new FrameHeader(FrameKind.Topology, TopologyMessage.Size, 0, 0).Write(header);
        Assert.Equal(FrameKind.Topology, FrameHeader.Parse(header).Kind);
        new FrameHeader(FrameKind.Topology, TopologyMessage.Size + 8, 0, 0).Write(header);
        Assert.Equal(LinkFault.LengthOutOfBounds, Assert.Throws<LinkProtocolException>(() => FrameHeader.Parse(header)).Fault);
    }

    [Fact]
    public void The_digest_chain_depends_on_the_order_of_the_writes()
    {
        ulong start = ApicTopology.Configure(4, TopologyKind.XApicPhysical).Digest();
        ulong ab = TopologyReplication.Chain(TopologyReplication.Chain(start, 0, ApicRegister.Ldr, 1), 1, ApicRegister.Ldr, 2);
        ulong ba = TopologyReplication.Chain(TopologyReplication.Chain(start, 1, ApicRegister.Ldr, 2), 0, ApicRegister.Ldr, 1);
        Assert.NotEqual(ab, ba);
        Assert.NotEqual(start, ApicTopology.Configure(4, TopologyKind.XApicPhysical, sparseIds: true).Digest());
        Assert.Equal(start, ApicTopology.Configure(4, TopologyKind.XApicPhysical).Digest());
    }
}
