using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using IpiEngine.Rings;

namespace IpiEngine.Delivery;

/// <summary>
/// One <see cref="PostedInterruptDescriptor"/> per vCPU: 64 bytes on a <see cref="CacheLine.Size"/> boundary, one
/// every <see cref="CacheLine.PaddedSize"/> bytes (the project's padding rule: each descriptor is written by its own
/// vCPU's thread, so two vCPUs never share a line, nor a pair of lines that the adjacent-line prefetcher pulls
/// together), updated only with atomic operations: the deliver stage ORs pending bits in, and the destination vCPU
/// takes them out with exchanges. The memory is a pinned managed array aligned by hand: its addresses are stable for
/// native embedders, and a call that races with <see cref="Dispose"/> still touches live memory (never a crash).
/// </summary>
/// <remarks>
/// <para>
/// Ordering between the two sides (as VT-x does it, SDM Vol. 3C "Posted-Interrupt Processing"; KVM
/// <c>vmx_deliver_posted_interrupt</c> / <c>__kvm_apic_update_irr</c>): the deliverer ORs the PIR words and the events
/// word, then sets ON in the control word and notifies only if ON was clear (and SN clear, below). The taker clears
/// ON first (an atomic AND), then exchanges the events word and the PIR words with zero. All of these are locked
/// (full-fence) operations, and the deliverer's read of ON comes after its ORs. So if a deliverer found ON already
/// set, its read precedes the taker's clear, which precedes the taker's exchanges, and the taker sees the
/// deliverer's bits; if it found ON clear, it set it and notifies. No pending interrupt is left without a
/// notification. An INIT and the SIPI after it go into the events word in one atomic step, so one take sees both or
/// neither.
/// </para>
/// <para>
/// A deliverer whose bits are all pending already skips the OR (test and test-and-set): an OR that changes nothing is
/// indistinguishable from its read, so the read is where that delivery takes effect. The bits it saw stay in the PIR
/// until a take exchanges them, and that take comes after the read, so the vCPU gets them; their notification is the
/// one their first deliverer raised (or ON was set), as above. Under saturating traffic almost every delivery coalesces
/// (a vCPU takes far less often than IPIs arrive), and the skipped locked instruction was the deliver stage's largest
/// cost: it waits for the pass's earlier stores to drain, and for the line's ownership when the vCPU took last.
/// </para>
/// <para>
/// SN, suppress notification (VT-d "Interrupt Posting": with SN set, a non-urgent interrupt sets its PIR bit but
/// neither ON nor a notification). A vCPU that runs and polls its descriptor sets SN with
/// <see cref="SetSuppressNotify"/>; deliveries then set PIR and events bits only. When it clears SN, the same call
/// re-reads the descriptor and, if anything is pending, sets ON and returns true: the caller takes before it waits,
/// since no notification will come for what arrived while SN was set (KVM's <c>vmx_vcpu_pi_load</c> long did the
/// same after clearing SN: set ON when the PIR is not empty; newer kernels request a PIR sync instead). The race is a Dekker pair of locked
/// operations: the deliverer ORs the PIR then reads SN; the vCPU clears SN then reads the PIR; at least one of them
/// sees the other's write, so either the deliverer notifies or the call returns true (or both).
/// </para>
/// </remarks>
internal sealed unsafe class DescriptorTable : IDisposable
{
    private const int WordsPerDescriptor = CacheLine.PaddedSize / sizeof(ulong); // the stride: 64 bytes used, the rest padding
    private const int ControlWord = PostedInterruptDescriptor.ControlOffset / sizeof(ulong);
    private const int EventsWord = PostedInterruptDescriptor.EventsOffset / sizeof(ulong);
    private readonly ulong[] _storage; // pinned; descriptor 0 starts at _words, on a 64-byte boundary
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
    /// <remarks>
    /// Inlined into its callers: a vCPU makes this check before every entry, and its cost is the descriptor's one line.
    /// It reads the words, not ON alone (as KVM's PIR sync does): ON is cleared at the start of a take, before the words
    /// are emptied, so a check that read ON alone would report nothing pending while a take in progress still holds bits,
    /// and a caller that waits for "nothing pending" before its next delivery (as one per take) would see them merge.
    /// </remarks>
    [MethodImpl(HotPath.Inlined)]
    public bool HasPending(int vcpu)
    {
        CheckVcpu(vcpu);
        ulong* d = Words(vcpu);
        return ((Volatile.Read(ref d[ControlWord]) & PostedInterruptDescriptor.OutstandingNotification) | AnyPending(d)) != 0;
    }

    /// <summary>
    /// Sets or clears the vCPU's SN bit (see the class remarks). While set, deliveries set PIR and events bits but no
    /// ON and call no notifier: the vCPU runs and takes by itself. Clearing it returns true when something is pending
    /// (ON is then set): take it before waiting for a notification, since none will come for it. Setting it returns
    /// whether something is pending. Any thread, typically the vCPU's own.
    /// </summary>
    public bool SetSuppressNotify(int vcpu, bool suppress)
    {
        CheckVcpu(vcpu);
        ulong* d = Words(vcpu);
        if (suppress)
        {
            Interlocked.Or(ref d[ControlWord], PostedInterruptDescriptor.SuppressNotification); // full fence
            return AnyPending(d) != 0;
        }

        Interlocked.And(ref d[ControlWord], ~PostedInterruptDescriptor.SuppressNotification); // full fence: the reads below come after (Dekker with the deliverer)
        if (AnyPending(d) == 0)
        {
            return false;
        }

        Interlocked.Or(ref d[ControlWord], PostedInterruptDescriptor.OutstandingNotification); // full fence; the caller takes, so later deliverers need not notify
        return true;
    }

    /// <summary>
    /// Takes everything pending for the vCPU in one call: clears ON (keeping SN, NV and NDST), then exchanges the
    /// events word and each PIR word with zero. Any thread, typically the vCPU's own before it enters the guest.
    /// </summary>
    [MethodImpl(HotPath.Optimized)]
    public PendingInterrupts Take(int vcpu)
    {
        CheckVcpu(vcpu);
        ulong* d = Words(vcpu);
        Interlocked.And(ref d[ControlWord], ~PostedInterruptDescriptor.OutstandingNotification); // first, full fence: see the class remarks
        ulong events = Volatile.Read(ref d[EventsWord]) == 0 ? 0 : Interlocked.Exchange(ref d[EventsWord], 0);
        ulong v0 = Volatile.Read(ref d[0]) == 0 ? 0 : Interlocked.Exchange(ref d[0], 0);
        ulong v1 = Volatile.Read(ref d[1]) == 0 ? 0 : Interlocked.Exchange(ref d[1], 0);
        ulong v2 = Volatile.Read(ref d[2]) == 0 ? 0 : Interlocked.Exchange(ref d[2], 0);
        ulong v3 = Volatile.Read(ref d[3]) == 0 ? 0 : Interlocked.Exchange(ref d[3], 0);
        return new PendingInterrupts(v0, v1, v2, v3, events);
    }

    /// <summary>Deliverer: ORs vector bits into PIR word <paramref name="word"/>; returns the bits that were set before.</summary>
    [MethodImpl(HotPath.Inlined)]
    internal ulong OrVectors(int vcpu, int word, ulong bits)
    {
        ref ulong pir = ref Words(vcpu)[word];
        ulong before = Volatile.Read(ref pir); // acquire; a plain load on x86: a line the vCPU does not write stays shared
        return (before & bits) == bits
            ? before // every bit already pending: the OR would change nothing, so this read is its linearization (remarks)
            : Interlocked.Or(ref pir, bits); // full fence
    }

    /// <summary>
    /// Deliverer, after its PIR and events ORs: sets ON unless ON or SN is set; returns true when it set ON (the caller
    /// then notifies). See the class remarks for why a plain read that finds ON or SN set may skip the write.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool RaiseNotification(int vcpu)
    {
        const ulong quiet = PostedInterruptDescriptor.OutstandingNotification | PostedInterruptDescriptor.SuppressNotification;
        ref ulong control = ref Words(vcpu)[ControlWord];
        ulong current = Volatile.Read(ref control); // after the deliverer's locked ORs: ordered after them
        while ((current & quiet) == 0)
        {
            ulong seen = Interlocked.CompareExchange(ref control, current | PostedInterruptDescriptor.OutstandingNotification, current); // full fence
            if (seen == current)
            {
                return true;
            }

            current = seen; // NV/NDST/SN changed meanwhile: decide again
        }

        return false;
    }

    /// <summary>
    /// Deliverer: posts a SIPI with its vector. A SIPI already pending is replaced and counts as coalesced (one pending
    /// start-up at a time, the latest vector wins, as KVM's <c>__apic_accept_irq</c> stores <c>sipi_vector</c> and sets one
    /// pending bit). Returns false when it coalesced.
    /// </summary>
    internal bool PostSipi(int vcpu, byte vector)
        => (PostEvents(vcpu, PostedInterruptDescriptor.SipiPending | ((ulong)vector << PostedInterruptDescriptor.SipiVectorShift))
            & PostedInterruptDescriptor.SipiPending) == 0;

    /// <summary>
    /// Deliverer: sets events bits in one atomic step (flags and, when <paramref name="bits"/> has
    /// <see cref="PostedInterruptDescriptor.SipiPending"/>, the SIPI vector in bits 15:8, replacing a pending one: the
    /// latest wins). Returns the events word before. One step, so a taker's exchange sees all of them or none (an INIT
    /// and its SIPI are never split).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ulong PostEvents(int vcpu, ulong bits)
    {
        ref ulong events = ref Words(vcpu)[EventsWord];
        if ((bits & PostedInterruptDescriptor.SipiPending) == 0)
        {
            return Interlocked.Or(ref events, bits); // no vector to replace: one OR, full fence
        }

        return PostEventsWithSipi(ref events, bits);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static ulong PostEventsWithSipi(ref ulong events, ulong bits)
    {
        const ulong vectorMask = 0xFFUL << PostedInterruptDescriptor.SipiVectorShift;
        ulong current = Volatile.Read(ref events);
        while (true)
        {
            ulong next = (current & ~vectorMask) | bits;
            ulong seen = Interlocked.CompareExchange(ref events, next, current); // full fence, like the OR it replaces
            if (seen == current)
            {
                return current;
            }

            current = seen;
        }
    }

    /// <summary>The PIR and events words ORed (volatile reads).</summary>
    [MethodImpl(HotPath.Inlined)]
    private static ulong AnyPending(ulong* d)
        => Volatile.Read(ref d[EventsWord]) | Volatile.Read(ref d[0]) | Volatile.Read(ref d[1])
           | Volatile.Read(ref d[2]) | Volatile.Read(ref d[3]);

    /// <summary>Refuses further public calls (the memory itself lives as long as the table is referenced).</summary>
    public void Dispose() => _disposed = true;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong* Words(int vcpu) => _words + ((nint)vcpu * WordsPerDescriptor);

    [MethodImpl(HotPath.Inlined)]
    private void CheckVcpu(int vcpu)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if ((uint)vcpu >= (uint)VcpuCount)
        {
            ThrowBadVcpu(vcpu);
        }
    }

    [DoesNotReturn] // no NoInlining: the JIT sees the throw when it tries to inline, and treats the call's block as cold
    private void ThrowBadVcpu(int vcpu)
        => throw new ArgumentOutOfRangeException(nameof(vcpu), vcpu, $"There are {VcpuCount} vCPUs (0 to {VcpuCount - 1}).");
}
