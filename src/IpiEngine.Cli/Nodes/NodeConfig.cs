using System.Net;
using System.Text.Json;
using System.Text.Json.Serialization;
using IpiEngine.Transport;

namespace IpiEngine.Cli.Nodes;

/// <summary>
/// One node's config file (JSON): <c>{"node":0, "listen":"127.0.0.1:7000", "keyFile":"vm.key", "placement":[0,0,1,1],
/// "peers":[{"node":1,"address":"127.0.0.1:7001"}], "topologyWriteTimeoutMs":5000, "localTargets":"engine"}</c>. The key file holds at least 16
/// bytes as hex; a relative path is taken from the config file's folder. Listening is on loopback unless an address is
/// given. <c>topologyWriteTimeoutMs</c> (optional, default 5000) bounds how long a topology write may take to reach every
/// node before it fails. <c>localTargets</c> says who serves destinations on this node: <c>engine</c> (the default) or
/// <c>kernel</c> (KVM already delivered them at the ICR write; the engine forwards only the other nodes' targets).
/// </summary>
internal sealed class NodeConfig
{
    /// <summary>The highest node id accepted (ids index per-node tables, so they are kept small).</summary>
    public const int MaxNodeId = 1023;

    /// <summary>This node's id.</summary>
    public int Node { get; set; }
    /// <summary>Listen address <c>ip:port</c>; loopback with an ephemeral port when absent.</summary>
    public string? Listen { get; set; }
    /// <summary>Path of the pre-shared key file (hex).</summary>
    public string? KeyFile { get; set; }
    /// <summary>The node of each vCPU, indexed by vCPU.</summary>
    public int[]? Placement { get; set; }
    /// <summary>Every other node of the VM.</summary>
    public List<NodePeerConfig>? Peers { get; set; }
    /// <summary>Encrypt frames with AES-GCM (every node of the VM must agree); default false: GMAC-authenticated only.</summary>
    public bool Encrypt { get; set; }
    /// <summary>Each peer's outbound queue in records (a power of two, at least 64); default 2^24.</summary>
    public int? QueueRecords { get; set; }
    /// <summary>What to do when a peer's queue is full: "wait" (default) or "fail" (the peer is declared unreachable).</summary>
    public string? FullQueue { get; set; }
    /// <summary>Milliseconds a topology write may take to be applied on every node (default 5000).</summary>
    public int? TopologyWriteTimeoutMs { get; set; }

    /// <summary>Who serves this node's destinations: <c>engine</c> (default) or <c>kernel</c>.</summary>
    public string? LocalTargets { get; set; }

    /// <summary>The validated <see cref="LocalTargets"/>.</summary>
    [JsonIgnore]
    public IpiEngine.LocalTargets LocalTargetsMode => LocalTargets is "kernel" ? IpiEngine.LocalTargets.Kernel : IpiEngine.LocalTargets.Engine;

    /// <summary>Reads and validates <paramref name="path"/>; every problem is one <see cref="NodeConfigException"/> sentence.</summary>
    public static NodeConfig Load(string path)
    {
        NodeConfig? config;
        if (Directory.Exists(path))
            throw new NodeConfigException($"the node config {path} is a directory, not a file");
        try
        {
            config = JsonSerializer.Deserialize(File.ReadAllText(path), NodeConfigJsonContext.Default.NodeConfig);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new NodeConfigException($"cannot read the node config {path}: {e.Message}");
        }
        catch (JsonException e) when (e.Path is { } at && e.Message.Contains("could not be converted", StringComparison.Ordinal))
        {
            // Well-formed JSON of the wrong shape: name the field, not the serializer's target type.
            throw new NodeConfigException(at == "$"
                ? $"the node config {path} must be a JSON object with \"node\", \"keyFile\", \"placement\" and \"peers\""
                : $"{path}: \"{at[2..]}\" has the wrong type (line {e.LineNumber + 1})");
        }
        catch (JsonException e)
        {
            throw new NodeConfigException($"the node config {path} is not valid JSON: {e.Message}");
        }
        if (config is null)
            throw new NodeConfigException($"the node config {path} is empty");
        config.Validate(path);
        return config;
    }

    private void Validate(string path)
    {
        if (Placement is not { Length: > 0 })
            throw new NodeConfigException($"{path}: \"placement\" must list the node of every vCPU");
        if (Node is < 0 or > MaxNodeId)
            throw new NodeConfigException($"{path}: \"node\" must be a node id from 0 to {MaxNodeId}, not {Node}");
        if (Array.FindIndex(Placement, n => n is < 0 or > MaxNodeId) is var badVcpu and >= 0)
            throw new NodeConfigException($"{path}: \"placement\" puts vCPU {badVcpu} on node {Placement[badVcpu]}; node ids go from 0 to {MaxNodeId}");
        if (KeyFile is null)
            throw new NodeConfigException($"{path}: \"keyFile\" is required (the VM's pre-shared key, hex)");
        var peers = Peers ?? [];
        if (peers.FirstOrDefault(p => p.Node is < 0 or > MaxNodeId) is { } badPeer)
            throw new NodeConfigException($"{path}: \"peers\" lists node {badPeer.Node}; node ids go from 0 to {MaxNodeId}");
        if (peers.Any(p => p.Node == Node) || peers.Select(p => p.Node).Distinct().Count() != peers.Count)
            throw new NodeConfigException($"{path}: \"peers\" lists this node or a node twice");
        foreach (var peer in peers)
        {
            // A peer with a higher id is dialled, so it needs an address; one given for a lower id is checked as well
            // (read when the transport starts, a bad one failed there with a stack trace).
            if ((peer.Node > Node || peer.Address is not null) && (!IPEndPoint.TryParse(peer.Address ?? "", out var ep) || ep.Port == 0))
                throw new NodeConfigException(peer.Node > Node
                    ? $"{path}: peer {peer.Node} needs an \"address\" ip:port (this node dials peers with a higher id)"
                    : $"{path}: peer {peer.Node}'s \"address\" must be ip:port with a port from 1 to 65535, got \"{peer.Address}\"");
        }
        if (LocalTargets is not (null or "engine" or "kernel"))
            throw new NodeConfigException($"{path}: \"localTargets\" must be \"engine\" or \"kernel\", not \"{LocalTargets}\"");
        if (QueueRecords is { } q && (q < 64 || (q & (q - 1)) != 0))
            throw new NodeConfigException($"{path}: \"queueRecords\" must be a power of two of at least 64, got {q}");
        if (FullQueue is not (null or "wait" or "fail"))
            throw new NodeConfigException($"{path}: \"fullQueue\" must be \"wait\" or \"fail\", got \"{FullQueue}\"");
        if (TopologyWriteTimeoutMs is <= 0)
            throw new NodeConfigException($"{path}: \"topologyWriteTimeoutMs\" must be a positive number of milliseconds, got {TopologyWriteTimeoutMs}");
        if (Listen is not null && (!IPEndPoint.TryParse(Listen, out var listen) || listen.Port > 65535))
            throw new NodeConfigException($"{path}: \"listen\" must be ip:port, got \"{Listen}\"");
        if (Array.FindIndex(Placement, n => n != Node && !peers.Any(p => p.Node == n)) is var unreachable and >= 0)
            throw new NodeConfigException($"{path}: \"placement\" puts vCPU {unreachable} on node {Placement[unreachable]}, which has no entry in \"peers\" (IPIs to it could not be forwarded)");
    }

    /// <summary>The transport options this config describes; the key is read from <see cref="KeyFile"/>.</summary>
    public TransportOptions ToTransportOptions(string configPath, Action<string>? log)
    {
        string keyPath = Path.IsPathRooted(KeyFile!) ? KeyFile! : Path.Combine(Path.GetDirectoryName(Path.GetFullPath(configPath))!, KeyFile!);
        byte[] key;
        try
        {
            key = Convert.FromHexString(File.ReadAllText(keyPath).Trim());
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new NodeConfigException($"cannot read the key file {keyPath}: {e.Message}");
        }
        catch (FormatException)
        {
            throw new NodeConfigException($"the key file {keyPath} must hold the key as hex digits");
        }
        if (key.Length < 16)
            throw new NodeConfigException($"the key in {keyPath} is {key.Length} bytes; at least 16 are needed");
        return new TransportOptions
        {
            NodeId = Node,
            NodeOfVcpu = Placement!,
            Key = key,
            Listen = Listen is null ? new IPEndPoint(IPAddress.Loopback, 0) : IPEndPoint.Parse(Listen),
            Peers = [.. (Peers ?? []).Select(p => new PeerAddress(p.Node, p.Address is null ? null : IPEndPoint.Parse(p.Address)))],
            Log = log,
            Encrypt = Encrypt,
            WindowRecords = QueueRecords ?? TransportOptions.DefaultWindowRecords,
            FullQueuePolicy = FullQueue == "fail" ? FullQueuePolicy.Fail : FullQueuePolicy.Wait,
            TopologyWriteTimeout = TopologyWriteTimeoutMs is { } ms ? TimeSpan.FromMilliseconds(ms) : TransportOptions.DefaultTopologyWriteTimeout,
        };
    }
}

/// <summary>A peer in a node config.</summary>
internal sealed class NodePeerConfig
{
    /// <summary>The peer's node id.</summary>
    public int Node { get; set; }
    /// <summary>The peer's listen address <c>ip:port</c> (needed when its id is higher than this node's).</summary>
    public string? Address { get; set; }
}

/// <summary>A node config that cannot be used; the message is one sentence for the user, ending with its period.</summary>
internal sealed class NodeConfigException(string message) : Exception(message.EndsWith('.') ? message : message + ".");

/// <summary>Source-generated JSON for node configs and reports (no reflection).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = false)]
[JsonSerializable(typeof(NodeConfig))]
[JsonSerializable(typeof(NodeReport))]
internal sealed partial class NodeConfigJsonContext : JsonSerializerContext;
