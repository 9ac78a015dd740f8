using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text.Json;

namespace IpiEngine.Cli.Nodes;

/// <summary>
/// Runs an N-node VM on loopback as N separate <c>ipi node --control</c> processes: writes a key and one config per
/// node into a temporary folder, starts the processes, waits until every node is ready, starts the workload on all at
/// once, collects each node's <see cref="NodeReport"/>, then stops them (killing, by process id, any that does not leave).
/// This is what <c>ipi run --nodes N</c> calls.
/// </summary>
public sealed class MultiNodeRun
{
    /// <summary>Number of nodes (processes), at least 2.</summary>
    public required int Nodes { get; init; }
    /// <summary>vCPUs of the whole VM, at least <see cref="Nodes"/> (placement: vCPU v on node v % N).</summary>
    public int Vcpus { get; init; } = 4;
    /// <summary>The <c>--topology</c> name (x2APIC kinds).</summary>
    public string Topology { get; init; } = "x2apic-cluster";
    /// <summary>The <c>--workload</c> mix.</summary>
    public string Workload { get; init; } = "linux-mix";
    /// <summary>The workload seed, the same on every node.</summary>
    public int Seed { get; init; } = 1;
    /// <summary>IPIs each vCPU posts; 0 to post for <see cref="Duration"/> instead.</summary>
    public long IpisPerVcpu { get; init; } = 1000;
    /// <summary>How long each node posts when <see cref="IpisPerVcpu"/> is 0.</summary>
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(1);
    /// <summary>IPIs per second each node posts (0: as fast as possible). Pace it to read latency rather than queueing.</summary>
    public long Rate { get; init; }
    /// <summary>Bound on each phase (start, run, stop).</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(60);
    /// <summary>The <c>ipi.dll</c> to start; by default the one this type lives in.</summary>
    public string IpiDll { get; init; } = typeof(MultiNodeRun).Assembly.Location;
    /// <summary>Receives the nodes' standard error lines (link events), prefixed with the node id.</summary>
    public Action<string>? Log { get; init; }

    /// <summary>
    /// The whole of <c>ipi run --nodes N</c> after option parsing: runs the VM, writes the summary table to
    /// <paramref name="output"/>, and returns the exit code (0: every IPI delivered exactly once; 1: incomplete;
    /// 2: a node could not be started or did not answer, said in one sentence on <paramref name="error"/>).
    /// </summary>
    public async Task<int> RunAndReportAsync(TextWriter output, TextWriter error, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        MultiNodeResult result;
        try
        {
            result = await RunAsync(ct);
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or IOException or System.ComponentModel.Win32Exception)
        {
            await error.WriteLineAsync($"ipi run --nodes: {e.Message}");
            return 2;
        }
        MultiNodeSummary.Write(output, result);
        return result.Complete ? 0 : 1;
    }

    /// <summary>Runs the VM once; throws <see cref="InvalidOperationException"/> with one sentence when a node fails to start or answer.</summary>
    public async Task<MultiNodeResult> RunAsync(CancellationToken ct = default)
    {
        if (Nodes < 2 || Vcpus < Nodes || IpisPerVcpu < 0 || Duration <= TimeSpan.Zero)
            throw new ArgumentException("a multi-node run needs at least 2 nodes, at least 1 vCPU per node and a non-negative workload");
        string folder = Directory.CreateTempSubdirectory("ipi-nodes-").FullName;
        var processes = new List<Process>();
        try
        {
            await File.WriteAllTextAsync(Path.Combine(folder, "vm.key"), Convert.ToHexString(RandomNumberGenerator.GetBytes(32)), ct);
            int[] ports = FreeLoopbackPorts(Nodes);
            int[] placement = [.. Enumerable.Range(0, Vcpus).Select(v => v % Nodes)];
            for (int node = 0; node < Nodes; node++)
            {
                var config = new NodeConfig
                {
                    Node = node,
                    Listen = $"127.0.0.1:{ports[node]}",
                    KeyFile = "vm.key",
                    Placement = placement,
                    Peers = [.. Enumerable.Range(0, Nodes).Where(p => p != node).Select(p => new NodePeerConfig { Node = p, Address = $"127.0.0.1:{ports[p]}" })],
                };
                string path = Path.Combine(folder, $"node{node}.json");
                await File.WriteAllTextAsync(path, JsonSerializer.Serialize(config, NodeConfigJsonContext.Default.NodeConfig), ct);
                processes.Add(Start(node, path));
            }
            foreach (var (process, node) in processes.Select((p, i) => (p, i)))
                await ExpectLineAsync(process, node, "ready", ct);
            foreach (var process in processes)
                await process.StandardInput.WriteLineAsync("go".AsMemory(), ct);
            // Each node says what its vCPUs posted; every node needs all of it to compute what it must receive.
            var posted = new long[Vcpus];
            foreach (var (process, node) in processes.Select((p, i) => (p, i)))
            {
                string line = await ExpectLineAsync(process, node, "posted ", ct);
                var counts = line["posted ".Length..].Split(',');
                if (counts.Length != Vcpus)
                    throw new InvalidOperationException($"node {node} reported {counts.Length} vCPU counts, not {Vcpus}.");
                for (int v = 0; v < Vcpus; v++)
                    posted[v] += long.Parse(counts[v], System.Globalization.CultureInfo.InvariantCulture);
            }
            string expect = "expect " + string.Join(',', posted);
            foreach (var process in processes)
                await process.StandardInput.WriteLineAsync(expect.AsMemory(), ct);
            var reports = new List<NodeReport>();
            foreach (var (process, node) in processes.Select((p, i) => (p, i)))
            {
                string line = await ExpectLineAsync(process, node, "result ", ct);
                reports.Add(JsonSerializer.Deserialize(line["result ".Length..], NodeConfigJsonContext.Default.NodeReport)
                    ?? throw new InvalidOperationException($"node {node} sent an empty report."));
            }
            foreach (var process in processes)
            {
                await process.StandardInput.WriteLineAsync("stop".AsMemory(), ct);
                process.StandardInput.Close();
            }
            foreach (var process in processes)
                await WaitOrKillAsync(process);
            double seconds = reports.Max(r => r.Seconds);
            return new MultiNodeResult(reports, seconds > 0 ? reports.Sum(r => r.Received) / seconds : 0,
                seconds > 0 ? reports.Sum(r => r.LocalDelivered + r.LocalCoalesced) / seconds : 0, reports.All(r => r.Complete));
        }
        finally
        {
            foreach (var process in processes)
            {
                await WaitOrKillAsync(process);
                process.Dispose();
            }
            Directory.Delete(folder, recursive: true);
        }
    }

    private Process Start(int node, string configPath)
    {
        string host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH")
            ?? (Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet" ? Environment.ProcessPath! : "dotnet");
        var info = new ProcessStartInfo(host)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        var invariant = System.Globalization.CultureInfo.InvariantCulture;
        foreach (string arg in new[] { IpiDll, "node", "--config", configPath, "--control", "--topology", Topology, "--workload", Workload,
                     "--seed", Seed.ToString(invariant), "--ipis-per-vcpu", IpisPerVcpu.ToString(invariant),
                     "--duration-ms", ((long)Duration.TotalMilliseconds).ToString(invariant),
                     "--rate", Rate.ToString(invariant), "--timeout", ((int)Timeout.TotalSeconds).ToString(invariant) })
            info.ArgumentList.Add(arg);
        var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start node {node}.");
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
                Log?.Invoke($"node {node}: {e.Data}");
        };
        process.BeginErrorReadLine();
        return process;
    }

    /// <summary>Reads the node's output up to a line starting with <paramref name="prefix"/>, within the timeout.</summary>
    private async Task<string> ExpectLineAsync(Process process, int node, string prefix, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(Timeout);
        try
        {
            while (await process.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
            {
                if (line.StartsWith(prefix, StringComparison.Ordinal))
                    return line;
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new InvalidOperationException($"node {node} did not say \"{prefix.Trim()}\" within {Timeout.TotalSeconds:0} s.");
        }
        throw new InvalidOperationException($"node {node} exited before saying \"{prefix.Trim()}\" (see its log lines).");
    }

    private static async Task WaitOrKillAsync(Process process)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true); // our own child, by its id
            await process.WaitForExitAsync(CancellationToken.None);
        }
    }

    /// <summary>Ports the OS hands out for loopback right now (bound, read and released; a tiny reuse race is accepted).</summary>
    private static int[] FreeLoopbackPorts(int count)
    {
        var sockets = new Socket[count];
        try
        {
            for (int i = 0; i < count; i++)
            {
                sockets[i] = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                sockets[i].Bind(new IPEndPoint(IPAddress.Loopback, 0));
            }
            return [.. sockets.Select(s => ((IPEndPoint)s.LocalEndPoint!).Port)];
        }
        finally
        {
            foreach (var s in sockets)
                s?.Dispose();
        }
    }
}

/// <summary>The outcome of a <see cref="MultiNodeRun"/>: every node's report, the cross-node and local delivery rates.</summary>
public sealed record MultiNodeResult(IReadOnlyList<NodeReport> Nodes, double CrossNodeIpisPerSecond, double LocalIpisPerSecond, bool Complete);
