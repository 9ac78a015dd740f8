using System.Diagnostics.CodeAnalysis;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace IpiEngine.Apic;

/// <summary>
/// An immutable routing snapshot of every APIC, precomputed like KVM's optimized APIC map
/// (<c>kvm_recalculate_apic_map</c>) so that resolution is O(1) for a unicast and O(destinations) for a multicast:
/// <list type="bullet">
/// <item>xAPIC senders (8-bit destination): for each of the 256 physical and 256 logical destination values, the
/// ascending vCPUs it matches, computed with <see cref="ApicMatcher"/> (so any mix of flat, cluster, sparse IDs and
/// modes is exact);</item>
/// <item>x2APIC senders (32-bit destination), when every enabled APIC is in x2APIC mode with distinct IDs: one x2APIC-ID
/// table that is also the cluster table (16 slots per cluster); otherwise (mixed modes while a guest switches, duplicate
/// or huge IDs) the per-target rules, O(vCPUs).</item>
/// </list>
/// Built off the hot path by <see cref="ApicTopology.BuildMap"/>, published by <see cref="IcrResolver"/> with one
/// reference swap.
/// </summary>
internal sealed class DestinationMap
{
    private const byte AcceptsSystem = 1; // INIT, SIPI, NMI, SMI: globally enabled
    private const byte AcceptsVectored = 2; // Fixed, LowPri: globally and software enabled
    private const int NoMember = -1; // _physicalUnicast: nobody has this physical ID
    private const int Several = -2; // _physicalUnicast: several vCPUs match (broadcast 0xFF, shared IDs): walk the row

    private readonly ApicState[] _apics;
    private readonly byte[] _accepts;
    private readonly int[] _physicalStart; // xAPIC sender: physical destination d -> members[start[d]..start[d+1])
    private readonly int[] _physicalMembers;
    private readonly int[] _physicalUnicast; // xAPIC sender: physical destination d -> its only vCPU, NoMember or Several
    private readonly int[] _logicalStart; // xAPIC sender: logical MDA d -> members[start[d]..start[d+1])
    private readonly int[] _logicalMembers;
    // x2APIC ID -> vCPU or -1, length a multiple of 16 so that it doubles as the cluster table: slot cluster * 16 + member
    // bit is the ID itself (SDM: cluster = ID bits 31:4, member = ID bits 3:0). Null: use the per-target rules.
    private readonly int[]? _x2ById;
    // The fast lane's tables (see VectoredUnicastTarget): destination -> the one vCPU it reaches that accepts Fixed and
    // lowest-priority IPIs, else -1. xAPIC senders: 256 physical, 256 logical; x2APIC: like _x2ById (null with it).
    private readonly int[] _xApicPhysicalVectored;
    private readonly int[] _xApicLogicalVectored;
    private readonly int[]? _x2VectoredById;

    internal DestinationMap(ReadOnlySpan<ApicState> apics)
    {
        _apics = apics.ToArray();
        _accepts = new byte[_apics.Length];
        for (int v = 0; v < _apics.Length; v++)
        {
            _accepts[v] = (byte)((ApicMatcher.Accepts(_apics[v], DeliveryMode.Nmi) ? AcceptsSystem : 0)
                                 | (ApicMatcher.Accepts(_apics[v], DeliveryMode.Fixed) ? AcceptsVectored : 0));
        }

        (_physicalStart, _physicalMembers) = DestinationTables.XApicRows(_apics, logical: false);
        _physicalUnicast = UnicastColumn(_physicalStart, _physicalMembers);
        (_logicalStart, _logicalMembers) = DestinationTables.XApicRows(_apics, logical: true);
        _x2ById = DestinationTables.X2ApicIds(_apics);
        _xApicPhysicalVectored = VectoredOnly(_physicalUnicast, (int[])_physicalUnicast.Clone());
        int[] logicalUnicast = UnicastColumn(_logicalStart, _logicalMembers); // kept only in its vectored form: filtered in place
        _xApicLogicalVectored = VectoredOnly(logicalUnicast, logicalUnicast);
        _x2VectoredById = _x2ById is null ? null : VectoredOnly(_x2ById, (int[])_x2ById.Clone());
        foreach (ApicState apic in _apics)
        {
            MaxApicId = Math.Max(MaxApicId, Math.Max(apic.InitialId, apic.XApicId));
        }
    }

    /// <summary>The highest APIC ID any vCPU has (initial or xAPIC): KVM's <c>max_apic_id</c>, the bound of a PV IPI's bitmap.</summary>
    public uint MaxApicId { get; }

    /// <summary>The number of vCPUs.</summary>
    public int VcpuCount => _apics.Length;

    /// <summary>Every APIC's state in this snapshot, by vCPU index.</summary>
    public ReadOnlySpan<ApicState> Apics => _apics;

    /// <summary>Whether the vCPU's APIC is in x2APIC mode in this snapshot.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool IsX2Apic(int vcpu) => _apics[vcpu].X2Apic;

    /// <summary>Whether the vCPU's APIC is globally enabled (IA32_APIC_BASE bit 11) in this snapshot.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool IsGloballyEnabled(int vcpu) => _apics[vcpu].GloballyEnabled;

    /// <summary>
    /// The fast lane of <see cref="IcrResolver.TryResolveUnicast(DestinationMap, in ExitRecord, out uint)"/>: the vCPU that a Fixed or lowest-priority IPI without
    /// shorthand reaches when its destination (physical, or logical naming one APIC: an x2APIC cluster with one member
    /// bit, an xAPIC MDA whose row has one member) is exactly one APIC that accepts it; -1 when the full resolution must
    /// decide (nobody, several, not accepting, mixed modes). Equal to <see cref="ResolveInto"/> for every IPI it answers.
    /// </summary>
    [MethodImpl(HotPath.Inlined)]
    internal int VectoredUnicastTarget(bool x2ApicSender, bool logical, uint destination)
    {
        if (!x2ApicSender)
        {
            return (logical ? _xApicLogicalVectored : _xApicPhysicalVectored)[destination & 0xFF];
        }

        int[]? byId = _x2VectoredById;
        if (byId is null)
        {
            return -1;
        }

        if (logical)
        {
            // SDM "Logical Destination Mode in x2APIC Mode": cluster in bits 31:16, one bit per member in 15:0.
            uint members = destination & 0xFFFF;
            if (!BitOperations.IsPow2(members))
            {
                return -1; // several members, none, or the broadcast 0xFFFFFFFF
            }

            destination = ((destination >> 16) << 4) + (uint)BitOperations.TrailingZeroCount(members);
        }

        return destination < (uint)byId.Length ? byId[destination] : -1;
    }

    /// <summary>
    /// Resolves a validated command sent by <paramref name="source"/> into <paramref name="destinations"/> (cleared first):
    /// only APICs that accept the delivery mode; lowest priority keeps one (index <c>vector mod count</c> of the ascending
    /// candidates) or none; INIT level de-assert reaches nobody. Allocation-free; never throws for a valid source.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="destinations"/> cannot hold every vCPU.</exception>
    [MethodImpl(HotPath.Optimized)]
    public void Resolve(int source, in IcrCommand command, DestinationSet destinations)
    {
        ArgumentNullException.ThrowIfNull(destinations);
        if (destinations.Capacity < _apics.Length)
        {
            ThrowTooSmall(destinations, _apics.Length);
        }

        destinations.Clear();
        ResolveInto(source, command, destinations);
    }

    /// <summary>
    /// <see cref="Resolve"/> without the argument checks, for <see cref="IcrResolver.Process"/>, which has made them:
    /// <paramref name="source"/> is a vCPU index and <paramref name="destinations"/> is empty and large enough.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void ResolveInto(int source, in IcrCommand command, DestinationSet destinations)
    {
        if (command.IsInitDeassert)
        {
            return; // SDM: INIT level de-assert delivers nothing since the Pentium 4; KVM kvm_apic_send_ipi ignores it.
        }

        DeliveryMode mode = command.DeliveryMode;
        byte accept = mode <= DeliveryMode.LowestPriority ? AcceptsVectored : AcceptsSystem;
        switch (command.Shorthand)
        {
            case DestinationShorthand.None:
                ResolveDestinationField(command, accept, destinations);
                break;
            case DestinationShorthand.Self:
                AddIfAccepts(source, accept, destinations);
                break;
            case DestinationShorthand.AllIncludingSelf:
                AddAll(accept, -1, destinations);
                break;
            default:
                AddAll(accept, source, destinations);
                break;
        }

        if (mode == DeliveryMode.LowestPriority)
        {
            destinations.KeepOnly(command.Vector);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void ResolveDestinationField(in IcrCommand command, byte accept, DestinationSet destinations)
    {
        if (!command.IsX2Apic)
        {
            // 8-bit destination: one table row, already ascending.
            uint d = command.Destination & 0xFF;
            if (!command.Logical)
            {
                // Physical unicast, the common case: one load instead of a row walk (KVM's map does the same).
                int single = _physicalUnicast[d];
                if (single >= 0)
                {
                    AddIfAccepts(single, accept, destinations);
                    return;
                }

                if (single == NoMember)
                {
                    return;
                }
            }

            int[] start = command.Logical ? _logicalStart : _physicalStart;
            int[] members = command.Logical ? _logicalMembers : _physicalMembers;
            for (int i = start[d], end = start[d + 1]; i < end; i++)
            {
                AddIfAccepts(members[i], accept, destinations);
            }

            return;
        }

        // x2APIC physical unicast, the common case: one table load, inlined (broadcast and cluster go the long way).
        if (!command.Logical && _x2ById is int[] ids && command.Destination < (uint)ids.Length)
        {
            int vcpu = ids[command.Destination];
            if (vcpu >= 0)
            {
                AddIfAccepts(vcpu, accept, destinations);
            }

            return;
        }

        ResolveX2ApicDestination(command, accept, destinations);
    }

    /// <summary>
    /// <see cref="PvSendIpi"/>'s lookup: adds the vCPUs that a physical ICR write of <paramref name="icr"/> (no shorthand)
    /// to APIC ID <paramref name="first"/> + i reaches, for each set bit i of the 128-bit <paramref name="low"/>:
    /// <paramref name="high"/>, ascending, each once. IDs of the VM are distinct but in the transient mixed-mode state
    /// with IDs from 0xFF up: then each vCPU is checked against every bit (an xAPIC-mode APIC sees the low byte).
    /// </summary>
    internal void AddPhysicalIds(ulong low, ulong high, uint first, uint icr, DestinationSet destinations)
    {
        IcrCommand kind = IcrCommand.FromDevice(icr, 0);
        if (kind.IsInitDeassert)
        {
            return;
        }

        byte accept = kind.DeliveryMode <= DeliveryMode.LowestPriority ? AcceptsVectored : AcceptsSystem;
        if (_x2ById is null && MaxApicId >= 0xFF)
        {
            for (int vcpu = 0; vcpu < _apics.Length; vcpu++)
            {
                if ((_accepts[vcpu] & accept) != 0 && (MatchesAnyBit(vcpu, low, first) || MatchesAnyBit(vcpu, high, first + 64)))
                {
                    destinations.Add(vcpu);
                }
            }

            return;
        }

        // One vCPU per ID at most, distinct IDs: no repeats, only the order to fix (IDs ascend, vCPU indices need not).
        AddEachBit(low, first, icr, accept, destinations);
        AddEachBit(high, first + 64, icr, accept, destinations);
        destinations.SortUnique();
    }

    private void AddEachBit(ulong bits, uint first, uint icr, byte accept, DestinationSet destinations)
    {
        while (bits != 0)
        {
            IcrCommand probe = IcrCommand.FromDevice(icr, first + (uint)BitOperations.TrailingZeroCount(bits));
            bits &= bits - 1;
            ResolveDestinationField(probe, accept, destinations);
        }
    }

    private bool MatchesAnyBit(int vcpu, ulong bits, uint first)
    {
        while (bits != 0)
        {
            uint id = first + (uint)BitOperations.TrailingZeroCount(bits);
            bits &= bits - 1;
            if (ApicMatcher.MatchesDestination(_apics[vcpu], id, logical: false))
            {
                return true;
            }
        }

        return false;
    }

    private void ResolveX2ApicDestination(in IcrCommand command, byte accept, DestinationSet destinations)
    {
        uint destination = command.Destination;
        if (_x2ById is null)
        {
            ResolveByEveryTarget(command, accept, destinations);
            return;
        }

        if (destination == uint.MaxValue)
        {
            AddAll(accept, -1, destinations); // x2APIC broadcast, physical or logical (SDM).
            return;
        }

        if (!command.Logical)
        {
            if (destination < (uint)_x2ById.Length)
            {
                int vcpu = _x2ById[destination];
                if (vcpu >= 0)
                {
                    AddIfAccepts(vcpu, accept, destinations);
                }
            }

            return;
        }

        // SDM "Logical Destination Mode in x2APIC Mode": one cluster (bits 31:16), members by bit (15:0).
        uint cluster = destination >> 16;
        if (cluster >= (uint)(_x2ById.Length / 16))
        {
            return;
        }

        int baseSlot = (int)cluster * 16;
        uint bits = destination & 0xFFFF;
        while (bits != 0)
        {
            int vcpu = _x2ById[baseSlot + BitOperations.TrailingZeroCount(bits)];
            bits &= bits - 1;
            if (vcpu >= 0)
            {
                AddIfAccepts(vcpu, accept, destinations);
            }
        }

        destinations.SortSmall(); // IDs ascend within a cluster; vCPU indices need not.
    }

    /// <summary>Mixed xAPIC/x2APIC modes (transient) or very sparse IDs: each target matches by its own mode.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ResolveByEveryTarget(in IcrCommand command, byte accept, DestinationSet destinations)
    {
        for (int vcpu = 0; vcpu < _apics.Length; vcpu++)
        {
            if ((_accepts[vcpu] & accept) != 0 && ApicMatcher.MatchesDestination(_apics[vcpu], command.Destination, command.Logical))
            {
                destinations.Add(vcpu);
            }
        }
    }

    private void AddAll(byte accept, int except, DestinationSet destinations)
    {
        byte[] accepts = _accepts;
        for (int vcpu = 0; vcpu < accepts.Length; vcpu++)
        {
            if ((accepts[vcpu] & accept) != 0 && vcpu != except)
            {
                destinations.Add(vcpu);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void AddIfAccepts(int vcpu, byte accept, DestinationSet destinations)
    {
        if ((_accepts[vcpu] & accept) != 0)
        {
            destinations.Add(vcpu);
        }
    }

    [DoesNotReturn] // no NoInlining: the JIT sees the throw when it tries to inline, and treats the call's block as cold
    internal static void ThrowTooSmall(DestinationSet destinations, int vcpus)
        => throw new ArgumentException($"The destination set holds {destinations.Capacity} vCPUs; this map has {vcpus}.", nameof(destinations));

    /// <summary>Writes into <paramref name="result"/> (the column itself, or a copy of it) the column with only the vCPUs that accept Fixed IPIs (others: -1).</summary>
    private int[] VectoredOnly(int[] column, int[] result)
    {
        for (int d = 0; d < column.Length; d++)
        {
            int vcpu = column[d];
            result[d] = vcpu >= 0 && (_accepts[vcpu] & AcceptsVectored) != 0 ? vcpu : -1;
        }

        return result;
    }

    /// <summary>For each row of an xAPIC table: its only member, <see cref="NoMember"/> or <see cref="Several"/>.</summary>
    private static int[] UnicastColumn(int[] start, int[] members)
    {
        var column = new int[start.Length - 1];
        for (int d = 0; d < column.Length; d++)
        {
            int count = start[d + 1] - start[d];
            column[d] = count switch
            {
                0 => NoMember,
                1 => members[start[d]],
                _ => Several,
            };
        }

        return column;
    }
}
