using System.Diagnostics;
using IpiEngine.Cli;
using Xunit;

namespace IpiEngine.Tests.Perf;

/// <summary>
/// A terminal's Ctrl-C reaches every process of the foreground group, the benchmark workers included: a worker must
/// leave it to <c>ipi perf aa</c> (which lets the run in progress finish) and end only when its stdin closes.
/// </summary>
public class WorkerInterruptTests
{
    [Fact]
    public void A_worker_outlives_sigint_and_ends_when_its_parent_closes_stdin()
    {
        if (OperatingSystem.IsWindows())
        {
            return; // SIGINT by kill is a POSIX test
        }

        var command = PerfWorkerCommand.CommandLine();
        var start = new ProcessStartInfo(command[0]) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in command.Skip(1))
        {
            start.ArgumentList.Add(argument);
        }
        start.ArgumentList.Add(typeof(Engine).Assembly.Location); // an assembly without benchmarks: the worker lists none, then waits for requests
        using var worker = Process.Start(start)!;
        try
        {
            _ = worker.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
            Assert.StartsWith("{\"cases\":[]", worker.StandardOutput.ReadLine(), StringComparison.Ordinal); // up and serving

            using (var kill = Process.Start("kill", ["-INT", worker.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                kill.WaitForExit();
            }

            Assert.False(worker.WaitForExit(TimeSpan.FromSeconds(2)), "the worker ended on SIGINT");
            worker.StandardInput.Close();
            Assert.True(worker.WaitForExit(TimeSpan.FromSeconds(20)), "the worker did not end at the end of its input");
            Assert.Equal(0, worker.ExitCode);
        }
        finally
        {
            if (!worker.HasExited)
            {
                worker.Kill();
            }
        }
    }
}
