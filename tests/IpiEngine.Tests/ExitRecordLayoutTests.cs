using System.Runtime.CompilerServices;
using IpiEngine.Apic;
using Xunit;

namespace IpiEngine.Tests;

public class ExitRecordLayoutTests
{
    [Fact]
    public void Exit_record_is_32_bytes_so_two_share_a_cache_line()
        => Assert.Equal(32, Unsafe.SizeOf<ExitRecord>());

    [Fact]
    public void Register_past_16_bits_becomes_invalid()
    {
        Assert.Equal(ApicRegister.Invalid, ExitRecord.Create(0, 0x1_0300, 0, 0).Register);
        Assert.Equal(ApicRegister.IcrLow, ExitRecord.Create(0, 0x300, 0, 0).Register);
    }
}
