using System.Numerics;
using IpiEngine.Delivery;
using System.Runtime.CompilerServices;

namespace IpiEngine.Apic;

/// <summary>
/// Turns exit records into IPIs: keeps the per-source ICR2 latch, decodes and validates firing writes, resolves them
/// through the current <see cref="DestinationMap"/>, and applies topology writes by publishing a new map.
/// </summary>
/// <remarks>
/// <see cref="Process"/> is the hot path and must be called from one thread at a time; it reads only the latch table and
/// the map it loads once per call, so <see cref="ApplyTopologyWrite"/> may run concurrently on any thread.
/// Decisions the spec leaves open follow QEMU 10.0's userspace APIC (<c>hw/intc/apic.c</c>), the model the reference
/// traces come from:
/// an ICR low write (0x300, MMIO) fires in any mode (<c>apic_mem_write</c> checks neither the global enable nor the
/// mode): from a globally disabled APIC with the latched ICR high; in x2APIC mode as an x2APIC ICR whose destination is
/// the 32-bit write's bits 63:32, i.e. 0, which also clears the latch (<c>apic_register_write</c>, case 0x30);
/// an x2APIC ICR write (0x830) also leaves its destination in the latch (QEMU keeps one ICR high for both modes);
/// an ICR high (0x310) in x2APIC mode, or an x2APIC ICR/SELF IPI MSR in xAPIC mode, is refused
/// (<see cref="RejectReason.WrongApicMode"/>: QEMU ignores the first and faults the MSRs);
/// a delivered INIT changes no routing state and no latch, unlike QEMU (<c>do_cpu_init</c> → <c>apic_init_reset</c>: LDR 0,
/// DFR flat, SVR 0xFF, ICR 0, done later on the target's own thread): the spec's <c>switch-to-x2apic</c> vector needs SVR
/// to survive; a firing write must change nothing but its own source's latch, since the concurrent engine orders vCPUs
/// only at topology rows; and Linux and SeaBIOS rewrite LDR, DFR, SVR (and ICR high before any IPI without a shorthand)
/// after INIT before they matter;
/// lowest priority picks the accepting candidate at index <c>vector mod count</c> in ascending vCPU order (the spec's
/// rule; QEMU picks the lowest APIC ID).
/// </remarks>
internal sealed class IcrResolver
{
    private readonly ApicTopology _topology;
    private readonly uint[] _latchedHigh; // per vCPU: ICR high as QEMU keeps it (0x310, x2APIC ICR); only Process touches it
    private readonly ulong[] _pvHigh; // per vCPU: a KVM_HC_SEND_IPI's a1, latched by its PvSendIpiHigh record; only Process
    private readonly uint[] _pvIcr; // per vCPU: that call's a3 (ICR low bits); only Process
    private readonly int _deviceSources;
    private readonly IoApic _ioApic = new(); // only Process touches it
    private readonly int _eoiTarget; // -1: EOIs go to _ioApic; else the first vCPU of the IOAPIC's node, EOIs are forwarded
    private uint _pinsLeft; // pins the last IOAPIC record delivered past its first, for NextIoApicPin; only Process and it
    private DestinationMap? _pinsLeftMap; // the map that record was resolved against
    private readonly Lock _topologyGate = new();
    private DestinationMap _map;

    /// <summary>
    /// Takes ownership of <paramref name="topology"/> (do not change it afterwards) and builds the first map. Sources
    /// <c>VcpuCount .. VcpuCount + deviceSources - 1</c> are devices (they post MSIs; docs/apic.md "Device interrupts").
    /// </summary>
    /// <param name="topology">The APICs.</param>
    /// <param name="deviceSources">How many device sources follow the vCPUs.</param>
    /// <param name="eoiTarget">-1: the IOAPIC is here; else a vCPU on the IOAPIC's node, to which EOIs are forwarded.</param>
    public IcrResolver(ApicTopology topology, int deviceSources = 0, int eoiTarget = -1)
    {
        ArgumentNullException.ThrowIfNull(topology);
        ArgumentOutOfRangeException.ThrowIfNegative(deviceSources);
        _topology = topology;
        _latchedHigh = new uint[topology.VcpuCount];
        _pvHigh = new ulong[topology.VcpuCount];
        _pvIcr = new uint[topology.VcpuCount];
        _deviceSources = deviceSources;
        _eoiTarget = eoiTarget;
        _map = topology.BuildMap();
    }

    /// <summary>The current snapshot.</summary>
    public DestinationMap Map => Volatile.Read(ref _map); // acquire: pairs with the release in ApplyTopologyWrite

    /// <summary>The number of vCPUs.</summary>
    public int VcpuCount => _latchedHigh.Length;

    /// <summary>
    /// The source index the IOAPIC's deliveries carry (<c>VcpuCount + deviceSources</c>, past every ring): whichever record
    /// made a pin fire (a device's line, a vCPU's entry write or EOI, maybe from another node), the IOAPIC sends it.
    /// </summary>
    public int IoApicSource => _latchedHigh.Length + _deviceSources;

    /// <summary>The IOAPIC this resolver keeps (owned by the thread that calls <see cref="Process"/>).</summary>
    internal IoApic IoApic => _ioApic;

    /// <summary>
    /// What <see cref="Process"/> keeps for one source vCPU between its records (its ICR high latch and its
    /// <c>KVM_HC_SEND_IPI</c> latches): with the topology and the IOAPIC unchanged, two records of the source resolve the
    /// same when this state is the same. For tools that replay a looping script (the expectation of <c>ipi run --nodes</c>).
    /// </summary>
    internal (uint IcrHigh, ulong PvHigh, uint PvIcr) SourceLatches(int vcpu) => (_latchedHigh[vcpu], _pvHigh[vcpu], _pvIcr[vcpu]);

    /// <summary>
    /// Whether <see cref="Process"/> of a vCPU's write to <paramref name="register"/> reads and writes only that vCPU's
    /// <see cref="SourceLatches"/> (not the topology, nor the IOAPIC).
    /// </summary>
    internal static bool TouchesOnlySourceLatches(ushort register) => register is ApicRegister.IcrHigh or ApicRegister.IcrLow
        or ApicRegister.X2Icr or ApicRegister.X2SelfIpi or ApicRegister.PvSendIpiHigh or ApicRegister.PvSendIpi;

    /// <summary>
    /// Processes one record: an ICR high write latches; a firing write is decoded, validated and resolved into
    /// <paramref name="destinations"/> (cleared first; only APICs that accept the delivery mode; lowest priority: one or
    /// none); a topology write goes to <see cref="ApplyTopologyWrite"/>. Never throws on bad input, never allocates for IPIs.
    /// </summary>
    public ExitOutcome Process(in ExitRecord record, DestinationSet destinations)
    {
        ArgumentNullException.ThrowIfNull(destinations);
        DestinationMap map = Volatile.Read(ref _map); // acquire: a published map is fully built; read once per call
        if (destinations.Capacity < map.VcpuCount)
        {
            DestinationMap.ThrowTooSmall(destinations, map.VcpuCount);
        }

        destinations.Clear();
        int source = record.SourceVcpu;
        if ((uint)source >= (uint)map.VcpuCount)
        {
            return ProcessDeviceSource(record, map, destinations);
        }

        IcrCommand command;
        switch (record.Register)
        {
            case ApicRegister.IcrHigh:
                if (map.IsX2Apic(source))
                {
                    return Reject(RejectReason.WrongApicMode, default, false);
                }

                _latchedHigh[source] = (uint)record.Value;
                return new ExitOutcome(ExitKind.Latched, RejectReason.None, default, false);
            case ApicRegister.IcrLow:
                if (map.IsX2Apic(source))
                {
                    command = X2ApicModeIcrLow(source, (uint)record.Value);
                    break;
                }

                command = IcrCommand.FromXApic((uint)record.Value, _latchedHigh[source]);
                break;
            case ApicRegister.X2Icr:
                command = IcrCommand.FromX2Apic(record.Value);
                if (!map.IsX2Apic(source))
                {
                    return Reject(RejectReason.WrongApicMode, command, true);
                }

                if (((uint)record.Value & IcrCommand.X2ApicReservedLowBits) != 0)
                {
                    return Reject(RejectReason.ReservedBitsSet, command, true); // the WRMSR faults: no send, no latch
                }

                _latchedHigh[source] = command.Destination; // QEMU: the x2APIC ICR write sets ICR high too
                break;
            case ApicRegister.X2SelfIpi:
                command = IcrCommand.SelfIpi((byte)record.Value);
                if (!map.IsX2Apic(source))
                {
                    return Reject(RejectReason.WrongApicMode, command, true);
                }

                if (record.Value > byte.MaxValue)
                {
                    return Reject(RejectReason.ReservedBitsSet, command, true); // bits 31:8 (and the MSR's upper half) are reserved: the WRMSR faults
                }

                break;
            default:
                return ProcessOtherRegister(record, map, destinations);
        }

        RejectReason reason = Validate(command);
        if (reason != RejectReason.None)
        {
            return Reject(reason, command, true);
        }

        map.ResolveInto(source, command, destinations);
        return new ExitOutcome(ExitKind.Fired, RejectReason.None, command, true);
    }

    /// <summary>
    /// The fast lane for the dominant IPI: an x2APIC ICR write (x2APIC sender) or an ICR low write (xAPIC sender) of a
    /// Fixed or lowest-priority IPI with a legal vector and no shorthand, whose destination (physical, or logical naming
    /// one APIC, as Linux sends unicasts in its logical modes) is exactly one APIC that accepts it. Returns that vCPU and
    /// the command's destination field, with the same latch effect as <see cref="Process"/>; returns -1 and changes
    /// nothing for every other record, which then goes through Process. For the records it takes, the result equals
    /// Process's (one destination; a lowest-priority IPI with one candidate keeps it). Same threading rule as Process.
    /// </summary>
    [MethodImpl(HotPath.Inlined)]
    internal int TryResolveUnicast(in ExitRecord record, out uint destination)
        => TryResolveUnicast(Map, record, out destination);

    /// <summary>
    /// <see cref="TryResolveUnicast(in ExitRecord, out uint)"/> against a map the caller read (<see cref="Map"/>) for a
    /// run of records: read after the run's records were published (after its ring's tail), it holds every topology
    /// write made before any of them was posted, which is all a per-record read promised.
    /// </summary>
    [MethodImpl(HotPath.Inlined)]
    internal int TryResolveUnicast(DestinationMap map, in ExitRecord record, out uint destination)
    {
        uint low = (uint)record.Value;
        int source = record.SourceVcpu;
        destination = 0;
        if ((low & NotFastLane) != 0 || (byte)low < 16 || (uint)source >= (uint)map.VcpuCount)
        {
            return -1;
        }

        bool logical = (low & (1u << 11)) != 0;
        bool x2Apic = map.IsX2Apic(source);
        if (record.Register == ApicRegister.X2Icr && x2Apic)
        {
            destination = (uint)(record.Value >> 32);
            int target = X2ApicUnicastTarget(map, record.Value); // the stretch's answer too (ResolveStage): one rule for both
            if (target >= 0)
            {
                LatchX2ApicDestination(source, destination);
            }

            return target;
        }

        if (record.Register == ApicRegister.IcrLow && !x2Apic)
        {
            destination = _latchedHigh[source] >> 24;
            return map.VectoredUnicastTarget(false, logical, destination);
        }

        return -1;
    }

    /// <summary>
    /// Delivery mode 000/001 (bits 10:9 clear), no shorthand (bits 19:18 clear) and no reserved bit (31:20, which the fast
    /// lane would forward as written, <see cref="IcrCommand.ReservedLowBits"/>; 17:16 and 13, which an x2APIC write may not
    /// set, <see cref="IcrCommand.X2ApicReservedLowBits"/>): the fast lane's ICR low. One constant for both modes: an xAPIC
    /// write with bits 17:16 or 13 takes the full path, which ignores them.
    /// </summary>
    private const uint NotFastLane = (3u << 9) | (3u << 18) | IcrCommand.X2ApicReservedLowBits;

    /// <summary>
    /// The fast lane for an x2APIC ICR write (<see cref="ApicRegister.X2Icr"/>) whose sender the caller found in x2APIC
    /// mode in <paramref name="map"/>: the vCPU it reaches, or -1, as <see cref="TryResolveUnicast(DestinationMap, in ExitRecord, out uint)"/>
    /// answers for it, but without its latch effect, which the caller makes with <see cref="LatchX2ApicDestination"/>
    /// before the next full resolution of the same sender (a stretch of one sender's writes latches only its last).
    /// </summary>
    [MethodImpl(HotPath.Inlined)]
    internal static int X2ApicUnicastTarget(DestinationMap map, ulong icr)
    {
        uint low = (uint)icr;
        return (low & NotFastLane) != 0 || (byte)low < 16
            ? -1
            : map.VectoredUnicastTarget(true, (low & (1u << 11)) != 0, (uint)(icr >> 32));
    }

    /// <summary>The latch effect of a fired x2APIC ICR write: it sets ICR high too (QEMU; as <see cref="Process"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void LatchX2ApicDestination(int source, uint destination) => _latchedHigh[source] = destination;

    /// <summary>The digest of the current topology (<see cref="ApicTopology.Digest"/>), taken under the writers' lock.</summary>
    public ulong TopologyDigest()
    {
        lock (_topologyGate)
        {
            return _topology.Digest();
        }
    }

    /// <summary>
    /// Applies a topology write to the model, builds a new map and publishes it with one reference swap. Any thread;
    /// writers are serialised; a concurrent <see cref="Process"/> finishes on the map it already loaded.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="vcpu"/> is not a vCPU index.</exception>
    public void ApplyTopologyWrite(int vcpu, ushort register, ulong value)
    {
        lock (_topologyGate)
        {
            if (_topology.Apply(vcpu, register, value))
            {
                DestinationMap next = _topology.BuildMap();
                Volatile.Write(ref _map, next); // release: the map's tables are visible before the reference
            }
        }
    }

    /// <summary>
    /// SDM checks on a decoded command, in this order: reserved delivery mode (011, 111), illegal vector (fixed or lowest
    /// priority below 16: "send illegal vector"), lowest priority with the self or all-including-self shorthand
    /// (SDM ICR table: not supported). A globally disabled sender is not refused: QEMU's MMIO handler still sends.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static RejectReason Validate(in IcrCommand command)
    {
        uint low = command.Low;
        uint mode = (low >> 8) & 7;
        if (mode <= (uint)DeliveryMode.LowestPriority)
        {
            // The common case (Fixed) costs two compares: the vector, then whether it is lowest priority.
            if ((byte)low < 16)
            {
                return RejectReason.IllegalVector;
            }

            return mode == (uint)DeliveryMode.LowestPriority
                   && command.Shorthand is DestinationShorthand.Self or DestinationShorthand.AllIncludingSelf
                ? RejectReason.InvalidShorthand
                : RejectReason.None;
        }

        return mode is (uint)DeliveryMode.Reserved3 or (uint)DeliveryMode.Reserved7
            ? RejectReason.ReservedDeliveryMode
            : RejectReason.None;
    }

    /// <summary>
    /// An ICR low MMIO write from an APIC in x2APIC mode, as QEMU's <c>apic_register_write</c> (case 0x30) takes it: an
    /// x2APIC ICR whose destination, bits 63:32 of a 32-bit write, is 0, and which overwrites ICR high with that 0.
    /// (The SDM disables the MMIO interface in x2APIC mode; no Linux or SeaBIOS code writes it there.)
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private IcrCommand X2ApicModeIcrLow(int source, uint low)
    {
        _latchedHigh[source] = 0;
        return IcrCommand.FromX2Apic(low);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private ExitOutcome ProcessOtherRegister(in ExitRecord record, DestinationMap map, DestinationSet destinations)
    {
        _pinsLeft = 0; // an IOAPIC record's pins are asked for before the next record, or not at all
        int source = record.SourceVcpu;
        switch (record.Register)
        {
            case ApicRegister.PvSendIpiHigh:
                _pvHigh[source] = record.Value;
                _pvIcr[source] = record.DestinationId;
                return new ExitOutcome(ExitKind.Latched, RejectReason.None, default, false);
            case ApicRegister.PvSendIpi:
                return ProcessPvSendIpi(record, map, destinations);
            case ApicRegister.Msi or ApicRegister.IoApicPin:
                return Reject(RejectReason.UnknownRegister, default, false); // a vCPU writes no MSI and drives no line: devices do
            case ApicRegister.IoApicEntry when _eoiTarget >= 0:
            {
                // The IOAPIC lives on another node: the write travels there, as an EOI does, so the VM has one table. A
                // pin past the table is refused here, as there: packed, its high bits would name another pin.
                if (record.DestinationId >= IoApic.PinCount)
                {
                    return IoApicOutcome(IoApic.Effect.Rejected, 0, RejectReason.UnknownPin, map, destinations);
                }

                destinations.Add(_eoiTarget);
                var (low, high) = RemoteDelivery.PackEntryWrite(record.DestinationId, record.Value);
                return new ExitOutcome(ExitKind.Fired, RejectReason.None, IcrCommand.FromDevice(low, high), true, InterruptInput.IoApic);
            }

            case ApicRegister.IoApicEntry:
            {
                IoApic.Effect effect = _ioApic.WriteEntry(record.DestinationId, record.Value, out uint pins, out RejectReason reason);
                return IoApicOutcome(effect, pins, reason, map, destinations);
            }

            case ApicRegister.Eoi or ApicRegister.X2Eoi when _eoiTarget >= 0:
                // The IOAPIC lives on another node: one delivery there carries the EOI (RemoteDelivery.IoApicEoiFlag).
                destinations.Add(_eoiTarget);
                return new ExitOutcome(ExitKind.Fired, RejectReason.None, IcrCommand.FromDevice(RemoteDelivery.IoApicEoiFlag | (byte)record.Value, 0),
                    true, InterruptInput.IoApic);
            case ApicRegister.Eoi or ApicRegister.X2Eoi:
            {
                IoApic.Effect effect = _ioApic.Eoi((byte)record.Value, out uint pins);
                return IoApicOutcome(effect, pins, RejectReason.None, map, destinations);
            }
        }

        if (!ApicTopology.IsTopologyRegister(record.Register))
        {
            return Reject(RejectReason.UnknownRegister, default, false);
        }

        ApplyTopologyWrite(source, record.Register, record.Value);
        return new ExitOutcome(ExitKind.TopologyWrite, RejectReason.None, default, false);
    }

    /// <summary>
    /// The firing half of a <c>KVM_HC_SEND_IPI</c> (a0, a2) with the upper half (a1, a3) its vCPU latched just before;
    /// the latch is cleared, so a firing half without its own upper half sends vector 0 and is rejected.
    /// </summary>
    private ExitOutcome ProcessPvSendIpi(in ExitRecord record, DestinationMap map, DestinationSet destinations)
    {
        int source = record.SourceVcpu;
        ulong high = _pvHigh[source];
        uint icr = _pvIcr[source] & ~IcrCommand.ReservedLowBits; // a3 is ICR low bits: the reserved ones do not travel either
        _pvHigh[source] = 0;
        _pvIcr[source] = 0;
        var command = IcrCommand.FromDevice(icr, record.DestinationId);
        RejectReason reason = PvSendIpi.Resolve(map, record.Value, high, record.DestinationId, icr, destinations);
        return reason == RejectReason.None
            ? new ExitOutcome(ExitKind.Fired, RejectReason.None, command, true, InterruptInput.PvIpi)
            : new ExitOutcome(ExitKind.Rejected, reason, command, true, InterruptInput.PvIpi);
    }

    /// <summary>
    /// A record from a source past the vCPUs: a device's MSI (resolved like an ICR write without shorthand, one destination
    /// when the redirection hint is set), or refused: an unknown source, or a register a device cannot write.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private ExitOutcome ProcessDeviceSource(in ExitRecord record, DestinationMap map, DestinationSet destinations)
    {
        _pinsLeft = 0; // as in ProcessOtherRegister
        if (record.SourceVcpu - map.VcpuCount >= _deviceSources)
        {
            return Reject(RejectReason.UnknownSource, default, IcrFamily(record.Register));
        }

        if (record.Register == ApicRegister.IoApicPin)
        {
            IoApic.Effect effect = _ioApic.SetLine(record.DestinationId, record.Value != 0, out uint pins, out RejectReason pinReason);
            return IoApicOutcome(effect, pins, pinReason, map, destinations);
        }

        if (record.Register != ApicRegister.Msi)
        {
            return Reject(RejectReason.UnknownRegister, default, false);
        }

        RejectReason reason = MsiMessage.Decode(record.Value, record.DestinationId, out IcrCommand command, out bool oneDestination);
        if (reason != RejectReason.None)
        {
            return new ExitOutcome(ExitKind.Rejected, reason, command, true, InterruptInput.Msi);
        }

        map.ResolveInto(record.SourceVcpu, command, destinations);
        if (oneDestination)
        {
            destinations.KeepOnly(command.Vector); // KVM kvm_lowest_prio_delivery: the hint alone asks for arbitration
        }

        return new ExitOutcome(ExitKind.Fired, RejectReason.None, command, true, InterruptInput.Msi);
    }

    /// <summary>
    /// After <see cref="Process"/> returned a fired IOAPIC outcome, and until this returns false: the next pin that record
    /// delivered (an EOI re-delivering several level pins of its vector), resolved into <paramref name="destinations"/>
    /// (cleared first) with that pin's own <paramref name="command"/>, as KVM's <c>__kvm_ioapic_update_eoi</c> services
    /// each pin with its own entry (<c>ioapic_service</c>). The pin's remote IRR was already set by Process; a caller that
    /// counts records only may skip this. Same threading rule as Process.
    /// </summary>
    internal bool NextIoApicPin(DestinationSet destinations, out IcrCommand command)
    {
        command = default;
        if (_pinsLeft == 0)
        {
            return false;
        }

        int pin = BitOperations.TrailingZeroCount(_pinsLeft);
        _pinsLeft &= _pinsLeft - 1;
        DecodePin(pin, out command); // valid: Process checked it, and no entry changed since (only Process writes them)
        destinations.Clear();
        _pinsLeftMap!.ResolveInto(0, command, destinations);
        return true;
    }

    /// <summary>
    /// Delivers the IOAPIC pins a record fired, each as the MSI its entry sends: the lowest pin's destinations and command
    /// now, every further pin's (an EOI re-delivering several pins with one vector) by <see cref="NextIoApicPin"/>, each
    /// with its own command (pins sharing a vector may differ in delivery mode and destination). A pin whose entry is
    /// invalid is refused with the MSI's reason and keeps no remote IRR; the record is rejected only when no pin was
    /// delivered.
    /// </summary>
    private ExitOutcome IoApicOutcome(IoApic.Effect effect, uint pins, RejectReason reason, DestinationMap map, DestinationSet destinations)
    {
        if (effect == IoApic.Effect.Rejected)
        {
            return new ExitOutcome(ExitKind.Rejected, reason, default, true, InterruptInput.IoApic);
        }

        if (effect == IoApic.Effect.StateOnly)
        {
            return new ExitOutcome(ExitKind.Latched, RejectReason.None, default, false, InterruptInput.IoApic);
        }

        RejectReason firstReason = RejectReason.None;
        uint delivered = 0;
        for (; pins != 0; pins &= pins - 1)
        {
            int pin = BitOperations.TrailingZeroCount(pins);
            RejectReason pinReason = DecodePin(pin, out _);
            if (pinReason != RejectReason.None)
            {
                firstReason = firstReason == RejectReason.None ? pinReason : firstReason;
                continue;
            }

            _ioApic.Delivered(pin);
            delivered |= 1u << pin;
        }

        if (delivered == 0)
        {
            return new ExitOutcome(ExitKind.Rejected, firstReason, default, true, InterruptInput.IoApic);
        }

        DecodePin(BitOperations.TrailingZeroCount(delivered), out IcrCommand command);
        map.ResolveInto(0, command, destinations);
        _pinsLeft = delivered & (delivered - 1);
        _pinsLeftMap = map;
        return new ExitOutcome(ExitKind.Fired, RejectReason.None, command, true, InterruptInput.IoApic);
    }

    /// <summary>The command of the MSI a pin's entry sends, and why it is refused (<see cref="RejectReason.None"/> if it is not).</summary>
    private RejectReason DecodePin(int pin, out IcrCommand command)
    {
        ulong msi = _ioApic.MsiOf(pin, out uint addressHigh);
        return MsiMessage.Decode(msi, addressHigh, out command, out _);
    }

    private static bool IcrFamily(ushort register)
        => register is ApicRegister.IcrLow or ApicRegister.X2Icr or ApicRegister.X2SelfIpi;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ExitOutcome Reject(RejectReason reason, IcrCommand command, bool firing)
        => new(ExitKind.Rejected, reason, command, firing);
}
