using IpiEngine.Delivery;
using IpiEngine.Transport;

namespace IpiEngine.Tests.Transport;

/// <summary>Keeps every record a node applies, with the node it came from (tests only: it locks and allocates).</summary>
public sealed class RecordingSink : RemoteDeliverySink
{
    private readonly Lock _lock = new();
    private readonly List<(int From, RemoteDelivery Delivery)> _received = [];

    public int Count
    {
        get
        {
            lock (_lock)
                return _received.Count;
        }
    }

    public (int From, RemoteDelivery Delivery)[] Snapshot()
    {
        lock (_lock)
            return [.. _received];
    }

    /// <summary>When set, each delivery waits for it first (holding the receiving link's loop), counted in <see cref="Held"/>.</summary>
    public ManualResetEventSlim? HoldBeforeDeliver { get; set; }

    /// <summary>Deliveries that reached <see cref="HoldBeforeDeliver"/>.</summary>
    public int Held => Volatile.Read(ref _held);

    private int _held;

    /// <summary>The next this many calls throw before they record anything (a sink that fails, as its contract allows).</summary>
    public int ThrowNext
    {
        get => Volatile.Read(ref _throwNext);
        set => Volatile.Write(ref _throwNext, value);
    }

    private int _throwNext;

    public override void Deliver(int fromNode, ReadOnlySpan<RemoteDelivery> deliveries)
    {
        if (ThrowNext > 0 && Interlocked.Decrement(ref _throwNext) >= 0)
            throw new InvalidOperationException("the test's sink refuses this frame");

        if (HoldBeforeDeliver is { } hold)
        {
            Interlocked.Increment(ref _held);
            hold.Wait(TimeSpan.FromSeconds(30));
        }

        lock (_lock)
        {
            foreach (var d in deliveries)
                _received.Add((fromNode, d));
        }
    }
}
