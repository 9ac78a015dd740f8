using System.CommandLine;
using IpiEngine.Cli;
using Xunit;

namespace IpiEngine.Tests.Cli;

/// <summary><c>ipi replay</c> run in-process: checks pass on the bundled traces, bad input exits 2 naming file and line.</summary>
public sealed class ReplayCommandTests : IDisposable
{
    private const string VcpusText = "vcpu,apic_id\n0,0x0\n1,0x1\n";
    private const string GoodExits = "seq,src_vcpu,reg,value,dest_id\n0,1,0x0f0,0x1ff,0x0\n1,0,0x310,0x1000000,0x1\n2,0,0x300,0x40fd,0x1\n";
    private readonly string _dir = Directory.CreateTempSubdirectory("ipi-replay-tests-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("xapic-flat-smp4", 13985)]
    [InlineData("x2apic-phys-smp8", 5195)]
    public void Replay_of_a_bundled_trace_checks_clean(string trace, int rows)
    {
        var (code, output, error) = Run("replay", "--trace", trace);

        Assert.Equal(0, code);
        Assert.Contains($"{rows} rows match, 0 differ", output, StringComparison.Ordinal);
        Assert.Contains("IPIs fired", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Replay_with_no_arguments_checks_the_default_trace()
    {
        var (code, output, _) = Run("replay");

        Assert.Equal(0, code);
        Assert.Contains("xapic-flat-smp4.deliveries.csv: 13985 rows match, 0 differ", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Replay_with_explicit_files_writes_the_reference_bytes_and_checks_them()
    {
        string output = Path.Combine(_dir, "out.csv");
        string traces = RepoFiles.Path("traces");
        var (code, text, _) = Run("replay", "--vcpus", Path.Combine(traces, "xapic-phys-smp4.vcpus.csv"),
            "--exits", Path.Combine(traces, "xapic-phys-smp4.exits.csv"), "--deliveries", output,
            "--check", Path.Combine(traces, "xapic-phys-smp4.deliveries.csv"));

        Assert.Equal(0, code);
        Assert.Contains("14819 rows match, 0 differ", text, StringComparison.Ordinal);
        Assert.Equal(File.ReadAllText(Path.Combine(traces, "xapic-phys-smp4.deliveries.csv")), File.ReadAllText(output));
    }

    [Fact]
    public void A_different_reference_exits_1_and_shows_the_first_difference()
    {
        string reference = Write("ref.csv", "seq,src_vcpu,delivery_mode,vector,dest_cpus\n2,0,FIXED,0xfd,0\n");
        var (code, output, _) = Run("replay", "--vcpus", Write("v.csv", VcpusText), "--exits", Write("e.csv", GoodExits), "--check", reference);

        Assert.Equal(1, code);
        Assert.Contains("0 rows match, 1 differ", output, StringComparison.Ordinal);
        Assert.Contains("seq 2: expected '2,0,FIXED,0xfd,0', produced '2,0,FIXED,0xfd,1'", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("seq,src,reg,value,dest_id\n", "e.csv:1: wrong header")]
    [InlineData("seq,src_vcpu,reg,value,dest_id\n0,0,0x0f0,0x1ff\n", "e.csv:2: expected 5 columns, found 4")]
    [InlineData("seq,src_vcpu,reg,value,dest_id\n0,0,0x0f0,0x1ff,0x0\n1,0,0x300,0x4g,0x0\n", "e.csv:3: bad hex value")]
    [InlineData("seq,src_vcpu,reg,value,dest_id\n0,0,0x0f0,0x1ff,0x0\n1,0,0x350,0x1,0x0\n", "e.csv:3: unknown register 0x350")]
    [InlineData("seq,src_vcpu,reg,value,dest_id\n0,0,0x0f0,0x1ff,0x0\n\n1,2,0x300,0x40fd,0x0\n", "e.csv:4: vCPU 2 out of range")]
    [InlineData("seq,src_vcpu,reg,value,dest_id\n0,x,0x0f0,0x1ff,0x0\n", "e.csv:2: bad src_vcpu 'x'")]
    public void Malformed_exits_exit_2_naming_file_and_line(string exits, string message)
    {
        var (code, _, error) = Run("replay", "--vcpus", Write("v.csv", VcpusText), "--exits", Write("e.csv", exits));

        Assert.Equal(2, code);
        Assert.Contains(message, error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", error, StringComparison.Ordinal); // no stack trace
    }

    [Theory]
    [InlineData("vcpu,apic_id\n0,0x0\n2,0x1\n", "v.csv:3: vCPU 2 out of order")]
    [InlineData("vcpu,apic_id\n0,0x0\n1,1\n", "v.csv:3: bad hex apic_id '1'")]
    [InlineData("vcpu,apic_id\n", "v.csv:1: no vCPUs listed")]
    public void Malformed_vcpus_exit_2_naming_file_and_line(string vcpus, string message)
    {
        var (code, _, error) = Run("replay", "--vcpus", Write("v.csv", vcpus), "--exits", Write("e.csv", GoodExits));

        Assert.Equal(2, code);
        Assert.Contains(message, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Malformed_reference_exits_2_naming_file_and_line()
    {
        string reference = Write("ref.csv", "seq,src_vcpu,delivery_mode,vector,dest_cpus\n2,0,FIXED,0xfd,1|0\n");
        var (code, _, error) = Run("replay", "--vcpus", Write("v.csv", VcpusText), "--exits", Write("e.csv", GoodExits), "--check", reference);

        Assert.Equal(2, code);
        Assert.Contains("ref.csv:2: dest_cpus '1|0' not strictly ascending", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_file_exits_2_naming_it()
    {
        string missing = Path.Combine(_dir, "missing.csv");
        var (code, _, error) = Run("replay", "--vcpus", Write("v.csv", VcpusText), "--exits", missing);

        Assert.Equal(2, code);
        Assert.StartsWith(missing + ": cannot open the file", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("no-such-trace", "No trace named 'no-such-trace' was found (no no-such-trace.vcpus.csv and no-such-trace.exits.csv): the bundled traces are x2apic-cluster-smp4, x2apic-phys-smp8, xapic-flat-smp4, xapic-phys-smp4.")]
    [InlineData(null, "--trace needs a trace name: the bundled traces are x2apic-cluster-smp4")]
    [InlineData("/", "--trace '/' is a folder, not a trace")]
    public void Unknown_or_missing_trace_name_lists_the_bundled_traces(string? name, string message)
    {
        var (code, _, error) = name is null ? Run("replay", "--trace") : Run("replay", "--trace", name);

        Assert.Equal(2, code);
        Assert.Contains(message, error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_trace_given_by_one_of_its_files_or_its_path_prefix_is_replayed_and_checked_like_the_bundled_name()
    {
        var (byNameCode, byNameOutput, _) = Run("replay", "--trace", "xapic-phys-smp4");
        Assert.Equal(0, byNameCode);
        string? prefix = null;
        foreach (string folder in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(folder); dir is not null && prefix is null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, "traces", "xapic-phys-smp4");
                prefix = File.Exists(candidate + ".exits.csv") ? candidate : null;
            }
        }

        Assert.NotNull(prefix);
        foreach (string given in new[] { prefix, prefix + ".exits.csv", prefix + ".vcpus.csv", prefix + ".deliveries.csv" })
        {
            var (code, output, error) = Run("replay", "--trace", given);
            Assert.True(code == 0, error);
            Assert.Contains("rows match, 0 differ", output, StringComparison.Ordinal);
            Assert.Contains("rows match, 0 differ", byNameOutput, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Half_of_the_explicit_files_is_a_usage_error()
    {
        var (code, _, error) = Run("replay", "--exits", Write("e.csv", GoodExits));

        Assert.Equal(2, code);
        Assert.Contains("--vcpus and --exits go together", error, StringComparison.Ordinal);
    }

    private string Write(string name, string text)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void Json_to_stdout_carries_the_summary_and_the_checks_result()
    {
        var (code, output, error) = Run("replay", "--trace", "xapic-flat-smp4", "--json", "-");

        Assert.Equal(0, code);
        using var json = System.Text.Json.JsonDocument.Parse(output); // stdout holds the JSON alone: the check's line went to stderr
        var root = json.RootElement;
        Assert.Equal(root.GetProperty("records").GetInt64(), root.GetProperty("latched").GetInt64() + root.GetProperty("topologyWrites").GetInt64() + root.GetProperty("ipisFired").GetInt64() + root.GetProperty("rejected").GetInt64());
        Assert.Equal(root.GetProperty("ipisFired").GetInt64(), root.GetProperty("ipisByMode").EnumerateObject().Sum(m => m.Value.GetInt64()));
        var check = root.GetProperty("check");
        Assert.Equal(13985, check.GetProperty("matching").GetInt64());
        Assert.Equal(0, check.GetProperty("differing").GetInt64());
        Assert.True(check.GetProperty("identical").GetBoolean());
        Assert.Contains("13985 rows match, 0 differ", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Json_to_a_file_records_a_failed_check_with_its_first_difference()
    {
        string reference = Write("ref.csv", "seq,src_vcpu,delivery_mode,vector,dest_cpus\n2,0,FIXED,0xfd,0\n");
        string path = Path.Combine(_dir, "summary.json");
        var (code, _, _) = Run("replay", "--vcpus", Write("v.csv", VcpusText), "--exits", Write("e.csv", GoodExits), "--check", reference, "--json", path);

        Assert.Equal(1, code);
        using var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(path));
        var check = json.RootElement.GetProperty("check");
        Assert.False(check.GetProperty("identical").GetBoolean());
        Assert.Equal(1, check.GetProperty("differing").GetInt64());
        Assert.Contains("seq 2", check.GetProperty("firstDifferences")[0].GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public void A_json_file_that_cannot_be_written_at_the_end_exits_2_with_a_sentence_not_1()
    {
        // /proc/version passes the early check (its folder exists) and refuses the write even to root.
        var (code, _, error) = Run("replay", "--trace", "xapic-flat-smp4", "--json", "/proc/version");

        Assert.Equal(2, code);
        Assert.Contains("/proc/version: cannot write the JSON summary", error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", error, StringComparison.Ordinal); // no stack trace
    }

    [Theory]
    [InlineData("--json", "-", "--deliveries", "-")]
    [InlineData("--json", "/no/such/folder/summary.json")]
    public void A_json_destination_that_cannot_work_is_refused_before_the_replay(params string[] options)
    {
        var (code, output, error) = Run(["replay", "--trace", "xapic-flat-smp4", .. options]);

        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.DoesNotContain("IPIs fired", error, StringComparison.Ordinal); // refused before any work
        Assert.Contains("--json", error, StringComparison.Ordinal);
    }

    private static (int Code, string Output, string Error) Run(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        int code = Program.BuildRoot().Parse(args).Invoke(new InvocationConfiguration { Output = output, Error = error });
        return (code, output.ToString(), error.ToString());
    }
}
