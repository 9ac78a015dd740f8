using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using IpiEngine.Native;
using IpiEngine.Transport;
using Xunit;

namespace IpiEngine.Tests.Native;

/// <summary>
/// The C ABI's nodes of a multi-host VM (ABI 1.2), called through function pointers as C calls them: two nodes in this
/// process over loopback, engine- and kernel-served local targets, both injector forms, VM-wide topology writes from C,
/// and every bad input as a status code. examples/c-sim --nodes runs the same against the NativeAOT library in CI.
/// </summary>
public unsafe class NativeNodeTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60); // a loaded 2-core machine: generous

    private static readonly byte[] s_key = [.. Enumerable.Range(1, 32).Select(i => (byte)i)];

    /// <summary>What a node's injector received; the callback finds it through a GCHandle in the context pointer.</summary>
    private sealed class Injected
    {
        public ConcurrentQueue<IcrInjection> Records { get; } = new();
        public ConcurrentQueue<NativeX2ApicInjection> X2ApicRecords { get; } = new();
        public int Count => Records.Count + X2ApicRecords.Count;
    }

    [UnmanagedCallersOnly]
    private static void OnInject(nint context, IcrInjection* records, uint count)
    {
        var sink = (Injected)GCHandle.FromIntPtr(context).Target!;
        for (uint i = 0; i < count; i++)
            sink.Records.Enqueue(records[i]);
    }

    [UnmanagedCallersOnly]
    private static void OnInjectX2Apic(nint context, NativeX2ApicInjection* records, uint count)
    {
        var sink = (Injected)GCHandle.FromIntPtr(context).Target!;
        for (uint i = 0; i < count; i++)
            sink.X2ApicRecords.Enqueue(records[i]);
    }

    /// <summary>Which injector a node gets: none (arrivals go into its descriptors), the KVM_DSM_IPI record, or the 64-bit ICR.</summary>
    public enum Injector { None, KvmRecord, X2Apic }

    /// <summary>Creates a node of a VM of <paramref name="placement"/>.Length x2APIC-physical vCPUs with peers on loopback.</summary>
    private static int CreateNode(uint self, uint[] placement, (uint Node, uint Port)[] peers, out ulong engine,
        uint localTargets = NativeNodeReader.LocalTargetsEngine, Injector injector = Injector.None, nint context = 0, bool encrypt = false,
        bool hostForEveryPeer = false, uint topologyWriteTimeoutMs = 0, byte[]? vmKey = null)
    {
        byte[] keyBytes = vmKey ?? s_key;
        NativeConfig config = Abi.Config((uint)placement.Length);
        byte* host = stackalloc byte[10];
        "127.0.0.1\0"u8.CopyTo(new Span<byte>(host, 10));
        NativePeer* peerArray = stackalloc NativePeer[Math.Max(1, peers.Length)];
        for (int i = 0; i < peers.Length; i++)
            peerArray[i] = new NativePeer { Node = peers[i].Node, Port = peers[i].Port, Host = peers[i].Port != 0 || hostForEveryPeer ? host : null };
        fixed (uint* nodes = placement)
        fixed (byte* key = keyBytes)
        {
            NativeNodeConfig node = new()
            {
                StructSize = (uint)sizeof(NativeNodeConfig),
                NodeId = self,
                Placement = nodes,
                PlacementCount = (uint)placement.Length,
                Peers = peerArray,
                PeerCount = (uint)peers.Length,
                Key = key,
                KeyLength = (uint)keyBytes.Length,
                LocalTargets = localTargets,
                QueueRecords = 1024,
                TopologyWriteTimeoutMs = topologyWriteTimeoutMs,
                Flags = (injector == Injector.KvmRecord ? NativeNodeReader.FlagX2ApicRecords : 0) | (encrypt ? NativeNodeReader.FlagEncrypt : 0),
                InjectContext = context,
            };
            if (injector == Injector.KvmRecord)
                node.Inject = &OnInject;
            if (injector == Injector.X2Apic)
                node.InjectX2Apic = &OnInjectX2Apic;
            ulong handle;
            int status = Abi.NodeCreate(&config, &node, &handle);
            engine = handle;
            return status;
        }
    }

    /// <summary>A two-node VM, vCPUs 0-1 on node 0 and 2-3 on node 1, both started and linked.</summary>
    private static (ulong Node0, ulong Node1) StartPair(uint localTargets0 = NativeNodeReader.LocalTargetsEngine, Injector injector1 = Injector.None, nint context1 = 0,
        bool encrypt = false, uint topologyWriteTimeoutMs = 0)
    {
        uint[] placement = [0, 0, 1, 1];
        Assert.Equal(Status.Ok, CreateNode(1, placement, [(0, 0)], out ulong node1, injector: injector1, context: context1, encrypt: encrypt));
        Assert.Equal(Status.Ok, Abi.Start(node1));
        uint port;
        Assert.Equal(Status.Ok, Abi.NodePort(node1, &port));
        Assert.NotEqual(0u, port);
        Assert.Equal(Status.Ok, CreateNode(0, placement, [(1, port)], out ulong node0, localTargets0, encrypt: encrypt, topologyWriteTimeoutMs: topologyWriteTimeoutMs));
        Assert.Equal(Status.Ok, Abi.Start(node0));
        WaitFor(() => LinkOf(node0, 1).State == (uint)LinkState.Connected && LinkOf(node1, 0).State == (uint)LinkState.Connected, "the link to come up");
        return (node0, node1);
    }

    private static NativeLink LinkOf(ulong engine, uint peer)
    {
        NativeLink link = new() { StructSize = (uint)sizeof(NativeLink) };
        Assert.Equal(Status.Ok, Abi.NodeLink(engine, peer, &link));
        return link;
    }

    private static NativeNodeFaults FaultsOf(ulong engine)
    {
        NativeNodeFaults faults = new() { StructSize = (uint)sizeof(NativeNodeFaults) };
        Assert.Equal(Status.Ok, Abi.NodeFaults(engine, &faults));
        return faults;
    }

    private static NativeCounters CountersOf(ulong engine)
    {
        NativeCounters counters = new() { StructSize = (uint)sizeof(NativeCounters) };
        Assert.Equal(Status.Ok, Abi.Counters(engine, &counters));
        return counters;
    }

    private static void WaitFor(Func<bool> condition, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(clock.Elapsed < Patience, $"timed out waiting for {what}");
            Thread.Sleep(5);
        }
    }

    /// <summary>
    /// Each of vCPU 0's IPIs goes to one destination, cycling 1 (local), 2, 3 (remote) with a vector of its own per round;
    /// returns how many went to each vCPU.
    /// </summary>
    private static int[] PostRounds(ulong node0, int rounds)
    {
        var sent = new int[4];
        for (int i = 0; i < rounds * 3; i++)
        {
            uint destination = (uint)(1 + i % 3);
            NativeExit record = Abi.Icr(0, destination, (uint)(0x20 + i % 200), (ulong)i);
            Assert.Equal(Status.Ok, Abi.Post(node0, &record));
            sent[destination]++;
        }
        return sent;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)] // IPI_NODE_ENCRYPT: AES-GCM frames
    public void Two_nodes_forward_every_remote_ipi_exactly_once_and_account_for_every_destination(bool encrypt)
    {
        (ulong node0, ulong node1) = StartPair(encrypt: encrypt);
        try
        {
            int[] sent = PostRounds(node0, 300);
            Assert.Equal(Status.Ok, Abi.Stop(node0)); // drains node 0's pipeline; the link keeps running
            WaitFor(() => LinkOf(node0, 1).Acknowledged == (ulong)(sent[2] + sent[3]), "node 1 to acknowledge every forwarded IPI");

            NativeCounters c0 = CountersOf(node0), c1 = CountersOf(node1);
            Assert.Equal((ulong)(sent[1] + sent[2] + sent[3]), c0.IpisResolved);
            Assert.Equal(c0.DestinationsResolved, c0.Delivered + c0.Coalesced + c0.Forwarded + c0.ServedByHost + c0.PeerUnreachable);
            Assert.Equal((ulong)sent[1], c0.Delivered + c0.Coalesced);
            Assert.Equal((ulong)(sent[2] + sent[3]), c0.Forwarded);
            Assert.Equal(0ul, c0.ServedByHost);
            Assert.Equal(0ul, c0.PeerUnreachable);
            Assert.Equal((ulong)(sent[2] + sent[3]), c1.RemoteDelivered + c1.RemoteCoalesced); // into node 1's descriptors
            Assert.Equal(0ul, c1.RemoteRejected);
            NativeLink received = LinkOf(node1, 0);
            Assert.Equal((ulong)(sent[2] + sent[3]), received.Applied);
            Assert.Equal(0u, received.PeerNode);
            Assert.Equal(1u, LinkOf(node0, 1).PeerNode);
            Assert.True(Abi.Pending(node1, 2) == 1 && Abi.Pending(node1, 3) == 1, "the forwarded vectors are pending on node 1's vCPUs");
        }
        finally
        {
            Assert.Equal(Status.Ok, Abi.Destroy(node0));
            Assert.Equal(Status.Ok, Abi.Destroy(node1));
        }
    }

    [Fact]
    public void Remote_ipis_posted_inside_a_send_batch_arrive_exactly_once_sent_by_the_posting_thread()
    {
        // A sync test body runs on one thread: the batch opened here is this thread's.
        (ulong node0, ulong node1) = StartPair();
        try
        {
            Assert.Equal(Status.Ok, Abi.NodeSendBatchBegin(node0));
            var sent = new int[4];
            for (int run = 0; run < 50; run++)
            {
                int[] posted = PostRounds(node0, 6); // a run of exits ...
                for (int v = 0; v < 4; v++)
                    sent[v] += posted[v];
                Assert.Equal(Status.Ok, Abi.NodeSendBatchFlush(node0)); // ... then its frames go, before re-entering the guest
                Thread.Sleep(1);
            }
            Assert.Equal(Status.Ok, Abi.NodeSendBatchEnd(node0));
            Assert.Equal(Status.Ok, Abi.Stop(node0));
            WaitFor(() => LinkOf(node0, 1).Acknowledged == (ulong)(sent[2] + sent[3]), "node 1 to acknowledge every forwarded IPI");

            NativeCounters c0 = CountersOf(node0), c1 = CountersOf(node1);
            Assert.Equal((ulong)(sent[2] + sent[3]), c0.Forwarded);
            Assert.Equal((ulong)(sent[2] + sent[3]), c1.RemoteDelivered + c1.RemoteCoalesced);
            Assert.Equal((ulong)(sent[2] + sent[3]), LinkOf(node1, 0).Applied); // each once
            NativeLink link = LinkOf(node0, 1);
            Assert.Equal((ulong)(sent[2] + sent[3]), link.RecordsSent); // no resend
            // ipi_link_t.flush_sends (ABI 1.8): at most one send per flush (50 flushes and the close). Whether a flush found the send loop
            // parked depends on the machine's load, so its being above 0 is checked where it is deterministic
            // (SendBatchTests: a quiet link, one flush, the loop parked).
            Assert.InRange(link.FlushSends, 0ul, 51ul);
        }
        finally
        {
            Assert.Equal(Status.Ok, Abi.Destroy(node0));
            Assert.Equal(Status.Ok, Abi.Destroy(node1));
        }
    }

    [Fact]
    public void Send_batch_calls_refuse_plain_engines_strangers_and_a_thread_without_its_batch()
    {
        ulong plain = Abi.CreateOrFail(Abi.Config(2));
        try
        {
            Assert.Equal(Status.State, Abi.NodeSendBatchBegin(plain));
            Assert.Equal(Status.State, Abi.NodeSendBatchFlush(plain));
            Assert.Equal(Status.State, Abi.NodeSendBatchEnd(plain));
            Assert.Equal(Status.BadHandle, Abi.NodeSendBatchBegin(12345));
            Assert.Equal(Status.BadHandle, Abi.NodeSendBatchFlush(12345));
            Assert.Equal(Status.BadHandle, Abi.NodeSendBatchEnd(12345));
        }
        finally
        {
            Assert.Equal(Status.Ok, Abi.Destroy(plain));
        }

        Assert.Equal(Status.Ok, CreateNode(0, [0, 1], [(1, 9)], out ulong single));
        try
        {
            Assert.Equal(Status.State, Abi.NodeSendBatchFlush(single)); // none open on this thread
            Assert.Equal(Status.State, Abi.NodeSendBatchEnd(single));
            Assert.Equal(Status.Ok, Abi.NodeSendBatchBegin(single));
            Assert.Equal(Status.State, Abi.NodeSendBatchBegin(single)); // one per thread
            Assert.Contains("already open on this thread", Abi.LastErrorText(), StringComparison.Ordinal);
            int otherThread = Status.Ok;
            var other = new Thread(() => otherThread = Abi.NodeSendBatchFlush(single)) { IsBackground = true }; // another thread has none
            other.Start();
            other.Join();
            Assert.Equal(Status.State, otherThread);
            Assert.Equal(Status.Ok, Abi.NodeSendBatchFlush(single)); // not started: nothing to send, nothing fails
            Assert.Equal(Status.Ok, Abi.NodeSendBatchEnd(single));
            Assert.Equal(Status.State, Abi.NodeSendBatchEnd(single)); // closed
        }
        finally
        {
            Assert.Equal(Status.Ok, Abi.Destroy(single));
        }

        // A node destroyed with this thread's batch open leaves nothing behind: the thread opens one on the next node.
        Assert.Equal(Status.Ok, CreateNode(0, [0, 1], [(1, 9)], out ulong gone));
        Assert.Equal(Status.Ok, Abi.NodeSendBatchBegin(gone));
        Assert.Equal(Status.Ok, Abi.Destroy(gone));
        Assert.Equal(Status.Ok, CreateNode(0, [0, 1], [(1, 9)], out ulong next));
        try
        {
            Assert.Equal(Status.Ok, Abi.NodeSendBatchBegin(next)); // IPI_E_STATE ("another transport") before
            Assert.Equal(Status.Ok, Abi.NodeSendBatchEnd(next));
        }
        finally
        {
            Assert.Equal(Status.Ok, Abi.Destroy(next));
        }
    }

    [Theory]
    [InlineData(Injector.KvmRecord)]
    [InlineData(Injector.X2Apic)]
    public void With_the_kernel_serving_local_targets_only_remote_ones_reach_the_peers_injector(Injector form)
    {
        var injected = new Injected();
        GCHandle context = GCHandle.Alloc(injected);
        (ulong node0, ulong node1) = StartPair(NativeNodeReader.LocalTargetsKernel, form, GCHandle.ToIntPtr(context));
        try
        {
            int[] sent = PostRounds(node0, 200);
            Assert.Equal(Status.Ok, Abi.Stop(node0));
            WaitFor(() => injected.Count == sent[2] + sent[3], "every forwarded IPI to reach the injector");

            NativeCounters c0 = CountersOf(node0), c1 = CountersOf(node1);
            Assert.Equal((ulong)sent[1], c0.ServedByHost); // the local target: the kernel's, not delivered here
            Assert.Equal(0ul, c0.Delivered + c0.Coalesced);
            Assert.Equal((ulong)(sent[2] + sent[3]), c0.Forwarded);
            Assert.Equal(0ul, c1.RemoteDelivered + c1.RemoteCoalesced); // to the injector, not into the descriptors
            Assert.Equal(0, Abi.Pending(node1, 2));

            // In posting order (one link), each the record of IPI i: vector 0x20 + i % 200 to vCPU 1 + i % 3.
            var targets = form == Injector.KvmRecord
                ? injected.Records.Select(r => (r.TargetVcpu, r.IcrLow, Destination: r.IcrHigh)).ToList()
                : injected.X2ApicRecords.Select(r => (r.TargetVcpu, IcrLow: (uint)r.Icr, Destination: (uint)(r.Icr >> 32))).ToList();
            var expected = Enumerable.Range(0, sent[1] + sent[2] + sent[3]).Where(i => i % 3 != 0)
                .Select(i => ((uint)(1 + i % 3), (uint)(0x20 + i % 200), (uint)(1 + i % 3))).ToList();
            Assert.Equal(expected, targets);
            if (form == Injector.KvmRecord)
                Assert.All(injected.Records, r => Assert.Equal(r.IcrHigh, r.DestinationId));
            else
                Assert.All(injected.X2ApicRecords, r => Assert.Equal(0u, r.Reserved));
        }
        finally
        {
            Assert.Equal(Status.Ok, Abi.Destroy(node0));
            Assert.Equal(Status.Ok, Abi.Destroy(node1));
            context.Free();
        }
    }

    [Fact]
    public void A_topology_write_from_c_is_applied_on_every_node()
    {
        (ulong node0, ulong node1) = StartPair();
        try
        {
            // vCPU 3 (on node 1) software-enables its APIC again with spurious vector 0xFF: SVR, x2APIC MSR 0x80F.
            Assert.Equal(Status.Ok, Abi.TopologyWrite(node0, 3, 0x80F, 0x1FF));
            NativeCounters c0 = CountersOf(node0), c1 = CountersOf(node1);
            Assert.Equal(1ul, c0.TopologyWrites);
            Assert.Equal(0ul, c0.PeerTopologyWrites);
            Assert.Equal(1ul, c1.TopologyWrites); // the call returned once every node applied it
            Assert.Equal(1ul, c1.PeerTopologyWrites);
            Assert.Equal(c0.Posted, c0.Latched + (c0.TopologyWrites - c0.PeerTopologyWrites) + c0.IpisResolved + c0.Rejected);
            Assert.Equal(0ul, c1.Posted);
        }
        finally
        {
            Assert.Equal(Status.Ok, Abi.Destroy(node0));
            Assert.Equal(Status.Ok, Abi.Destroy(node1));
        }
    }

    [Fact]
    public void A_topology_write_no_peer_confirms_fails_with_not_replicated()
    {
        // Node 1 is never started: node 0 cannot order the write with it (1 s timeout instead of 5).
        uint[] placement = [0, 1];
        NativeConfig config = Abi.Config(2);
        fixed (uint* nodes = placement)
        fixed (byte* key = s_key)
        {
            byte* host = stackalloc byte[10];
            "127.0.0.1\0"u8.CopyTo(new Span<byte>(host, 10));
            NativePeer peer = new() { Node = 1, Port = AbsentPeerPort(out int[] reserved), Host = host };
            NativeNodeConfig node = new()
            {
                StructSize = (uint)sizeof(NativeNodeConfig), NodeId = 0, Placement = nodes, PlacementCount = 2, Peers = &peer, PeerCount = 1,
                Key = key, KeyLength = 32, QueueRecords = 64, TopologyWriteTimeoutMs = 1000,
            };
            ulong engine;
            Assert.Equal(Status.Ok, Abi.NodeCreate(&config, &node, &engine));
            try
            {
                Assert.Equal(Status.Ok, Abi.Start(engine));
                Assert.Equal(Status.NotReplicated, Abi.TopologyWrite(engine, 0, 0x80F, 0x1FF));
                Assert.Contains("node", Abi.LastErrorText(), StringComparison.Ordinal);
                Assert.NotEqual((uint)LinkState.Connected, LinkOf(engine, 1).State);
                // Node 0 is the sequencer, but it orders nothing before it heard every node (it may have restarted and lost the
                // order, docs/wire-format.md): node 1 never spoke, so the write was not ordered, counted once.
                Assert.Contains("has not heard node 1", Abi.LastErrorText(), StringComparison.Ordinal);
                NativeNodeFaults faults = FaultsOf(engine);
                Assert.Equal(1ul, faults.TopologyWriteFailures[(int)TopologyWriteFailure.NotOrdered]);
                Assert.Equal(0ul, faults.TopologyWriteFailures[(int)TopologyWriteFailure.NotConfirmed] + faults.TopologyWriteFailures[(int)TopologyWriteFailure.Stopped]);
            }
            finally
            {
                Assert.Equal(Status.Ok, Abi.Destroy(engine));
                IpiEngine.Cli.Nodes.LoopbackPorts.Return(reserved);
            }
        }
    }

    /// <summary>
    /// ABI 1.13 (review, helper-42-b): C# tells a failed topology write whose write was applied all the same
    /// (<see cref="TopologyReplication.FailedButApplied"/>) from one that was not; C read only the failure counts. Node 1
    /// goes away, so node 0 (the sequencer) orders and applies its vCPU 0's write but nobody confirms it: the batch
    /// returns IPI_E_NOT_REPLICATED, says the IPI before the write was posted (C#'s RecordsPosted: ipi_post_batch_ex has
    /// reported it since 1.12), and the node faults now say the failed write is applied here.
    /// </summary>
    [Fact]
    public void A_failed_topology_write_that_was_applied_here_is_counted_as_applied_in_the_node_faults()
    {
        (ulong node0, ulong node1) = StartPair(topologyWriteTimeoutMs: 1000);
        try
        {
            // The sequencer orders nothing until it has heard every node (it may have restarted): let it hear node 1 first.
            var replication = (TopologyReplication)EngineHandleTable.Find(node0)!.Engine.Options.Replicator!;
            WaitFor(() => !replication.IsRecovering, "the sequencer to hear node 1");
            Assert.Equal(Status.Ok, Abi.Destroy(node1));
            node1 = 0;
            // vCPU 0 sends vCPU 1 (both on node 0) an IPI, software-enables its APIC (SVR, x2APIC MSR 0x80F), sends another.
            NativeExit* batch = stackalloc NativeExit[3] { Abi.Icr(0, 1, 0x40), new NativeExit { SourceVcpu = 0, Register = 0x80F, Value = 0x1FF }, Abi.Icr(0, 1, 0x41) };
            uint posted = 7;
            Assert.Equal(Status.NotReplicated, Abi.PostBatchEx(node0, batch, 3, &posted));
            Assert.Equal(1u, posted); // the IPI before the write; the write and the IPI after it are the host's to post again
            string failure = Abi.LastErrorText();
            Assert.True(failure.Contains("did not confirm", StringComparison.Ordinal), failure);

            WaitFor(() => FaultsOf(node0).TopologyWriteFailuresApplied == 1, "the failed write to count as applied");
            NativeNodeFaults faults = FaultsOf(node0);
            Assert.Equal(1ul, faults.TopologyWriteFailures[(int)TopologyWriteFailure.NotConfirmed]);
            Assert.Equal(0ul, faults.TopologyWriteFailures[(int)TopologyWriteFailure.NotOrdered] + faults.TopologyWriteFailures[(int)TopologyWriteFailure.Stopped]);
            NativeCounters counters = CountersOf(node0);
            Assert.Equal(1ul, counters.TopologyWrites); // applied here once ...
            Assert.Equal(2ul, counters.Posted); // ... and posted: the IPI and the write whose call failed

            NativeNodeFaults old = new() { StructSize = NativeNodeFaults.MinimumSize, TopologyWriteFailuresApplied = 0xAAAA };
            Assert.Equal(Status.Ok, Abi.NodeFaults(node0, &old)); // a caller built against ABI 1.4-1.12
            Assert.Equal(1ul, old.TopologyWriteFailures[(int)TopologyWriteFailure.NotConfirmed]);
            Assert.Equal(0xAAAAul, old.TopologyWriteFailuresApplied); // past its struct: untouched
        }
        finally
        {
            Assert.Equal(Status.Ok, Abi.Destroy(node0));
            if (node1 != 0)
                Assert.Equal(Status.Ok, Abi.Destroy(node1));
        }
    }

    [Fact]
    public void Start_on_a_taken_port_is_a_network_error_and_may_be_retried()
    {
        using var taken = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        taken.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        taken.Listen(1);
        uint port = (uint)((IPEndPoint)taken.LocalEndPoint!).Port;
        uint[] placement = [0, 0];
        NativeConfig config = Abi.Config(2);
        fixed (uint* nodes = placement)
        fixed (byte* key = s_key)
        {
            byte* host = stackalloc byte[10];
            "127.0.0.1\0"u8.CopyTo(new Span<byte>(host, 10));
            NativeNodeConfig node = new()
            {
                StructSize = (uint)sizeof(NativeNodeConfig), Placement = nodes, PlacementCount = 2, Key = key, KeyLength = 32, ListenHost = host, ListenPort = port,
            };
            ulong engine;
            Assert.Equal(Status.Ok, Abi.NodeCreate(&config, &node, &engine));
            try
            {
                Assert.Equal(Status.Network, Abi.Start(engine));
                Assert.Contains(port.ToString(System.Globalization.CultureInfo.InvariantCulture), Abi.LastErrorText(), StringComparison.Ordinal);
                uint readPort;
                Assert.Equal(Status.State, Abi.NodePort(engine, &readPort)); // not listening
                taken.Close();
                Assert.Equal(Status.Ok, Abi.Start(engine)); // the port is free now: the same node starts
                Assert.Equal(Status.Ok, Abi.NodePort(engine, &readPort));
                Assert.Equal(port, readPort);
            }
            finally
            {
                Assert.Equal(Status.Ok, Abi.Destroy(engine));
            }
        }
    }

    public static TheoryData<string, int> BadNodes => new()
    {
        { "struct size", Status.StructSize }, { "node id", Status.BadConfig }, { "placement null", Status.NullPointer },
        { "peers null", Status.NullPointer }, { "key null", Status.NullPointer }, { "key short", Status.BadConfig },
        { "flags", Status.BadConfig }, { "local targets", Status.BadConfig }, { "full queue", Status.BadConfig },
        { "queue records", Status.BadConfig }, { "both injectors", Status.BadConfig }, { "listen host", Status.BadConfig },
        { "listen port", Status.BadConfig }, { "peer is self", Status.BadConfig }, { "peer twice", Status.BadConfig },
        { "higher peer without port", Status.BadConfig }, { "peer host", Status.BadConfig }, { "placement off the VM", Status.BadConfig },
        { "placement count short", Status.BadConfig }, { "placement count long", Status.BadConfig }, { "reserved", Status.BadConfig },
        { "peer count past the node ids", Status.BadConfig }, { "key long", Status.BadConfig },
    };

    [Theory]
    [MemberData(nameof(BadNodes))]
    public void Node_create_refuses_every_bad_field_with_a_status_and_a_sentence(string which, int expected)
    {
        uint[] placement = [0, 1, 2];
        NativeConfig config = Abi.Config(3);
        byte* host = stackalloc byte[16];
        "127.0.0.1\0"u8.CopyTo(new Span<byte>(host, 16));
        byte* badHost = stackalloc byte[16];
        "not-an-ip\0"u8.CopyTo(new Span<byte>(badHost, 16));
        NativePeer* peers = stackalloc NativePeer[2];
        peers[0] = new NativePeer { Node = 1, Port = 9, Host = host };
        peers[1] = new NativePeer { Node = 2, Port = 9, Host = host };
        fixed (uint* nodes = placement)
        fixed (byte* key = s_key)
        {
            NativeNodeConfig node = new()
            {
                StructSize = (uint)sizeof(NativeNodeConfig), NodeId = 0, Placement = nodes, PlacementCount = 3, Peers = peers, PeerCount = 2, Key = key, KeyLength = 32,
            };
            switch (which)
            {
                case "struct size": node.StructSize = NativeNodeConfig.MinimumSize - 8; break;
                case "node id": node.NodeId = NativeNodeReader.MaxNodeId + 1; break;
                case "placement null": node.Placement = null; break;
                case "peers null": node.Peers = null; break;
                case "key null": node.Key = null; break;
                case "key short": node.KeyLength = 15; break;
                case "flags": node.Flags = 0x100; break;
                case "local targets": node.LocalTargets = 2; break;
                case "full queue": node.FullQueue = 2; break;
                case "queue records": node.QueueRecords = 100; break;
                case "both injectors": node.Inject = &OnInject; node.InjectX2Apic = &OnInjectX2Apic; break;
                case "listen host": node.ListenHost = badHost; break;
                case "listen port": node.ListenPort = 70000; break;
                case "peer is self": peers[1].Node = 0; break;
                case "peer twice": peers[1].Node = 1; break;
                case "higher peer without port": peers[1].Port = 0; break;
                case "peer host": peers[0].Host = badHost; break;
                case "placement off the VM": placement[2] = 7; break;
                case "placement count short": node.PlacementCount = 2; break;
                case "placement count long": node.PlacementCount = 4; break;
                case "reserved": node.Reserved = 1; break;
                case "peer count past the node ids": node.PeerCount = NativeNodeReader.MaxNodeId + 1; break; // refused before peers[2] is read
                case "key long": node.KeyLength = NativeNodeReader.MaxKeyLength + 1; break; // refused before the key is read
                default: throw new ArgumentOutOfRangeException(nameof(which));
            }
            ulong engine = 99;
            Assert.Equal(expected, Abi.NodeCreate(&config, &node, &engine));
            Assert.Equal(0ul, engine);
            Assert.False(string.IsNullOrWhiteSpace(Abi.LastErrorText()));
        }
    }

    [Fact]
    public void A_lower_peer_may_be_listed_with_its_host_and_no_port()
    {
        // The header asks a port only of peers with a higher id (this node dials them); a symmetric peer list names
        // every host, and the lower ones' port may be 0.
        int status = CreateNode(1, [0, 1, 2], [(0, 0), (2, 9)], out ulong engine, hostForEveryPeer: true);
        Assert.True(status == Status.Ok, Abi.LastErrorText());
        Assert.Equal(Status.Ok, Abi.Destroy(engine));
    }

    [Fact]
    public void Node_calls_refuse_null_pointers_plain_engines_and_strangers()
    {
        NativeConfig config = Abi.Config(2);
        NativeNodeConfig node = new() { StructSize = (uint)sizeof(NativeNodeConfig) };
        ulong engine = 99;
        Assert.Equal(Status.NullPointer, Abi.NodeCreate(&config, &node, null));
        Assert.Equal(Status.NullPointer, Abi.NodeCreate(null, &node, &engine));
        Assert.Equal(0ul, engine);
        Assert.Equal(Status.NullPointer, Abi.NodeCreate(&config, null, &engine));
        config.VcpuCount = 0; // the engine's fields are checked as ipi_engine_create checks them
        Assert.Equal(Status.BadConfig, Abi.NodeCreate(&config, &node, &engine));

        ulong plain = Abi.CreateOrFail(Abi.Config(2));
        try
        {
            NativeLink link = new() { StructSize = (uint)sizeof(NativeLink) };
            uint port;
            Assert.Equal(Status.State, Abi.NodeLink(plain, 1, &link));
            Assert.Equal(Status.State, Abi.NodePort(plain, &port));
            NativeNodeFaults faults = new() { StructSize = (uint)sizeof(NativeNodeFaults) };
            Assert.Equal(Status.State, Abi.NodeFaults(plain, &faults));
            Assert.Equal(Status.NullPointer, Abi.NodeFaults(plain, null));
            Assert.Equal(Status.BadHandle, Abi.NodeFaults(12345, &faults));
            Assert.Equal(Status.NullPointer, Abi.NodeLink(plain, 1, null));
            Assert.Equal(Status.NullPointer, Abi.NodePort(plain, null));
            Assert.Equal(Status.BadHandle, Abi.NodeLink(12345, 1, &link));
            Assert.Equal(Status.BadHandle, Abi.NodePort(12345, &port));
        }
        finally
        {
            Assert.Equal(Status.Ok, Abi.Destroy(plain));
        }

        Assert.Equal(Status.Ok, CreateNode(0, [0, 1], [(1, 9)], out ulong single));
        try
        {
            NativeLink link = new() { StructSize = (uint)sizeof(NativeLink) };
            Assert.Equal(Status.BadConfig, Abi.NodeLink(single, 5, &link)); // not a peer
            link.StructSize = NativeLink.MinimumSize - 8;
            Assert.Equal(Status.StructSize, Abi.NodeLink(single, 1, &link));
            link.StructSize = (uint)sizeof(NativeLink);
            Assert.Equal(Status.Ok, Abi.NodeLink(single, 1, &link));
            Assert.Equal((uint)LinkState.Down, link.State); // not started: nothing dialed yet
            NativeNodeFaults faults = new() { StructSize = NativeNodeFaults.MinimumSize - 8 };
            Assert.Equal(Status.StructSize, Abi.NodeFaults(single, &faults));
            faults.StructSize = (uint)sizeof(NativeNodeFaults);
            Assert.Equal(Status.Ok, Abi.NodeFaults(single, &faults));
            Assert.Equal(0ul, faults.LinkFaults[(int)LinkFault.ProtectionMismatch]);
        }
        finally
        {
            Assert.Equal(Status.Ok, Abi.Destroy(single)); // never started: destroy still frees it
        }
    }

    [Fact]
    public void A_caller_built_against_abi_1_7_gets_the_link_it_knows_and_a_newer_one_the_time_in_each_state()
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        (ulong node0, ulong node1) = StartPair();
        try
        {
            NativeLink old = new() { StructSize = NativeLink.MinimumSize, FlushSends = 0xAAAA, BackPressuredNanoseconds = 0xBBBB };
            Assert.Equal(Status.Ok, Abi.NodeLink(node0, 1, &old));
            Assert.Equal((uint)LinkState.Connected, old.State);
            Assert.Equal(0xAAAAul, old.FlushSends); // ABI 1.8's fields: untouched
            Assert.Equal(0xBBBBul, old.BackPressuredNanoseconds);

            Thread.Sleep(20);
            NativeLink link = LinkOf(node0, 1);
            ulong elapsed = (ulong)clock.Elapsed.Ticks * 100;
            Assert.Equal((uint)sizeof(NativeLink), link.StructSize);
            Assert.True(link.ConnectedNanoseconds >= 20_000_000, $"connected {link.ConnectedNanoseconds} ns after a 20 ms sleep");
            Assert.Equal(0ul, link.BackPressuredNanoseconds);
            Assert.Equal(0ul, link.FlushSends); // no batch on this node
            ulong total = link.DownNanoseconds + link.ReconnectingNanoseconds + link.ConnectedNanoseconds + link.BackPressuredNanoseconds;
            Assert.True(total <= elapsed, $"{total} ns in all states, more than the {elapsed} ns since the nodes were created");
        }
        finally
        {
            Assert.Equal(Status.Ok, Abi.Destroy(node0));
            Assert.Equal(Status.Ok, Abi.Destroy(node1));
        }
    }

    [Fact]
    public void A_caller_built_against_abi_1_1_gets_the_counters_it_knows_and_nothing_past_them()
    {
        ulong engine = Abi.CreateOrFail(Abi.Config(2));
        try
        {
            NativeCounters counters = new() { StructSize = 248, ServedByHost = 0xAAAA, PeerTopologyWrites = 0xBBBB };
            Assert.Equal(Status.Ok, Abi.Counters(engine, &counters));
            Assert.Equal(248u, counters.StructSize);
            Assert.Equal(0xAAAAul, counters.ServedByHost); // ABI 1.2's fields: untouched
            Assert.Equal(0xBBBBul, counters.PeerTopologyWrites);
        }
        finally
        {
            Assert.Equal(Status.Ok, Abi.Destroy(engine));
        }
    }

    [Fact]
    public void A_caller_built_against_abi_1_3_gets_every_counter_but_undelivered()
    {
        ulong engine = Abi.CreateOrFail(Abi.Config(2));
        try
        {
            NativeCounters counters = new() { StructSize = 272, Undelivered = 0xCCCC };
            Assert.Equal(Status.Ok, Abi.Counters(engine, &counters));
            Assert.Equal(0ul, counters.PeerTopologyWrites);
            Assert.Equal(0xCCCCul, counters.Undelivered); // ABI 1.4's field: untouched
            counters = new() { StructSize = (uint)sizeof(NativeCounters), Undelivered = 0xCCCC };
            Assert.Equal(Status.Ok, Abi.Counters(engine, &counters));
            Assert.Equal(0ul, counters.Undelivered);
        }
        finally
        {
            Assert.Equal(Status.Ok, Abi.Destroy(engine));
        }
    }

    [Fact]
    public void The_undelivered_count_of_a_faulted_pipeline_reaches_ipi_counters_t()
    {
        // A C host cannot make the pipeline fault (its kick cannot throw), so the translation is checked on a snapshot
        // that says what a faulted per-stage pipeline says: resolved pairs, some delivered, the rest undelivered.
        var snapshot = new EngineCounters(posted: 10, latched: 0, topologyWrites: 0, peerTopologyWrites: 0, ipisResolved: 10, rejected: default,
            destinationsResolved: 10, noDestination: 0, delivered: 3, coalesced: 0, forwarded: 0, servedByHost: 0, notifications: 1,
            remoteDelivered: 0, remoteCoalesced: 0, remoteRejected: 0, logOverflow: 0, notifierFaults: 1, peerUnreachable: 0, undelivered: 7, devices: default);
        Assert.True(snapshot.ConservationHolds);
        NativeCounters counters = new() { StructSize = (uint)sizeof(NativeCounters) };
        CountersTranslator.Write(snapshot, &counters);
        Assert.Equal(7ul, counters.Undelivered);
        Assert.Equal(counters.DestinationsResolved, counters.Delivered + counters.Coalesced + counters.Forwarded + counters.ServedByHost
            + counters.PeerUnreachable + counters.Undelivered);
    }

    [Fact]
    public void A_caller_built_against_abi_1_2_passes_no_placement_count_and_its_node_is_still_created()
    {
        uint[] placement = [0, 1];
        NativeConfig config = Abi.Config(2);
        byte* host = stackalloc byte[10];
        "127.0.0.1\0"u8.CopyTo(new Span<byte>(host, 10));
        NativePeer peer = new() { Node = 1, Port = 9, Host = host };
        fixed (uint* nodes = placement)
        fixed (byte* key = s_key)
        {
            // The 96-byte layout: placement_count and reserved lie past struct_size and hold garbage the library must not read.
            NativeNodeConfig node = new()
            {
                StructSize = NativeNodeConfig.MinimumSize, Placement = nodes, Peers = &peer, PeerCount = 1, Key = key, KeyLength = (uint)s_key.Length,
                PlacementCount = 0xDEAD, Reserved = 0xBEEF,
            };
            ulong engine;
            Assert.Equal(Status.Ok, Abi.NodeCreate(&config, &node, &engine));
            Assert.Equal(Status.Ok, Abi.Destroy(engine));
        }
    }

    [Fact]
    public void A_peer_with_another_key_is_counted_as_a_wrong_key_by_the_dialer_and_a_rejected_handshake_by_the_acceptor()
    {
        uint[] placement = [0, 0, 1, 1];
        Assert.Equal(Status.Ok, CreateNode(1, placement, [(0, 0)], out ulong node1));
        ulong node0 = 0;
        try
        {
            Assert.Equal(Status.Ok, Abi.Start(node1));
            uint port;
            Assert.Equal(Status.Ok, Abi.NodePort(node1, &port));
            Assert.Equal(Status.Ok, CreateNode(0, placement, [(1, port)], out node0, vmKey: [.. s_key.Select(b => (byte)~b)]));
            Assert.Equal(Status.Ok, Abi.Start(node0));
            // Node 0 dials with another key: node 1 refuses with a goodbye node 0 can check (WrongKey); node 0's own
            // refusal comes before any key is proven, so node 1 does not believe its reason and counts it apart.
            var clock = Stopwatch.StartNew();
            while (true)
            {
                NativeNodeFaults dialer = FaultsOf(node0);
                ulong wrongKey = dialer.LinkFaults[(int)LinkFault.WrongKey], rejected = FaultsOf(node1).RejectedHandshakes;
                if (wrongKey > 0 && rejected > 0)
                    break;
                Assert.True(clock.Elapsed < Patience, $"dialer wrong key {wrongKey}, acceptor rejected handshakes {rejected}");
                Thread.Sleep(5);
            }

            NativeNodeFaults acceptor = FaultsOf(node1);
            Assert.Equal(0ul, acceptor.LinkFaults[(int)LinkFault.ConnectionLost]); // not a flaky network
            Assert.Equal(0ul, LinkOf(node0, 1).Connections);
        }
        finally
        {
            if (node0 != 0)
                Assert.Equal(Status.Ok, Abi.Destroy(node0));
            Assert.Equal(Status.Ok, Abi.Destroy(node1));
        }
    }

    [Fact]
    public void Nodes_that_disagree_on_encryption_are_refused_with_the_protection_mismatch_fault_and_nothing_crashes()
    {
        uint[] placement = [0, 0, 1, 1];
        Assert.Equal(Status.Ok, CreateNode(1, placement, [(0, 0)], out ulong node1, encrypt: true));
        ulong node0 = 0;
        try
        {
            Assert.Equal(Status.Ok, Abi.Start(node1));
            uint port;
            Assert.Equal(Status.Ok, Abi.NodePort(node1, &port));
            Assert.Equal(Status.Ok, CreateNode(0, placement, [(1, port)], out node0, encrypt: false));
            Assert.Equal(Status.Ok, Abi.Start(node0));
            // Node 0 dials; node 1 refuses once node 0 proved the key, with a Goodbye sealed under node 0's mode: both
            // links name the reason (node 0's named the connection lost while the refusal came untagged, at the Hello).
            var clock = Stopwatch.StartNew();
            while (!(LinkOf(node0, 1).LastFault == (uint)LinkFault.ProtectionMismatch && LinkOf(node1, 0).LastFault == (uint)LinkFault.ProtectionMismatch))
            {
                Assert.True(clock.Elapsed < Patience, $"last faults: node 0's link {(LinkFault)LinkOf(node0, 1).LastFault}, node 1's link {(LinkFault)LinkOf(node1, 0).LastFault}");
                Thread.Sleep(5);
            }
            Assert.NotEqual((uint)LinkState.Connected, LinkOf(node0, 1).State);
            Assert.NotEqual((uint)LinkState.Connected, LinkOf(node1, 0).State);
            Assert.Equal(0ul, LinkOf(node0, 1).Connections);
            // ... and counted per node, by reason, on both sides.
            NativeNodeFaults dialer = FaultsOf(node0), acceptor = FaultsOf(node1);
            Assert.True(dialer.LinkFaults[(int)LinkFault.ProtectionMismatch] > 0);
            Assert.Equal(0ul, dialer.LinkFaults[(int)LinkFault.ConnectionLost]);
            Assert.True(acceptor.LinkFaults[(int)LinkFault.ProtectionMismatch] > 0);
            Assert.Equal(0ul, acceptor.LinkFaults[(int)LinkFault.WrongKey]);
            // Local IPIs still work on a node whose link is refused; the engine stops and is destroyed cleanly.
            NativeExit record = Abi.Icr(0, 1, 0x40, 1);
            Assert.Equal(Status.Ok, Abi.Post(node0, &record));
            Assert.Equal(Status.Ok, Abi.Stop(node0));
            NativeCounters counters = CountersOf(node0);
            Assert.Equal(1ul, counters.Delivered);
            Assert.Equal(0ul, counters.Forwarded);
        }
        finally
        {
            if (node0 != 0)
                Assert.Equal(Status.Ok, Abi.Destroy(node0));
            Assert.Equal(Status.Ok, Abi.Destroy(node1));
        }
    }

    /// <summary>
    /// A port for a peer that never starts: outside the ephemeral range (no <c>bind(0)</c> of another test lands on it)
    /// and reserved in this process, so the dial is refused rather than answered by some other listener.
    /// </summary>
    private static uint AbsentPeerPort(out int[] reserved)
    {
        reserved = IpiEngine.Cli.Nodes.LoopbackPorts.Take(1);
        return (uint)reserved[0];
    }
}
