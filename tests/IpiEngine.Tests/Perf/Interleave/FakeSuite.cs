using System.Diagnostics;
using BenchmarkDotNet.Attributes;

namespace IpiEngine.Tests.Perf.Interleave;

/// <summary>How <see cref="FakeSuite"/>'s spin is paced.</summary>
public enum Pace
{
    /// <summary>As written.</summary>
    Plain,

    /// <summary>Twice the spin.</summary>
    Twice,
}

/// <summary>
/// A suite in BenchmarkDotNet's shape for the interleaved runner's tests: parameters on a property
/// and a field, hooks with and without a target, four return shapes, one allocating and one
/// throwing benchmark. The environment variable <see cref="SlowdownVariable"/>, read once per
/// process, makes <see cref="Spin"/> twenty times slower: the worker of one side only gets it.
/// </summary>
[BenchmarkCategory("Apic")]
public class FakeSuite
{
    /// <summary>Set in one worker's environment to slow <see cref="Spin"/> down twentyfold.</summary>
    public const string SlowdownVariable = "IPI_FAKE_SUITE_SLOWDOWN";

    /// <summary>Set in a worker's environment to make <see cref="Setup"/> say its process id on the console (the worker's log).</summary>
    public const string SayProcessVariable = "IPI_FAKE_SUITE_SAY_PROCESS";

    private static readonly int s_factor = Environment.GetEnvironmentVariable(SlowdownVariable) is null ? 1 : 20;

    /// <summary>Hooks run, by name, for the in-process tests (the tests that read it run one at a time).</summary>
    public static List<string> Calls { get; } = [];

    /// <summary>The CPU the last <see cref="Setup"/> ran on.</summary>
    public static int SetupProcessor { get; private set; } = -1;

    private int _sink;

    /// <summary>Spin length in 100-ns steps.</summary>
    [Params(1, 3)]
    public int Work { get; set; }

    /// <summary>Pacing (a field on purpose: BenchmarkDotNet takes [Params] on fields too).</summary>
#pragma warning disable CA1051
    [Params(Pace.Plain, Pace.Twice)]
    public Pace Kind;
#pragma warning restore CA1051

    /// <summary>Runs before every benchmark's block.</summary>
    [GlobalSetup]
    public void Setup()
    {
        SetupProcessor = IpiEngine.ThreadAffinity.CurrentCpu();
        Record("setup");
        if (Environment.GetEnvironmentVariable(SayProcessVariable) is not null)
        {
            Console.WriteLine($"setup in process {Environment.ProcessId}");
        }
    }

    /// <summary>Runs before <see cref="Allocate"/>'s blocks only.</summary>
    [GlobalSetup(Target = nameof(Allocate))]
    public void SetupAllocate() => Record("setup-allocate");

    /// <summary>Runs after every block.</summary>
    [GlobalCleanup]
    public void Cleanup() => Record("cleanup");

    /// <summary>Busy-waits about Work × 100 ns per operation, 4 operations per call (long beside the clock's own cost, 30 ns or more on some machines).</summary>
    [Benchmark(OperationsPerInvoke = 4)]
    public int Spin()
    {
        long until = Stopwatch.GetTimestamp() + (Stopwatch.Frequency * Work * (Kind == Pace.Twice ? 2 : 1) * s_factor * 400 / 1_000_000_000);
        int spins = 0;
        while (Stopwatch.GetTimestamp() < until)
        {
            spins++;
        }
        return _sink = spins;
    }

    /// <summary>Allocates a 64-element int array (280 bytes) per call.</summary>
    [Benchmark]
    [BenchmarkCategory("CrossThread")]
    public int[] Allocate() => new int[64];

    /// <summary>Completes at once.</summary>
    [Benchmark]
    public ValueTask Complete() => ValueTask.CompletedTask;

    /// <summary>Always throws: its case fails, the others go on.</summary>
    [Benchmark]
    public void Throw() => throw new InvalidOperationException("this benchmark always fails");

    private static void Record(string call)
    {
        lock (Calls)
        {
            Calls.Add(call);
        }
    }
}
