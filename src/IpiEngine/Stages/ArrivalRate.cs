using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace IpiEngine.Stages;

/// <summary>
/// A gathering thread's view of whether records stream in: at least <see cref="StreamingRecordsPerMicrosecond"/> a
/// microsecond over its last <see cref="WindowPasses"/> passes, waits between them included, read from the clock once
/// per window. Only then does a thin pass spin before the next (<c>EnginePipeline.BackOffAfterThinPass</c>): a closed
/// loop's requests, each waiting for its answer (ping-pong moves about 2.5 records a microsecond here, call-single under
/// 1), and a paced load arrive slower, and their thin passes go on at once. Owned by the gathering thread.
/// </summary>
internal struct ArrivalRate
{
    /// <summary>Passes per window.</summary>
    public const int WindowPasses = 64;

    /// <summary>The rate from which records count as streaming in (16 M records a second).</summary>
    public const int StreamingRecordsPerMicrosecond = 16;

    private static readonly long MaxTicksPerRecord = Math.Max(1, Stopwatch.Frequency / 1_000_000 / StreamingRecordsPerMicrosecond);
    private long _windowStart;
    private long _records;
    private int _passes;
    private bool _streaming;

    /// <summary>A rate whose first window starts at <paramref name="now"/> (Stopwatch ticks); not streaming until it ends.</summary>
    public ArrivalRate(long now) => _windowStart = now;

    /// <summary>Counts one pass (0 records for one that found nothing); whether the last full window streamed.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Count(int records)
    {
        _records += records;
        if (++_passes == WindowPasses)
        {
            EndWindow(Stopwatch.GetTimestamp());
        }

        return _streaming;
    }

    private void EndWindow(long now)
    {
        _streaming = _records > 0 && (now - _windowStart) / _records < MaxTicksPerRecord;
        _windowStart = now;
        _records = 0;
        _passes = 0;
    }
}
