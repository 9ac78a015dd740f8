namespace IpiEngine.Delivery;

/// <summary>When a batch's delivery-log entries get their deliver timestamp (a clock read per flushed batch).</summary>
internal enum DeliveryStamping
{
    /// <summary>Never: deliver timestamps are 0 (Inline mode's log, the same bytes run after run).</summary>
    Never,

    /// <summary>Every flush that logs entries reads the clock.</summary>
    Always,

    /// <summary>
    /// Only a flush with a post-stamped entry (posts sampled by <see cref="EngineOptions.PostTimeSampleInterval"/>): a
    /// deliver time is read only by the latency of an entry that has a post time, so the others keep 0.
    /// </summary>
    WhenPostStamped,
}
