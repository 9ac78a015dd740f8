using IpiEngine.Perf.Records;
using Xunit;

namespace IpiEngine.Tests.Perf;

public class RecordNamingTests
{
    private const string Sha = "abcdef0123456789abcdef0123456789abcdef01";

    [Fact]
    public void File_name_is_utc_stamp_then_twelve_hex_sha()
    {
        var started = new DateTimeOffset(2026, 11, 25, 8, 30, 5, TimeSpan.FromHours(2));
        Assert.Equal("20261125T063005Z_abcdef012345.json", RecordFileName.For(started, Sha, dirty: false));
        Assert.Equal("20261125T063005Z_abcdef012345-dirty.json", RecordFileName.For(started, Sha, dirty: true));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void File_name_parses_back(bool dirty)
    {
        var started = new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);
        Assert.True(RecordFileName.TryParse(RecordFileName.For(started, Sha, dirty), out var stamp, out var shortSha, out var parsedDirty));
        Assert.Equal(started, stamp);
        Assert.Equal("abcdef012345", shortSha);
        Assert.Equal(dirty, parsedDirty);
    }

    [Theory]
    [InlineData("perf-run.v1.schema.json")]
    [InlineData("20261125T063005Z_abcdef01234.json")]
    [InlineData("20261125T063005Z_ABCDEF012345.json")]
    [InlineData("20261125T063005_abcdef012345.json")]
    [InlineData("20261125T063005Z_abcdef012345-dirty.txt")]
    [InlineData("20261125T063005Z_abcdef012345-1.json")]
    [InlineData("20261125T063005Z_abcdef012345-02.json")]
    public void Other_files_are_not_records(string name) =>
        Assert.False(RecordFileName.TryParse(name, out _, out _, out _));

    [Fact]
    public void A_second_copy_of_a_name_parses_and_sorts_after_the_first()
    {
        var started = new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);
        Assert.Equal("20260102T030405Z_abcdef012345-dirty-2.json", RecordFileName.For(started, Sha, dirty: true, copy: 2));
        Assert.True(RecordFileName.TryParse("20260102T030405Z_abcdef012345-dirty-12.json", out _, out var sha, out bool dirty));
        Assert.Equal(("abcdef012345", true), (sha, dirty));
        Assert.True(RecordFileName.TryParse("20260102T030405Z_abcdef012345-dirty-12.json", out _, out _, out _, out int copy));
        Assert.Equal(12, copy);
        string[] names = ["/r/20260102T030405Z_abcdef012345-10.json", "/r/20260102T030405Z_abcdef012345-2.json", "/r/20260102T030405Z_abcdef012345.json"];
        Assert.Equal([names[2], names[1], names[0]], IpiEngine.Perf.Records.RecordStore.RecordFiles(names));
    }

    [Fact]
    public void Machine_id_is_stable_and_separates_cpu_cores_and_os()
    {
        var id = MachineIdentity.From("AMD EPYC 7B13 64-Core Processor", 2, "Linux Debian GNU/Linux 12 (bookworm)");
        Assert.Equal("amd-epyc-7b13-64-core-processor-2c-linux-debian-gnu-linux-12", id);
        Assert.Equal(id, MachineIdentity.From("AMD EPYC 7B13 64-Core Processor", 2, "Linux Debian GNU/Linux 12 (bookworm)"));
        Assert.NotEqual(id, MachineIdentity.From("AMD EPYC 7B13 64-Core Processor", 4, "Linux Debian GNU/Linux 12 (bookworm)"));
        Assert.NotEqual(id, MachineIdentity.From("Intel Xeon Platinum 8370C", 2, "Linux Debian GNU/Linux 12 (bookworm)"));
        Assert.NotEqual(id, MachineIdentity.From("AMD EPYC 7B13 64-Core Processor", 2, "Linux Ubuntu 24.04"));
        Assert.Equal("unknown-cpu-0c-unknown-os", MachineIdentity.From(null, 0, "  "));
    }
}
