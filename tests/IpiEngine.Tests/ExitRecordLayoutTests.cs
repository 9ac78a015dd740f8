using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
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
    public unsafe void Long_copies_asked_to_stream_into_aligned_slots_do_and_still_copy_exactly()
    {
        // The ring's slots start on a line boundary; the test's do too, or 8 bytes past one (not 32-byte aligned).
        // Each sample has its own memory: CsCheck runs samples on several threads at once.
        var record = Gen.Select(Gen.UShort, Gen.UShort, Gen.ULong, Gen.UInt, Gen.ULong, Gen.OneOf(Gen.Const(0L), Gen.Long))
            .Select((s, r, v, d, t, p) => new ExitRecord(s, r, v, d, t, p));
        Gen.Select(record.Array[0, 80], Gen.UShort, Gen.OneOf(Gen.Const(0L), Gen.Long), Gen.Bool, Gen.Bool).Sample((records, source, timestamp, aligned, stream) =>
        {
            var memory = (byte*)NativeMemory.AlignedAlloc((nuint)(records.Length + 2) * 32, 64);
            try
            {
                var slots = new Span<ExitRecord>(memory + (aligned ? 0 : 8), records.Length + 1);
                slots[^1] = new ExitRecord(1, 2, 3, 4, 5, 6);

                bool streamed = ExitRecord.CopyAsPosted(records, slots[..^1], source, timestamp, stream);
                Sse.StoreFence(); // as TryPublishStreamed does before the tail

                Assert.Equal(stream && aligned && records.Length >= ExitRecord.StreamFrom && Avx.IsSupported && Vector256.IsHardwareAccelerated, streamed);
                for (int i = 0; i < records.Length; i++)
                {
                    ExitRecord r = records[i];
                    Assert.Equal(new ExitRecord(source, r.Register, r.Value, r.DestinationId, r.Tag, r.PostTimestamp != 0 ? r.PostTimestamp : timestamp), slots[i]);
                }

                Assert.Equal(new ExitRecord(1, 2, 3, 4, 5, 6), slots[^1]);
            }
            finally
            {
                NativeMemory.AlignedFree(memory);
            }
        }, iter: 300);
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
