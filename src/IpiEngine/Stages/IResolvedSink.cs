using IpiEngine.Delivery;

namespace IpiEngine.Stages;

/// <summary>Where the resolve stage puts each resolved (IPI, destination) pair (a struct: the call inlines).</summary>
internal interface IResolvedSink
{
    /// <summary>
    /// Takes one delivery of <paramref name="record"/> (its tag and post time travel with it): a sink builds a
    /// <see cref="RemoteDelivery"/> only where it keeps one.
    /// </summary>
    void Add(in ExitRecord record, uint sourceVcpu, uint destinationVcpu, uint icrLow, uint icrDestination);

    /// <summary>After a run: how many deliveries it added (a sink that counts each one as it comes ignores this).</summary>
    void Counted(int deliveries);
}
