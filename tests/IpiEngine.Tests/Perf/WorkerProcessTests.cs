using IpiEngine.Perf;
using IpiEngine.Perf.Interleave;
using Xunit;

namespace IpiEngine.Tests.Perf;

/// <summary>A benchmark worker that dies mid-run is the tool failing (exit 4), not bad input (exit 2).</summary>
public sealed class WorkerProcessTests : IDisposable
{
    private readonly TempFolder _folder = PerfFixtures.TempFolder();

    public void Dispose() => _folder.Dispose();

    /// <summary>A stand-in worker: a shell script (the launcher's own arguments become its ignored positionals).</summary>
    private WorkerProcess Launch(string script) => WorkerProcess.Launch(
        ["/bin/sh", "-c", script, "worker"], _folder.File("suite.dll"), [], new Dictionary<string, string>(), "B", TextWriter.Null);

    [Fact]
    public void A_worker_that_dies_during_a_request_is_a_tool_failure()
    {
        using var worker = Launch("echo '{\"cases\":[{\"id\":\"X.Y\",\"categories\":[],\"operationsPerInvoke\":1}]}'; read request; exit 9");
        worker.ReadCases();
        Assert.Equal("X.Y", Assert.Single(worker.Cases).Id);

        var failure = Assert.Throws<PerfToolException>(() => worker.Send(new WorkerRequest("pilot")));

        Assert.Contains("ended unexpectedly (exit code 9)", failure.Message, StringComparison.Ordinal); // was PerfInputException: exit 2, "bad input"
    }

    [Fact]
    public void A_worker_that_dies_before_its_cases_is_a_tool_failure_and_one_saying_why_is_bad_input()
    {
        using (var dead = Launch("exit 3"))
        {
            Assert.Throws<PerfToolException>(dead.ReadCases);
        }

        using var refusing = Launch("echo '{\"cases\":[],\"error\":\"no benchmark matches the filter\"}'; read request");
        var refusal = Assert.Throws<PerfInputException>(refusing.ReadCases);
        Assert.Contains("no benchmark matches the filter", refusal.Message, StringComparison.Ordinal);
    }
}
