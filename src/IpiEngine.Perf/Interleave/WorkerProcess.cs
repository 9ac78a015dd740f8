using System.Diagnostics;
using System.Text.Json;

namespace IpiEngine.Perf.Interleave;

/// <summary>
/// The controller's handle on one <see cref="BenchmarkWorker"/> process: starts it, reads its
/// cases, sends requests and reads the answers. A request that takes longer than
/// <see cref="RequestTimeout"/> (a hung benchmark) kills the worker and fails the run with a
/// sentence, instead of waiting forever.
/// </summary>
internal sealed class WorkerProcess : IDisposable
{
    private readonly Process _process;
    private readonly string _label;
    private bool _quitRequested;

    private WorkerProcess(Process process, string label)
    {
        _process = process;
        _label = label;
    }

    /// <summary>Longest one request may take.</summary>
    public static TimeSpan RequestTimeout { get; } = TimeSpan.FromMinutes(5);

    /// <summary>The cases the worker found, in its order; requests name them by index.</summary>
    public IReadOnlyList<WorkerCase> Cases { get; private set; } = [];

    /// <summary>Filler methods the worker compiled to move its code (<see cref="CodeLayout"/>).</summary>
    public int Fillers { get; private set; }

    /// <summary>
    /// Starts <paramref name="command"/> (the worker command line, e.g. <c>dotnet ipi.dll perf worker</c>)
    /// for <paramref name="assemblyPath"/> and <paramref name="filters"/>, with <paramref name="environment"/>
    /// added to its environment, without waiting for it: <see cref="ReadCases"/> then waits for its cases. A round
    /// launches all its workers first and then reads their cases, so their start-ups (a third of a second each
    /// here) overlap instead of adding up.
    /// </summary>
    /// <exception cref="PerfInputException">It cannot start.</exception>
    public static WorkerProcess Launch(IReadOnlyList<string> command, string assemblyPath, IReadOnlyList<string> filters, IReadOnlyDictionary<string, string> environment, string label, TextWriter log, int? layoutSeed = null)
    {
        var info = new ProcessStartInfo(command[0])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(Path.GetFullPath(assemblyPath))!,
        };
        foreach (var argument in command.Skip(1))
        {
            info.ArgumentList.Add(argument);
        }
        info.ArgumentList.Add(assemblyPath);
        if (layoutSeed is { } seed)
        {
            info.ArgumentList.Add("--layout-seed");
            info.ArgumentList.Add(seed.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        foreach (var filter in filters)
        {
            info.ArgumentList.Add("--filter");
            info.ArgumentList.Add(filter);
        }
        foreach (var (name, value) in environment)
        {
            info.Environment[name] = value;
        }
        var process = new Process { StartInfo = info };
        // A benchmark's own console output arrives on stderr; it goes to the log, marked with the side.
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is { Length: > 0 } text)
            {
                lock (log)
                {
                    log.WriteLine($"[{label}] {text}");
                }
            }
        };
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            process.Dispose();
            throw new PerfInputException($"Cannot start the benchmark worker ({string.Join(" ", command)}): {e.Message}", e);
        }
        process.BeginErrorReadLine();
        return new WorkerProcess(process, label);
    }

    /// <summary>Waits for the worker's first line and keeps its cases (the caller disposes the worker when this throws).</summary>
    /// <exception cref="PerfInputException">It cannot load the suite.</exception>
    /// <exception cref="PerfToolException">It died, or said nothing within two minutes.</exception>
    public void ReadCases()
    {
        var line = ReadLine(TimeSpan.FromMinutes(2));
        var hello = JsonSerializer.Deserialize(line, WorkerJsonContext.Default.WorkerHello)
            ?? throw new PerfInputException($"The benchmark worker of {_label} sent no cases.");
        if (hello.Error is { } error)
        {
            throw new PerfInputException($"The benchmark worker of {_label} cannot run the suite: {error}");
        }
        Cases = hello.Cases;
        Fillers = hello.Fillers;
    }

    /// <summary>Asks the worker to quit without waiting for it (<see cref="Dispose"/> then waits): a round lets all its workers exit at once.</summary>
    public void RequestQuit()
    {
        try
        {
            if (!_process.HasExited && !_quitRequested)
            {
                _process.StandardInput.WriteLine(JsonSerializer.Serialize(new WorkerRequest("quit"), WorkerJsonContext.Default.WorkerRequest));
                _process.StandardInput.Close();
            }
        }
        catch (Exception e) when (e is IOException or InvalidOperationException)
        {
            // Already gone: nothing to ask.
        }
        _quitRequested = true;
    }

    /// <summary>Sends one request and waits for its answer.</summary>
    /// <exception cref="PerfToolException">The worker died or did not answer in time.</exception>
    public WorkerReply Send(WorkerRequest request)
    {
        _process.StandardInput.WriteLine(JsonSerializer.Serialize(request, WorkerJsonContext.Default.WorkerRequest));
        _process.StandardInput.Flush();
        var line = ReadLine(RequestTimeout);
        return JsonSerializer.Deserialize(line, WorkerJsonContext.Default.WorkerReply)
            ?? throw new PerfInputException($"The benchmark worker of {_label} sent an empty answer.");
    }

    /// <summary>Asks the worker to quit (unless <see cref="RequestQuit"/> did), and kills it if it does not within a few seconds.</summary>
    public void Dispose()
    {
        RequestQuit();
        try
        {
            if (!_process.HasExited)
            {
                if (!_process.WaitForExit(TimeSpan.FromSeconds(10)))
                {
                    _process.Kill(entireProcessTree: true);
                }
            }
        }
        catch (Exception e) when (e is IOException or InvalidOperationException)
        {
            // Already gone: nothing to stop.
        }
        _process.Dispose();
    }

    private string ReadLine(TimeSpan timeout)
    {
        var read = _process.StandardOutput.ReadLineAsync();
        if (!read.Wait(timeout))
        {
            _process.Kill(entireProcessTree: true);
            throw new PerfToolException($"The benchmark worker of {_label} did not answer within {timeout.TotalMinutes:0} minutes; it was stopped.");
        }
        // A worker that dies (a benchmark that crashed its process) is the tool failing, exit 4: not bad input (2).
        return read.Result ?? throw new PerfToolException(
            $"The benchmark worker of {_label} ended unexpectedly{(_process.WaitForExit(TimeSpan.FromSeconds(5)) ? $" (exit code {_process.ExitCode})" : "")}; its stderr is in the log above.");
    }
}
