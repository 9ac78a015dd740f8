using System.Runtime.CompilerServices;
using IpiEngine.Rings;

namespace IpiEngine.Delivery;

/// <summary>
/// One <see cref="PostedInterruptDescriptor"/> per vCPU: 64 bytes on a <see cref="CacheLine.Size"/> boundary, one
/// every <see cref="CacheLine.PaddedSize"/> bytes (the project's padding rule: vCPUs never share a line, nor a pair of
/// lines that the adjacent-line prefetcher pulls together), updated only with atomic operations: the deliver stage ORs pending bits in, and the destination vCPU takes
/// them out with exchanges. The memory is a pinned managed array aligned by hand: its addresses are stable for native
/// embedders, and a call that races with <see cref="Dispose"/> still touches live memory (never a crash).
/// </summary>
/// <remarks>
/// Ordering between the two sides (as VT-x does it, SDM Vol. 3C "Posted-Interrupt Processing"; KVM
/// <c>vmx_deliver_posted_interrupt</c> / <c>__kvm_apic_update_irr</c>): the deliverer ORs the PIR words, then ORs the control word with
/// the outstanding-notification bit and notifies only if that bit was clear. The taker exchanges the control word
/// first (clearing the bit), then the PIR words. So if a deliverer found the bit already set, that set precedes the
/// taker's control exchange, which precedes its PIR exchanges, and the taker sees the deliverer's bits; if it found the
/// bit clear, it notifies. No pending interrupt is left without a notification.
/// </remarks>
internal sealed unsafe class DescriptorTable : IDisposable
{
    private const int WordsPerDescriptor = CacheLine.PaddedSize / sizeof(ulong); // the stride: 64 bytes used, the rest padding
    private const int ControlWord = 4;
    private readonly ulong[] _storage; // pinned; descriptor 0 starts at _first, on a 64-byte boundary
    private readonly ulong* _words;
    private volatile bool _disposed;

    /// <summary>Allocates zeroed descriptors for <paramref name="vcpuCount"/> vCPUs.</summary>
    public DescriptorTable(int vcpuCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(vcpuCount);
        VcpuCount = vcpuCount;
        _storage = GC.AllocateArray<ulong>((vcpuCount + 1) * WordsPerDescriptor, pinned: true);
        ulong* start = (ulong*)Unsafe.AsPointer(ref _storage[0]); // pinned: the address never changes
        nint misalignment = (nint)start & (CacheLine.Size - 1);
        _words = misalignment == 0 ? start : start + ((CacheLine.Size - misalignment) / sizeof(ulong));
    }

    /// <summary>How many descriptors.</summary>
    public int VcpuCount { get; }

    /// <summary>The descriptor's address (for embedders that read it directly; stable for the table's lifetime).</summary>
    public nint AddressOf(int vcpu)
    {
        CheckVcpu(vcpu);
        return (nint)Words(vcpu);
    }

    /// <summary>A snapshot of a descriptor (plain reads; for inspection and tests).</summary>
    public PostedInterruptDescriptor Read(int vcpu)
    {
        CheckVcpu(vcpu);
        return Unsafe.ReadUnaligned<PostedInterruptDescriptor>(Words(vcpu));
    }

    /// <summary>Whether the vCPU has anything pending or a notification outstanding.</summary>
    public bool HasPending(int vcpu)
    {
        CheckVcpu(vcpu);
        ulong* d = Words(vcpu);
        return (Volatile.Read(ref d[ControlWord]) | Volatile.Read(ref d[0]) | Volatile.Read(ref d[1])
                | Volatile.Read(ref d[2]) | Volatile.Read(ref d[3])) != 0;
    }

    /// <summary>
    /// Takes everything pending for the vCPU in one call: exchanges the control word (clearing the outstanding
    /// notification) and then each PIR word with zero. Any thread, typically the vCPU's own before it enters the guest.
    /// </summary>
    public PendingInterrupts Take(int vcpu)
    {
        CheckVcpu(vcpu);
        ulong* d = Words(vcpu);
        ulong control = Interlocked.Exchange(ref d[ControlWord], 0); // first: see the class remarks
        ulong v0 = Volatile.Read(ref d[0]) == 0 ? 0 : Interlocked.Exchange(ref d[0], 0);
        ulong v1 = Volatile.Read(ref d[1]) == 0 ? 0 : Interlocked.Exchange(ref d[1], 0);
        ulong v2 = Volatile.Read(ref d[2]) == 0 ? 0 : Interlocked.Exchange(ref d[2], 0);
        ulong v3 = Volatile.Read(ref d[3]) == 0 ? 0 : Interlocked.Exchange(ref d[3], 0);
        return new PendingInterrupts(v0, v1, v2, v3, control);
    }

    /// <summary>Deliverer: ORs vector bits into PIR word <paramref name="word"/>; returns the bits that were set before.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ulong OrVectors(int vcpu, int word, ulong bits) => Interlocked.Or(ref Words(vcpu)[word], bits); // full fence

    /// <summary>Deliverer: ORs control bits in; returns the control word before.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ulong OrControl(int vcpu, ulong bits) => Interlocked.Or(ref Words(vcpu)[ControlWord], bits); // full fence

    /// <summary>
    /// Deliverer: posts a SIPI with its vector. A SIPI already pending is replaced and counts as coalesced (one pending
    /// start-up at a time, the latest vector wins, as KVM's <c>__apic_accept_irq</c> stores <c>sipi_vector</c> and sets one
    /// pending bit). Returns false when it coalesced.
    /// </summary>
    internal bool PostSipi(int vcpu, byte vector)
        => (PostControl(vcpu, PostedInterruptDescriptor.SipiPending | ((ulong)vector << PostedInterruptDescriptor.SipiVectorShift))
            & PostedInterruptDescriptor.SipiPending) == 0;

    /// <summary>
    /// Deliverer: sets control bits in one atomic step (flags, the outstanding-notification bit, and, when
    /// <paramref name="bits"/> has <see cref="PostedInterruptDescriptor.SipiPending"/>, the SIPI vector in bits 15:8,
    /// replacing a pending one: the latest wins). Returns the control word before. One step, so a taker's exchange
    /// sees all of them or none (an INIT and its SIPI are never split).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ulong PostControl(int vcpu, ulong bits)
    {
        if ((bits & PostedInterruptDescriptor.SipiPending) == 0)
        {
            return OrControl(vcpu, bits); // no vector to replace: one OR
        }

        return PostControlWithSipi(ref Words(vcpu)[ControlWord], bits);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static ulong PostControlWithSipi(ref ulong control, ulong bits)
    {
        const ulong vectorMask = 0xFFUL << PostedInterruptDescriptor.SipiVectorShift;
        ulong current = Volatile.Read(ref control);
        while (true)
        {
            ulong next = (current & ~vectorMask) | bits;
            ulong seen = Interlocked.CompareExchange(ref control, next, current); // full fence, like the OR it replaces
            if (seen == current)
            {
                return current;
            }

            current = seen;
        }
    }

    /// <summary>Refuses further public calls (the memory itself lives as long as the table is referenced).</summary>
    public void Dispose() => _disposed = true;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong* Words(int vcpu) => _words + ((nint)vcpu * WordsPerDescriptor);

    private void CheckVcpu(int vcpu)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if ((uint)vcpu >= (uint)VcpuCount)
        {
            ThrowBadVcpu(vcpu);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ThrowBadVcpu(int vcpu)
        => throw new ArgumentOutOfRangeException(nameof(vcpu), vcpu, $"There are {VcpuCount} vCPUs (0 to {VcpuCount - 1}).");
}
