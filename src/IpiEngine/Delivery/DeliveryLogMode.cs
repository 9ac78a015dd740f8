namespace IpiEngine.Delivery;

/// <summary>Which deliveries a <see cref="DeliveryLog"/> keeps once more arrive than it holds.</summary>
public enum DeliveryLogMode
{
    /// <summary>The first <see cref="DeliveryLog.Capacity"/> deliveries, in delivery order (exact checks, replays).</summary>
    First,

    /// <summary>
    /// An evenly spread random sample of every delivery so far, in delivery order (one random pick per block of the
    /// stream, blocks doubling as the log fills; fixed seed): latency percentiles over a whole run with a bounded log.
    /// Holds between half and all of <see cref="DeliveryLog.Capacity"/> entries once it has filled.
    /// </summary>
    Sample,
}
