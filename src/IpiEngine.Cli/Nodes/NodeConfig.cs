using System.Net;
using System.Text.Json;
using System.Text.Json.Serialization;
using IpiEngine.Transport;

namespace IpiEngine.Cli.Nodes;

/// <summary>
/// One node's config file (JSON): <c>{"node":0, "listen":"127.0.0.1:7000", "keyFile":"vm.key", "placement":[0,0,1,1],
/// "peers":[{"node":1,"address":"127.0.0.1:7001"}], "topologyWriteTimeoutMs":5000}</c>. The key file holds at least 16
/// bytes as hex; a relative path is taken from the config file's folder. Listening is on loopback unless an address is
/// given. <c>topologyWriteTimeoutMs</c> (optional, default 5000) bounds how long a topology write may take to reach every
/// node before it fails.
/// </summary>
public sealed class NodeConfig
{
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
    /// <summary>Encrypt frames with AES-GCM (every node of the VM must agree); default false: HMAC-authenticated only.</summary>
    public bool Encrypt { get; set; }
    /// <summary>Each peer's outbound queue in records (a power of two, at least 64); default 2^24.</summary>
    public int? QueueRecords { get; set; }
    /// <summary>What to do when a peer's queue is full: "wait" (default) or "fail" (the peer is declared unreachable).</summary>
    public string? FullQueue { get; set; }
    /// <summary>Milliseconds a topology write may take to be applied on every node (default 5000).</summary>
    public int? TopologyWriteTimeoutMs { get; set; }

    /// <summary>Reads and validates <paramref name="path"/>; every problem is one <see cref="NodeConfigException"/> sentence.</summary>
    public static NodeConfig Load(string path)
    {
        NodeConfig? config;
        try
        {
            config = JsonSerializer.Deserialize(File.ReadAllText(path), NodeConfigJsonContext.Default.NodeConfig);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new NodeConfigException($"cannot read the node config {path}: {e.Message}");
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
        if (Placement.Any(n => n < 0))
            throw new NodeConfigException($"{path}: node ids in \"placement\" must not be negative");
        if (KeyFile is null)
            throw new NodeConfigException($"{path}: \"keyFile\" is required (the VM's pre-shared key, hex)");
        var peers = Peers ?? [];
        if (peers.Any(p => p.Node == Node) || peers.Select(p => p.Node).Distinct().Count() != peers.Count)
            throw new NodeConfigException($"{path}: \"peers\" lists this node or a node twice");
        foreach (var peer in peers.Where(p => p.Node > Node))
        {
            if (!IPEndPoint.TryParse(peer.Address ?? "", out var ep) || ep.Port == 0)
                throw new NodeConfigException($"{path}: peer {peer.Node} needs an \"address\" ip:port (this node dials peers with a higher id)");
        }
        if (QueueRecords is { } q && (q < 64 || (q & (q - 1)) != 0))
            throw new NodeConfigException($"{path}: \"queueRecords\" must be a power of two of at least 64, got {q}");
        if (FullQueue is not (null or "wait" or "fail"))
            throw new NodeConfigException($"{path}: \"fullQueue\" must be \"wait\" or \"fail\", got \"{FullQueue}\"");
        if (TopologyWriteTimeoutMs is <= 0)
            throw new NodeConfigException($"{path}: \"topologyWriteTimeoutMs\" must be a positive number of milliseconds, got {TopologyWriteTimeoutMs}");
        if (Listen is not null && !IPEndPoint.TryParse(Listen, out _))
            throw new NodeConfigException($"{path}: \"listen\" must be ip:port, got \"{Listen}\"");
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
public sealed class NodePeerConfig
{
    /// <summary>The peer's node id.</summary>
    public int Node { get; set; }
    /// <summary>The peer's listen address <c>ip:port</c> (needed when its id is higher than this node's).</summary>
    public string? Address { get; set; }
}

/// <summary>A node config that cannot be used; the message is one sentence for the user.</summary>
public sealed class NodeConfigException(string message) : Exception(message);

/// <summary>Source-generated JSON for node configs and reports (no reflection).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = false)]
[JsonSerializable(typeof(NodeConfig))]
[JsonSerializable(typeof(NodeReport))]
internal sealed partial class NodeConfigJsonContext : JsonSerializerContext;
