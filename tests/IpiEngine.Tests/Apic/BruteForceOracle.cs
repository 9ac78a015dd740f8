using IpiEngine.Apic;

namespace IpiEngine.Tests.Apic;

/// <summary>
/// A second, deliberately naive model of <see cref="IcrResolver"/>: its own latch table and topology model, every firing
/// write resolved by <see cref="ApicMatcher"/> over every APIC (no precomputed map). Property tests replay the same
/// writes through both and compare write by write.
/// </summary>
internal sealed class BruteForceOracle
{
    private readonly ApicTopology _topology;
    private readonly uint[] _latch;

    public BruteForceOracle(ReadOnlySpan<uint> initialApicIds)
    {
        _topology = ApicTopology.Reset(initialApicIds);
        _latch = new uint[initialApicIds.Length];
    }

    /// <summary>The oracle's topology (for generators that aim writes at current IDs).</summary>
    public ApicTopology Topology => _topology;

    /// <summary>Applies one write: what kind of outcome, and the destinations (cleared first).</summary>
    public ExitKind Apply(in ExitRecord record, DestinationSet destinations)
    {
        destinations.Clear();
        int source = record.SourceVcpu;
        ApicState sender = _topology.Apics[source];
        IcrCommand command;
        switch (record.Register)
        {
            case ApicRegister.IcrHigh when !sender.X2Apic:
                _latch[source] = (uint)record.Value;
                return ExitKind.Latched;
            case ApicRegister.IcrLow when !sender.X2Apic:
                command = IcrCommand.FromXApic((uint)record.Value, _latch[source]);
                break;
            case ApicRegister.IcrLow: // QEMU: MMIO ICR low in x2APIC mode, destination bits 63:32 of a 32-bit write
                _latch[source] = 0;
                command = IcrCommand.FromX2Apic((uint)record.Value);
                break;
            case ApicRegister.X2Icr when sender.X2Apic && ((uint)record.Value & IcrCommand.X2ApicReservedLowBits) != 0:
            case ApicRegister.X2SelfIpi when sender.X2Apic && record.Value > 0xFF:
                return ExitKind.Rejected; // reserved bits: the WRMSR faults (no send, no latch)
            case ApicRegister.X2Icr when sender.X2Apic:
                command = IcrCommand.FromX2Apic(record.Value);
                _latch[source] = command.Destination;
                break;
            case ApicRegister.X2SelfIpi when sender.X2Apic:
                command = IcrCommand.SelfIpi((byte)record.Value);
                break;
            case ApicRegister.IcrHigh or ApicRegister.X2Icr or ApicRegister.X2SelfIpi:
                return ExitKind.Rejected;
            default:
                _topology.Apply(source, record.Register, record.Value);
                return ExitKind.TopologyWrite;
        }

        DeliveryMode mode = command.DeliveryMode;
        bool illegal = mode is DeliveryMode.Reserved3 or DeliveryMode.Reserved7
                       || (mode <= DeliveryMode.LowestPriority && command.Vector < 16)
                       || (mode == DeliveryMode.LowestPriority && command.Shorthand is DestinationShorthand.Self or DestinationShorthand.AllIncludingSelf);
        if (illegal)
        {
            return ExitKind.Rejected;
        }

        ApicMatcher.Resolve(_topology.Apics, source, command, destinations);
        return ExitKind.Fired;
    }
}
