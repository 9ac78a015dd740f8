using System.Globalization;
using System.Net.Sockets;
using System.Text.Json;
using IpiEngine.Cli.Nodes;
using IpiEngine.Cli.Run;
using IpiEngine.Trace;
using IpiEngine.Transport;

namespace IpiEngine.Cli.TraceNodes;

/// <summary>
/// <c>ipi node --control --trace-vcpus V --trace-exits E --deliveries OUT</c>: one node of a trace replayed over
/// several node processes (<see cref="TraceNode"/>). Control lines: prints <c>listening ADDRESS</c> and <c>ready</c>,
/// waits for <c>go</c>; at the K-th run of topology rows prints <c>at K</c> and waits for <c>pass K</c> (every node is
/// there); when everything posted here is resolved and everything due here has arrived, writes its deliveries to OUT
/// (<see cref="NodeDelivery"/> lines: <c>seq,dest_vcpu,delivery_mode,vector</c>), prints <c>result {json}</c> (a <see cref="TraceNodeReport"/>) and waits for <c>stop</c>.
/// Exit codes: 0 every check held on this node, 1 not, 2 bad input.
/// </summary>
internal static class TraceNodeProcess
{
    /// <summary>Runs the node.</summary>
    public static async Task<int> RunAsync(string configPath, string vcpusPath, string exitsPath, string threading, bool assist, IReadOnlyList<int>? pipelineCpus, string deliveriesPath,
        TimeSpan timeout, CancellationToken ct)
    {
        NodeConfig config;
        TransportOptions options;
        TraceNodeSetup setup;
        try
        {
            config = NodeConfig.Load(configPath);
            options = config.ToTransportOptions(configPath, line => Console.Error.WriteLine(line));
            uint[] ids = TraceReader.ReadVcpus(vcpusPath);
            ExitRecord[] exits = TraceReader.ReadExits(exitsPath, ids.Length);
            if (config.Placement!.Length != ids.Length)
            {
                return NodeCommand.Fail($"the placement names {config.Placement.Length} vCPUs but the trace has {ids.Length}.");
            }

            ThreadingMode mode = EngineNames.TryThreading(threading)
                ?? throw new NodeConfigException($"--threading must be fused, per-stage or inline, not '{threading}'");
            setup = new TraceNodeSetup(config.Node, config.Placement, ids, exits, SequentialReplay.Run(ids, exits), mode, config.LocalTargetsMode, timeout, assist)
            {
                PipelineCpus = pipelineCpus,
            };
        }
        catch (Exception e) when (e is NodeConfigException or TraceFormatException or IOException or UnauthorizedAccessException)
        {
            return NodeCommand.Fail(e.Message);
        }

        var transport = new NodeTransport(options);
        TraceNode node;
        try
        {
            node = new TraceNode(setup, transport);
        }
        catch (ArgumentException e)
        {
            await transport.DisposeAsync();
            return NodeCommand.Fail(e.Message);
        }

        try
        {
            return await RunNodeAsync(node, transport, options, deliveriesPath, timeout, ct);
        }
        finally
        {
            await transport.DisposeAsync(); // first: no delivery may reach the engine after it is freed
            node.Dispose();
        }
    }

    private static async Task<int> RunNodeAsync(TraceNode node, NodeTransport transport, TransportOptions options, string deliveriesPath,
        TimeSpan timeout, CancellationToken ct)
    {
        try
        {
            transport.Start(node.Arrivals);
        }
        catch (SocketException e)
        {
            return NodeCommand.Fail($"node {options.NodeId} cannot listen on {options.Listen}: {e.Message}.");
        }

        node.Start();
        Console.Out.WriteLine($"listening {transport.LocalEndPoint}");
        if (!await NodeCommand.WaitAsync(() => transport.Links.All(l => l.IsConnected), timeout, ct))
        {
            Console.Error.WriteLine($"node {options.NodeId}: not every peer connected within {timeout.TotalSeconds:0} s.");
            return 1;
        }

        Console.Out.WriteLine("ready");
        if (await NodeCommand.ReadCommandAsync("go", ct) is null)
        {
            return 1;
        }

        try
        {
            await Task.Run(() => node.Post(new ControlRendezvous(), ct), CancellationToken.None);
        }
        catch (InvalidOperationException e)
        {
            Console.Error.WriteLine(e.Message);
            return 1;
        }

        bool drained = await NodeCommand.WaitAsync(() => node.Drained && transport.Links.All(l => l.Counters.InFlight == 0), timeout, ct);
        Console.Out.WriteLine("drained"); // also when not: the report below says so
        if (await NodeCommand.ReadCommandAsync("finish", ct) is null)
        {
            Console.Error.WriteLine($"node {options.NodeId}: expected 'finish' after 'drained'; the input ended.");
            return 1;
        }

        var (report, deliveries) = node.Finish();
        if (!drained)
        {
            report = report with { Problems = [.. report.Problems, $"not drained within {timeout.TotalSeconds:0} s: {report.Received} of {report.ExpectedReceived} deliveries arrived."] };
        }

        await NodeDelivery.WriteAsync(deliveriesPath, deliveries);
        Console.Out.WriteLine("result " + JsonSerializer.Serialize(report, TraceNodeJsonContext.Default.TraceNodeReport));
        await NodeCommand.ReadCommandAsync("stop", ct);
        return report.Problems.Length == 0 ? 0 : 1;
    }

    /// <summary>The rendezvous through the orchestrator: <c>at K</c> out, <c>pass K</c> in.</summary>
    private sealed class ControlRendezvous : NodeRendezvous
    {
        public override void Arrive(int ordinal, CancellationToken ct)
        {
            string pass = string.Create(CultureInfo.InvariantCulture, $"pass {ordinal}");
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"at {ordinal}"));
            while (Console.In.ReadLine() is { } line)
            {
                if (line.Trim() == pass)
                {
                    return;
                }
            }

            throw new InvalidOperationException($"the orchestrator went away before the topology rows {ordinal}.");
        }
    }
}

/// <summary>Source-generated JSON for trace node reports (no reflection).</summary>
[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.CamelCase)]
[System.Text.Json.Serialization.JsonSerializable(typeof(TraceNodeReport))]
internal sealed partial class TraceNodeJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
