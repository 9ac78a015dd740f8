using IpiEngine.Delivery;

namespace IpiEngine.Stages;

/// <summary>Where the resolve stage puts each resolved (IPI, destination) pair (a struct: the call inlines).</summary>
internal interface IResolvedSink
{
    /// <summary>Takes one delivery, field by field (a sink builds a <see cref="RemoteDelivery"/> only where it keeps one).</summary>
    void Add(ulong tag, long postTimestamp, uint sourceVcpu, uint destinationVcpu, uint icrLow, uint icrDestination);
}
