using System.Diagnostics;

namespace IpiEngine.Perf.Calibration;

/// <summary>
/// Measures how far apart two cores are right now: two threads, pinned to two logical CPUs where
/// the OS allows, bounce one padded cache line, and the median round trip of a few timed samples
/// is the reading. Takes a few milliseconds near, tens of milliseconds far, and gives up (no
/// reading) after <see cref="TimeBudget"/> when the threads cannot both run, e.g. on one core.
/// </summary>
/// <remarks>
/// Neither probe thread is the caller's: pinning the caller would leak the affinity into every
/// process it starts afterwards (BenchmarkDotNet's benchmark processes among them).
/// </remarks>
public sealed class CoreDistanceProbe
{
    /// <summary>
    /// Round trips per timed sample. Short samples (about 55 us near, 350 us far) keep a preemption
    /// of either thread, milliseconds long on a busy machine, inside one sample, which the median
    /// then ignores.
    /// </summary>
    public int RoundTripsPerSample { get; init; } = 1_000;

    /// <summary>Timed samples; the reading is their median.</summary>
    public int SampleCount { get; init; } = 41;

    /// <summary>Longest the probe may take; past it the probe stops and reports no reading.</summary>
    public TimeSpan TimeBudget { get; init; } = TimeSpan.FromMilliseconds(800);

    /// <summary>Runs the probe once.</summary>
    public CoreDistanceReading Measure()
    {
        var taken = DateTimeOffset.UtcNow;
        if (Environment.ProcessorCount < 2)
        {
            return new CoreDistanceReading { TakenUtc = taken, Problem = "fewer than two logical CPUs" };
        }
        var cpus = ThreadAffinity.TwoAllowedCpus();
        var session = new ProbeSession(this, cpus);
        var partner = new Thread(static s => ((ProbeSession)s!).Answer()) { IsBackground = true, Name = "probe-partner" };
        var pinger = new Thread(static s => ((ProbeSession)s!).Ping()) { IsBackground = true, Name = "probe-ping" };
        partner.Start(session);
        pinger.Start(session);
        pinger.Join();
        partner.Join();
        return session.Result(taken);
    }

    /// <summary>State shared by the two probe threads of one measurement.</summary>
    private sealed class ProbeSession
    {
        private readonly CoreDistanceProbe _probe;
        private readonly (int First, int Second)? _cpus;
        private readonly BouncedLine _line = new();
        private readonly double[] _samplesNs;
        private readonly long _deadline;
        private int _samplesTaken;
        private bool _pingPinned;
        private bool _partnerPinned;
        private bool _timedOut;

        public ProbeSession(CoreDistanceProbe probe, (int First, int Second)? cpus)
        {
            _probe = probe;
            _cpus = cpus;
            _samplesNs = new double[probe.SampleCount];
            _deadline = Stopwatch.GetTimestamp() + (long)(probe.TimeBudget.TotalSeconds * Stopwatch.Frequency);
        }

        public void Answer()
        {
            _partnerPinned = _cpus is { } c && ThreadAffinity.TryPinCurrentThread(c.Second);
            while (true)
            {
                // Acquire pairs with the pinger's release of an odd value (or Stop).
                long value = Volatile.Read(ref _line.Value);
                if (value == BouncedLine.Stop)
                {
                    return;
                }
                if ((value & 1) == 1)
                {
                    // Answer only if the line still holds the ask (full fence, so also a release of the answer):
                    // a plain write could land after a pinger that timed out wrote Stop, erase it, and leave this
                    // thread spinning forever and Measure() waiting for it. With the exchange, Stop always survives:
                    // either it came first (the exchange fails, the next read returns) or the answer came first.
                    Interlocked.CompareExchange(ref _line.Value, value + 1, value);
                }
            }
        }

        public void Ping()
        {
            _pingPinned = _cpus is { } c && ThreadAffinity.TryPinCurrentThread(c.First);
            try
            {
                long value = 0;
                // One untimed sample first: it brings both threads onto their cores and warms the line.
                for (int sample = -1; sample < _samplesNs.Length && !_timedOut; sample++)
                {
                    long start = Stopwatch.GetTimestamp();
                    for (int i = 0; i < _probe.RoundTripsPerSample && !_timedOut; i++)
                    {
                        value = RoundTrip(value);
                    }
                    long elapsed = Stopwatch.GetTimestamp() - start;
                    if (sample >= 0 && !_timedOut)
                    {
                        _samplesNs[sample] = elapsed * 1e9 / Stopwatch.Frequency / _probe.RoundTripsPerSample;
                        _samplesTaken++;
                    }
                }
            }
            finally
            {
                // Release: the partner must see Stop even if this thread failed.
                Volatile.Write(ref _line.Value, BouncedLine.Stop);
            }
        }

        private long RoundTrip(long value)
        {
            long ask = value + 1;
            // Release: hand the line over with an odd value; the partner answers ask + 1.
            Volatile.Write(ref _line.Value, ask);
            int spins = 0;
            // Acquire pairs with the partner's release of the answer.
            while (Volatile.Read(ref _line.Value) != ask + 1)
            {
                if (++spins == 4096)
                {
                    spins = 0;
                    if (Stopwatch.GetTimestamp() > _deadline)
                    {
                        _timedOut = true;
                        return ask + 1;
                    }
                }
            }
            return ask + 1;
        }

        public CoreDistanceReading Result(DateTimeOffset taken)
        {
            bool pinned = _pingPinned && _partnerPinned;
            if (_timedOut || _samplesTaken == 0)
            {
                return new CoreDistanceReading
                {
                    TakenUtc = taken,
                    Pinned = pinned,
                    Samples = _samplesTaken,
                    Problem = $"the probe did not finish within {_probe.TimeBudget.TotalMilliseconds:0} ms (are both cores busy?)",
                };
            }
            Array.Sort(_samplesNs, 0, _samplesTaken);
            int mid = _samplesTaken / 2;
            double median = _samplesTaken % 2 == 1
                ? _samplesNs[mid]
                : (_samplesNs[mid - 1] + _samplesNs[mid]) / 2;
            return new CoreDistanceReading
            {
                RoundTripNs = Math.Round(median, 1),
                Samples = _samplesTaken,
                Pinned = pinned,
                TakenUtc = taken,
            };
        }
    }
}
