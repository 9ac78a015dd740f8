using System.Globalization;
using IpiEngine.Cli.TraceNodes;
using IpiEngine.Delivery;
using IpiEngine.Trace;
using IpiEngine.Transport;
using Xunit;

namespace IpiEngine.Tests.Run;

/// <summary>
/// What a trace replayed over nodes checks beyond where each IPI went (review of 2026-12-07, helper-54): a delivery that
/// reaches the right vCPU with another vector fails the merge and the run, and with the kernel serving, the
/// <c>KVM_DSM_IPI</c> records it took are compared with what the sequential replay sends, ICR high included, encoded
/// in the source's APIC mode at each write (a guest may switch from xAPIC to x2APIC mid-trace).
/// </summary>
public class TraceNodesCheckTests
{
    /// <summary>A faulty link: hands on what arrives, the first delivery changed once by <paramref name="change"/>.</summary>
    private sealed class AlteringLink(RemoteDeliverySink next, Func<RemoteDelivery, RemoteDelivery> change) : RemoteDeliverySink
    {
        private int _altered;

        public int Altered => Volatile.Read(ref _altered); // read after the run: the links are stopped

        public override void Deliver(int fromNode, ReadOnlySpan<RemoteDelivery> deliveries)
        {
            // Once: the first frame wins the exchange, every later one passes untouched.
            if (deliveries.IsEmpty || Interlocked.CompareExchange(ref _altered, 1, 0) != 0)
            {
                next.Deliver(fromNode, deliveries);
                return;
            }

            RemoteDelivery[] copy = deliveries.ToArray();
            copy[0] = change(copy[0]);
            next.Deliver(fromNode, copy);
        }
    }

    private static RemoteDelivery OtherVector(RemoteDelivery d)
        => new(d.Tag, d.PostTimestamp, d.SourceVcpu, d.DestinationVcpu, d.IcrLow ^ 0x01, d.IcrDestination);

    private static RemoteDelivery OtherDestinationField(RemoteDelivery d)
        => new(d.Tag, d.PostTimestamp, d.SourceVcpu, d.DestinationVcpu, d.IcrLow, d.IcrDestination + 1);

    private static (InProcessTraceNodes.Outcome Outcome, AlteringLink Link) RunWithFaultyLinkToNode1(LocalTargets local, Func<RemoteDelivery, RemoteDelivery> change)
    {
        AlteringLink? faulty = null;
        var outcome = InProcessTraceNodes.Run(RepoFiles.Path("traces", "x2apic-phys-smp8"), 2, ThreadingMode.Fused, local,
            (node, arrivals) => node == 1 ? faulty = new AlteringLink(arrivals, change) : arrivals);
        Assert.Equal(1, faulty!.Altered);
        return (outcome, faulty);
    }

    [Fact]
    public void A_delivery_to_the_right_vcpu_with_another_vector_is_not_exactly_once()
    {
        var (outcome, _) = RunWithFaultyLinkToNode1(LocalTargets.Engine, OtherVector);

        Assert.False(outcome.Merge.ExactlyOnce); // was true: only (seq, destination) reached the merge
        var result = new TraceNodesResult(outcome.Reports, outcome.Merge, outcome.Sequential, 8, outcome.Exits.Length, 1.0);
        Assert.False(result.Exact);
        // --check: the merged row carries the vector delivered, so it differs from the reference too.
        var reference = TraceReader.ReadDeliveries(RepoFiles.Path("traces", "x2apic-phys-smp8") + ".deliveries.csv");
        var comparison = DeliveryComparison.Compare(reference, outcome.Merge.Rows);
        Assert.Equal(1, comparison.Differing);
    }

    [Fact]
    public void The_kernel_taking_another_vector_fails_its_node()
    {
        var (outcome, _) = RunWithFaultyLinkToNode1(LocalTargets.Kernel, OtherVector);

        Assert.False(outcome.Merge.ExactlyOnce);
        Assert.Contains(outcome.Reports[1].Problems, p => p.StartsWith("the kernel took 1 KVM_DSM_IPI records that the sequential replay does not send here", StringComparison.Ordinal));
        Assert.Empty(outcome.Reports[0].Problems);
    }

    [Fact]
    public void The_kernel_taking_another_destination_field_fails_its_node()
    {
        var (outcome, _) = RunWithFaultyLinkToNode1(LocalTargets.Kernel, OtherDestinationField);

        Assert.True(outcome.Merge.ExactlyOnce); // the right vCPU, vector and mode: only the kernel's records tell
        string problem = Assert.Single(outcome.Reports[1].Problems);
        Assert.StartsWith("the kernel took 1 KVM_DSM_IPI records that the sequential replay does not send here (first: vCPU ", problem, StringComparison.Ordinal);
        Assert.EndsWith(" and missed 1 that it sends.", problem, StringComparison.Ordinal);
    }

    /// <summary>
    /// A guest that starts in xAPIC mode and switches every vCPU to x2APIC (as the firmware's start-up, then Linux, do),
    /// with a physical IPI across the two nodes in each direction in each mode: ICR high is 8 bits in bits 31:24 before
    /// the switch and 32 bits after. Encoded with one mode for the whole trace (x2APIC, as it has 0x830 writes), the
    /// xAPIC IPIs reached the kernel with ICR high 0x3 instead of 0x3000000.
    /// </summary>
    [Fact]
    public void A_trace_that_switches_from_xapic_to_x2apic_is_injected_in_each_writes_mode()
    {
        var folder = Directory.CreateTempSubdirectory("ipi-mode-switch-");
        try
        {
            string prefix = Path.Combine(folder.FullName, "switch");
            File.WriteAllText(prefix + ".vcpus.csv", "vcpu,apic_id\n0,0x0\n1,0x1\n2,0x2\n3,0x3\n");
            var exits = new List<string> { TraceReader.ExitsHeader };
            void Row(int vcpu, string register, string value, int destination)
                => exits.Add(string.Create(CultureInfo.InvariantCulture, $"{exits.Count - 1},{vcpu},{register},{value},0x{destination:x}"));
            for (int vcpu = 0; vcpu < 4; vcpu++)
                Row(vcpu, "0x0F0", "0x1ff", 0); // software-enabled: fixed IPIs are accepted
            Row(0, "0x310", "0x3000000", 3);
            Row(0, "0x300", "0xfd", 3); // seq 5: node 0 to vCPU 3 on node 1, xAPIC
            Row(1, "0x310", "0x2000000", 2);
            Row(1, "0x300", "0xfc", 2); // seq 7: node 1 to vCPU 2 on node 0, xAPIC
            for (int vcpu = 0; vcpu < 4; vcpu++)
                Row(vcpu, "0x01B", "0xfee00c00", 0); // IA32_APIC_BASE: enabled, x2APIC mode
            Row(0, "0x830", "0x3000000fb", 3); // seq 12: to vCPU 3, x2APIC
            Row(1, "0x830", "0x2000000fd", 2); // seq 13: to vCPU 2, x2APIC
            File.WriteAllText(prefix + ".exits.csv", string.Join('\n', exits) + "\n");

            var outcome = InProcessTraceNodes.Run(prefix, 2, ThreadingMode.Fused, LocalTargets.Kernel);

            // The trace does what it says: four IPIs, each to the other node.
            Assert.Equal([(5L, 3), (7L, 2), (12L, 3), (13L, 2)], outcome.Sequential.Rows.Select(r => (r.Seq, Assert.Single(r.Destinations.ToArray()))));
            Assert.All(outcome.Reports, r => Assert.Equal(2, r.Received));
            Assert.True(outcome.Merge.ExactlyOnce);
            Assert.All(outcome.Reports, r => Assert.Empty(r.Problems));
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }
}
