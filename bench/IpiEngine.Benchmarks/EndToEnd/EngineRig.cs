using IpiEngine.Pipeline;

namespace IpiEngine.Benchmarks.EndToEnd;

/// <summary>
/// An engine with persistent producer threads (one per producer, each owning vCPUs) released by a barrier for each
/// invocation; an invocation posts every producer's preallocated records in batches and returns when all are
/// delivered. Nothing is allocated per invocation.
/// </summary>
public sealed class EngineRig : IDisposable
{
    private readonly int _batchSize;
    private readonly ExitRecord[][] _records; // per vCPU
    private readonly ProducerGang _gang;
    private readonly int _producers;
    private readonly bool _interleave;
    private long _expectedResolved;

    /// <summary>Builds and starts the engine and its producer threads.</summary>
    /// <param name="vcpus">vCPUs of the VM (default: the producers, at least 8); producer p posts for vCPUs p, p + producers, ...</param>
    /// <param name="interleave">
    /// Whether a producer visits all of its vCPUs in turn, one batch each (every ring active at once), rather than posting
    /// each vCPU's records before the next one's.
    /// </param>
    /// <param name="pipelineCpus">The pipeline threads' CPUs (<see cref="EngineOptions.PipelineCpus"/>; default: the OS places them).</param>
    public EngineRig(int producers, ThreadingMode mode, WaitStrategyKind wait, Traffic traffic, int ipisPerInvocation,
        bool? stampPostTime = null, int deliveryLogCapacity = 0, int batchSize = 64, int? vcpus = null, bool interleave = false, int ringCapacity = 0,
        IReadOnlyList<int>? pipelineCpus = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        _batchSize = batchSize;
        _producers = producers;
        _interleave = interleave;
        int vcpuCount = vcpus ?? Math.Max(producers, 8);
        ArgumentOutOfRangeException.ThrowIfLessThan(vcpuCount, producers);
        int perVcpu = ipisPerInvocation / vcpuCount;
        IpisPerInvocation = perVcpu * vcpuCount;
        _records = new ExitRecord[vcpuCount][];
        for (int v = 0; v < vcpuCount; v++)
        {
            _records[v] = TrafficRecords.For(v, vcpuCount, traffic, perVcpu);
        }

        Engine = new Engine(new EngineOptions
        {
            Topology = TrafficRecords.Topology(vcpuCount),
            ThreadingMode = mode,
            WaitStrategy = wait,
            StampPostTime = stampPostTime,
            DeliveryLogCapacity = deliveryLogCapacity,
            Name = "bench",
            RingCapacity = ringCapacity,
            PipelineCpus = pipelineCpus,
        });
        Engine.Start();
        _gang = new ProducerGang(producers, Post);
    }

    /// <summary>The engine.</summary>
    public Engine Engine { get; }

    /// <summary>IPIs posted by one <see cref="RunOnce"/>.</summary>
    public int IpisPerInvocation { get; }

    /// <summary>Releases the producers, waits for them to post everything, then for the pipeline to resolve and deliver it.</summary>
    public void RunOnce()
    {
        _expectedResolved += IpisPerInvocation;
        _gang.Run(); // every producer has posted
        while (true)
        {
            EngineCounters counters = Engine.ReadCounters();
            if (counters.IpisResolved >= _expectedResolved && counters.ConservationHolds)
            {
                return;
            }

            Thread.Yield();
        }
    }

    /// <summary>Stops the producers and the engine.</summary>
    public void Dispose()
    {
        _gang.Dispose();
        Engine.Dispose();
    }

    private void Post(int producer)
    {
        if (_interleave)
        {
            PostInterleaved(producer);
            return;
        }

        for (int v = producer; v < _records.Length; v += _producers)
        {
            ReadOnlySpan<ExitRecord> records = _records[v];
            if (_batchSize == 1)
            {
                foreach (ref readonly ExitRecord r in records)
                {
                    Engine.Post(v, r.Register, r.Value, r.DestinationId, r.Tag); // one exit, one post: the unbatched path
                }

                continue;
            }

            for (int i = 0; i < records.Length; i += _batchSize)
            {
                Engine.PostBatch(v, records.Slice(i, Math.Min(_batchSize, records.Length - i)));
            }
        }
    }

    /// <summary>One batch (or one record) per vCPU in turn, over all of this producer's vCPUs, until every record is posted.</summary>
    private void PostInterleaved(int producer)
    {
        int perVcpu = _records[producer].Length;
        for (int i = 0; i < perVcpu; i += _batchSize)
        {
            int count = Math.Min(_batchSize, perVcpu - i);
            for (int v = producer; v < _records.Length; v += _producers)
            {
                ReadOnlySpan<ExitRecord> piece = _records[v].AsSpan(i, count);
                if (count == 1)
                {
                    ref readonly ExitRecord r = ref piece[0];
                    Engine.Post(v, r.Register, r.Value, r.DestinationId, r.Tag);
                }
                else
                {
                    Engine.PostBatch(v, piece);
                }
            }
        }
    }
}
