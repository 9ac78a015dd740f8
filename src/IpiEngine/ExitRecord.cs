using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace IpiEngine;

/// <summary>
/// One trapped APIC register write as the hypervisor hands it over, plus the engine's bookkeeping:
/// the caller's tag (a trace's <c>seq</c>, or anything the embedder likes) and the post timestamp.
/// Blittable and exactly 32 bytes so that two fit a cache line in the per-vCPU rings.
/// </summary>
/// <remarks>
/// Register numbers are the hardware's: xAPIC MMIO offsets (0x300 ICR low, 0x310 ICR high, ...) or
/// x2APIC MSR numbers (0x830 ICR, 0x83F SELF IPI, ...), see <see cref="Apic.ApicRegister"/>.
/// A register that does not fit 16 bits is stored as <see cref="Apic.ApicRegister.Invalid"/> and
/// rejected by the resolver as an unknown register.
/// </remarks>
[StructLayout(LayoutKind.Explicit, Size = 32)]
public readonly struct ExitRecord
{
    /// <summary>The value written: 32 bits for xAPIC registers, 64 bits for the x2APIC ICR (MSR 0x830).</summary>
    [FieldOffset(0)] public readonly ulong Value;

    /// <summary>The caller's tag, returned with every delivery of this record's IPI.</summary>
    [FieldOffset(8)] public readonly ulong Tag;

    /// <summary><see cref="System.Diagnostics.Stopwatch.GetTimestamp"/> when the record was posted (0 if not taken).</summary>
    [FieldOffset(16)] public readonly long PostTimestamp;

    /// <summary>Index of the vCPU that wrote the register (dense, from 0).</summary>
    [FieldOffset(24)] public readonly ushort SourceVcpu;

    /// <summary>The register written (MMIO offset or MSR number).</summary>
    [FieldOffset(26)] public readonly ushort Register;

    /// <summary>The destination id the hypervisor reported (informational: the engine keeps its own ICR2 latch).</summary>
    [FieldOffset(28)] public readonly uint DestinationId;

    /// <summary>Creates a record.</summary>
    public ExitRecord(ushort sourceVcpu, ushort register, ulong value, uint destinationId, ulong tag, long postTimestamp)
    {
        Value = value;
        Tag = tag;
        PostTimestamp = postTimestamp;
        SourceVcpu = sourceVcpu;
        Register = register;
        DestinationId = destinationId;
    }

    /// <summary>Creates a record from the hypervisor's 32-bit register number; numbers past 16 bits become <see cref="Apic.ApicRegister.Invalid"/>.</summary>
    public static ExitRecord Create(ushort sourceVcpu, uint register, ulong value, uint destinationId, ulong tag = 0, long postTimestamp = 0)
        => new(sourceVcpu, register <= 0xFFFE ? (ushort)register : Apic.ApicRegister.Invalid, value, destinationId, tag, postTimestamp);

    /// <summary>The same record with a post timestamp.</summary>
    public ExitRecord WithTimestamp(long timestamp) => new(SourceVcpu, Register, Value, DestinationId, Tag, timestamp);

    /// <summary>
    /// Copies <paramref name="records"/> into the first slots of <paramref name="slots"/> (at least as many) as one source's posts: each copy's source is
    /// <paramref name="source"/>, and a record without a post timestamp gets <paramref name="timestamp"/>. Where 256-bit
    /// vectors are fast, a record is one vector (the layout above: <see cref="Value"/>, <see cref="Tag"/>,
    /// <see cref="PostTimestamp"/>, then <see cref="SourceVcpu"/> in the low 16 bits of the last 8 bytes), fixed up with
    /// a mask and written with one store: about a third of the field-by-field copy's cost.
    /// <para>
    /// With <paramref name="stream"/>, from <see cref="StreamFrom"/> records on, into 32-byte-aligned slots, on x86 with
    /// AVX, the stores are non-temporal (<c>vmovntdq</c>: written to memory without first taking the line from the cache
    /// that holds it) and the method returns true: the caller must then publish with
    /// <see cref="Rings.SpscRing{T}.TryPublishStreamed"/>, whose fence orders these weakly ordered stores before the
    /// tail's release store. The caller streams only where it pays (<see cref="Posting.StreamingChoice"/>).
    /// </para>
    /// </summary>
    /// <returns>True when the slots were written with non-temporal stores (publish with a fence).</returns>
    [MethodImpl(HotPath.Optimized)]
    internal static unsafe bool CopyAsPosted(ReadOnlySpan<ExitRecord> records, Span<ExitRecord> slots, ushort source, long timestamp, bool stream = false)
    {
        if (slots.Length < records.Length)
        {
            throw new ArgumentException("The slots are fewer than the records.", nameof(slots));
        }

        if (Vector256.IsHardwareAccelerated && BitConverter.IsLittleEndian)
        {
            Vector256<ulong> keep = Vector256.Create(ulong.MaxValue, ulong.MaxValue, ulong.MaxValue, ~(ulong)ushort.MaxValue); // all but the source
            Vector256<ulong> sourceBits = Vector256.Create(0, 0, 0, (ulong)source);
            Vector256<ulong> stamp = Vector256.Create(0, 0, (ulong)timestamp, 0);
            ref ulong from = ref Unsafe.As<ExitRecord, ulong>(ref MemoryMarshal.GetReference(records));
            if (stream && records.Length >= StreamFrom && Avx.IsSupported)
            {
                fixed (ExitRecord* first = slots)
                {
                    ulong* streamTo = (ulong*)first;
                    if (((nuint)streamTo & (nuint)(Vector256<byte>.Count - 1)) == 0)
                    {
                        for (nuint i = 0; i < (nuint)records.Length * 4; i += 4)
                        {
                            Avx.StoreAlignedNonTemporal(streamTo + i, AsPosted(Vector256.LoadUnsafe(ref from, i), keep, sourceBits, stamp)); // weakly ordered: TryPublishStreamed fences
                        }

                        return true;
                    }
                }
            }

            // The plain copy takes no pin: its loop is the one this method had before streaming.
            ref ulong to = ref Unsafe.As<ExitRecord, ulong>(ref MemoryMarshal.GetReference(slots));
            for (nuint i = 0; i < (nuint)records.Length * 4; i += 4)
            {
                AsPosted(Vector256.LoadUnsafe(ref from, i), keep, sourceBits, stamp).StoreUnsafe(ref to, i);
            }

            return false;
        }

        for (int i = 0; i < records.Length; i++)
        {
            ref readonly ExitRecord r = ref records[i];
            slots[i] = new ExitRecord(source, r.Register, r.Value, r.DestinationId, r.Tag, r.PostTimestamp != 0 ? r.PostTimestamp : timestamp);
        }

        return false;
    }

    /// <summary>One record as posted: its source replaced, and the timestamp where its <see cref="PostTimestamp"/> is 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<ulong> AsPosted(Vector256<ulong> record, Vector256<ulong> keep, Vector256<ulong> sourceBits, Vector256<ulong> stamp)
        => (record & keep) | sourceBits | (Vector256.Equals(record, Vector256<ulong>.Zero) & stamp);

    /// <summary>
    /// Records per copy from which <see cref="CopyAsPosted"/> may stream (32: a kilobyte, sixteen lines): a batched
    /// post. Shorter runs always stay in the cache and pay no fence: with 8 records a run, the two clock reads of a
    /// timed copy added about 6 ns a line, enough to pass for far near, and streamed runs of 8 posted 3x slower near
    /// (53 against 142-149 M IPIs/s, docs/performance-log.md, thirtieth session).
    /// </summary>
    internal const int StreamFrom = 32;
}
