using IpiEngine.Delivery;

namespace IpiEngine.Stages;

/// <summary>Where the resolve stage puts each resolved (IPI, destination) pair (a struct: the call inlines).</summary>
internal interface IResolvedSink
{
    /// <summary>Takes one delivery.</summary>
    void Add(in RemoteDelivery delivery);
}
