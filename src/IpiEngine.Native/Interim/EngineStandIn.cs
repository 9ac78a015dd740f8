// TEMPORARY: a stand-in for the engine facade that the core branch is writing, with the planned names, so the C ABI,
// the C example and CI can be built before it lands. Deleted when main has src/IpiEngine/Engine.cs.
#pragma warning disable CS1591, CA1812, CA1822, CA1805, IDE0060
namespace IpiEngine
{
    using IpiEngine.Apic;

    public enum ThreadingMode { Fused, PerStage }
    public enum WaitStrategyKind { Hybrid, BusySpin, Yielding, Sleeping, Blocking }
    public enum BackPressure { Wait, Drop }

    public sealed class EngineOptions
    {
        public int VcpuCount { get; set; }
        public ApicTopology? Topology { get; set; }
        public int RingCapacity { get; set; } = 4096;
        public ThreadingMode ThreadingMode { get; set; }
        public WaitStrategyKind WaitStrategy { get; set; }
        public BackPressure BackPressure { get; set; }
    }

    public readonly record struct EngineCounters(long Posted, long Latched, long TopologyWrites, long IpisResolved, long Rejected,
        long DestinationsResolved, long Delivered, long Coalesced, long Forwarded, long NoDestination, long Notifications);

    public readonly record struct PendingInterrupts(ulong V0, ulong V1, ulong V2, ulong V3, bool Nmi, bool Smi, bool Init, bool Sipi, byte SipiVector)
    {
        public bool IsEmpty => (V0 | V1 | V2 | V3) == 0 && !Nmi && !Smi && !Init && !Sipi;
    }

    public sealed class Engine : IDisposable
    {
        private long _posted;
        private int _state;
        public Engine(EngineOptions options)
        {
            if (options.VcpuCount < 1) throw new ArgumentOutOfRangeException(nameof(options), "vCPU count must be positive.");
            if (options.RingCapacity < 2 || (options.RingCapacity & (options.RingCapacity - 1)) != 0)
                throw new ArgumentOutOfRangeException(nameof(options), "ring capacity must be a power of two.");
        }
        public void Start() { if (_state != 0) throw new InvalidOperationException("started"); _state = 1; }
        public void Post(int sourceVcpu, uint register, ulong value, uint destinationId, ulong tag = 0)
        { if (_state == 2) throw new InvalidOperationException("stopped"); Interlocked.Increment(ref _posted); }
        public bool TryPost(int sourceVcpu, uint register, ulong value, uint destinationId, ulong tag = 0)
        { Post(sourceVcpu, register, value, destinationId, tag); return true; }
        public void PostBatch(int sourceVcpu, ReadOnlySpan<ExitRecord> records) => Interlocked.Add(ref _posted, records.Length);
        public void Stop() => _state = 2;
        public void Dispose() => _state = 2;
        public EngineCounters ReadCounters() => new(Volatile.Read(ref _posted), 0, 0, Volatile.Read(ref _posted), 0, 0, 0, 0, 0, 0, 0);
        public bool HasPending(int vcpu) => false;
        public PendingInterrupts TakePending(int vcpu) => default;
    }
}
