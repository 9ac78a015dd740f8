using IpiEngine.Apic;

namespace IpiEngine.Cli.Run;

/// <summary>The summary's breakdowns: rejections by reason, IPIs by delivery mode (names as in deliveries.csv).</summary>
internal static class RunCounts
{
    private static readonly string[] ModeNames = ["FIXED", "LOWPRI", "SMI", "RESERVED3", "NMI", "INIT", "SIPI", "RESERVED7"];

    /// <summary>Rejections between two snapshots, by reason (reasons with none left out).</summary>
    public static Dictionary<string, long> RejectedByReason(in EngineCounters start, in EngineCounters end)
    {
        var byReason = new Dictionary<string, long>();
        foreach (var reason in Enum.GetValues<RejectReason>())
        {
            var count = end.RejectedBy(reason) - start.RejectedBy(reason);
            if (count != 0)
            {
                byReason[reason.ToString()] = count;
            }
        }

        return byReason;
    }

    /// <summary>IPIs per ICR delivery mode (indexed by the mode's 3 bits), modes with none left out.</summary>
    public static Dictionary<string, long> ByMode(ReadOnlySpan<long> perMode)
    {
        var byMode = new Dictionary<string, long>();
        for (var m = 0; m < perMode.Length && m < ModeNames.Length; m++)
        {
            if (perMode[m] != 0)
            {
                byMode[ModeNames[m]] = perMode[m];
            }
        }

        return byMode;
    }
}
