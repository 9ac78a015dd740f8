using IpiEngine.Transport;

namespace IpiEngine.Native;

/// <summary>
/// The host's injector (<c>ipi_inject_fn</c> or <c>ipi_inject_x2apic_fn</c>), called with each frame's forwarded IPIs on
/// the link's receive thread. The <c>KVM_DSM_IPI</c> form is <see cref="IcrInjection"/> itself, passed without a copy;
/// the x2APIC form is converted into a buffer of the calling thread (grown once, never per frame).
/// </summary>
internal sealed unsafe class NativeInjector : IcrInjector
{
    [ThreadStatic] private static NativeX2ApicInjection[]? t_x2Apic;
    private readonly delegate* unmanaged<nint, IcrInjection*, uint, void> _inject;
    private readonly delegate* unmanaged<nint, NativeX2ApicInjection*, uint, void> _injectX2Apic;
    private readonly nint _context;

    public NativeInjector(delegate* unmanaged<nint, IcrInjection*, uint, void> inject,
        delegate* unmanaged<nint, NativeX2ApicInjection*, uint, void> injectX2Apic, nint context, bool x2ApicRecords)
    {
        _inject = inject;
        _injectX2Apic = injectX2Apic;
        _context = context;
        X2ApicRecords = x2ApicRecords || inject is null; // the 64-bit ICR always carries the 32-bit destination
    }

    /// <summary>Whether the records are built with the x2APIC ICR high (the 32-bit destination), for <see cref="InjectorSink"/>.</summary>
    public bool X2ApicRecords { get; }

    public override void Inject(ReadOnlySpan<IcrInjection> injections)
    {
        if (_inject is not null)
        {
            fixed (IcrInjection* records = injections)
                _inject(_context, records, (uint)injections.Length);
            return;
        }
        NativeX2ApicInjection[] buffer = t_x2Apic is { } mine && mine.Length >= injections.Length
            ? mine
            : t_x2Apic = new NativeX2ApicInjection[Math.Max(injections.Length, FrameHeader.MaxRecordsPerFrame)];
        for (int i = 0; i < injections.Length; i++)
        {
            ref readonly IcrInjection r = ref injections[i];
            // Built by InjectorSink in x2APIC form: ICR high is the 32-bit destination (SDM Vol. 3A 11.12.9).
            buffer[i] = new NativeX2ApicInjection { TargetVcpu = r.TargetVcpu, Icr = ((ulong)r.IcrHigh << 32) | r.IcrLow };
        }
        fixed (NativeX2ApicInjection* records = buffer)
            _injectX2Apic(_context, records, (uint)injections.Length);
    }
}
