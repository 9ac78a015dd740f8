namespace IpiEngine.Apic;

/// <summary>
/// The SDM's destination rules applied to every APIC one by one: the reference the precomputed
/// <see cref="DestinationMap"/> is built from and checked against (property tests, benchmark baseline).
/// O(vCPUs) per IPI; allocation-free.
/// </summary>
internal static class ApicMatcher
{
    private const uint X2ApicBroadcast = 0xFFFF_FFFF;
    private const uint XApicBroadcast = 0xFF;

    /// <summary>
    /// Whether <paramref name="target"/> recognises itself in the destination field (no shorthand, no acceptance check).
    /// Each target matches by its own mode, as KVM's <c>kvm_apic_match_dest</c> and QEMU's
    /// <c>apic_get_delivery_bitmask</c> do; the two modes only mix while a guest switches its APICs to x2APIC.
    /// </summary>
    public static bool MatchesDestination(in ApicState target, uint destination, bool logical)
    {
        if (destination == X2ApicBroadcast)
        {
            return true; // x2APIC broadcast (SDM "Broadcast/Self Delivery Mode"); QEMU reaches xAPIC-mode APICs too.
        }

        if (target.X2Apic)
        {
            if (!logical)
            {
                return destination == target.InitialId; // SDM: x2APIC physical, 32-bit ID.
            }

            // SDM "Logical Destination Mode in x2APIC Mode": same cluster (bits 31:16), a common member bit (15:0).
            uint ldr = target.X2ApicLdr;
            return (destination >> 16) == (ldr >> 16) && (destination & ldr & 0xFFFF) != 0;
        }

        // An xAPIC-mode target sees an 8-bit destination (QEMU compares the low byte; xAPIC senders only have 8 bits).
        uint mda = destination & 0xFF;
        if (destination == XApicBroadcast)
        {
            return true; // SDM: 0xFF is the xAPIC broadcast, physical and logical (KVM kvm_apic_broadcast).
        }

        if (!logical)
        {
            return mda == target.XApicId;
        }

        return target.DfrModel switch
        {
            // SDM "Flat Model": a common bit between the MDA and the logical ID.
            ApicState.DfrFlat => (mda & target.LogicalId) != 0,
            // SDM "Cluster Model": same cluster (bits 7:4) and a common member bit (3:0); cluster 0xF addresses
            // every cluster as in QEMU's apic_get_delivery_bitmask (the SDM reserves it for broadcast).
            ApicState.DfrCluster => ((mda >> 4) == 0xF || (mda >> 4) == (uint)(target.LogicalId >> 4))
                                    && (mda & target.LogicalId & 0xF) != 0,
            _ => false, // an undefined DFR model matches no logical address (QEMU).
        };
    }

    /// <summary>
    /// Whether an APIC takes an interrupt of this delivery mode: a globally disabled APIC takes nothing; a
    /// software-disabled one takes INIT, SIPI, NMI and SMI but no fixed or lowest-priority interrupt
    /// (SDM "Local APIC State After It Has Been Software Disabled"; KVM <c>__apic_accept_irq</c>).
    /// </summary>
    public static bool Accepts(in ApicState target, DeliveryMode mode)
        => target.GloballyEnabled && (target.SoftwareEnabled || mode > DeliveryMode.LowestPriority);

    /// <summary>
    /// Resolves a validated command from <paramref name="source"/> by checking every APIC: shorthand, destination match,
    /// acceptance, lowest-priority pick (candidates ascending, index <c>vector mod count</c>), INIT de-assert (nobody).
    /// </summary>
    public static void Resolve(ReadOnlySpan<ApicState> apics, int source, in IcrCommand command, DestinationSet destinations)
    {
        ArgumentNullException.ThrowIfNull(destinations);
        destinations.Clear();
        if (command.IsInitDeassert)
        {
            return;
        }

        DeliveryMode mode = command.DeliveryMode;
        DestinationShorthand shorthand = command.Shorthand;
        for (int vcpu = 0; vcpu < apics.Length; vcpu++)
        {
            bool selected = shorthand switch
            {
                DestinationShorthand.Self => vcpu == source,
                DestinationShorthand.AllIncludingSelf => true,
                DestinationShorthand.AllExcludingSelf => vcpu != source,
                _ => MatchesDestination(apics[vcpu], command.Destination, command.Logical),
            };
            if (selected && Accepts(apics[vcpu], mode))
            {
                destinations.Add(vcpu);
            }
        }

        if (mode == DeliveryMode.LowestPriority)
        {
            destinations.KeepOnly(command.Vector);
        }
    }
}
