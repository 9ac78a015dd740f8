using System.Diagnostics;

namespace IpiEngine.Cli.Run;

/// <summary>Waits until an engine has processed everything posted to it, without stopping it.</summary>
internal static class EngineQuiescence
{
    /// <summary>How long a drain may take before the run reports it as stuck.</summary>
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Polls the counters until every posted record is accounted for and every resolved destination delivered,
    /// coalesced or forwarded; false if that does not happen within <see cref="Patience"/>.
    /// </summary>
    public static bool Wait(Engine engine)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(Patience.TotalSeconds * Stopwatch.Frequency);
        while (!engine.ReadCounters().ConservationHolds)
        {
            if (Stopwatch.GetTimestamp() > deadline)
            {
                return false;
            }

            Thread.Sleep(1);
        }

        return true;
    }
}
