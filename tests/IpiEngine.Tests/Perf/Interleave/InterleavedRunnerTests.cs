using IpiEngine.Perf;
using IpiEngine.Perf.Calibration;
using IpiEngine.Perf.Interleave;
using IpiEngine.Perf.Records;
using Xunit;

namespace IpiEngine.Tests.Perf.Interleave;

/// <summary>
/// The interleaved runner of <c>compare-commits</c>: finding a suite's cases by BenchmarkDotNet's
/// attribute names, running a case in self-contained blocks, the worker's protocol, and a real
/// round with two worker processes (this test assembly as the suite, <see cref="FakeSuite"/>).
/// </summary>
public sealed class InterleavedRunnerTests
{
    private static readonly string Suite = typeof(FakeSuite).Assembly.Location;
    private static readonly string[] FakeOnly = ["*Interleave.FakeSuite.*"];

    internal static IReadOnlyList<BenchmarkCase> Cases(params string[] filters) =>
        BenchmarkCase.Discover(typeof(FakeSuite).Assembly, filters.Length == 0 ? FakeOnly : filters);

    [Fact]
    public void Cases_are_every_benchmark_with_every_parameter_combination_named_as_BenchmarkDotNet_names_them()
    {
        var cases = Cases();
        string prefix = typeof(FakeSuite).FullName!;
        // Spin, Allocate, Complete, Throw, each with 2 × 2 parameter values.
        Assert.Equal(16, cases.Count);
        Assert.Equal($"{prefix}.Spin(Work: 1, Kind: Plain)", cases[0].Id);
        Assert.Equal($"{prefix}.Spin(Work: 1, Kind: Twice)", cases[1].Id);
        Assert.Equal($"{prefix}.Spin(Work: 3, Kind: Plain)", cases[2].Id);
        Assert.Equal(4, cases[0].OperationsPerInvoke);
        Assert.Equal(["Apic"], cases[0].Categories);
        var allocate = cases.First(c => c.FilterName.EndsWith(".Allocate", StringComparison.Ordinal));
        Assert.Equal(["Apic", "CrossThread"], allocate.Categories);
        Assert.Equal(1, allocate.OperationsPerInvoke);
    }

    [Fact]
    public void Filters_are_case_insensitive_globs_on_the_method_or_on_the_full_name_with_parameters()
    {
        Assert.Equal(4, Cases("*interleave.fakesuite.spin").Count);
        var one = Assert.Single(Cases("*FakeSuite.Spin(Work: 3, Kind: Twice)"));
        Assert.Equal(3, one.Parameters.Single(p => p.Member.Name == "Work").Value);
        Assert.Empty(Cases("*NoSuchBenchmark*"));
    }

    [Fact]
    public void A_case_runs_on_the_cpu_it_is_given_and_the_thread_gets_its_cpus_back()
    {
        Assert.SkipWhen(Environment.ProcessorCount < 2, "needs two logical CPUs");
        var (first, second) = ThreadAffinity.TwoAllowedCpus()!.Value;
        var spin = new CaseRunner(Cases("*FakeSuite.Spin(Work: 1, Kind: Plain)")[0]);
        int[] before = ThreadAffinity.AllowedCpus();
        foreach (int cpu in (int[])[second, first])
        {
            var block = spin.Block(iterations: 1, callsPerIteration: 100, cpu);
            Assert.Single(block.SamplesNs);
            // The setup ran on the block's thread: it saw the CPU the block was given.
            Assert.Equal(cpu, FakeSuite.SetupProcessor);
            Assert.Equal(before, ThreadAffinity.AllowedCpus());
        }
        using (var pin = ThreadAffinity.PinCurrentThread(-1))
        {
            Assert.False(pin.Pinned);
        }
    }

    [Fact]
    public void The_worker_announces_its_cases_answers_each_request_and_survives_a_throwing_benchmark()
    {
        var cases = Cases();
        int throwing = cases.ToList().FindIndex(c => c.FilterName.EndsWith(".Throw", StringComparison.Ordinal));
        int complete = cases.ToList().FindIndex(c => c.FilterName.EndsWith(".Complete", StringComparison.Ordinal));
        var input = new StringReader(string.Join('\n',
            $"{{\"op\":\"block\",\"case\":{throwing},\"iterations\":1,\"calls\":1}}",
            $"{{\"op\":\"block\",\"case\":{complete},\"iterations\":2,\"calls\":1000}}",
            "{\"op\":\"block\",\"case\":999,\"iterations\":1,\"calls\":1}",
            "{\"op\":\"dance\"}",
            "{\"op\":\"quit\"}",
            $"{{\"op\":\"block\",\"case\":{complete},\"iterations\":1,\"calls\":1}}"));
        var output = new StringWriter();
        int exit = BenchmarkWorker.Serve(Suite, FakeOnly, input, output);
        Assert.Equal(0, exit);
        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        // Hello, then one answer per request up to quit; nothing after it.
        Assert.Equal(5, lines.Length);
        Assert.Contains("\"cases\":[", lines[0], StringComparison.Ordinal);
        Assert.Contains("this benchmark always fails", lines[1], StringComparison.Ordinal);
        Assert.Contains("\"samplesNs\":[", lines[2], StringComparison.Ordinal);
        Assert.Contains("no case 999", lines[3], StringComparison.Ordinal);
        Assert.Contains("unknown request", lines[4], StringComparison.Ordinal);
        Assert.Contains("dance", lines[4], StringComparison.Ordinal);
    }

    [Fact]
    public void A_layout_seed_compiles_the_same_number_of_fillers_every_time_and_different_seeds_differ()
    {
        var counts = Enumerable.Range(1, 8).Select(seed => (Seed: seed, Fillers: CodeLayout.Shift(seed))).ToList();
        Assert.All(counts, c => Assert.InRange(c.Fillers, 0, CodeLayout.MostFillers));
        Assert.Equal(counts[2].Fillers, CodeLayout.Shift(3));
        Assert.True(counts.Select(c => c.Fillers).Distinct().Count() > 1, "every seed gave the same shift");
        var output = new StringWriter();
        BenchmarkWorker.Serve(Suite, FakeOnly, new StringReader(""), output, layoutSeed: 3);
        Assert.Contains($"\"fillers\":{counts[2].Fillers}", output.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void A_worker_given_a_missing_suite_says_so_in_its_first_line_and_exits_2()
    {
        var output = new StringWriter();
        int exit = BenchmarkWorker.Serve("/nonexistent/IpiEngine.Benchmarks.dll", [], new StringReader(""), output);
        Assert.Equal(2, exit);
        Assert.Contains("does not exist", output.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void A_round_pairs_two_worker_processes_block_by_block_and_only_the_diff_gets_its_environment()
    {
        var log = new StringWriter();
        var round = new InterleavedRound(IpiEngine.Cli.PerfWorkerCommand.CommandLine(), log);
        var commit = new CommitInfo { Sha = new string('a', 40) };
        var (a, b, allRan) = round.Run(
            new InterleavedRound.SideSetup(Suite, new Dictionary<string, string> { [FakeSuite.SayProcessVariable] = "1" }, commit, "A"),
            new InterleavedRound.SideSetup(Suite, new Dictionary<string, string> { [FakeSuite.SayProcessVariable] = "1", [FakeSuite.SlowdownVariable] = "1" }, commit, "B"),
            ["*FakeSuite.Spin(Work: 3, Kind: Plain)"], round: 3);
        Assert.True(allRan, log.ToString());
        // Each pair ran in its own process of each side (the pilot in the first): the setups came from that many processes.
        foreach (var label in (string[])["[A]", "[B]"])
        {
            var processes = log.ToString().Split('\n').Where(line => line.StartsWith(label + " setup in process ", StringComparison.Ordinal)).Distinct().Count();
            Assert.Equal(InterleavedRound.WorkersPerSide, processes);
        }
        foreach (var record in (PerfRecord[])[a, b])
        {
            Assert.Equal(3, record.Run.Round);
            Assert.Equal(InterleavedRound.Profile, record.Run.Job);
            var result = Assert.Single(record.Benchmarks);
            Assert.False(result.Failed);
            // The probe ran around every block (two CPUs here): near, far, or mixed when the state moved.
            Assert.NotEqual(CoreDistanceState.Unknown, result.Calibration.State);
            Assert.NotNull(result.Calibration.BeforeNs);
        }
        var blocksA = a.Benchmarks[0].Samples;
        var blocksB = b.Benchmarks[0].Samples;
        // Pairs whose state changed are dropped on both sides alike, so the two lists stay aligned.
        Assert.Equal(blocksA.Count, blocksB.Count);
        if (a.Benchmarks[0].Calibration.State != CoreDistanceState.Mixed)
        {
            Assert.InRange(blocksA.Count, 1, InterleavedRound.PairsPerRound);
            // B's worker spins twenty times longer; A's does not: every pair shows it. (With 30 ns spins and a fivefold
            // slowdown, a CI machine whose clock read cost 29 ns saw only 1.9x: the reads, not the spin, filled the time.)
            for (int i = 0; i < blocksA.Count; i++)
            {
                Assert.True(blocksB[i] > 4 * blocksA[i], $"pair {i}: A {blocksA[i]} ns, B {blocksB[i]} ns");
            }
        }
    }

    [Fact]
    public void A_round_whose_filter_matches_nothing_on_either_side_says_so()
    {
        var round = new InterleavedRound(IpiEngine.Cli.PerfWorkerCommand.CommandLine(), new StringWriter());
        var side = new InterleavedRound.SideSetup(Suite, new Dictionary<string, string>(), new CommitInfo { Sha = new string('a', 40) }, "A");
        var e = Assert.Throws<PerfInputException>(() => round.Run(side, side, ["*NoSuchBenchmark*"], round: 1));
        Assert.Contains("No benchmark matches", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_round_starts_all_its_workers_before_it_waits_for_the_first_one_to_answer()
    {
        // A stand-in worker: notes its start, takes a moment to start up, then says it cannot load the suite. A round
        // that started its workers one by one would stop at the first one's answer, with one start noted.
        string starts = Path.Combine(Path.GetTempPath(), $"ipi-worker-starts-{Guid.NewGuid():N}");
        string[] command = ["sh", "-c", $"echo started >> '{starts}'; sleep 0.3; echo '{{\"cases\":[],\"error\":\"stand-in\"}}'", "stand-in-worker"];
        var round = new InterleavedRound(command, new StringWriter());
        var side = new InterleavedRound.SideSetup(Suite, new Dictionary<string, string>(), new CommitInfo { Sha = new string('a', 40) }, "A");
        try
        {
            var e = Assert.Throws<PerfInputException>(() => round.Run(side, side, ["*"], round: 1));
            Assert.Contains("cannot run the suite: stand-in", e.Message, StringComparison.Ordinal);
            // The failed round waited for every worker to exit, so each one's note is written.
            Assert.Equal(2 * InterleavedRound.WorkersPerSide, File.ReadAllLines(starts).Length);
        }
        finally
        {
            File.Delete(starts);
        }
    }
}
