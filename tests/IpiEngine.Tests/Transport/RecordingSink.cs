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

    public override void Deliver(int fromNode, ReadOnlySpan<RemoteDelivery> deliveries)
    {
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
