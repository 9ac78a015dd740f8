using System.Diagnostics;
using System.Runtime.CompilerServices;
using IpiEngine.Perf.Suite;

namespace IpiEngine.Benchmarks.Infrastructure;

/// <summary>
/// Makes an instrumented benchmark slower by the fraction that <see cref="SuiteSlowdown.EnvironmentVariable"/>
/// names, to measure how often the suite flags a real regression, in one of two ways.
/// <para>A single-threaded benchmark does that fraction more of its own work per invocation: it loops
/// <see cref="ExtraOperations"/> more times than it reports (1126 writes reported as 1024 at 10%). The slowed code is then
/// exactly the code measured, which is what a real regression slows; the spin below, used for these benchmarks until
/// 2026-12-05, is other code beside the loop.</para>
/// <para>Both sides carry the variable (<c>ipi perf aa</c> gives the unslowed side <see cref="SuiteSlowdown.Unslowed"/>), so
/// both parse it at start-up through the same code. With it on the slowed side only, the two sides sat at levels apart
/// that the switch does not explain: <c>DestinationMap(X2ApicBroadcast)</c> about 6% faster under a 10% spin for
/// stretches of 10-20 rounds (SLOWER in 3 of 10 detection runs), and, in the first run with extra work (2026-12-05, far),
/// <c>BruteForceMatcher(X2ApicBroadcast)</c> and <c>(XApicAllExcludingSelf)</c> at +33 to +49% in 6 rounds of 10 and +10 to
/// +27% in the other 4, and <c>DestinationMap(X2ApicBroadcast)</c> called the same. With the variable on both sides, the
/// next run (8 rounds of those two cases of both methods) read 29 of its 32 rounds at +6 to +14% (perf-results/README.md).</para>
/// <para>A cross-thread benchmark, whose invocation is several threads' work, spins instead. It opts in with
/// <c>using var slowdown = BenchmarkSlowdown.Begin();</c> as the first line of its method: the
/// scope reads the clock at the start and, on dispose, spins for the fraction of the time the
/// invocation took. The slowdown is therefore relative to each invocation's own time (10% of
/// 5 µs is 0.5 µs, 10% of 13 ms is 1.3 ms) and moves with the machine as a real regression would.
/// Two clock reads add about 50 ns per invocation on top, under 1% of the instrumented
/// benchmarks' invocations (thousands of operations each).</para>
/// </summary>
/// <remarks>
/// Both sides must run the same machine code, placed alike, and differ only in how long the spin lasts:
/// <list type="bullet">
/// <item>The switch is a plain static field read at run time, never a <c>static readonly</c> the JIT could fold. A
/// folded switch compiled different code for the two sides, which moved the placement of the benchmark's loop;
/// measured (2026-12-03, far, interleaved rounds, tiering off), that made <c>DestinationMap(XApicAllExcludingSelf)</c>
/// read 8% faster under a 10% slowdown.</item>
/// <item>The benchmark method holds no branch on the switch: <see cref="Begin"/> and <see cref="Scope.Dispose"/> are
/// calls that never inline and always read the clock, whatever the fraction, so both sides execute the same
/// instructions and differ only in the spin's iterations. With the branch inlined, the unslowed side skipped both
/// clock reads; and where tiering and PGO are on (the launches mode), a branch always taken on one side and never on
/// the other is a profile that can lay the two methods out differently. This is a suspect, not a measured cause, for
/// the levels A and B held apart in the 10% detection run of 2026-12-04 (perf-results/README.md).</item>
/// <item>The two helpers are compiled once, fully optimized, without tiering or a profile
/// (<see cref="MethodImplOptions.AggressiveOptimization"/>), so their code does not depend on which side ran them.</item>
/// </list>
/// Off, the cost is two calls and two clock reads per invocation (thousands of operations each).
/// </remarks>
public static class BenchmarkSlowdown
{
    // Not readonly on purpose (see the remarks): the JIT must not fold the switch into the code.
    private static double s_fraction = ReadFraction();

    /// <summary>The slowdown, 0.10 for 10%; read once per process.</summary>
    public static double Fraction => s_fraction;

    /// <summary>True when the slowdown switch is on.</summary>
    public static bool Enabled => s_fraction > 0;

    /// <summary>
    /// How many operations more than <paramref name="operations"/> a single-threaded benchmark runs per invocation: the
    /// slowdown's fraction of them, 0 when off. Read it into an instance field in the global setup and loop to the sum,
    /// so both sides run the same loop and differ only in its count.
    /// </summary>
    public static int ExtraOperations(int operations) => SuiteSlowdown.ExtraOperations(operations, s_fraction);

    /// <summary>Starts timing one invocation (the clock is read on both sides, see the remarks).</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static Scope Begin() => new(Stopwatch.GetTimestamp());

    private static double ReadFraction()
    {
        try
        {
            return SuiteSlowdown.FromEnvironment();
        }
        catch (IpiEngine.Perf.PerfInputException)
        {
            // Program.Main refuses a bad value with one sentence before any benchmark runs.
            return 0;
        }
    }

    /// <summary>Spins for <see cref="Fraction"/> of the time since <paramref name="start"/> (at once when off).</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void SpinAfter(long start)
    {
        long now = Stopwatch.GetTimestamp();
        long until = now + (long)((now - start) * s_fraction);
        while (Stopwatch.GetTimestamp() < until)
        {
        }
    }

    /// <summary>One invocation's timing; dispose it at the end of the invocation.</summary>
    public readonly ref struct Scope
    {
        private readonly long _start;

        internal Scope(long start) => _start = start;

        /// <summary>Spins for <see cref="Fraction"/> of the time since <see cref="Begin"/>.</summary>
        public void Dispose() => SpinAfter(_start);
    }
}
