using IpiEngine.Cli;
using Xunit;

namespace IpiEngine.Tests.Cli;

/// <summary>
/// Which files <c>--trace</c> names: a trace that exists where the user points wins over a bundled namesake (the
/// bundled <c>traces/</c> folder is found above the program's folder, as an installed tool finds it).
/// </summary>
public sealed class TraceLocationTests : IDisposable
{
    private const string BundledName = "xapic-flat-smp4";
    private readonly string _dir = Directory.CreateTempSubdirectory("ipi-trace-location-").FullName;

    public TraceLocationTests()
    {
        // A re-recording under the bundled trace's name: two vCPUs, where the bundled one has four.
        File.WriteAllText(Path.Combine(_dir, BundledName + ".vcpus.csv"), "vcpu,apic_id\n0,0\n1,1\n");
        File.WriteAllText(Path.Combine(_dir, BundledName + ".exits.csv"), "seq,vcpu,reg,value,dest_id\n");
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData(BundledName + ".exits.csv")]
    [InlineData(BundledName + ".vcpus.csv")]
    [InlineData(BundledName)]
    public void A_trace_in_the_directory_wins_over_the_bundled_namesake(string given)
    {
        var files = BundledTraces.Locate(given, _dir);

        Assert.Equal(Path.Combine(_dir, BundledName + ".vcpus.csv"), Path.GetFullPath(files.Vcpus));
        Assert.Equal(Path.Combine(_dir, BundledName + ".exits.csv"), Path.GetFullPath(files.Exits));
        Assert.Null(files.Reference); // the bundled reference does not check the user's trace
    }

    [Fact]
    public void A_bundled_name_absent_from_the_directory_is_the_bundled_trace()
    {
        var files = BundledTraces.Locate("x2apic-phys-smp8", _dir);

        Assert.Equal(RepoFiles.Path("traces", "x2apic-phys-smp8.vcpus.csv"), Path.GetFullPath(files.Vcpus));
        Assert.NotNull(files.Reference);
    }
}
