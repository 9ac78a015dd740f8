using IpiEngine.Apic;
using Xunit;
using static IpiEngine.Tests.Facade.TestIcr;

namespace IpiEngine.Tests.Facade;

/// <summary><see cref="EngineOptions.PipelineCpus"/>: each pipeline thread runs on the CPU it was given, and bad lists are refused.</summary>
public class PipelineCpusTests
{

    private static (int First, int Second) TwoCpus()
    {
        int[] allowed = ThreadAffinity.AllowedCpus();
        Assert.SkipWhen(allowed.Length == 0, "Pinning needs Linux.");
        return (allowed[0], allowed[^1]); // the same CPU twice on a one-CPU machine
    }

    [Fact]
    public void A_list_that_does_not_fit_the_threading_mode_or_the_machine_is_refused_with_the_reason()
    {
        var (first, _) = TwoCpus();
        Assert.Contains("Inline mode has none", Refusal(ThreadingMode.Inline, [first]));
        Assert.Contains("names 2 CPUs; PerStage mode runs 3", Refusal(ThreadingMode.PerStage, [first, first]));
        Assert.Contains("names 3 CPUs; Fused mode runs 1", Refusal(ThreadingMode.Fused, [first, first, first]));
        Assert.Contains("CPU -1 is not one", Refusal(ThreadingMode.Fused, [-1]));
        int missing = ThreadAffinity.AllowedCpus()[^1] + 1;
        Assert.Contains($"CPU {missing} is not one this thread may run on (allowed: ", Refusal(ThreadingMode.PerStage, [first, missing, first]));
        Assert.Contains("is not one", Refusal(ThreadingMode.PerStage, [ThreadAffinity.MaxCpus]));
    }

    [Fact]
    public void Per_stage_threads_run_on_the_cpus_given_in_pipeline_order()
    {
        var (first, second) = TwoCpus();
        var deliverCpus = RunAndReadNotifierCpus(ThreadingMode.PerStage, [first, second, second], out string[] gather, out string[] resolve);
        Assert.All(deliverCpus, cpus => Assert.Equal(new[] { second }, cpus)); // the notifier runs on the deliver thread
        Assert.Contains(first.ToString(System.Globalization.CultureInfo.InvariantCulture), gather);
        Assert.Contains(second.ToString(System.Globalization.CultureInfo.InvariantCulture), resolve);
    }

    [Theory]
    [InlineData(ThreadingMode.PerStage)]
    [InlineData(ThreadingMode.Fused)]
    public void One_cpu_pins_every_pipeline_thread_of_the_mode(ThreadingMode mode)
    {
        var (_, second) = TwoCpus();
        var notifierCpus = RunAndReadNotifierCpus(mode, [second], out _, out _);
        Assert.All(notifierCpus, cpus => Assert.Equal(new[] { second }, cpus));
    }

    private static string Refusal(ThreadingMode mode, int[] cpus)
        => Assert.Throws<ArgumentException>(() => new Engine(new EngineOptions { VcpuCount = 2, ThreadingMode = mode, PipelineCpus = cpus })).Message;

    /// <summary>
    /// Runs an engine whose notifier records the CPUs its thread may run on, for IPIs to vCPUs 1 and 0, and reads the
    /// <c>Cpus_allowed_list</c> of every thread of this process named ipi-gather and ipi-resolve while it runs.
    /// </summary>
    private static List<int[]> RunAndReadNotifierCpus(ThreadingMode mode, int[] pipelineCpus, out string[] gather, out string[] resolve)
    {
        var seen = new List<int[]>();
        using var engine = new Engine(new EngineOptions
        {
            Topology = ApicTopology.Configure(2, TopologyKind.X2ApicPhysical),
            ThreadingMode = mode,
            PipelineCpus = pipelineCpus,
            AssistIdlePipeline = false, // fused: the pipeline thread, never a posting thread, notifies
            NotifyCallback = _ =>
            {
                lock (seen)
                {
                    seen.Add(ThreadAffinity.AllowedCpus());
                }
            },
        });
        engine.Start();
        engine.Post(0, ApicRegister.X2Icr, Unicast(1, 0x40), 1);
        engine.Post(1, ApicRegister.X2Icr, Unicast(0, 0x41), 0);
        // Both notified: every pipeline thread has run past its pinning, and none has exited yet.
        Assert.True(SpinWait.SpinUntil(() => { lock (seen) { return seen.Count == 2; } }, TimeSpan.FromSeconds(10)), "both IPIs notified");
        gather = AllowedListsOfThreadsNamed("ipi-gather");
        resolve = AllowedListsOfThreadsNamed("ipi-resolve");
        engine.Stop();

        EngineCounters counters = engine.ReadCounters();
        Assert.Equal(2, counters.Delivered);
        Assert.True(counters.ConservationHolds);
        lock (seen)
        {
            Assert.Equal(2, seen.Count);
            return seen;
        }
    }

    /// <summary>The <c>Cpus_allowed_list</c> of each thread of this process with that name (other tests' engines included).</summary>
    private static string[] AllowedListsOfThreadsNamed(string name)
    {
        var lists = new List<string>();
        foreach (string task in Directory.GetDirectories("/proc/self/task"))
        {
            try
            {
                if (File.ReadAllText(Path.Combine(task, "comm")).Trim() != name)
                {
                    continue;
                }

                string? line = File.ReadLines(Path.Combine(task, "status")).FirstOrDefault(l => l.StartsWith("Cpus_allowed_list:", StringComparison.Ordinal));
                if (line is not null)
                {
                    lists.Add(line["Cpus_allowed_list:".Length..].Trim());
                }
            }
            catch (IOException)
            {
                // the thread ended while being read: another test's engine
            }
        }

        return [.. lists];
    }
}
