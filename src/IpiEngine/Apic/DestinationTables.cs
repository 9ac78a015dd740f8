namespace IpiEngine.Apic;

/// <summary>
/// Builds <see cref="DestinationMap"/>'s lookup tables from APIC states. Off the hot path, but run on every topology
/// write, so the cost is kept near O(vCPUs): each APIC is only tried against the destination values it can match, and
/// <see cref="ApicMatcher"/> has the final word on every entry (the tables cannot disagree with the SDM rules).
/// </summary>
internal static class DestinationTables
{
    /// <summary>Beyond this x2APIC ID the ID table would be too sparse to be worth it: use the per-target rules.</summary>
    private const uint MaxTabulatedX2ApicId = 1u << 20;
    private const int XApicDestinations = 256;
    private const uint XApicBroadcast = 0xFF;

    /// <summary>
    /// For each 8-bit destination value d (an xAPIC sender's ICR high bits 31:24), the ascending vCPUs that match it:
    /// members[start[d]..start[d+1]). Globally disabled APICs are left out: they accept nothing.
    /// </summary>
    public static (int[] Start, int[] Members) XApicRows(ApicState[] apics, bool logical)
    {
        // Counting sort: count per destination, turn counts into row starts, then place vCPUs in ascending order, each
        // placement moving its row's start on; once all are placed, start[d] is row d's end, i.e. row d + 1's start, so
        // one shift by a slot gives the starts back (no second array: a topology write builds this twice per node).
        var start = new int[XApicDestinations + 1];
        ForEachMatch(apics, logical, (d, _) => start[d + 1]++);
        for (int d = 0; d < XApicDestinations; d++)
        {
            start[d + 1] += start[d];
        }

        var members = new int[start[XApicDestinations]];
        ForEachMatch(apics, logical, (d, vcpu) => members[start[d]++] = vcpu);
        for (int d = XApicDestinations; d > 0; d--)
        {
            start[d] = start[d - 1];
        }

        start[0] = 0;
        return (start, members);
    }

    /// <summary>
    /// The x2APIC ID table (x2APIC ID -> vCPU or -1, length a multiple of 16 so slot cluster * 16 + member bit is the ID
    /// itself), or null when an enabled APIC is in xAPIC mode, two share an ID, or an ID is too large to tabulate.
    /// </summary>
    public static int[]? X2ApicIds(ApicState[] apics)
    {
        uint maxId = 0;
        foreach (ApicState apic in apics)
        {
            if (!apic.GloballyEnabled)
            {
                continue; // receives nothing (and has left x2APIC mode): not a destination in any table
            }

            if (!apic.X2Apic || apic.InitialId >= MaxTabulatedX2ApicId)
            {
                return null;
            }

            maxId = Math.Max(maxId, apic.InitialId);
        }

        var byId = new int[((maxId >> 4) + 1) * 16];
        Array.Fill(byId, -1);
        for (int vcpu = 0; vcpu < apics.Length; vcpu++)
        {
            if (!apics[vcpu].GloballyEnabled)
            {
                continue;
            }

            uint id = apics[vcpu].InitialId;
            if (byId[id] >= 0)
            {
                return null; // duplicate IDs: several targets per ID, leave it to the per-target rules
            }

            byId[id] = vcpu;
        }

        return byId;
    }

    /// <summary>Calls <paramref name="match"/> for every (destination, vCPU) pair that matches, vCPUs ascending.</summary>
    private static void ForEachMatch(ApicState[] apics, bool logical, Action<uint, int> match)
    {
        Span<uint> few = stackalloc uint[2];
        for (int vcpu = 0; vcpu < apics.Length; vcpu++)
        {
            ApicState apic = apics[vcpu];
            if (!apic.GloballyEnabled)
            {
                continue;
            }

            int count = FewCandidates(apic, logical, few);
            if (count < 0)
            {
                for (uint d = 0; d < XApicDestinations; d++)
                {
                    if (ApicMatcher.MatchesDestination(apic, d, logical))
                    {
                        match(d, vcpu);
                    }
                }

                continue;
            }

            for (int i = 0; i < count; i++)
            {
                if (ApicMatcher.MatchesDestination(apic, few[i], logical))
                {
                    match(few[i], vcpu);
                }
            }
        }
    }

    /// <summary>
    /// The only 8-bit destinations this APIC can match, ascending (at most two), or -1 when it may match many
    /// (a logical ID with bits set, or an x2APIC member of cluster 0 in logical mode).
    /// </summary>
    private static int FewCandidates(in ApicState apic, bool logical, Span<uint> few)
    {
        if (apic.X2Apic)
        {
            if (!logical)
            {
                few[0] = apic.InitialId; // physical: its x2APIC ID, if it fits 8 bits
                return apic.InitialId < XApicDestinations ? 1 : 0;
            }

            return apic.InitialId < 16 ? -1 : 0; // an 8-bit logical address only reaches x2APIC cluster 0
        }

        if (logical && apic.LogicalId != 0)
        {
            return -1;
        }

        // xAPIC physical: its ID and the broadcast; xAPIC logical with logical ID 0: only the broadcast.
        if (logical || apic.XApicId == XApicBroadcast)
        {
            few[0] = XApicBroadcast;
            return 1;
        }

        few[0] = apic.XApicId;
        few[1] = XApicBroadcast;
        return 2;
    }
}
