using IpiEngine.Perf;
using IpiEngine.Perf.Interleave;
using Xunit;

namespace IpiEngine.Tests.Perf;

/// <summary>A benchmark worker that dies mid-run is the tool failing (exit 4), not bad input (exit 2).</summary>
public sealed class WorkerProcessTests : IDisposable
{
    private readonly TempFolder _folder = PerfFixtures.TempFolder();

    public void Dispose() => _folder.Dispose();

    /// <summary>One side of an interleaved round of stand-in workers; a folder name with "crash" makes its worker exit.</summary>
    private InterleavedRound.SideSetup Side(string folder) => new(Path.Combine(Directory.CreateDirectory(_folder.File(folder)).FullName, "suite.dll"),
        new Dictionary<string, string>(), new IpiEngine.Perf.Records.CommitInfo { Sha = new string('a', 40), Subject = "test", Dirty = false, CommittedUtc = DateTimeOffset.UnixEpoch }, folder);

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

    /// <summary>
    /// Review of this session's own change (helper-52): once a dead worker was a tool failure, a diff whose benchmark
    /// crashed its worker in the default interleaved mode ended the run with exit 4 and no verdict. It is that
    /// benchmark failing in the diff now, which the comparison calls a regression; the base's worker dying still ends it.
    /// </summary>
    [Fact]
    public void In_an_interleaved_round_a_diff_worker_that_dies_fails_its_benchmark_and_a_base_one_fails_the_run()
    {
        // Each stand-in lists one case, answers a pilot with calls and a block with samples; the one whose suite path
        // names the crashing side exits instead of measuring.
        const string Worker = """
            echo '{"cases":[{"id":"X.Y","categories":["Apic"],"operationsPerInvoke":1}]}'
            while read line; do
              case "$line" in
                *quit*) exit 0 ;;
                *block*) case "$1" in *crash*) exit 9 ;; esac; echo '{"samplesNs":[10,10,10]}' ;;
                *) echo '{"calls":1000}' ;;
              esac
            done
            """;
        var round = new InterleavedRound(["/bin/sh", "-c", Worker, "worker"], TextWriter.Null, varyPlacement: false);

        var (a, b, allRan) = round.Run(Side("base"), Side("diff-crash"), [], 1);

        Assert.False(allRan);
        Assert.False(Assert.Single(a.Benchmarks).Failed);
        Assert.True(Assert.Single(b.Benchmarks).Failed); // was a PerfToolException out of the round: exit 4, no verdict
        Assert.Throws<PerfToolException>(() => round.Run(Side("base-crash"), Side("diff"), [], 2));
    }

    /// <summary>
    /// Review (s41): a diff worker that died stayed in the round, so every later benchmark sent to it failed as "failed in
    /// diff" too, blaming benchmarks that did nothing wrong. A fresh worker takes its place: only the crashing one fails,
    /// and the log names it.
    /// </summary>
    [Fact]
    public void In_an_interleaved_round_the_benchmarks_after_one_that_took_down_its_diff_worker_still_run()
    {
        // Two cases; on the crashing side, a block of the first (case index 0) exits the worker.
        const string Worker = """
            echo '{"cases":[{"id":"X.Crashes","categories":["Apic"],"operationsPerInvoke":1},{"id":"X.Fine","categories":["Apic"],"operationsPerInvoke":1}]}'
            while read line; do
              case "$line" in
                *quit*) exit 0 ;;
                *'"op":"block","case":0,'*) case "$1" in *crash*) exit 9 ;; esac; echo '{"samplesNs":[10,10,10]}' ;;
                *block*) echo '{"samplesNs":[10,10,10]}' ;;
                *) echo '{"calls":1000}' ;;
              esac
            done
            """;
        var log = new StringWriter();
        var round = new InterleavedRound(["/bin/sh", "-c", Worker, "worker"], log, varyPlacement: false);

        var (a, b, allRan) = round.Run(Side("base"), Side("diff-crash"), [], 1);

        Assert.False(allRan);
        Assert.All(a.Benchmarks, x => Assert.False(x.Failed));
        Assert.True(b.Benchmarks.Single(x => x.Id == "X.Crashes").Failed);
        var fine = b.Benchmarks.Single(x => x.Id == "X.Fine");
        Assert.False(fine.Failed); // was failed: its pilot went to the dead worker ("its worker died")
        Assert.Equal(10, fine.Median);
        Assert.Contains("X.Crashes took down diff worker 1", log.ToString(), StringComparison.Ordinal);
    }

    /// <summary>
    /// Review (s42): when the fresh diff worker that replaces a dead one could not start, the round threw and the run ended
    /// with exit 4 and no verdict, though the benchmarks before it were measured. Now the crashing benchmark fails in the
    /// diff as before, the ones after it are not run on either side (the round says which), and the rounds go on.
    /// </summary>
    [Fact]
    public void In_an_interleaved_round_a_fresh_diff_worker_that_cannot_start_leaves_the_later_benchmarks_not_run()
    {
        // Three cases; on the crashing side a block of the first exits the worker and leaves a mark in its suite folder
        // (the working directory), and a worker started there after the mark dies before listing its cases.
        const string Worker = """
            case "$1" in *crash*) [ -e crashed ] && exit 3 ;; esac
            echo '{"cases":[{"id":"X.Crashes","categories":["Apic"],"operationsPerInvoke":1},{"id":"X.Later","categories":["Apic"],"operationsPerInvoke":1},{"id":"X.Last","categories":["Apic"],"operationsPerInvoke":1}]}'
            while read line; do
              case "$line" in
                *quit*) exit 0 ;;
                *'"op":"block","case":0,'*) case "$1" in *crash*) touch crashed; exit 9 ;; esac; echo '{"samplesNs":[10,10,10]}' ;;
                *block*) echo '{"samplesNs":[10,10,10]}' ;;
                *) echo '{"calls":1000}' ;;
              esac
            done
            """;
        var log = new StringWriter();
        var round = new InterleavedRound(["/bin/sh", "-c", Worker, "worker"], log, varyPlacement: false);

        var (a, b, allRan) = round.Run(Side("base"), Side("diff-crash"), [], 1); // was a PerfToolException: exit 4

        Assert.False(allRan);
        Assert.Equal(["X.Crashes"], a.Benchmarks.Select(x => x.Id));
        Assert.True(Assert.Single(b.Benchmarks).Failed);
        Assert.Equal(["X.Later", "X.Last"], round.NotRun);
        Assert.Contains("no fresh diff worker could start", log.ToString(), StringComparison.Ordinal);
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
