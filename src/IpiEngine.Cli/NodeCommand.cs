using System.CommandLine;
using System.Diagnostics;
using System.Net.Sockets;
using System.Text.Json;
using IpiEngine.Cli.Nodes;
using IpiEngine.Delivery;
using IpiEngine.Transport;

namespace IpiEngine.Cli;

/// <summary>
/// <c>ipi node</c>: runs one node of a multi-host VM from a config file. Prints <c>listening ADDRESS</c>, then
/// <c>ready</c> once every peer link is up, posts the cross-node workload (<c>--per-source</c>) into this node's
/// <see cref="Engine"/>, which resolves it and forwards it over the links (arrivals go into the engine's descriptors
/// through <see cref="EngineSink"/>, checked on the way by <see cref="NodeDeliveryCheck"/>), prints
/// <c>sent N</c> and finally <c>result {json}</c> (a <see cref="NodeReport"/>). With <c>--control</c> it waits for
/// <c>go</c> before sending and for <c>stop</c> (or end of input) before leaving, so an orchestrator can keep
/// every node up until all are done. Exit codes: 0 complete, 1 incomplete or timed out, 2 bad input.
/// </summary>
public static class NodeCommand
{
    /// <summary>Builds the verb.</summary>
    public static Command Create()
    {
        var config = new Option<FileInfo>("--config") { Description = "The node's JSON config (node, listen, keyFile, placement, peers).", Required = true };
        var perSource = new Option<int>("--per-source") { Description = "IPIs each local vCPU sends to each other node (0: only serve).", DefaultValueFactory = _ => 0 };
        var rate = new Option<long>("--rate") { Description = "IPIs per second this node posts (0: as fast as possible; pace it to measure latency rather than queueing).", DefaultValueFactory = _ => 0 };
        var timeout = new Option<int>("--timeout") { Description = "Seconds allowed for connecting and for the run.", DefaultValueFactory = _ => 60 };
        var control = new Option<bool>("--control") { Description = "Wait for 'go' and 'stop' lines on standard input (used by ipi run --nodes)." };
        var command = new Command("node", "Run one node of a VM whose vCPUs are spread over several hosts; forwards IPIs to its peers.")
        {
            config, perSource, rate, timeout, control,
        };
        command.SetAction((parse, ct) => RunAsync(parse.GetRequiredValue(config).FullName, parse.GetValue(perSource), parse.GetValue(rate),
            TimeSpan.FromSeconds(parse.GetValue(timeout)), parse.GetValue(control), ct));
        return command;
    }

    private static async Task<int> RunAsync(string configPath, int perSource, long rate, TimeSpan timeout, bool control, CancellationToken ct)
    {
        if (perSource < 0 || rate < 0 || timeout <= TimeSpan.Zero)
            return Fail("--per-source and --rate must be 0 or more and --timeout positive.");
        NodeConfig config;
        TransportOptions options;
        try
        {
            config = NodeConfig.Load(configPath);
            options = config.ToTransportOptions(configPath, line => Console.Error.WriteLine(line));
        }
        catch (NodeConfigException e)
        {
            return Fail(e.Message);
        }
        int[] placement = config.Placement!;
        var transport = new NodeTransport(options);
        Engine engine;
        try
        {
            // Default topology: x2APIC physical, APIC ID = vCPU index, every APIC enabled.
            engine = new Engine(new EngineOptions
            {
                VcpuCount = placement.Length,
                Placement = new VcpuPlacement(placement, config.Node),
                Forwarder = transport,
                Name = $"node{config.Node}",
            });
        }
        catch (ArgumentException e)
        {
            return Fail($"node {config.Node}: {e.Message}");
        }
        try
        {
            return await RunNodeAsync(config, options, transport, engine, perSource, rate, timeout, control, ct);
        }
        finally
        {
            await transport.DisposeAsync(); // first: no delivery may reach the engine after it is freed
            engine.Dispose();
        }
    }

    private static async Task<int> RunNodeAsync(NodeConfig config, TransportOptions options, NodeTransport transport, Engine engine,
        int perSource, long rate, TimeSpan timeout, bool control, CancellationToken ct)
    {
        int[] placement = config.Placement!;
        var check = new NodeDeliveryCheck(placement, config.Node, new EngineSink(engine));
        try
        {
            transport.Start(check);
        }
        catch (SocketException e)
        {
            return Fail($"node {config.Node} cannot listen on {options.Listen}: {e.Message}.");
        }
        engine.Start();
        Console.Out.WriteLine($"listening {transport.LocalEndPoint}");
        if (!await WaitAsync(() => transport.Links.All(l => l.IsConnected), timeout, ct))
        {
            Console.Error.WriteLine($"node {config.Node}: not every peer connected within {timeout.TotalSeconds:0} s.");
            return 1;
        }
        Console.Out.WriteLine("ready");
        if (control && !await ReadCommandAsync("go", ct))
            return 1;
        if (perSource == 0 && !control)
            await WaitAsync(() => false, Timeout.InfiniteTimeSpan, ct); // serve until interrupted
        var clock = Stopwatch.StartNew();
        long sent = await Task.Run(() => NodeWorkload.Post(engine, placement, config.Node, perSource, rate), CancellationToken.None);
        Console.Out.WriteLine($"sent {sent}");
        long expected = (long)perSource * placement.Count(n => n != config.Node);
        bool complete = await WaitAsync(() => engine.ReadCounters().InFlight == 0 && transport.Links.All(l => l.Counters.InFlight == 0)
            && check.InOrder + check.Skipped + check.Misrouted >= expected, timeout, ct);
        double seconds = clock.Elapsed.TotalSeconds;
        var links = transport.Links.Select(l => l.Counters).ToArray();
        var counters = engine.ReadCounters();
        var report = new NodeReport(config.Node, counters.Posted, counters.Forwarded, counters.ConservationHolds,
            links.Sum(c => c.Forwarded), links.Sum(c => c.Acknowledged), links.Sum(c => c.Applied), links.Sum(c => c.Duplicates),
            counters.RemoteDelivered, counters.RemoteCoalesced, counters.RemoteRejected,
            expected, check.InOrder, check.Repeated, check.Skipped, check.Misrouted, links.Sum(c => c.Connections), seconds,
            check.LatencyMicroseconds(50), check.LatencyMicroseconds(99),
            complete && check.InOrder == expected && check.Repeated == 0 && counters.ConservationHolds);
        Console.Out.WriteLine("result " + JsonSerializer.Serialize(report, NodeConfigJsonContext.Default.NodeReport));
        if (control)
            await ReadCommandAsync("stop", ct);
        return report.Complete ? 0 : 1;
    }

    private static int Fail(string sentence)
    {
        Console.Error.WriteLine(sentence);
        return 2;
    }

    /// <summary>Reads lines until <paramref name="command"/>; end of input counts as the command (the orchestrator went away).</summary>
    private static async Task<bool> ReadCommandAsync(string command, CancellationToken ct)
    {
        while (await Console.In.ReadLineAsync(ct) is { } line)
        {
            if (line.Trim() == command)
                return true;
        }
        return command == "stop";
    }

    private static async Task<bool> WaitAsync(Func<bool> condition, TimeSpan timeout, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (ct.IsCancellationRequested || (timeout != Timeout.InfiniteTimeSpan && clock.Elapsed > timeout))
                return false;
            await Task.Delay(2, CancellationToken.None);
        }
        return true;
    }
}
