using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using IpiEngine.Apic;
using IpiEngine.Cli.Nodes;
using IpiEngine.Workload;
using Xunit;

namespace IpiEngine.Tests.Run;

/// <summary>
/// Inputs <c>ipi run</c> once crashed on, misreported, or took minutes over: each is now refused up front in one
/// sentence with exit code 2, or run correctly with the numbers given.
/// </summary>
public class BadRunInputTests
{
    [Fact]
    public void A_json_path_that_is_a_directory_is_refused_before_the_run()
    {
        string folder = Directory.CreateTempSubdirectory("ipi-json-dir-").FullName;
        try
        {
            var (code, output, error) = RunCli.Invoke("run", "--count", "10", "--warmup", "0", "--json", folder);

            Assert.Equal(2, code);
            Assert.Equal(string.Empty, output); // refused before anything ran
            Assert.Equal($"--json cannot write '{folder}': it is a directory; give a file name.", error.Trim());
        }
        finally
        {
            Directory.Delete(folder);
        }
    }

    [Theory]
    [InlineData("--count", "1", "--count with --nodes is shared equally over the vCPUs: give a multiple of --vcpus (16), not 1.")]
    [InlineData("--rate", "1", "--rate with --nodes is shared equally over the nodes: give a whole multiple of 2 IPIs/s, not 1.")]
    [InlineData("--rate", "0.001", "--rate with --nodes is shared equally over the nodes: give a whole multiple of 2 IPIs/s, not 0.001.")]
    [InlineData("--duration", "500us", "--duration with --nodes reaches the node processes in whole milliseconds: give at least 1ms in whole milliseconds, not 0.5ms.")]
    [InlineData("--duration", "1.5ms", "--duration with --nodes reaches the node processes in whole milliseconds: give at least 1ms in whole milliseconds, not 1.5ms.")]
    [InlineData("--warmup", "500us", "--warmup with --nodes reaches the node processes in whole milliseconds: give 0 or whole milliseconds, not 0.5ms.")]
    public void Multi_node_numbers_that_cannot_be_honoured_are_refused_up_front(string option, string value, string sentence)
    {
        // These once ran: --count 1 posted 16 IPIs, --rate 1 --duration 1s posted for 7 s.
        string[] args = option == "--rate" ? ["run", "--nodes", "2", option, value, "--duration", "1s"] : ["run", "--nodes", "2", option, value];

        var (code, output, error) = RunCli.Invoke(args);

        Assert.Equal(2, code);
        Assert.Equal(string.Empty, output);
        Assert.Equal(sentence, error.Trim());
    }

    [Fact]
    public void A_timed_node_posts_no_ipi_due_after_its_deadline()
    {
        // At 1 IPI/s for 1 s a node posts exactly the IPI due at 0 s (it once posted one per local vCPU, for 4 s).
        var script = NodeScript.Build(4, TopologyKind.X2ApicCluster, false, WorkloadMix.Unicast, 1, 0);
        using var engine = new Engine(new EngineOptions { Topology = script.NewTopology() });
        engine.Start();

        long[] posted = script.Post(engine, [0, 1, 2, 3], 0, TimeSpan.FromSeconds(1), 1, kernel: null, CancellationToken.None);

        engine.Stop();
        Assert.Equal(1, posted.Sum());
    }

    [Fact]
    public void A_timed_node_posting_in_batches_offers_no_more_than_the_rate_and_nothing_due_after_its_deadline()
    {
        // At 8 IPIs/s for 1 s, IPIs 0 to 7 are due (at 0, 125, ... 875 ms). In batches of 3, each batch waits until its
        // last IPI is due, and the batch that would reach past the deadline keeps only what is due before it.
        var script = NodeScript.Build(4, TopologyKind.X2ApicCluster, false, WorkloadMix.Unicast, 1, 0);
        using var engine = new Engine(new EngineOptions { Topology = script.NewTopology() });
        engine.Start();
        var clock = Stopwatch.StartNew();

        long[] posted = script.Post(engine, [0, 1, 2, 3], 0, TimeSpan.FromSeconds(1), 8, kernel: null, CancellationToken.None, batch: 3);

        var elapsed = clock.Elapsed;
        engine.Stop();
        Assert.Equal(8, posted.Sum());
        Assert.Equal([3, 3, 2, 0], posted); // vCPU 0: IPIs 0-2, vCPU 1: 3-5, vCPU 2: 6-7 (8 would be due at 1 s)
        Assert.True(elapsed >= TimeSpan.FromMilliseconds(870), $"the last batch went at {elapsed.TotalMilliseconds} ms, before IPI 7 was due at 875 ms");
    }

    [Fact]
    public void A_node_posting_in_batches_posts_what_it_posts_one_by_one()
    {
        // ipi run --nodes --batch: each vCPU's next IPIs (ICR high and SVR writes included) go in one PostBatch. The same
        // script through batches of 4 (10 IPIs a vCPU: 4, 4, 2) and one by one resolves the same, in the same amounts.
        var script = NodeScript.Build(4, TopologyKind.XApicFlat, false, WorkloadMix.LinuxMix, 3, 0);
        EngineCounters Run(int batch, out long[] posted)
        {
            using var engine = new Engine(new EngineOptions { Topology = script.NewTopology() });
            engine.Start();
            posted = script.Post(engine, [0, 1, 2, 3], 10, TimeSpan.FromSeconds(30), 0, kernel: null, CancellationToken.None, svrWriteEvery: 3, batch: batch);
            engine.Stop();
            return engine.ReadCounters();
        }

        var one = Run(1, out var postedOne);
        var four = Run(4, out var postedFour);

        Assert.Equal([10, 10, 10, 10], postedFour);
        Assert.Equal(postedOne, postedFour);
        Assert.Equal(16, four.TopologyWrites); // each vCPU's SVR before its IPIs 0, 3, 6 and 9
        Assert.True(four.Posted > 40, $"{four.Posted} records: xAPIC IPIs carry ICR high writes");
        Assert.Equal(one.Posted, four.Posted);
        Assert.Equal(one.Latched, four.Latched);
        Assert.Equal(one.TopologyWrites, four.TopologyWrites);
        Assert.Equal(40, four.IpisResolved + four.Rejected);
        Assert.Equal(one.IpisResolved, four.IpisResolved);
        Assert.Equal(one.DestinationsResolved, four.DestinationsResolved);
        Assert.Equal(one.Delivered + one.Coalesced, four.Delivered + four.Coalesced);
        using var idle = new Engine(new EngineOptions { Topology = script.NewTopology() });
        Assert.Throws<ArgumentOutOfRangeException>(() => script.Post(idle, [0], 1, TimeSpan.FromSeconds(1), 0, null, CancellationToken.None, batch: 0));
    }

    [Theory]
    [InlineData("0.001")]
    [InlineData("0.0000000001")] // vCPU 0's second IPI is due 4e19 ticks on, past a long: still not due in the run
    public void A_tiny_rate_offers_no_more_than_it_allows(string rate)
    {
        // 0.001 IPIs/s for 0.3 s allows one IPI (the first is due at 0 s); each vCPU's first batch used to go at once.
        var (code, output, error) = RunCli.Invoke("run", "--vcpus", "4", "--rate", rate, "--duration", "0.3s", "--warmup", "0", "--batch", "1", "--json", "-");

        Assert.True(code == 0, $"exit {code}: {error}");
        using var json = JsonDocument.Parse(output);
        Assert.InRange(json.RootElement.GetProperty("posted").GetInt64(), 0, 1);
    }

    [Fact]
    public void Hundreds_of_vcpus_start_without_starving_their_threads()
    {
        // The measured engine's 512 vCPU threads were started while the warm-up's 512 kept both cores busy, and waited in
        // 1 ms sleep loops: this run took 106 s on a loaded 2-core machine.
        var clock = Stopwatch.StartNew();
        var (code, output, error) = RunCli.Invoke("run", "--vcpus", "512", "--count", "512", "--workload", "unicast", "--json", "-");

        Assert.True(code == 0, $"exit {code}: {error}");
        using var json = JsonDocument.Parse(output);
        Assert.Equal(512, json.RootElement.GetProperty("posted").GetInt64());
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"512 vCPUs took {clock.Elapsed.TotalSeconds:0.0} s to run 512 IPIs");
    }

    [Fact]
    public void A_trace_with_more_vcpus_than_the_engine_runs_is_refused_in_one_sentence()
    {
        string folder = Directory.CreateTempSubdirectory("ipi-big-vcpus-").FullName;
        try
        {
            string vcpus = Path.Combine(folder, "v.csv");
            string exits = Path.Combine(folder, "e.csv");
            using (var writer = new StreamWriter(vcpus))
            {
                writer.Write("vcpu,apic_id\n");
                for (int v = 0; v < 65_536; v++)
                {
                    writer.Write(string.Create(CultureInfo.InvariantCulture, $"{v},0x{v:x}\n"));
                }
            }

            File.WriteAllText(exits, "seq,src_vcpu,reg,value,dest_id\n0,0,0x830,0x00000001000040fd,0x1\n");

            var (code, output, error) = RunCli.Invoke("run", "--vcpus", vcpus, "--exits", exits);

            Assert.Equal(2, code);
            Assert.Equal(string.Empty, output);
            Assert.Equal($"{vcpus} lists 65,536 vCPUs; the engine runs at most 65,535 (ipi replay checks larger traces without the engine).", error.Trim());
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void A_trace_of_2048_vcpus_and_a_million_rows_replays_equal_to_the_sequential_replay()
    {
        // vCPUs x rows passes int.MaxValue: the delivery log was sized from that product and fell back to 16 entries.
        const int Vcpus = 2048;
        const int Ipis = 1_050_000;
        string folder = Directory.CreateTempSubdirectory("ipi-big-trace-").FullName;
        try
        {
            string vcpus = Path.Combine(folder, "v.csv");
            string exits = Path.Combine(folder, "e.csv");
            using (var writer = new StreamWriter(vcpus))
            {
                writer.Write("vcpu,apic_id\n");
                for (int v = 0; v < Vcpus; v++)
                {
                    writer.Write(string.Create(CultureInfo.InvariantCulture, $"{v},0x{v:x}\n"));
                }
            }

            using (var writer = new StreamWriter(exits))
            {
                // Every APIC into x2APIC mode (APIC base bits 11 and 10) and software-enabled (SVR bit 8), then fixed
                // physical IPIs, each to one vCPU.
                writer.Write("seq,src_vcpu,reg,value,dest_id\n");
                long seq = 0;
                for (int v = 0; v < Vcpus; v++)
                {
                    writer.Write(string.Create(CultureInfo.InvariantCulture, $"{seq++},{v},0x01b,0xfee00c00,0x0\n"));
                    writer.Write(string.Create(CultureInfo.InvariantCulture, $"{seq++},{v},0x80f,0x1ff,0x0\n"));
                }

                for (int i = 0; i < Ipis; i++)
                {
                    int v = (int)((i * 2654435761L) % Vcpus);
                    int destination = (v * 7 + 3) % Vcpus;
                    writer.Write(string.Create(CultureInfo.InvariantCulture, $"{seq++},{v},0x830,0x{((long)destination << 32) | 0x40fd:x},0x{destination:x}\n"));
                }
            }

            var (code, output, error) = RunCli.Invoke("run", "--vcpus", vcpus, "--exits", exits, "--ring-capacity", "256", "--json", "-");

            Assert.True(code == 0, $"exit {code}: {error}");
            using var json = JsonDocument.Parse(output);
            Assert.True(json.RootElement.GetProperty("matchesSequentialReplay").GetBoolean());
            Assert.True(json.RootElement.GetProperty("conservationHeld").GetBoolean());
            Assert.Equal(Ipis, json.RootElement.GetProperty("posted").GetInt64());
            Assert.Equal(Ipis, json.RootElement.GetProperty("delivered").GetInt64() + json.RootElement.GetProperty("coalesced").GetInt64());
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
