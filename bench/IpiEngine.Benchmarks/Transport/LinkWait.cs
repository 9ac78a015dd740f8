using System.Diagnostics;

namespace IpiEngine.Benchmarks.Transport;

/// <summary>
/// A benchmark's setup waiting for its links: fails the benchmark when they do not come up, instead of going on
/// unconnected into a measured loop that would then spin for ever (the records it waits for never arrive).
/// </summary>
internal static class LinkWait
{
    /// <summary>How long a setup waits for its loopback links.</summary>
    public static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    /// <summary>Waits until <paramref name="connected"/> holds; throws after <see cref="Bound"/>.</summary>
    public static void Until(Func<bool> connected, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!connected())
        {
            if (clock.Elapsed > Bound)
                throw new TimeoutException($"{what} not connected after {Bound.TotalSeconds:0} s: the benchmark cannot measure a link that is down");
            Thread.Sleep(1);
        }
    }
}
