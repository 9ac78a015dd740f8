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
    /// added to its environment, and reads its cases.
    /// </summary>
    /// <exception cref="PerfInputException">It cannot start, or cannot load the suite.</exception>
    public static WorkerProcess Start(IReadOnlyList<string> command, string assemblyPath, IReadOnlyList<string> filters, IReadOnlyDictionary<string, string> environment, string label, TextWriter log, int? layoutSeed = null)
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
        var worker = new WorkerProcess(process, label);
        try
        {
            var line = worker.ReadLine(TimeSpan.FromMinutes(2));
            var hello = JsonSerializer.Deserialize(line, WorkerJsonContext.Default.WorkerHello)
                ?? throw new PerfInputException($"The benchmark worker of {label} sent no cases.");
            if (hello.Error is { } error)
            {
                throw new PerfInputException($"The benchmark worker of {label} cannot run the suite: {error}");
            }
            worker.Cases = hello.Cases;
            worker.Fillers = hello.Fillers;
            return worker;
        }
        catch
        {
            worker.Dispose();
            throw;
        }
    }

    /// <summary>Sends one request and waits for its answer.</summary>
    /// <exception cref="PerfInputException">The worker died or did not answer in time.</exception>
    public WorkerReply Send(WorkerRequest request)
    {
        _process.StandardInput.WriteLine(JsonSerializer.Serialize(request, WorkerJsonContext.Default.WorkerRequest));
        _process.StandardInput.Flush();
        var line = ReadLine(RequestTimeout);
        return JsonSerializer.Deserialize(line, WorkerJsonContext.Default.WorkerReply)
            ?? throw new PerfInputException($"The benchmark worker of {_label} sent an empty answer.");
    }

    /// <summary>Asks the worker to quit, and kills it if it does not within a few seconds.</summary>
    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.StandardInput.WriteLine(JsonSerializer.Serialize(new WorkerRequest("quit"), WorkerJsonContext.Default.WorkerRequest));
                _process.StandardInput.Close();
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
            throw new PerfInputException($"The benchmark worker of {_label} did not answer within {timeout.TotalMinutes:0} minutes; it was stopped.");
        }
        return read.Result ?? throw new PerfInputException(
            $"The benchmark worker of {_label} ended unexpectedly{(_process.WaitForExit(TimeSpan.FromSeconds(5)) ? $" (exit code {_process.ExitCode})" : "")}; its stderr is in the log above.");
    }
}
