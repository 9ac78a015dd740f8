using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace IpiEngine.Native;

/// <summary>One static NUL-terminated UTF-8 sentence per status code, for <c>ipi_strerror</c>.</summary>
internal static unsafe class StatusMessages
{
    /// <summary>
    /// The message for <paramref name="status"/>. The bytes are UTF-8 literals in the image's read-only data: they
    /// never move and never need freeing, so handing out a raw pointer is safe.
    /// </summary>
    public static byte* For(int status) => Pointer(status switch
    {
        Status.Ok => "success\0"u8,
        Status.NullPointer => "a required pointer argument is NULL\0"u8,
        Status.StructSize => "struct_size is 0 or smaller than the first layout of this struct\0"u8,
        Status.BadConfig => "a configuration value is out of range (vCPU count, topology, ring capacity, mode or strategy)\0"u8,
        Status.BadHandle => "the engine handle is null, unknown or already destroyed\0"u8,
        Status.VcpuRange => "the vCPU index is not below the engine's vCPU count\0"u8,
        Status.BadRegister => "the register is not an APIC topology register\0"u8,
        Status.Stopped => "the engine was stopped and accepts no more records\0"u8,
        Status.State => "the call does not fit the engine's state (for example, started twice)\0"u8,
        Status.WouldBlock => "the source vCPU's ring is full; nothing was posted\0"u8,
        Status.Limit => "too many engines are alive at once\0"u8,
        Status.NoMemory => "the engine's memory could not be allocated\0"u8,
        Status.Internal => "an unexpected failure inside the library (a bug: please report it)\0"u8,
        Status.Faulted => "the engine's pipeline failed and accepts no more records (ipi_last_error says why)\0"u8,
        Status.Network => "the node could not listen on its address (ipi_last_error says why)\0"u8,
        Status.NotReplicated => "the topology write was not confirmed by every node of the VM in time\0"u8,
        _ => "unknown status code\0"u8,
    });

    private static byte* Pointer(ReadOnlySpan<byte> literal)
        => (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(literal));
}
