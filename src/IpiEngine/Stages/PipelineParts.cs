using IpiEngine.Apic;
using IpiEngine.Delivery;
using IpiEngine.Pipeline;
using IpiEngine.Posting;
using IpiEngine.Rings;

namespace IpiEngine.Stages;

/// <summary>
/// What the engine hands its pipeline: the rings, the resolver, the descriptors and the options' choices
/// (<paramref name="AssistIdle"/>: fused mode's <see cref="IdleAssist"/>; <paramref name="Cpus"/>: the CPU of each pipeline
/// thread in pipeline order, or null to leave them to the OS).
/// </summary>
internal sealed record PipelineParts(
    SpscRing<ExitRecord>[] Rings,
    DoorbellBitmap Doorbell,
    PostingRings Posting,
    IcrResolver Resolver,
    DescriptorTable Descriptors,
    DeliveryLog? Log,
    VcpuPlacement? Placement,
    RemoteForwarder? Forwarder,
    LocalTargets LocalTargets,
    WaitStrategy Wait,
    EventCount Signal,
    int PipelineRingSize,
    NotifierFaults NotifierFaults,
    DeliveryStamping StampDeliveries,
    bool AssistIdle,
    int[]? Cpus);
