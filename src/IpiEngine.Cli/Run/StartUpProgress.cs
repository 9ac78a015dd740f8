using System.Diagnostics;

namespace IpiEngine.Cli.Run;

/// <summary>
/// What a run with many vCPUs says while it starts their threads. Starting a thread waits until the new thread is
/// scheduled, milliseconds each on a busy machine, so 4,096 threads can take several seconds before the display
/// appears; the line says why, and ends with how long it took.
/// </summary>
internal sealed class StartUpProgress(TextWriter writer, int vcpus)
{
    /// <summary>From this many vCPUs on, the start-up is reported (below it takes well under a second).</summary>
    public const int ReportFrom = 256;

    private readonly bool report = vcpus >= ReportFrom;
    private long began;

    /// <summary>Says why the run is about to wait (the line ends with the wait's duration at <see cref="End"/>).</summary>
    public void Explain()
    {
        if (report)
        {
            writer.Write($"starting {vcpus:N0} vCPU threads (each start waits for the new thread to be scheduled: on a busy machine this takes a while) ...");
            writer.Flush();
            began = Stopwatch.GetTimestamp();
        }
    }

    /// <summary>The threads are started.</summary>
    public void End()
    {
        if (report)
        {
            writer.WriteLine($" {Stopwatch.GetElapsedTime(began).TotalSeconds:0.0} s");
        }
    }
}
