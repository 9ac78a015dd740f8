// TEMPORARY: a stand-in for the engine facade of the core branch, with its public shapes, so the C ABI, the C example
// and CI can be built before it lands on main. Deleted when main has src/IpiEngine/Engine.cs.
#pragma warning disable CS1591, CA1812, CA1822, CA1805, IDE0060, CA1815, CA1028, CA1716
namespace IpiEngine.Pipeline
{
    public enum WaitStrategyKind { Hybrid, BusySpin, Yielding, Sleeping, Blocking }
}

namespace IpiEngine.Delivery
{
    public readonly struct PendingInterrupts
    {
        public bool IsEmpty => true;
        public bool Nmi => false;
        public bool Smi => false;
        public bool Init => false;
        public bool Sipi => false;
        public byte SipiVector => 0;
        public ulong VectorWord(int index) => 0;
    }
}

namespace IpiEngine
{
    using IpiEngine.Apic;
    using IpiEngine.Delivery;
    using IpiEngine.Pipeline;

    public enum ThreadingMode { Fused, PerStage }
    public enum BackPressure { Wait, Drop }

    public sealed unsafe class EngineOptions
    {
        public int VcpuCount { get; init; }
        public ApicTopology? Topology { get; init; }
        public int RingCapacity { get; init; } = 4096;
        public ThreadingMode ThreadingMode { get; init; }
        public WaitStrategyKind WaitStrategy { get; init; }
        public BackPressure BackPressure { get; init; }
        public bool StampPostTime { get; init; } = true;
        public delegate* unmanaged<nint, int, void> NativeNotifier { get; init; }
        public nint NativeNotifierContext { get; init; }
        public string Name { get; init; } = "engine";
    }

    public readonly record struct EngineCounters(long Posted, long Latched, long TopologyWrites, long IpisResolved, long Rejected,
        long DestinationsResolved, long NoDestination, long Delivered, long Coalesced, long Forwarded, long Notifications,
        long RemoteDelivered = 0, long RemoteCoalesced = 0, long RemoteRejected = 0)
    {
        public long RejectedBy(RejectReason reason) => 0;
    }

    public sealed class Engine : IDisposable
    {
        private long _posted;
        private int _state;
        public Engine(EngineOptions options)
        {
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
