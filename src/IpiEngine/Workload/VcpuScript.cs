using IpiEngine.Apic;

namespace IpiEngine.Workload;

/// <summary>
/// One vCPU's pre-generated exits, posted in a loop during a run so that generating them costs nothing in the
/// measured window.
/// </summary>
internal sealed class VcpuScript
{
    /// <summary>Creates a script; <paramref name="ipisBefore"/>[i] counts the firing writes among the first i records.</summary>
    public VcpuScript(int vcpu, ExitRecord[] records, int[] ipisBefore)
    {
        ArgumentNullException.ThrowIfNull(records);
        ArgumentNullException.ThrowIfNull(ipisBefore);
        if (ipisBefore.Length != records.Length + 1)
        {
            throw new ArgumentException("One prefix count per record, plus one.", nameof(ipisBefore));
        }

        Vcpu = vcpu;
        Records = records;
        IpisBefore = ipisBefore;
    }

    /// <summary>The vCPU that writes these records.</summary>
    public int Vcpu { get; }

    /// <summary>The records, in the order the vCPU writes them.</summary>
    public ExitRecord[] Records { get; }

    /// <summary>Prefix counts of firing writes: <c>IpisBefore[i]</c> firing writes among <c>Records[..i]</c>.</summary>
    public int[] IpisBefore { get; }

    /// <summary>Firing writes in one pass over the script.</summary>
    public int Ipis => IpisBefore[^1];

    /// <summary>The number of leading records that hold exactly <paramref name="ipis"/> firing writes (at most one pass).</summary>
    public int RecordsForIpis(int ipis) => RecordsForIpisFrom(0, ipis);

    /// <summary>
    /// The number of records from <paramref name="start"/> that hold exactly <paramref name="ipis"/> firing writes and
    /// end with one (or 0 for 0), within the rest of this pass.
    /// </summary>
    public int RecordsForIpisFrom(int start, int ipis)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(ipis);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(ipis, IpisBefore[^1] - IpisBefore[start]);
        var wanted = IpisBefore[start] + ipis;
        var index = Array.BinarySearch(IpisBefore, start, IpisBefore.Length - start, wanted);

        // Several prefixes may equal the target (an ICR2 write fires nothing): the first ends at the firing write.
        while (index > start && IpisBefore[index - 1] == wanted)
        {
            index--;
        }

        return index - start;
    }

    /// <summary>
    /// How many of the first <paramref name="ipis"/> firing writes this vCPU posts (looping over its script from the
    /// start) write <paramref name="register"/>.
    /// </summary>
    public long CountFiring(long ipis, ushort register)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(ipis);
        var passes = Ipis == 0 ? 0 : ipis / Ipis;
        var end = RecordsForIpis(Ipis == 0 ? 0 : (int)(ipis % Ipis));
        long count = 0;
        for (var i = 0; i < Records.Length; i++)
        {
            if (IpisBefore[i + 1] != IpisBefore[i] && Records[i].Register == register)
            {
                count += passes + (i < end ? 1 : 0);
            }
        }

        return count;
    }

    /// <summary>
    /// Adds to <paramref name="perMode"/> (indexed by ICR delivery mode, 8 entries) the modes of the first
    /// <paramref name="ipis"/> firing writes this vCPU posts when it loops over its script from the start.
    /// </summary>
    public void CountFiringByMode(long ipis, Span<long> perMode)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(ipis);
        ArgumentOutOfRangeException.ThrowIfLessThan(perMode.Length, 8);
        var passes = Ipis == 0 ? 0 : ipis / Ipis;
        var rest = Ipis == 0 ? 0 : (int)(ipis % Ipis);
        var end = RecordsForIpis(rest);
        for (var i = 0; i < Records.Length; i++)
        {
            if (IpisBefore[i + 1] != IpisBefore[i])
            {
                perMode[(int)ModeOf(i)] += passes + (i < end ? 1 : 0);
            }
        }
    }

    /// <summary>
    /// The ICR delivery mode of firing record <paramref name="index"/>: bits 10:8 of its ICR low, which a PV IPI's firing
    /// half does not carry (its value is the APIC-ID bitmap): its ICR low is the destination id of the latching half
    /// posted just before it (<see cref="ApicRegister.PvSendIpiHigh"/>).
    /// </summary>
    private uint ModeOf(int index)
    {
        var icrLow = Records[index].Register == ApicRegister.PvSendIpi && index > 0 && Records[index - 1].Register == ApicRegister.PvSendIpiHigh
            ? Records[index - 1].DestinationId
            : Records[index].Value;
        return (uint)(icrLow >> 8) & 7;
    }
}
