using System.Runtime.CompilerServices;

namespace IpiEngine.Perf.Interleave;

/// <summary>
/// Moves where a worker's benchmark code and data land, by an amount drawn from a seed: before
/// the first benchmark method is compiled, compiles a seed-chosen number of small filler methods
/// (each generic instantiation over a value type is compiled on its own, into the same code heap)
/// and keeps a seed-sized array alive on the heap.
/// </summary>
/// <remarks>
/// Why: with tiered compilation off, a build's code lands at the same addresses in every process,
/// and a layout-sensitive loop (measured: <c>DestinationMap(XApicAllExcludingSelf)</c> at 36, 39, 42
/// or 47 ns depending only on placement) keeps whatever its build's layout gives it. A change
/// anywhere else in the code then moves the benchmark by a placement, not by its own cost. Both
/// sides of a round get the same seed (identical code gets identical layouts, so the pair
/// cancels), and the seed changes from round to round (a change of placement is drawn anew each
/// round instead of biasing every round the same way).
/// </remarks>
internal static class CodeLayout
{
    /// <summary>Most filler methods compiled for one seed.</summary>
    public const int MostFillers = 48;

    // Kept alive for the process: the heap's next allocations start after it.
    private static byte[]? s_heapShift;

    /// <summary>Compiles the seed's fillers and allocates its array; returns how many fillers were compiled.</summary>
    public static int Shift(int seed)
    {
        var random = new Random(seed);
        int fillers = random.Next(MostFillers + 1);
        var filler = typeof(CodeLayout).GetMethod(nameof(Filler), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!;
        var type = typeof(byte);
        for (int i = 0; i < fillers; i++)
        {
            // Wrap<byte>, Wrap<Wrap<byte>>, ...: a new value type each time, so a new compiled body each time.
            type = typeof(Wrap<>).MakeGenericType(type);
            RuntimeHelpers.PrepareMethod(filler.MethodHandle, [type.TypeHandle]);
        }
        s_heapShift = new byte[random.Next(1, 4096)];
        return fillers;
    }

    /// <summary>A small body with a loop, compiled once per value type it is instantiated over.</summary>
    private static int Filler<T>(T[] values)
        where T : struct
    {
        int hash = 17;
        for (int i = 0; i < values.Length; i++)
        {
            hash = (hash * 31) + values[i].GetHashCode();
        }
        return hash;
    }

    private readonly struct Wrap<T>
        where T : struct
    {
        public T Value { get; init; }
    }
}
