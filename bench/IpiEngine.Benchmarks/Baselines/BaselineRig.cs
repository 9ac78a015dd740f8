using IpiEngine.Apic;
using IpiEngine.Benchmarks.EndToEnd;
using IpiEngine.Delivery;

namespace IpiEngine.Benchmarks.Baselines;

/// <summary>
/// The engine's flow built the plain way, for comparison in the same run: per-vCPU queues from a library, one consumer
/// thread that polls them, resolves each record with the same <see cref="IcrResolver"/>, and ORs each delivery into
/// the same descriptors one IPI at a time (no batching, no doorbells). Subclasses supply the queues.
/// </summary>
public abstract class BaselineRig : IDisposable
{
    private readonly ExitRecord[][] _records;
    private readonly Thread _consumer;
    private ProducerGang? _gang;
    private readonly int _producers;
    private readonly IcrResolver _resolver;
    private readonly DestinationSet _destinations;
    private readonly DescriptorTable _descriptors;
    private long _resolved;
    private long _expected;
    private volatile bool _closing;

    /// <summary>Prepares the records; call <see cref="Start"/> once the subclass's queues exist.</summary>
    protected BaselineRig(int producers, int ipisPerInvocation)
    {
        _producers = producers;
        VcpuCount = Math.Max(producers, 8);
        _records = new ExitRecord[VcpuCount][];
        for (int v = 0; v < VcpuCount; v++)
        {
            _records[v] = TrafficRecords.For(v, VcpuCount, Traffic.Unicast, ipisPerInvocation / VcpuCount);
        }

        _resolver = new IcrResolver(TrafficRecords.Topology(VcpuCount));
        _destinations = new DestinationSet(VcpuCount);
        _descriptors = new DescriptorTable(VcpuCount);
        _consumer = new Thread(Consume) { IsBackground = true, Name = "baseline-consumer" };
    }

    /// <summary>The number of vCPUs (one queue each).</summary>
    protected int VcpuCount { get; }

    /// <summary>Starts the consumer and the producers.</summary>
    protected void Start()
    {
        _consumer.Start();
        _gang = new ProducerGang(_producers, Post);
    }

    /// <summary>One invocation: every producer posts its records, then wait until all are resolved and delivered.</summary>
    public void RunOnce()
    {
        _expected += _records.Sum(r => r.Length);
        _gang!.Run();
        while (Volatile.Read(ref _resolved) < _expected)
        {
            Thread.Yield();
        }
    }

    /// <summary>Stops the threads.</summary>
    public void Dispose()
    {
        _gang?.Dispose();
        _closing = true;
        _consumer.Join();
        _descriptors.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>Producer: enqueues one record into vCPU <paramref name="vcpu"/>'s queue, waiting while it is full.</summary>
    protected abstract void Enqueue(int vcpu, in ExitRecord record);

    /// <summary>Consumer: dequeues one record of vCPU <paramref name="vcpu"/>'s queue, if any.</summary>
    protected abstract bool TryDequeue(int vcpu, out ExitRecord record);

    private void Post(int producer)
    {
        for (int v = producer; v < _records.Length; v += _producers)
        {
            foreach (ExitRecord record in _records[v])
            {
                Enqueue(v, record);
            }
        }
    }

    /// <summary>
    /// The consumer's loop calls <see cref="Pass"/> instead of holding the passes in its own body: a loop entered once and
    /// never left runs its on-stack-replaced version for good, while a method called per pass is recompiled by tiered
    /// compilation, as the probe's is (whose consumer measured 1.2-1.7x faster so, thirty-third session): the library's
    /// queues are not measured with a handicap.
    /// </summary>
    private void Consume()
    {
        while (!_closing)
        {
            if (!Pass())
            {
                Thread.Yield();
            }
        }
    }

    /// <summary>One pass over every queue: takes and delivers what is there; false when every queue was empty.</summary>
    private bool Pass()
    {
        bool any = false;
        for (int v = 0; v < VcpuCount; v++)
        {
            while (TryDequeue(v, out ExitRecord record))
            {
                Deliver(record);
                any = true;
            }
        }

        return any;
    }

    private void Deliver(in ExitRecord record)
    {
        ExitOutcome outcome = _resolver.Process(record, _destinations);
        if (outcome.Kind == ExitKind.Fired)
        {
            byte vector = outcome.Command.Vector;
            foreach (int destination in _destinations.Vcpus)
            {
                _descriptors.OrVectors(destination, vector >> 6, 1UL << vector);
                _descriptors.RaiseNotification(destination);
            }
        }

        Volatile.Write(ref _resolved, _resolved + 1); // one writer: the consumer
    }
}
