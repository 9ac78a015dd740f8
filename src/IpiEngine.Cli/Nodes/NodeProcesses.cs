using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using System.Text.Json;

namespace IpiEngine.Cli.Nodes;

/// <summary>
/// N <c>ipi node --control</c> processes of one VM on loopback: a temporary folder with a fresh key and one config per
/// node (vCPU v on node v % N), the processes started with the caller's extra arguments, and their control lines
/// (standard input and output) with a bound on every wait. Disposing stops them (killing, by process id, any that
/// does not leave) and deletes the folder.
/// </summary>
internal sealed class NodeProcesses : IAsyncDisposable
{
    private readonly List<Process> _processes = [];
    private readonly List<ErrorTail> _errorTails = [];
    private readonly List<string[]> _arguments = [];
    private readonly string _ipiDll;
    private readonly Action<string>? _log;
    private readonly List<List<ProgressSample>> _progress = [];
    private readonly TimeSpan _timeout;
    private int[] _ports = [];

    private NodeProcesses(string folder, TimeSpan timeout, string ipiDll, Action<string>? log)
    {
        Folder = folder;
        _timeout = timeout;
        _ipiDll = ipiDll;
        _log = log;
    }

    /// <summary>
    /// How much longer a run waits for each node's line than the node waits for its own peers and drain (<c>--timeout</c>):
    /// a node that is not drained reports itself (its lost counts, its reason) after its bound, and the run must still be
    /// listening then, or it ends as a node that did not answer and the node's report is lost (review of 2026-12-07).
    /// </summary>
    public static readonly TimeSpan ReportMargin = TimeSpan.FromSeconds(30);

    /// <summary>The temporary folder (configs, key, and whatever files the nodes are told to write).</summary>
    public string Folder { get; }

    /// <summary>The number of nodes.</summary>
    public int Count => _processes.Count;

    /// <summary>The nodes' process ids, by node id.</summary>
    public IReadOnlyList<int> ProcessIds => [.. _processes.Select(p => p.Id)];

    /// <summary>The <c>progress</c> lines node <paramref name="node"/> printed, as far as its output was read.</summary>
    public IReadOnlyList<ProgressSample> Progress(int node) => _progress[node];

    /// <summary>
    /// Writes the configs and starts the nodes; <paramref name="arguments"/> gives each node's arguments after
    /// <c>--control</c> from its id and the temporary folder. <paramref name="route"/> (tests: a proxy on the path) gives
    /// the address a node dials for a peer (dialer, peer, the peer's listen address); null: the peer's own address.
    /// <paramref name="log"/> gets every node's stderr lines, each on that node's reader thread, so several calls run at
    /// once: it must be thread-safe (<c>NodesRun.SharedLog</c>).
    /// </summary>
    public static async Task<NodeProcesses> StartAsync(int nodes, int vcpus, string localTargets, Func<int, string, IEnumerable<string>> arguments,
        string ipiDll, TimeSpan timeout, Action<string>? log, CancellationToken ct, Func<int, int, IPEndPoint, IPEndPoint>? route = null)
    {
        var started = new NodeProcesses(Directory.CreateTempSubdirectory("ipi-nodes-").FullName, timeout, ipiDll, log);
        try
        {
            await File.WriteAllTextAsync(Path.Combine(started.Folder, "vm.key"), Convert.ToHexString(RandomNumberGenerator.GetBytes(32)), ct);
            int[] ports = started._ports = LoopbackPorts.Take(nodes);
            int[] placement = [.. Enumerable.Range(0, vcpus).Select(v => v % nodes)];
            IPEndPoint Dialed(int node, int peer)
            {
                var listen = new IPEndPoint(IPAddress.Loopback, ports[peer]);
                return route is not null && peer > node ? route(node, peer, listen) : listen; // a node dials only the higher ids
            }
            for (int node = 0; node < nodes; node++)
            {
                var config = new NodeConfig
                {
                    Node = node,
                    Listen = $"127.0.0.1:{ports[node]}",
                    KeyFile = "vm.key",
                    Placement = placement,
                    LocalTargets = localTargets,
                    Peers = [.. Enumerable.Range(0, nodes).Where(p => p != node).Select(p => new NodePeerConfig { Node = p, Address = Dialed(node, p).ToString() })],
                };
                string path = Path.Combine(started.Folder, $"node{node}.json");
                await File.WriteAllTextAsync(path, JsonSerializer.Serialize(config, NodeConfigJsonContext.Default.NodeConfig), ct);
                started._arguments.Add(["node", "--config", path, "--control", .. arguments(node, started.Folder)]);
                started._errorTails.Add(new ErrorTail());
                started._processes.Add(Start(node, ipiDll, started._arguments[node], log, started._errorTails[node]));
                started._progress.Add([]);
            }

            return started;
        }
        catch
        {
            await started.DisposeAsync();
            throw;
        }
    }

    /// <summary>The <c>--assist on|off</c> arguments of every node with fused threading; none otherwise (the node refuses them there).</summary>
    public static string[] AssistArguments(string threading, bool assist)
        => threading == "fused" ? ["--assist", assist ? "on" : "off"] : [];

    /// <summary>Reads node <paramref name="node"/>'s output up to a line starting with <paramref name="prefix"/>, within the timeout.</summary>
    /// <exception cref="InvalidOperationException">The node did not say it in time, or exited (one sentence).</exception>
    public async Task<string> ExpectLineAsync(int node, string prefix, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(_timeout);
        try
        {
            while (await _processes[node].StandardOutput.ReadLineAsync(timeout.Token) is { } line)
            {
                if (line.StartsWith(prefix, StringComparison.Ordinal))
                {
                    return line;
                }

                if (ProgressSample.TryParse(line, out var sample))
                {
                    _progress[node].Add(sample);
                }
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new InvalidOperationException($"node {node} did not say \"{prefix.Trim()}\" within {_timeout.TotalSeconds:0} s.");
        }

        throw new InvalidOperationException($"node {node} exited before saying \"{prefix.Trim()}\"{await ExitReasonAsync(node, ct)}");
    }

    /// <summary>
    /// Why node <paramref name="node"/>, whose output ended, exited: its exit code and its last error lines (read to
    /// their end: waiting for the exit waits for the redirected streams too), so the sentence says why without the log.
    /// </summary>
    private async Task<string> ExitReasonAsync(int node, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(5));
        try
        {
            await _processes[node].WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return " (it closed its output but has not exited; see its log lines).";
        }

        string last = _errorTails[node].Text;
        return last.Length == 0
            ? $" (exit code {_processes[node].ExitCode}, nothing on its error output)."
            : $" (exit code {_processes[node].ExitCode}): {last}";
    }

    /// <summary>The report in node <paramref name="node"/>'s <c>result {json}</c> line.</summary>
    /// <exception cref="InvalidOperationException">The line holds no report of that shape (one sentence).</exception>
    public static T ParseResult<T>(int node, string line, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> shape)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(line);
        string json = line.StartsWith(ResultPrefix, StringComparison.Ordinal) ? line[ResultPrefix.Length..] : line;
        try
        {
            return JsonSerializer.Deserialize(json, shape) ?? throw new InvalidOperationException($"node {node} sent an empty report.");
        }
        catch (JsonException e)
        {
            throw new InvalidOperationException($"node {node} sent a result line that is not its report ({e.Message}).", e);
        }
    }

    /// <summary>The start of a node's report line.</summary>
    public const string ResultPrefix = "result ";

    /// <summary>Reads the line starting with <paramref name="prefix"/> from every node, in node order.</summary>
    public async Task<string[]> ExpectFromAllAsync(string prefix, CancellationToken ct)
    {
        var lines = new string[_processes.Count];
        for (int node = 0; node < lines.Length; node++)
        {
            lines[node] = await ExpectLineAsync(node, prefix, ct);
        }

        return lines;
    }

    /// <summary>Sends one control line to every node.</summary>
    public async Task SendAllAsync(string line, CancellationToken ct)
    {
        foreach (var process in _processes)
        {
            await process.StandardInput.WriteLineAsync(line.AsMemory(), ct);
            await process.StandardInput.FlushAsync(ct);
        }
    }

    /// <summary>Sends one control line to node <paramref name="node"/>.</summary>
    public async Task SendAsync(int node, string line, CancellationToken ct)
    {
        await _processes[node].StandardInput.WriteLineAsync(line.AsMemory(), ct);
        await _processes[node].StandardInput.FlushAsync(ct);
    }

    /// <summary>
    /// Kills node <paramref name="node"/> (SIGKILL, by its process id: no goodbye, nothing flushed) and starts it again
    /// with the same config and arguments, as a host that crashed and came back would.
    /// </summary>
    public async Task RestartAsync(int node)
    {
        var killed = _processes[node];
        killed.Kill(entireProcessTree: true); // our own child, by its id
        await killed.WaitForExitAsync(CancellationToken.None);
        killed.Dispose();
        _errorTails[node] = new ErrorTail();
        _processes[node] = Start(node, _ipiDll, _arguments[node], _log, _errorTails[node]);
        _progress[node].Clear();
    }

    /// <summary>Sends <c>stop</c>, closes their input and waits for every node to leave (or kills it).</summary>
    public async Task StopAsync()
    {
        foreach (var process in _processes)
        {
            try
            {
                await process.StandardInput.WriteLineAsync("stop".AsMemory(), CancellationToken.None);
                process.StandardInput.Close();
            }
            catch (IOException)
            {
                // already gone: WaitOrKill below sees it
            }
        }

        await Task.WhenAll(_processes.Select(WaitOrKillAsync)); // one grace for all of them, not one per node
    }

    /// <summary>
    /// Ends the nodes: closes their input (a node waiting for a command leaves), gives them all one grace of 5 s
    /// together, then kills whoever is left. A run cancelled mid-posting (Ctrl+C, SIGTERM) used to wait 5 s per node in
    /// turn with their input open, so 16 nodes took 80 s to go (review of 2026-12-07).
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        foreach (var process in _processes)
        {
            try
            {
                process.StandardInput.Close();
            }
            catch (Exception e) when (e is IOException or InvalidOperationException)
            {
                // gone already: the wait below sees it
            }
        }

        await Task.WhenAll(_processes.Select(WaitOrKillAsync));
        foreach (var process in _processes)
        {
            process.Dispose();
        }

        _processes.Clear();
        LoopbackPorts.Return(_ports);
        Directory.Delete(Folder, recursive: true);
    }

    private static Process Start(int node, string ipiDll, IEnumerable<string> arguments, Action<string>? log, ErrorTail tail)
    {
        var process = Process.Start(StartInfo(ipiDll, arguments, Environment.GetEnvironmentVariable)) ?? throw new InvalidOperationException($"could not start node {node}.");
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                tail.Add(e.Data);
                log?.Invoke($"node {node}: {e.Data}");
            }
        };
        process.BeginErrorReadLine();
        return process;
    }

    /// <summary>The runtime's switch for tiered compilation, which a node process gets off unless the caller set it.</summary>
    internal const string TieredCompilationVariable = "DOTNET_TieredCompilation";

    /// <summary>
    /// The sockets' switch that runs socket continuations on the runtime's event thread instead of handing them to the
    /// thread pool, which a node process gets on unless the caller set it. Every frame that arrives then costs one thread
    /// wake-up less (the event thread's, not the event thread's and a pool thread's): paced at 1 M IPIs/s, cross-node p50
    /// 94-132 against 122-162 µs and p99 343-666 against 492-673 µs, 6 alternating rounds, near (docs/performance-log.md,
    /// twenty-ninth session). It is safe here because nothing a node's links run on arrival waits: the receive loop
    /// applies through the engine's sinks (a short lock), topology writes are applied on their own thread, and the send
    /// loop only awaits; a sink that blocked would hold every socket of the process.
    /// </summary>
    internal const string InlineSocketCompletionsVariable = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    /// <summary>The runtime settings a node process starts with unless the caller's environment sets them.</summary>
    internal static readonly (string Variable, string Value)[] NodeDefaults = [(TieredCompilationVariable, "0"), (InlineSocketCompletionsVariable, "1")];

    /// <summary>
    /// The variables of <see cref="NodeDefaults"/> as <paramref name="environment"/> has them (null: not set): what a node
    /// reports of its own process, so a run's JSON says what its node processes actually ran with.
    /// </summary>
    internal static IReadOnlyDictionary<string, string?> RuntimeSettings(Func<string, string?> environment)
        => NodeDefaults.ToDictionary(d => d.Variable, d => environment(d.Variable), StringComparer.Ordinal);

    /// <summary>
    /// How a node process starts: <c>dotnet ipi.dll</c> with the arguments, its standard streams redirected, and
    /// <see cref="NodeDefaults"/> unless <paramref name="callersEnvironment"/> (the caller's own settings) names them.
    /// Tiered compilation is off because a node posts soon after it starts (its warm-up, <see cref="NodeWarmUp"/>, lasts
    /// a second at most), and the runtime's re-compilation of what it runs (transport, arrivals, the posting loop) took a
    /// core's share in the window's first seconds (measured before the warm-up existed): with tiering on, 3.2-3.9 M
    /// cross-node IPIs/s over a 1 s run and 9.6-13.3 M over 5 s; off, 8.7-9.9 M and 15.1-15.4 M (2 nodes, near, 2026-12-06;
    /// docs/performance-log.md, twenty-fourth session). The engine's hot paths are compiled optimized at once either way.
    /// </summary>
    internal static ProcessStartInfo StartInfo(string ipiDll, IEnumerable<string> arguments, Func<string, string?> callersEnvironment)
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
        info.ArgumentList.Add(ipiDll);
        foreach (string argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        foreach (var (variable, value) in NodeDefaults)
        {
            info.Environment[variable] = callersEnvironment(variable) ?? value;
        }

        return info;
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
}

/// <summary>A node process's last few error lines (its reader thread adds, an error message reads).</summary>
internal sealed class ErrorTail
{
    private const int Kept = 5;
    private readonly Lock _lock = new();
    private readonly Queue<string> _lines = new(Kept);

    /// <summary>Keeps <paramref name="line"/>, dropping the oldest beyond <see cref="Kept"/>.</summary>
    public void Add(string line)
    {
        lock (_lock)
        {
            if (_lines.Count == Kept)
            {
                _lines.Dequeue();
            }

            _lines.Enqueue(line);
        }
    }

    /// <summary>The kept lines, oldest first, joined by " / "; empty if none.</summary>
    public string Text
    {
        get
        {
            lock (_lock)
            {
                return string.Join(" / ", _lines);
            }
        }
    }
}

/// <summary>One <c>progress TIMESTAMP SERVED</c> line of <c>ipi node --progress-ms</c>: when (Stopwatch ticks) and how many local destinations it had served.</summary>
internal readonly record struct ProgressSample(long Timestamp, long Served)
{
    /// <summary>Parses a progress line; false for any other line.</summary>
    public static bool TryParse(string line, out ProgressSample sample)
    {
        sample = default;
        var parts = line.Split(' ');
        if (parts.Length != 3 || parts[0] != "progress"
            || !long.TryParse(parts[1], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long timestamp)
            || !long.TryParse(parts[2], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long served))
        {
            return false;
        }

        sample = new ProgressSample(timestamp, served);
        return true;
    }
}
