using System.Runtime.InteropServices;

namespace IpiEngine.Benchmarks.Infrastructure;

/// <summary>
/// A thread that answers pings on one padded cache line for as long as it lives: the benchmark
/// writes an odd value, the partner answers with the next even one.
/// </summary>
public sealed class PingPongPartner : IDisposable
{
    private const long Stop = -1;
    private readonly Line _line = new();
    private readonly Thread _thread;
    private long _value;

    private PingPongPartner()
    {
        _thread = new Thread(Answer) { IsBackground = true, Name = "pingpong-partner" };
    }

    /// <summary>Starts a partner thread.</summary>
    public static PingPongPartner Start()
    {
        var partner = new PingPongPartner();
        partner._thread.Start();
        return partner;
    }

    /// <summary>Bounces the line <paramref name="count"/> times; returns the last value (so the JIT keeps the work).</summary>
    public long RoundTrips(int count)
    {
        long value = _value;
        for (int i = 0; i < count; i++)
        {
            long ask = value + 1;
            // Release: hand over the line with an odd value.
            Volatile.Write(ref _line.Value, ask);
            // Acquire pairs with the partner's release of ask + 1.
            while (Volatile.Read(ref _line.Value) != ask + 1)
            {
            }
            value = ask + 1;
        }
        _value = value;
        return value;
    }

    /// <summary>Stops the partner thread and waits for it.</summary>
    public void Dispose()
    {
        // Release: the partner exits on its next read.
        Volatile.Write(ref _line.Value, Stop);
        _thread.Join();
    }

    private void Answer()
    {
        while (true)
        {
            // Acquire pairs with the pinger's release of an odd value or Stop.
            long value = Volatile.Read(ref _line.Value);
            if (value == Stop)
            {
                return;
            }
            if ((value & 1) == 1)
            {
                // Release: the answer is all the pinger waits for.
                Volatile.Write(ref _line.Value, value + 1);
            }
        }
    }

    /// <summary>The bounced counter, with a cache line pair of padding on each side.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 2 * 128 + sizeof(long))]
    private sealed class Line
    {
        [FieldOffset(128)] public long Value;
    }
}
