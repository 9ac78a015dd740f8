using IpiEngine.Trace;
using Xunit;

namespace IpiEngine.Tests.Trace;

/// <summary>Inputs the trace readers once accepted silently or crashed on: each is refused with file:line and one sentence.</summary>
public class BadTraceInputTests
{
    private const string ExitsHeader = "seq,src_vcpu,reg,value,dest_id\n";
    private const string DeliveriesHeader = "seq,src_vcpu,delivery_mode,vector,dest_cpus\n";

    [Theory]
    [InlineData(ExitsHeader + "0,0,0x830,0xfd,0x0\n0,1,0x830,0xfd,0x0\n", 3, "seq 0 appears twice")]
    [InlineData(ExitsHeader + "0,0,0x830,0xfd,0x0\n5,1,0x830,0xfd,0x0\n4,1,0x830,0xfd,0x0\n", 4, "seq 4 after seq 5")]
    public void Exits_with_a_repeated_or_backward_seq_are_refused(string text, int line, string problem)
    {
        var error = Assert.Throws<TraceFormatException>(() => TraceReader.ReadExits(new StringReader(text), "e.csv", 2));

        Assert.Equal(line, error.Line);
        Assert.StartsWith($"e.csv:{line}: {problem}", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0x300", "0x1000040fd")]
    [InlineData("0x310", "0x100000000")]
    [InlineData("0x0f0", "0xffffffff000001ff")]
    public void An_xapic_mmio_write_wider_than_32_bits_is_refused(string register, string value)
    {
        // It used to be taken with its upper half dropped without a word.
        string text = ExitsHeader + "0,0,0x830,0xfd,0x0\n1,1," + register + "," + value + ",0x0\n";
        var error = Assert.Throws<TraceFormatException>(() => TraceReader.ReadExits(new StringReader(text), "e.csv", 2));

        Assert.Equal(3, error.Line);
        Assert.Contains("32-bit xAPIC MMIO register", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_64_bit_registers_take_a_64_bit_value()
    {
        string text = ExitsHeader + "0,0,0x830,0x1000040fd,0x1\n1,1,0x01b,0x1fee00c00,0x0\n";
        var records = TraceReader.ReadExits(new StringReader(text), "e.csv", 2);

        Assert.Equal(0x1_0000_40FDul, records[0].Value);
        Assert.Equal(0x1_FEE0_0C00ul, records[1].Value);
    }

    [Theory]
    [InlineData(DeliveriesHeader + "3,0,FIXED,0xfd,1\n3,0,FIXED,0xfd,1\n", 3, "seq 3 appears twice")]
    [InlineData(DeliveriesHeader + "3,0,FIXED,0xfd,1\n2,0,FIXED,0xfd,1\n", 3, "seq 2 after seq 3")]
    public void Deliveries_with_a_repeated_or_backward_seq_are_refused(string text, int line, string problem)
    {
        var error = Assert.Throws<TraceFormatException>(() => TraceReader.ReadDeliveries(new StringReader(text), "d.csv"));

        Assert.Equal(line, error.Line);
        Assert.StartsWith($"d.csv:{line}: {problem}", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Two_vcpus_with_one_apic_id_are_refused_naming_both_lines()
    {
        const string text = "vcpu,apic_id\n0,0x0\n1,0x7\n2,0x7\n";

        var error = Assert.Throws<TraceFormatException>(() => TraceReader.ReadVcpus(new StringReader(text), "v.csv"));

        Assert.Equal("v.csv:4: APIC ID 0x7 of vCPU 2 is already vCPU 1's (line 3): every vCPU needs its own", error.Message);
    }

    [Fact]
    public void A_garbage_header_is_quoted_with_control_characters_escaped_and_cut_short()
    {
        string text = "\u001b[31mred\u0007," + new string('x', 500) + "\n0,0x0\n";

        var error = Assert.Throws<TraceFormatException>(() => TraceReader.ReadVcpus(new StringReader(text), "v.csv"));

        Assert.StartsWith("v.csv:1: wrong header '\\u001b[31mred\\u0007,xxx", error.Message, StringComparison.Ordinal);
        Assert.Contains("(first 80 of 510 characters)", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\u001b', error.Message);
        Assert.DoesNotContain('\u0007', error.Message);
        Assert.True(error.Message.Length < 250, error.Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void An_endless_line_fails_fast_at_its_line_without_reading_it_all(bool inHeader)
    {
        // Without a bound the reader would buffer the whole line: the source gives up (failing the test) after 64 M characters.
        using var source = new EndlessLine(inHeader ? "" : "vcpu,apic_id\n0,0x0\n", 64 << 20);

        var error = Assert.Throws<TraceFormatException>(() => TraceReader.ReadVcpus(source, "v.csv"));

        Assert.Equal(inHeader ? 1 : 3, error.Line);
        Assert.Contains($"line longer than {CsvTable.MaxLineLength:N0} characters", error.Message, StringComparison.Ordinal);
        Assert.True(source.Given < 2 * CsvTable.MaxLineLength, $"read {source.Given} characters before refusing");
    }

    [Fact]
    public void Line_ends_of_every_kind_and_a_missing_last_end_are_read_alike()
    {
        const string text = "seq,src_vcpu,reg,value,dest_id\r\n1,0,0x830,0xfd,0x0\r2,1,0x830,0xfc,0x0\n\n3,1,0x830,0xfb,0x0";

        ExitRecord[] records = TraceReader.ReadExits(new StringReader(text), "e.csv", 2);

        Assert.Equal([1ul, 2ul, 3ul], records.Select(r => r.Tag));
        Assert.Equal([0xFDul, 0xFCul, 0xFBul], records.Select(r => r.Value));
    }

    [Fact]
    public void A_directory_given_as_a_file_is_called_a_directory()
    {
        string folder = Directory.CreateTempSubdirectory("ipi-trace-dir-").FullName;
        try
        {
            var error = Assert.Throws<TraceFormatException>(() => TraceReader.ReadVcpus(folder));

            Assert.Equal($"{folder}: is a directory, not a file", error.Message);
        }
        finally
        {
            Directory.Delete(folder);
        }
    }

    /// <summary>A prefix, then one line that never ends; throws once it has given <c>limit</c> characters.</summary>
    private sealed class EndlessLine(string prefix, long limit) : TextReader
    {
        private int _prefixAt;

        public long Given { get; private set; }

        public override int Read(char[] buffer, int index, int count) => Read(buffer.AsSpan(index, count));

        public override int Read(Span<char> buffer)
        {
            if (Given > limit)
            {
                throw new InvalidOperationException($"the reader took more than {limit} characters of one line");
            }

            int n = 0;
            while (n < buffer.Length && _prefixAt < prefix.Length)
            {
                buffer[n++] = prefix[_prefixAt++];
            }

            buffer[n..].Fill('x');
            Given += buffer.Length;
            return buffer.Length;
        }

        public override int Peek() => 'x';

        public override int Read()
        {
            Span<char> one = stackalloc char[1];
            return Read(one) == 1 ? one[0] : -1;
        }
    }
}
