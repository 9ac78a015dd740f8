using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace IpiEngine.Delivery;

/// <summary>
/// One <see cref="PostedInterruptDescriptor"/> per vCPU in 64-byte-aligned native memory (one line each, so that
/// vCPUs never share a line), updated only with atomic operations: the deliver stage ORs pending bits in, and the
/// destination vCPU takes them out with exchanges.
/// </summary>
/// <remarks>
/// Ordering between the two sides (as VT-x does it): the deliverer ORs the PIR words, then ORs the control word with
/// the outstanding-notification bit and notifies only if that bit was clear. The taker exchanges the control word
/// first (clearing the bit), then the PIR words. So if a deliverer found the bit already set, that set precedes the
/// taker's control exchange, which precedes its PIR exchanges, and the taker sees the deliverer's bits; if it found the
/// bit clear, it notifies. No pending interrupt is left without a notification.
/// </remarks>
public sealed unsafe class DescriptorTable : IDisposable
{
    private const int WordsPerDescriptor = 8; // 64 bytes
    private const int ControlWord = 4;
    private ulong* _words;

    /// <summary>Allocates zeroed descriptors for <paramref name="vcpuCount"/> vCPUs.</summary>
    public DescriptorTable(int vcpuCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(vcpuCount);
        VcpuCount = vcpuCount;
        nuint bytes = (nuint)vcpuCount * (nuint)sizeof(PostedInterruptDescriptor);
        _words = (ulong*)NativeMemory.AlignedAlloc(bytes, 64);
        NativeMemory.Clear(_words, bytes);
    }

    /// <summary>How many descriptors.</summary>
    public int VcpuCount { get; }

    /// <summary>The descriptor's address (for embedders that read it directly; valid until disposal).</summary>
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
    /// Deliverer: posts a SIPI with its vector unless one is already pending (then the pending one stays, like a second
    /// SIPI to an AP that is no longer waiting for one). Returns false when it coalesced.
    /// </summary>
    internal bool PostSipi(int vcpu, byte vector)
    {
        ref ulong control = ref Words(vcpu)[ControlWord];
        ulong current = Volatile.Read(ref control);
        while ((current & PostedInterruptDescriptor.SipiPending) == 0)
        {
            ulong next = current | PostedInterruptDescriptor.SipiPending | ((ulong)vector << PostedInterruptDescriptor.SipiVectorShift);
            ulong seen = Interlocked.CompareExchange(ref control, next, current); // full fence
            if (seen == current)
            {
                return true;
            }

            current = seen;
        }

        return false;
    }

    /// <summary>Frees the memory. Only after every thread that delivers or takes has stopped.</summary>
    public void Dispose()
    {
        ulong* words = _words;
        _words = null;
        if (words != null)
        {
            NativeMemory.AlignedFree(words);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong* Words(int vcpu) => _words + ((nint)vcpu * WordsPerDescriptor);

    private void CheckVcpu(int vcpu)
    {
        ObjectDisposedException.ThrowIf(_words == null, this);
        if ((uint)vcpu >= (uint)VcpuCount)
        {
            ThrowBadVcpu(vcpu);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ThrowBadVcpu(int vcpu)
        => throw new ArgumentOutOfRangeException(nameof(vcpu), vcpu, $"There are {VcpuCount} vCPUs (0 to {VcpuCount - 1}).");
}
