using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace IpiEngine.Perf.Calibration;

/// <summary>
/// Which of two logical CPUs runs a single-threaded loop steadier right now: a short spin loop, pinned to each in turn
/// and timed in chunks; the CPU whose slow chunks (the 90th percentile) are clearly quicker is chosen, and a tie goes
/// to the caller's choice.
/// </summary>
/// <remarks>
/// Why: one vCPU of this machine is at times slowed and jittery by what shares its physical core outside the VM. On
/// 2026-12-04 (far), blocks of <c>BruteForceMatcher(X2ApicBroadcast)</c> pinned to CPU 0 read 767 to 1363 ns from one
/// block to the next, while 25 blocks pinned to CPU 1 in the same minute read 700 to 730 ns; this loop's chunks read a
/// median of 59-66 µs on CPU 0 and 37-39 µs on CPU 1 in four alternating readings, CPU 0's 90th percentile 1.3-1.7x
/// its fastest chunk against 1.03-1.3x on CPU 1. A round that alternated the two CPUs put half its single-threaded
/// cases on the jittery one, where two blocks a quarter second apart often sit at different levels: the whole-round
/// swings that left <c>BruteForceMatcher</c> cases undecided (perf-results/README.md). Both sides of a pair still run
/// on the one CPU chosen, so the choice cannot favour either side; it only keeps the pairs off the noisier CPU.
/// </remarks>
internal static class CpuSteadiness
{
    /// <summary>Chunks timed per CPU.</summary>
    public const int Chunks = 32;

    /// <summary>How much quicker (relative) one CPU's slow chunks must be to win; closer readings are a tie.</summary>
    public const double TieMargin = 0.05;

    // Passes over the data per chunk: about 40-60 µs a chunk here, so a reading of both CPUs takes a few milliseconds.
    private const int PassesPerChunk = 100;

    private static readonly int[] s_data = CreateData();

    /// <summary>
    /// Reads both CPUs (<paramref name="first"/> then <paramref name="second"/>) and returns the steadier one, or
    /// <paramref name="tieBreak"/> when neither is clearly steadier or a CPU cannot be pinned.
    /// </summary>
    public static (int Cpu, bool Tie) Choose(int first, int second, int tieBreak)
    {
        double a = SlowChunkMicroseconds(first);
        double b = SlowChunkMicroseconds(second);
        return Pick(first, a, second, b, tieBreak);
    }

    /// <summary>
    /// The rule alone: the CPU whose 90th-percentile chunk is at least <see cref="TieMargin"/> quicker than the other's;
    /// otherwise (or when a reading is missing, NaN) <paramref name="tieBreak"/>.
    /// </summary>
    public static (int Cpu, bool Tie) Pick(int first, double firstSlowChunk, int second, double secondSlowChunk, int tieBreak)
    {
        if (double.IsNaN(firstSlowChunk) || double.IsNaN(secondSlowChunk))
        {
            return (tieBreak, true);
        }
        if (firstSlowChunk <= secondSlowChunk * (1 - TieMargin))
        {
            return (first, false);
        }
        if (secondSlowChunk <= firstSlowChunk * (1 - TieMargin))
        {
            return (second, false);
        }
        return (tieBreak, true);
    }

    /// <summary>
    /// Pins the calling thread to <paramref name="cpu"/> (restored after), runs the loop in <see cref="Chunks"/> chunks
    /// and returns the 90th-percentile chunk time in microseconds; NaN when the thread cannot be pinned there.
    /// </summary>
    public static double SlowChunkMicroseconds(int cpu)
    {
        using var pin = ThreadAffinity.PinCurrentThread(cpu);
        if (!pin.Pinned)
        {
            return double.NaN;
        }
        Spin(PassesPerChunk); // one unmeasured chunk: the thread has just moved
        var chunks = new double[Chunks];
        for (int k = 0; k < Chunks; k++)
        {
            long start = Stopwatch.GetTimestamp();
            Spin(PassesPerChunk);
            chunks[k] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
        }
        Array.Sort(chunks);
        return chunks[(Chunks * 9) / 10];
    }

    /// <summary>
    /// Loads, compares and arithmetic over a 4 KiB array, the mix of a resolution loop. Never inlined, so the call and
    /// its loop always run; compiled fully optimized at once, so the first CPU read in a process is not timed on the
    /// unoptimized first tier while the second gets the optimized code.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static long Spin(int passes)
    {
        int[] data = s_data;
        long a = 0, b = 0, c = 0, d = 0;
        for (int pass = 0; pass < passes; pass++)
        {
            for (int i = 0; i + 3 < data.Length; i += 4)
            {
                a += data[i];
                if (data[i + 1] > b)
                {
                    b ^= data[i + 1];
                }
                c += data[i + 2] * 3;
                d ^= data[i + 3] + a;
            }
        }
        return a + b + c + d;
    }

    private static int[] CreateData()
    {
        var data = new int[1024];
        for (int i = 0; i < data.Length; i++)
        {
            data[i] = unchecked((int)((uint)i * 2654435761u));
        }
        return data;
    }
}
