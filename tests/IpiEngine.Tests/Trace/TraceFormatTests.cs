using IpiEngine.Trace;
using Xunit;

namespace IpiEngine.Tests.Trace;

public class TraceFormatTests
{
    [Fact]
    public void Writer_produces_the_reference_text_exactly()
    {
        DeliveryRow[] rows =
        [
            new(1, 0, "INIT", 0x00, [1, 2, 3]),
            new(7, 0, DeliveryRow.InitDeassertMode, 0x00, []),
            new(12, 3, "FIXED", 0xfb, [0]),
            new(13, 1, DeliveryRow.RejectedMode, 0x0f, []),
        ];
        using var text = new StringWriter();

        DeliveryCsv.Write(text, rows);

        Assert.Equal("seq,src_vcpu,delivery_mode,vector,dest_cpus\n1,0,INIT,0x00,1|2|3\n7,0,INIT_DEASSERT,0x00,\n12,3,FIXED,0xfb,0\n13,1,REJECTED,0x0f,\n",
            text.ToString());
    }

    [Fact]
    public void Deliveries_round_trip_through_reader_and_writer()
    {
        const string text = "seq,src_vcpu,delivery_mode,vector,dest_cpus\n1,0,INIT,0x00,1|2|3\n2,0,SIPI,0x10,1|2|3\n7,0,INIT_DEASSERT,0x00,\n";

        List<DeliveryRow> rows = TraceReader.ReadDeliveries(new StringReader(text), "d.csv");
        using var written = new StringWriter();
        DeliveryCsv.Write(written, rows);

        Assert.Equal(text, written.ToString());
        Assert.Equal([1, 2, 3], rows[0].Destinations.ToArray());
    }

    [Fact]
    public void Exits_become_records_tagged_with_their_seq()
    {
        const string text = "seq,src_vcpu,reg,value,dest_id\r\n5,1,0x830,0x23000040fd,0x23\r\n";

        ExitRecord[] records = TraceReader.ReadExits(new StringReader(text), "e.csv", 2);

        ExitRecord record = Assert.Single(records);
        Assert.Equal(5ul, record.Tag);
        Assert.Equal(1, record.SourceVcpu);
        Assert.Equal(0x830, record.Register);
        Assert.Equal(0x23000040FDul, record.Value);
        Assert.Equal(0x23u, record.DestinationId);
    }

    [Theory]
    [InlineData("seq,src_vcpu,delivery_mode,vector,dest_cpus\n1,0,BOGUS,0x00,1\n", 2, "unknown delivery_mode 'BOGUS'")]
    [InlineData("seq,src_vcpu,delivery_mode,vector,dest_cpus\n1,0,FIXED,0x100,1\n", 2, "vector 0x100 does not fit 8 bits")]
    [InlineData("seq,src_vcpu,delivery_mode,vector,dest_cpus\n1,0,FIXED,0xfd,1|x\n", 2, "bad dest_cpus '1|x'")]
    [InlineData("seq,src_vcpu,delivery_mode,vector\n", 1, "wrong header")]
    [InlineData("", 1, "the file is empty")]
    public void Reader_errors_name_file_and_line(string text, int line, string problem)
    {
        var error = Assert.Throws<TraceFormatException>(() => TraceReader.ReadDeliveries(new StringReader(text), "d.csv"));

        Assert.Equal("d.csv", error.File);
        Assert.Equal(line, error.Line);
        Assert.StartsWith($"d.csv:{line}: ", error.Message, StringComparison.Ordinal);
        Assert.Contains(problem, error.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Comparison_counts_matching_and_differing_rows_joined_by_seq()
    {
        DeliveryRow[] expected = [new(1, 0, "FIXED", 0xfd, [1]), new(2, 0, "FIXED", 0xfd, [2]), new(3, 0, "NMI", 0, [3])];
        DeliveryRow[] actual = [new(1, 0, "FIXED", 0xfd, [1]), new(2, 0, "FIXED", 0xfd, [1, 2]), new(4, 0, "SMI", 0, [3])];

        DeliveryComparison comparison = DeliveryComparison.Compare(expected, actual);

        Assert.Equal(1, comparison.Matching);
        Assert.Equal(3, comparison.Differing);
        Assert.False(comparison.Identical);
        Assert.Equal(
            ["seq 2: expected '2,0,FIXED,0xfd,2', produced '2,0,FIXED,0xfd,1|2'", "seq 3: expected '3,0,NMI,0x00,3', produced nothing",
             "seq 4: not in the reference, produced '4,0,SMI,0x00,3'"],
            comparison.FirstDifferences);
    }

    [Fact]
    public void A_seq_one_side_has_twice_is_a_difference_not_a_match()
    {
        var row = new DeliveryRow(5, 0, "FIXED", 0xfd, [1]);

        var doubled = DeliveryComparison.Compare([row], [row, row]); // a delivery produced twice
        var repeated = DeliveryComparison.Compare([row, row], [row]); // a reference that repeats a seq

        Assert.False(doubled.Identical);
        Assert.Equal((1, 1), (doubled.Matching, doubled.Differing));
        Assert.Equal(["seq 5: produced twice, again '5,0,FIXED,0xfd,1'"], doubled.FirstDifferences);
        Assert.False(repeated.Identical);
        Assert.Equal((1, 1), (repeated.Matching, repeated.Differing));
        Assert.Equal(["seq 5: in the reference twice ('5,0,FIXED,0xfd,1', then '5,0,FIXED,0xfd,1')"], repeated.FirstDifferences);
    }
}
