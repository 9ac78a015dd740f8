using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using IpiEngine.Rings;

namespace IpiEngine.Posting;

/// <summary>
/// One source's choice, run by run, between plain and non-temporal stores for its long runs into its ring
/// (<see cref="ExitRecord.CopyAsPosted"/>). Streaming pays where the ring's lines sit in the consumer's cache on a far
/// core, since a plain store first takes its line back (36-38 ns a line on this project's VM far, 5-6 ns near); it
/// costs where the consumer is near, which then reads the records from memory instead of its neighbour's cache
/// (docs/performance-log.md, thirtieth session). The producer cannot ask where the consumer runs, but its plain copies show
/// it: one long plain run in <see cref="SampleEvery"/> is timed, and two in a row (the next long run is timed after a
/// slow one) slower than <see cref="FarLineNanoseconds"/> a line switch the source to streaming for
/// <see cref="StreamRuns"/> long runs, after which the next is plain and timed again. One slow copy alone (a cold ring,
/// an interrupt in the middle) is not enough: with one, a benchmark whose vCPUs post and drain on one thread ran 6%
/// slower (<c>EmbedderNotifierBenchmarks.PostDeliverTake</c>). Written only by the source's producer; one padded line
/// per source.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = CacheLine.PaddedSize)]
internal struct StreamingChoice
{
    /// <summary>One long plain run in this many is timed (a clock read before and after: about 40 ns here, under 2.5 ns a line of a run of <see cref="ExitRecord.StreamFrom"/> records or more).</summary>
    public const int SampleEvery = 16;

    /// <summary>Long runs streamed after a slow plain one, before the next plain one is timed again.</summary>
    public const int StreamRuns = 1024;

    /// <summary>A plain copy slower than this a line means its lines came from a far core.</summary>
    public const double FarLineNanoseconds = 15;

    /// <summary>The far threshold as Stopwatch ticks per record (two records share a line).</summary>
    private static readonly double FarTicksPerRecord = FarLineNanoseconds * Stopwatch.Frequency / 1e9 * Unsafe.SizeOf<ExitRecord>() / CacheLine.Size;

    [FieldOffset(0)] private int _streamRuns;
    [FieldOffset(4)] private int _plainRuns;
    [FieldOffset(8)] private bool _confirming; // the last timed copy was slow: the next one decides

    /// <summary>For a long run: true to stream it (and count it off the streaming stretch).</summary>
    public bool StreamNext()
    {
        if (_streamRuns == 0)
        {
            return false;
        }

        _streamRuns--;
        return true;
    }

    /// <summary>For a long run about to be copied plain: whether to time it (the first one, then one in <see cref="SampleEvery"/>).</summary>
    public bool TimeNextPlain() => (_plainRuns++ & (SampleEvery - 1)) == 0;

    /// <summary>
    /// A timed plain copy of <paramref name="records"/> took <paramref name="ticks"/>: after a slow one, the next long run
    /// is timed too; two slow ones in a row start a streaming stretch.
    /// </summary>
    public void PlainCopyTook(long ticks, int records)
    {
        if (ticks <= records * FarTicksPerRecord)
        {
            _confirming = false;
            return;
        }

        if (_confirming)
        {
            _streamRuns = StreamRuns;
        }

        _confirming = !_confirming;
        _plainRuns = 0; // the next plain run is timed: the confirmation, or the first after the stretch
    }
}
