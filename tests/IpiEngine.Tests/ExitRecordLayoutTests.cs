using System.Runtime.CompilerServices;
using CsCheck;
using IpiEngine.Apic;
using Xunit;

namespace IpiEngine.Tests;

public class ExitRecordLayoutTests
{
    [Fact]
    public void Exit_record_is_32_bytes_so_two_share_a_cache_line()
        => Assert.Equal(32, Unsafe.SizeOf<ExitRecord>());

    [Fact]
    public void Copying_as_posted_sets_the_source_and_stamps_only_the_unstamped_records()
    {
        // Against the field-by-field construction, for any records, source and timestamp (zero timestamps included).
        var record = Gen.Select(Gen.UShort, Gen.UShort, Gen.ULong, Gen.UInt, Gen.ULong, Gen.OneOf(Gen.Const(0L), Gen.Long))
            .Select((s, r, v, d, t, p) => new ExitRecord(s, r, v, d, t, p));
        Gen.Select(record.Array[0, 40], Gen.UShort, Gen.OneOf(Gen.Const(0L), Gen.Long)).Sample((records, source, timestamp) =>
        {
            var slots = new ExitRecord[records.Length + 1]; // one more: nothing past the records is written
            slots[^1] = new ExitRecord(1, 2, 3, 4, 5, 6);
            ExitRecord.CopyAsPosted(records, slots, source, timestamp);
            for (int i = 0; i < records.Length; i++)
            {
                ExitRecord r = records[i];
                Assert.Equal(new ExitRecord(source, r.Register, r.Value, r.DestinationId, r.Tag, r.PostTimestamp != 0 ? r.PostTimestamp : timestamp), slots[i]);
            }

            Assert.Equal(new ExitRecord(1, 2, 3, 4, 5, 6), slots[^1]);
        }, iter: 500);
    }

    [Fact]
    public void Copying_as_posted_refuses_fewer_slots_than_records()
        => Assert.Throws<ArgumentException>(() => ExitRecord.CopyAsPosted(new ExitRecord[3], new ExitRecord[2], 0, 0));

    [Fact]
    public void Register_past_16_bits_becomes_invalid()
    {
        Assert.Equal(ApicRegister.Invalid, ExitRecord.Create(0, 0x1_0300, 0, 0).Register);
        Assert.Equal(ApicRegister.IcrLow, ExitRecord.Create(0, 0x300, 0, 0).Register);
    }
}
