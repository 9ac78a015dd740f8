using IpiEngine.Trace;
using Xunit;

namespace IpiEngine.Tests.Trace;

/// <summary>Each bundled QEMU trace replays to exactly its deliveries.csv, byte for byte.</summary>
public class BundledTraceTests
{
    [Theory]
    [InlineData("xapic-flat-smp4")]
    [InlineData("xapic-phys-smp4")]
    [InlineData("x2apic-cluster-smp4")]
    [InlineData("x2apic-phys-smp8")]
    public void Trace_replays_to_its_reference_deliveries(string name)
    {
        uint[] ids = TraceReader.ReadVcpus(RepoFiles.Path("traces", name + ".vcpus.csv"));
        var exits = TraceReader.ReadExits(RepoFiles.Path("traces", name + ".exits.csv"), ids.Length);
        string expected = File.ReadAllText(RepoFiles.Path("traces", name + ".deliveries.csv"));

        ReplayResult result = SequentialReplay.Run(ids, exits);
        using var written = new StringWriter();
        DeliveryCsv.Write(written, result.Rows);

        string[] expectedLines = expected.Split('\n');
        string[] actualLines = written.ToString().Split('\n');
        int firstDifference = Enumerable.Range(0, Math.Min(expectedLines.Length, actualLines.Length))
            .FirstOrDefault(i => expectedLines[i] != actualLines[i], -1);
        Assert.True(firstDifference < 0 && expectedLines.Length == actualLines.Length,
            firstDifference < 0
                ? $"{actualLines.Length} lines written, {expectedLines.Length} expected"
                : $"line {firstDifference + 1}: expected '{expectedLines[firstDifference]}', wrote '{actualLines[firstDifference]}'");
        Assert.Equal(result.Rows.Count, result.Counters.Fired + result.Counters.Rejected);
    }
}
