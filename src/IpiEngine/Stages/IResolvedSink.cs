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

    /// <summary>
    /// Whether the sink gathers the vector bits of local vCPUs and keeps nothing else per delivery, so a Fixed or
    /// lowest-priority unicast may come through <see cref="AddLocalVectored"/> instead of <see cref="Add"/>.
    /// </summary>
    bool GathersLocalBits { get; }

    /// <summary>
    /// A Fixed or lowest-priority delivery of <paramref name="icrLow"/>'s vector to the local vCPU
    /// <paramref name="destinationVcpu"/>; only where <see cref="GathersLocalBits"/>.
    /// </summary>
    void AddLocalVectored(int destinationVcpu, uint icrLow);

    /// <summary>After a run: how many deliveries it added (a sink that counts each one as it comes ignores this).</summary>
    void Counted(int deliveries);
}
