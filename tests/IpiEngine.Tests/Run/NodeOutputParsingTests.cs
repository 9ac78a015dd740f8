using IpiEngine.Apic;
using IpiEngine.Cli.Idle;
using IpiEngine.Cli.Nodes;
using IpiEngine.Cli.Run;
using IpiEngine.Cli.TraceNodes;
using IpiEngine.Trace;
using Xunit;

namespace IpiEngine.Tests.Run;

/// <summary>
/// What a run reads from its node processes, and a measurement the engine does not serve, end as one sentence, never a
/// stack trace (review of 2026-12-07, helper-54): a malformed <c>result</c> line threw the JSON reader's exception, a
/// malformed deliveries line a FormatException, and <c>ipi perf idle</c>'s undelivered wake an InvalidOperationException
/// that no command caught.
/// </summary>
public class NodeOutputParsingTests
{
    [Theory]
    [InlineData("result {\"node\": 1, \"records\": ")]
    [InlineData("result not json")]
    [InlineData("result [1, 2]")]
    public void A_malformed_result_line_is_one_sentence_naming_the_node(string line)
    {
        var refused = Assert.Throws<InvalidOperationException>(() => NodeProcesses.ParseResult(1, line, TraceNodeJsonContext.Default.TraceNodeReport));

        Assert.StartsWith("node 1 sent a result line that is not its report (", refused.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', refused.Message);
    }

    [Fact]
    public void An_empty_result_is_one_sentence_naming_the_node()
    {
        var refused = Assert.Throws<InvalidOperationException>(() => NodeProcesses.ParseResult(2, "result null", NodeConfigJsonContext.Default.NodeReport));

        Assert.Equal("node 2 sent an empty report.", refused.Message);
    }

    [Fact]
    public async Task A_nodes_deliveries_round_trip_and_a_malformed_line_names_its_file_and_line()
    {
        string path = Path.GetTempFileName();
        try
        {
            NodeDelivery[] written = [new(5, 3, DeliveryMode.Fixed, 0xfd), new(7, 0, DeliveryMode.StartUp, 0x99), new(9, 2, DeliveryMode.Init, 0)];
            await NodeDelivery.WriteAsync(path, written);
            Assert.Equal(written, NodeDelivery.Read(path));

            await File.AppendAllTextAsync(path, "11,1,FIXED\n", TestContext.Current.CancellationToken);
            var refused = Assert.Throws<TraceFormatException>(() => NodeDelivery.Read(path));
            Assert.Equal($"{path}:5: expected 4 columns, found 3", refused.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void A_wake_the_engine_does_not_deliver_is_one_sentence_and_exit_code_1()
    {
        // Both APICs software-disabled (reset state): the fixed IPI is refused and vCPU 1 never has it.
        using var engine = new Engine(new EngineOptions { Topology = ApicTopology.Reset([0, 1]), Name = "idle-refused" });
        engine.Start();
        var error = new StringWriter();

        int code = BadInput.ExitCode(error, () =>
        {
            IdleCost.WakeOnce(engine, TimeSpan.FromMilliseconds(100));
            return 0;
        });

        Assert.Equal(1, code);
        Assert.Equal("ipi perf idle: the engine did not deliver vector 0xfd from vCPU 0 to vCPU 1 within 0.1 s, so there is no wake latency to measure.",
            error.ToString().Trim());
    }
}
