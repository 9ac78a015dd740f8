using Xunit;
using System.Text;
using IpiEngine.Cli.Run;

namespace IpiEngine.Tests.Run;

/// <summary>The nodes' stderr lines reach the run's error writer from several reader threads at once.</summary>
public sealed class NodesRunLogTests
{
    /// <summary>
    /// Reproduced (review of 2026-12-07): a counted run's wait bound held no posting time, so `ipi run --nodes 2 --vcpus 2
    /// --count 1400 --rate 20` (70 s of posting) failed after 60 s as a node that did not say "posted".
    /// </summary>
    [Fact]
    public void The_bound_on_the_nodes_waits_holds_a_counted_runs_posting_time()
    {
        var paced = new RunSettings { Vcpus = 2, Count = 1400, Rate = 20, Warmup = TimeSpan.Zero };
        Assert.True(NodesRun.NodeTimeout(paced) >= TimeSpan.FromSeconds(60 + 70), $"{NodesRun.NodeTimeout(paced)}");
        var unpaced = new RunSettings { Vcpus = 2, Count = 2_000_000_000, Warmup = TimeSpan.Zero };
        Assert.True(NodesRun.NodeTimeout(unpaced) >= TimeSpan.FromSeconds(60 + 2_000_000_000 / 1e6), $"{NodesRun.NodeTimeout(unpaced)}"); // 1 M IPIs/s is slower than any run here
        var largest = new RunSettings { Vcpus = 2, Count = long.MaxValue / 4, Warmup = TimeSpan.Zero }; // --count's own bound
        Assert.InRange(NodesRun.NodeTimeout(largest).TotalSeconds, 86_400, int.MaxValue - 60); // no overflow: the nodes take whole seconds in an int
        var timed = new RunSettings { Vcpus = 2, Duration = TimeSpan.FromSeconds(30), Warmup = TimeSpan.FromSeconds(1) };
        Assert.Equal(TimeSpan.FromSeconds(91), NodesRun.NodeTimeout(timed));
    }

    [Fact]
    public void Lines_from_several_node_readers_at_once_never_overlap_in_the_error_writer()
    {
        var inner = new OverlapDetectingWriter();
        TextWriter log = NodesRun.SharedLog(inner);
        const int Readers = 4, LinesEach = 2_000;
        using var start = new Barrier(Readers);
        var readers = Enumerable.Range(0, Readers).Select(node => new Thread(() =>
        {
            start.SignalAndWait();
            for (int i = 0; i < LinesEach; i++)
            {
                log.WriteLine($"node {node}: line {i}");
            }
        }) { IsBackground = true }).ToList();
        readers.ForEach(t => t.Start());
        readers.ForEach(t => Assert.True(t.Join(TimeSpan.FromSeconds(60)), "a reader thread did not finish"));

        Assert.Equal(0, inner.Overlaps);
        Assert.Equal(Readers * LinesEach, inner.Lines);
    }

    /// <summary>Counts writes that began while another was still inside, as two threads in a StringBuilder would.</summary>
    private sealed class OverlapDetectingWriter : TextWriter
    {
        private int _inside;
        private int _overlaps;
        private int _lines;

        public int Overlaps => Volatile.Read(ref _overlaps);

        public int Lines => Volatile.Read(ref _lines);

        public override Encoding Encoding => Encoding.UTF8;

        public override void WriteLine(string? value)
        {
            if (Interlocked.Exchange(ref _inside, 1) == 1) // full fence: a second writer inside sees the first's flag
            {
                Interlocked.Increment(ref _overlaps);
            }

            Thread.SpinWait(50); // the window a StringBuilder append takes, widened
            Interlocked.Increment(ref _lines);
            Volatile.Write(ref _inside, 0); // release: leaving
        }
    }
}
