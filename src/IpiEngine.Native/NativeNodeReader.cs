using System.Net;
using System.Runtime.InteropServices;
using IpiEngine.Delivery;
using IpiEngine.Transport;

namespace IpiEngine.Native;

/// <summary>What an <c>ipi_node_config_t</c> asks for, checked: the transport's options, the placement, who serves local targets, the injector.</summary>
internal sealed record NativeNodeSetup(TransportOptions Transport, VcpuPlacement Placement, LocalTargets LocalTargets, NativeInjector? Injector);

/// <summary>Checks an <c>ipi_node_config_t</c> field by field (the same rules as <c>ipi node</c>'s JSON config).</summary>
internal static unsafe class NativeNodeReader
{
    public const uint MaxNodeId = 1023;
    /// <summary><c>IPI_MAX_KEY_LENGTH</c>: a bound, so a wrong key_length is refused rather than read far past the key.</summary>
    public const uint MaxKeyLength = 1024;
    public const uint FlagEncrypt = 0x1;
    public const uint FlagX2ApicRecords = 0x2;
    public const uint KnownFlags = FlagEncrypt | FlagX2ApicRecords;
    public const uint LocalTargetsEngine = 0;
    public const uint LocalTargetsKernel = 1;
    public const uint FullQueueWait = 0;
    public const uint FullQueueFail = 1;

    /// <summary>The setup for <paramref name="node"/> on a VM of <paramref name="vcpus"/> vCPUs, or a status saying what is wrong.</summary>
    public static int TryRead(NativeNodeConfig* node, int vcpus, out NativeNodeSetup? setup)
    {
        setup = null;
        if (node->StructSize < NativeNodeConfig.MinimumSize)
            return LastError.Set(Status.StructSize, $"ipi_node_config_t.struct_size is {node->StructSize}; it must be at least {NativeNodeConfig.MinimumSize}");
        uint self = node->NodeId;
        if (self > MaxNodeId)
            return Bad($"node_id is {self}; node ids go from 0 to {MaxNodeId}");
        if (node->Placement is null)
            return LastError.NullPointer("node->placement");
        if (node->Peers is null && node->PeerCount != 0)
            return LastError.NullPointer("node->peers");
        if (node->Key is null)
            return LastError.NullPointer("node->key");
        if (node->KeyLength is < 16 or > MaxKeyLength)
            return Bad($"key_length is {node->KeyLength}; the pre-shared key needs 16 to {MaxKeyLength} bytes");
        // Bounds before the arrays are read: a wrong count is refused, not read past the caller's array.
        if (node->PeerCount > MaxNodeId)
            return Bad($"peer_count is {node->PeerCount}; a VM has at most {MaxNodeId + 1} nodes, so at most {MaxNodeId} peers");
        if (node->StructSize >= NativeNodeConfig.PlacementCountSize)
        {
            if (node->PlacementCount != (uint)vcpus)
                return Bad($"placement_count is {node->PlacementCount} but the VM has {vcpus} vCPUs (ipi_config_t.vcpu_count): placement needs one node per vCPU");
            if (node->Reserved != 0)
                return Bad($"ipi_node_config_t.reserved is {node->Reserved}; it must be 0");
        }
        if ((node->Flags & ~KnownFlags) != 0)
            return Bad($"node flags 0x{node->Flags:x} has bits this library does not know (0x{node->Flags & ~KnownFlags:x})");
        if (node->LocalTargets is not (LocalTargetsEngine or LocalTargetsKernel))
            return Bad($"local_targets {node->LocalTargets} is not an IPI_LOCAL_TARGETS_* value");
        if (node->FullQueue is not (FullQueueWait or FullQueueFail))
            return Bad($"full_queue {node->FullQueue} is not an IPI_FULL_QUEUE_* value");
        uint queue = node->QueueRecords;
        if (queue != 0 && (queue < 64 || queue > 1u << 30 || !uint.IsPow2(queue)))
            return Bad($"queue_records {queue} is not a power of two from 64 to 2^30 (or 0 for the default)");
        if (node->Inject is not null && node->InjectX2Apic is not null)
            return Bad("set inject or inject_x2apic, not both");
        if (!TryEndPoint(node->ListenHost, node->ListenPort, "listen_host", out IPEndPoint? listen, out string? listenError))
            return Bad(listenError!);

        var peers = new List<PeerAddress>((int)Math.Min(node->PeerCount, MaxNodeId + 1));
        for (uint i = 0; i < node->PeerCount; i++)
        {
            NativePeer* peer = &node->Peers[i];
            if (peer->Node > MaxNodeId || peer->Node == self || peers.Exists(p => p.NodeId == peer->Node))
                return Bad($"peers[{i}] is node {peer->Node}: a peer must be another node (0 to {MaxNodeId}), listed once");
            IPEndPoint? address = null;
            // A lower id dials this node, so its address is optional (the header: "else 0"); given, it must be whole.
            if (peer->Node > self || (peer->Host is not null && peer->Port != 0))
            {
                if (!TryEndPoint(peer->Host, peer->Port, $"peers[{i}].host", out address, out string? error) || address!.Port == 0)
                    return Bad(error ?? $"peers[{i}] (node {peer->Node}) needs a port: this node dials peers with a higher id");
            }
            peers.Add(new PeerAddress((int)peer->Node, address));
        }

        var placement = new int[vcpus];
        for (int v = 0; v < vcpus; v++)
        {
            uint owner = node->Placement[v];
            if (owner != self && !peers.Exists(p => p.NodeId == owner))
                return Bad($"placement puts vCPU {v} on node {owner}, which is neither this node nor one of its peers");
            placement[v] = (int)owner;
        }

        var transport = new TransportOptions
        {
            NodeId = (int)self,
            NodeOfVcpu = placement,
            Key = new ReadOnlySpan<byte>(node->Key, (int)node->KeyLength).ToArray(),
            Listen = listen!,
            Peers = peers,
            Encrypt = (node->Flags & FlagEncrypt) != 0,
            WindowRecords = queue != 0 ? (int)queue : TransportOptions.DefaultWindowRecords,
            FullQueuePolicy = node->FullQueue == FullQueueFail ? FullQueuePolicy.Fail : FullQueuePolicy.Wait,
            TopologyWriteTimeout = node->TopologyWriteTimeoutMs != 0 ? TimeSpan.FromMilliseconds(node->TopologyWriteTimeoutMs) : TransportOptions.DefaultTopologyWriteTimeout,
        };
        NativeInjector? injector = node->Inject is not null || node->InjectX2Apic is not null
            ? new NativeInjector(node->Inject, node->InjectX2Apic, node->InjectContext, (node->Flags & FlagX2ApicRecords) != 0)
            : null;
        setup = new NativeNodeSetup(transport, new VcpuPlacement(placement, (int)self),
            node->LocalTargets == LocalTargetsKernel ? LocalTargets.Kernel : LocalTargets.Engine, injector);
        return Status.Ok;
    }

    private static int Bad(string message) => LastError.Set(Status.BadConfig, message);

    /// <summary>An IP literal and a port; a NULL host is loopback.</summary>
    private static bool TryEndPoint(byte* host, uint port, string field, out IPEndPoint? endPoint, out string? error)
    {
        endPoint = null;
        error = null;
        string? text = host is null ? null : Marshal.PtrToStringUTF8((nint)host);
        IPAddress address = IPAddress.Loopback;
        if (text is not null && !IPAddress.TryParse(text, out address!))
        {
            error = $"{field} \"{text}\" is not an IP address (no DNS names: resolve them first)";
            return false;
        }
        if (port > ushort.MaxValue)
        {
            error = $"{field}: port {port} is above 65535";
            return false;
        }
        endPoint = new IPEndPoint(address, (int)port);
        return true;
    }
}
