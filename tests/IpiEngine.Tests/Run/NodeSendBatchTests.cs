using System.Text.Json;
using Xunit;

namespace IpiEngine.Tests.Run;

/// <summary>
/// <c>--send-batch on|off</c> (<see cref="IpiEngine.Transport.SendBatch"/>): a paced node's posting thread sends its
/// links' frames itself at each pacing step (on, the default) or wakes the send loops per forward (off); the run's
/// table and JSON say which, and how many sends the posting threads made; where it cannot apply it is refused.
/// </summary>
public class NodeSendBatchTests
{
    [Theory]
    [InlineData(new[] { "--send-batch", "on" }, "--send-batch applies to --nodes with --rate: one engine has no links to send on.")]
    [InlineData(new[] { "--nodes", "2", "--send-batch", "off" }, "--send-batch flushes at each pacing step: give --rate too (an unpaced node never sleeps between steps).")]
    [InlineData(new[] { "--nodes", "2", "--rate", "1M", "--send-batch", "maybe" }, "Unknown --send-batch value 'maybe': use on or off.")]
    [InlineData(new[] { "--nodes", "2", "--trace", "xapic-flat-smp4", "--send-batch", "on" }, "--send-batch applies to generated workloads only, not to trace replays.")]
    public void A_send_batch_that_cannot_apply_is_refused_in_one_sentence(string[] options, string sentence)
    {
        var (code, output, error) = RunCli.Invoke(["run", .. options]);

        Assert.Equal(2, code);
        Assert.Equal(string.Empty, output);
        Assert.Equal(sentence, error.Trim());
    }

    [Theory]
    [InlineData(null, true)]
    [InlineData("on", true)]
    [InlineData("off", false)]
    public void A_paced_nodes_run_reports_whether_its_posting_threads_sent_their_frames(string? setting, bool on)
    {
        string[] choice = setting is null ? [] : ["--send-batch", setting];
        var (code, output, error) = RunCli.Invoke(["run", "--nodes", "2", "--vcpus", "4", "--workload", "unicast", "--duration", "300ms", "--rate", "20000",
            "--warmup", "0", .. choice, "--json", "-"]);

        Assert.True(code == 0, $"exit {code}: {error}\n{output}");
        Assert.Contains($"send batch {(on ? "on" : "off")}", error, StringComparison.Ordinal); // the header line
        Assert.Contains("send batch / flush sends", error, StringComparison.Ordinal); // the table's row
        Assert.Contains("every IPI delivered exactly once", error, StringComparison.Ordinal);
        using var json = JsonDocument.Parse(output);
        foreach (var node in json.RootElement.GetProperty("nodes").EnumerateArray())
        {
            Assert.Equal(on, node.GetProperty("sendBatch").GetBoolean());
            if (on)
                Assert.True(node.GetProperty("flushSends").GetInt64() > 0, "a paced node with a send batch never sent on its posting thread");
            else
                Assert.False(node.TryGetProperty("flushSends", out _));
        }
    }

    [Fact]
    public void An_unpaced_nodes_run_has_no_send_batch_to_report()
    {
        var (code, output, error) = RunCli.Invoke("run", "--nodes", "2", "--vcpus", "4", "--workload", "unicast", "--count", "4000", "--warmup", "0", "--json", "-");

        Assert.True(code == 0, $"exit {code}: {error}\n{output}");
        Assert.DoesNotContain("send batch", error, StringComparison.Ordinal);
        using var json = JsonDocument.Parse(output);
        foreach (var node in json.RootElement.GetProperty("nodes").EnumerateArray())
            Assert.False(node.TryGetProperty("sendBatch", out _));
    }

    [Fact]
    public void The_node_verb_takes_a_send_batch_only_with_a_rate_and_only_on_or_off()
    {
        using var node = new LoneNode();

        Assert.Equal(0, IpiEngine.Cli.Program.Main([.. node.Run, "--rate", "1000", "--send-batch", "on"]));
        Assert.Equal(0, IpiEngine.Cli.Program.Main([.. node.Run, "--rate", "1000", "--send-batch", "off"]));
        Assert.Equal(2, IpiEngine.Cli.Program.Main([.. node.Run, "--rate", "1000", "--send-batch", "sometimes"]));
        Assert.Equal(2, IpiEngine.Cli.Program.Main([.. node.Run, "--send-batch", "on"]));
    }
}
