using System.Diagnostics;
using System.Text.Json;
using IpiEngine.Cli.Nodes;
using IpiEngine.Cli.Run;
using Xunit;

namespace IpiEngine.Tests.Run;

/// <summary>
/// A node's offered-load pacing (<see cref="PacingClock"/>): the n-th IPI goes at its due time rounded up to the step,
/// never before; <c>ipi run --nodes --rate</c> takes the step as <c>--pace-step</c> (default 250 µs, was a whole
/// millisecond) and passes it to every node (<c>ipi node --pace-step-us</c>); bad steps are refused in one sentence.
/// An unpaced run's lack of a step is checked beside its batch default in <see cref="NodesRunTests"/>.
/// </summary>
public class NodePacingTests
{
    [Fact]
    public void An_ipi_is_due_at_its_time_rounded_up_to_the_step()
    {
        using var clock = new PacingClock(rate: 1_000_000, stepMicroseconds: 250); // one IPI a microsecond
        long step = Stopwatch.Frequency * 250 / 1_000_000;
        long start = clock.DueTicks(0);

        Assert.Equal(start + step, clock.DueTicks(1));     // due at 1 µs: the first step's end
        Assert.Equal(start + step, clock.DueTicks(250));   // due at 250 µs exactly
        Assert.Equal(start + (2 * step), clock.DueTicks(251));
        Assert.Equal(start + (4000 * step), clock.DueTicks(999_999)); // the last of the first second: still inside it
    }

    [Fact]
    public void A_step_of_a_millisecond_gives_the_old_whole_millisecond_bursts()
    {
        using var clock = new PacingClock(rate: 500_000, stepMicroseconds: 1000);
        long millisecond = Stopwatch.Frequency / 1000;
        long start = clock.DueTicks(0);

        // 500 IPIs a millisecond: IPIs 1 to 500 go together at 1 ms, 501 at 2 ms.
        Assert.Equal(start + millisecond, clock.DueTicks(1));
        Assert.Equal(start + millisecond, clock.DueTicks(500));
        Assert.Equal(start + (2 * millisecond), clock.DueTicks(501));
        Assert.False(clock.PreciseSleep); // a millisecond is Thread.Sleep's own step
    }

    [Fact]
    public void Waiting_never_returns_before_the_ipi_is_due()
    {
        using var clock = new PacingClock(rate: 100_000, stepMicroseconds: 200); // 20 IPIs a step
        Assert.Equal(OperatingSystem.IsLinux(), clock.PreciseSleep);
        for (long ipi = 0; ipi < 400; ipi += 7)
        {
            clock.WaitFor(ipi);
            long now = Stopwatch.GetTimestamp();
            Assert.True(now >= clock.DueTicks(ipi), $"IPI {ipi} released {clock.DueTicks(ipi) - now} ticks early");
        }
    }

    [Fact]
    public void A_clock_gives_its_thread_the_timer_slack_it_had_back()
    {
        int before = PacingClock.CurrentThreadTimerSlack();
        using (var clock = new PacingClock(rate: 100_000, stepMicroseconds: 200))
        {
            if (clock.PreciseSleep)
            {
                Assert.Equal(1000, PacingClock.CurrentThreadTimerSlack()); // 1 µs while pacing
            }
        }

        // The posting thread is often a pool thread: whatever runs on it next sleeps as it did before.
        Assert.Equal(before, PacingClock.CurrentThreadTimerSlack());
    }

    [Theory]
    [InlineData(0L, 250)]
    [InlineData(-5L, 250)]
    [InlineData(1000L, 0)]
    [InlineData(1000L, 1_000_001)]
    public void A_clock_refuses_a_rate_or_step_out_of_range(long rate, int step)
        => Assert.Throws<ArgumentOutOfRangeException>(() => new PacingClock(rate, step));

    [Theory]
    [InlineData(new[] { "--pace-step", "250us" }, "--pace-step applies to --nodes with --rate: on one engine each vCPU thread paces every IPI on its own.")]
    [InlineData(new[] { "--nodes", "2", "--pace-step", "250us" }, "--pace-step paces an offered load: give --rate too (an unpaced run posts as fast as the engines take the IPIs).")]
    [InlineData(new[] { "--nodes", "2", "--rate", "1M", "--pace-step", "0.5us" }, "--pace-step must be a whole number of microseconds from 1us to 1s, such as 250us or 1ms, not '0.5us'.")]
    [InlineData(new[] { "--nodes", "2", "--rate", "1M", "--pace-step", "2s" }, "--pace-step must be a whole number of microseconds from 1us to 1s, such as 250us or 1ms, not '2s'.")]
    [InlineData(new[] { "--nodes", "2", "--rate", "1M", "--pace-step", "0.00000001s" }, "--pace-step must be a positive time such as 10s, 0.3s or 500ms (at most a day), not '0.00000001s'.")]
    [InlineData(new[] { "--nodes", "2", "--rate", "1M", "--pace-step", "1e3us" }, "--pace-step must be a positive time such as 10s, 0.3s or 500ms (at most a day), not '1e3us'.")]
    [InlineData(new[] { "--nodes", "2", "--rate", "4.1M", "--pace-step", "soon" }, "--pace-step must be a positive time such as 10s, 0.3s or 500ms (at most a day), not 'soon'.")] // 4.1M is shared over 2 nodes: it gets as far as the step
    [InlineData(new[] { "--nodes", "2", "--rate", "1M", "--pace-step", "soon" }, "--pace-step must be a positive time such as 10s, 0.3s or 500ms (at most a day), not 'soon'.")]
    [InlineData(new[] { "--nodes", "2", "--trace", "xapic-flat-smp4", "--pace-step", "1ms" }, "--pace-step applies to generated workloads only, not to trace replays.")]
    public void A_step_that_cannot_apply_is_refused_in_one_sentence(string[] options, string sentence)
    {
        var (code, output, error) = RunCli.Invoke(["run", .. options]);

        Assert.Equal(2, code);
        Assert.Equal(string.Empty, output);
        Assert.Equal(sentence, error.Trim());
    }

    [Theory]
    [InlineData("250us", 250)]
    [InlineData("250µs", 250)]
    [InlineData("1ms", 1000)]
    [InlineData("0.5ms", 500)]
    [InlineData("100us", 100)]
    [InlineData("0.1ms", 100)]
    public void Steps_are_read_in_any_unit(string text, int microseconds)
        => Assert.Equal(TimeSpan.FromMicroseconds(microseconds), OptionValues.Duration("--pace-step", text));

    [Fact]
    public void A_rate_in_millions_is_read_exactly_so_nodes_can_share_it()
    {
        // 4.1M once read as 4,099,999.9999999995 (4.1 x 1e6 in floating point), and --nodes 2 refused it as "not a whole
        // multiple of 2 IPIs/s, not 4100000".
        for (var tenths = 1; tenths <= 200; tenths++)
        {
            Assert.Equal(tenths * 100_000.0, OptionValues.Scaled("--rate", $"{tenths / 10.0:0.#}M"));
            Assert.Equal(tenths * 100.0, OptionValues.Scaled("--rate", $"{tenths / 10.0:0.#}k"));
        }

        Assert.Equal(1.5, OptionValues.Scaled("--rate", "1.5"));
    }

    [Fact]
    public void Every_whole_number_of_microseconds_or_milliseconds_is_read_exactly()
    {
        // 100us once read as 100 µs and a fraction of a tick (100 x 0.000001 in floating point), which the step's
        // check then refused as "not a whole number of microseconds".
        for (var n = 1; n <= 2000; n++)
        {
            Assert.Equal(TimeSpan.FromMicroseconds(n), OptionValues.Duration("--pace-step", $"{n}us"));
            Assert.Equal(TimeSpan.FromMilliseconds(n), OptionValues.Duration("--duration", $"{n}ms"));
            Assert.Equal(TimeSpan.FromMicroseconds(n * 100), OptionValues.Duration("--duration", $"{n / 10_000.0:0.####}s"));
        }
    }

    [Fact]
    public void A_paced_nodes_run_passes_its_step_to_every_node_and_reports_it()
    {
        var (code, output, error) = RunCli.Invoke("run", "--nodes", "2", "--vcpus", "4", "--workload", "unicast", "--duration", "300ms", "--rate", "20000",
            "--pace-step", "100us", "--warmup", "0", "--json", "-"); // 100us was refused once (read as 99.9 µs)

        Assert.True(code == 0, $"exit {code}: {error}\n{output}");
        Assert.Contains("paced at 20,000 IPIs/s in steps of 100 µs", error, StringComparison.Ordinal); // the header line
        Assert.Contains("every IPI delivered exactly once", error, StringComparison.Ordinal);
        using var json = JsonDocument.Parse(output);
        Assert.Equal(100, json.RootElement.GetProperty("paceStepMicroseconds").GetInt32());
    }

    [Fact]
    public void The_node_verb_refuses_a_step_out_of_range_and_runs_with_one_in_range()
    {
        using var node = new LoneNode();

        Assert.Equal(0, IpiEngine.Cli.Program.Main([.. node.Run, "--rate", "1000", "--pace-step-us", "100"]));
        Assert.Equal(2, IpiEngine.Cli.Program.Main([.. node.Run, "--rate", "1000", "--pace-step-us", "0"]));
        Assert.Equal(2, IpiEngine.Cli.Program.Main([.. node.Run, "--pace-step-us", "1000001"]));
    }

    [Fact]
    public void The_node_verb_refuses_a_step_without_a_rate_which_it_would_ignore()
    {
        using var node = new LoneNode();

        Assert.Equal(2, IpiEngine.Cli.Program.Main([.. node.Run, "--pace-step-us", "100"]));
        Assert.Equal(2, IpiEngine.Cli.Program.Main([.. node.Run, "--rate", "0", "--pace-step-us", "100"]));
        Assert.Equal(0, IpiEngine.Cli.Program.Main([.. node.Run, "--rate", "0"])); // no step given: the default is not a request
    }
}
