using IpiEngine.Apic;
using IpiEngine.Cli.TraceNodes;
using IpiEngine.Trace;
using Xunit;

namespace IpiEngine.Tests.Run;

/// <summary>
/// The merge of the nodes' deliveries checks what was delivered, not only where (review of 2026-12-07, helper-54): the
/// old merge took (seq, destination) pairs and the replay's mode and vector for every row, so a wrong vector or mode passed.
/// </summary>
public class TraceNodesMergeTests
{
    private static readonly string Prefix = RepoFiles.Path("traces", "x2apic-phys-smp8");

    private static (ReplayResult Sequential, int[] Placement, List<NodeDelivery> Deliveries) Replayed()
    {
        uint[] ids = TraceReader.ReadVcpus(Prefix + ".vcpus.csv");
        ReplayResult sequential = SequentialReplay.Run(ids, TraceReader.ReadExits(Prefix + ".exits.csv", ids.Length));
        int[] placement = [.. Enumerable.Range(0, ids.Length).Select(v => v % 2)];
        var deliveries = new List<NodeDelivery>();
        foreach (DeliveryRow row in sequential.Rows)
        {
            Assert.True(DeliveryRow.TryParseDeliveredMode(row.Mode, out DeliveryMode mode) || row.Destinations.IsEmpty, row.Mode);
            foreach (int destination in row.Destinations)
                deliveries.Add(new NodeDelivery(row.Seq, destination, mode, row.Vector));
        }

        return (sequential, placement, deliveries);
    }

    [Fact]
    public void Every_delivery_as_replayed_is_exactly_once_and_equals_the_reference()
    {
        var (sequential, placement, deliveries) = Replayed();

        var merge = TraceNodesMerge.Merge(sequential, placement, deliveries);

        Assert.True(merge.ExactlyOnce);
        Assert.True(DeliveryComparison.Compare(TraceReader.ReadDeliveries(Prefix + ".deliveries.csv"), merge.Rows).Identical);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_delivery_to_the_right_vcpu_with_another_vector_or_mode_is_a_mismatch_of_its_node(bool otherMode)
    {
        var (sequential, placement, deliveries) = Replayed();
        int at = deliveries.FindIndex(d => d.Mode == DeliveryMode.Fixed && d.Destination % 2 == 1);
        NodeDelivery right = deliveries[at];
        deliveries[at] = otherMode ? right with { Mode = DeliveryMode.Nmi } : right with { Vector = (byte)(right.Vector ^ 0x01) };

        var merge = TraceNodesMerge.Merge(sequential, placement, deliveries);

        Assert.False(merge.ExactlyOnce);
        Assert.Equal(new long[] { 0, 1 }, merge.Mismatched);
        Assert.Equal(new long[] { 0, 0 }, merge.Doubled);
        Assert.Equal(new long[] { 0, 0 }, merge.Lost);
        Assert.Equal(0, merge.Unknown);
        // The merged row says what was delivered, so --check finds it too.
        DeliveryRow row = merge.Rows.Single(r => r.Seq == right.Seq);
        Assert.Equal(otherMode ? "NMI" : "FIXED", row.Mode);
        Assert.Equal(otherMode ? right.Vector : right.Vector ^ 0x01, row.Vector);
        Assert.Equal(1, DeliveryComparison.Compare(TraceReader.ReadDeliveries(Prefix + ".deliveries.csv"), merge.Rows).Differing);
    }
}
