using System.Collections.Concurrent;
using IpiEngine.Apic;
using IpiEngine.Delivery;
using IpiEngine.Rings;

namespace IpiEngine.Perf.Probe;

/// <summary>
/// The plain way in C#, as a reference in the same run as the engine: one <see cref="ConcurrentQueue{T}"/> per vCPU, one
/// producer thread per vCPU enqueuing one record per call (unicast, x2APIC physical destinations cycling over every other
/// vCPU), one consumer thread that dequeues every queue in turn, resolves each record with the engine's own
/// <see cref="IcrResolver"/> and ORs each delivery into the posted-interrupt descriptors one at a time (the vector's bit,
/// then the notification), against which issue 19 asks one <c>Post</c> per record to be 3x faster. It is modelled on
/// <c>HeadlineBenchmarks.ConcurrentQueues</c> (bench/.../Baselines/ConcurrentQueueRig.cs) but is not that rig: that one's
/// queues are unbounded (its producers never wait) and its records cycle over 200 vectors, where here 128. A queue
/// here holds at most <c>capacity</c> records, as a ring does, so a producer ahead of the consumer waits instead of
/// growing the heap. Built with <c>takeAfterPost</c>, each producer also acts as
/// its vCPU's guest after every post, as <c>ipi run</c>'s vCPU threads do: it checks its own descriptor and takes what is
/// pending, so the consumer's ORs and the guests' takes share the descriptors' lines in the rig as they do in the run.
/// Unlike the probe, the rig's code is left to tiered compilation and its profile, as a plain C# program's would be
/// (compiled at once without a profile, it moved 19-30 M records/s near against 26-53 M so, thirty-third session).
/// </summary>
/// <remarks>
/// Bound and sequence. Producer v enqueues its records in its own sequence (<see cref="ExitRecord.Tag"/>), counting them
/// in <c>Tail</c>, and enqueues the next only while <c>Tail - Head &lt; capacity</c> for a <c>Head</c> it acquire-read. The
/// consumer counts what it dequeued of queue v and release-stores <c>Head</c> after each drain of it. The queue itself
/// orders and publishes each record (it is the thing measured); a record's tag is its place in its queue, so the consumer
/// checks it against its own count of that queue (<c>Head</c> and the records since), and a lost, doubled or reordered
/// record shows as a <see cref="ReferenceRig.SequenceErrors"/> count. <c>Tail</c> is
/// written once per run, at the producer's end: the run's barrier publishes it.
/// </remarks>
internal sealed class QueueRig : ReferenceRig
{
    private const int FirstVector = 0x20;
    private const uint LevelAssert = 1u << 14;

    private readonly ConcurrentQueue<ExitRecord>[] _queues;
    private readonly long _capacity;
    private readonly long[] _deliveredTo; // consumer-owned
    private readonly IcrResolver _resolver; // consumer-owned
    private readonly DestinationSet _destinations; // consumer-owned
    private readonly DescriptorTable _descriptors;
    private readonly bool _takeAfterPost;
    private readonly long[] _takes; // per producer, written at the end of each of its runs

    /// <summary>Builds the queues and starts one producer thread per vCPU and the consumer.</summary>
    /// <param name="vcpus">vCPUs: queues and producer threads.</param>
    /// <param name="capacity">The most records a queue holds.</param>
    /// <param name="parkWhenIdle">The consumer blocks between runs (<see cref="ReferenceRig"/>).</param>
    /// <param name="takeAfterPost">Each producer takes its own vCPU's pending interrupts after every post (summary).</param>
    public QueueRig(int vcpus, int capacity = 4096, bool parkWhenIdle = false, bool takeAfterPost = false)
        : base(vcpus, parkWhenIdle, "queue")
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _capacity = capacity;
        _queues = new ConcurrentQueue<ExitRecord>[vcpus];
        for (var v = 0; v < vcpus; v++)
        {
            _queues[v] = new ConcurrentQueue<ExitRecord>();
        }

        _deliveredTo = new long[vcpus];
        _resolver = new IcrResolver(ApicTopology.Configure(vcpus, TopologyKind.X2ApicCluster)); // APIC ID = vCPU index
        _destinations = new DestinationSet(vcpus);
        _descriptors = new DescriptorTable(vcpus);
        _takeAfterPost = takeAfterPost;
        _takes = new long[vcpus];
        Start();
    }

    /// <summary>The vCPU the <paramref name="sequence"/>th record of <paramref name="producer"/> targets (every other vCPU in turn).</summary>
    public int DestinationOf(int producer, long sequence) => Vcpus == 1 ? 0 : (int)((producer + 1 + (sequence % (Vcpus - 1))) % Vcpus);

    /// <summary>The vector the <paramref name="sequence"/>th record of any producer carries.</summary>
    public static byte VectorOf(long sequence) => (byte)(FirstVector + (sequence & 127));

    /// <summary>Deliveries to <paramref name="vcpu"/> so far; read it after <see cref="ReferenceRig.RunOnce"/> returned.</summary>
    public long DeliveredTo(int vcpu) => _deliveredTo[vcpu];

    /// <summary>How often producer <paramref name="vcpu"/> found something pending and took it (<c>takeAfterPost</c>); after a run.</summary>
    public long TakesBy(int vcpu) => Volatile.Read(ref _takes[vcpu]); // acquire: the run's barrier already ordered it

    /// <summary>Takes (reads and clears) <paramref name="vcpu"/>'s pending vectors; read it after a run returned.</summary>
    public PendingInterrupts TakePending(int vcpu) => _descriptors.Take(vcpu);

    /// <inheritdoc/>
    protected override void FreeQueues() => _descriptors.Dispose();

    /// <inheritdoc/>
    protected override void Post(int producer, long count)
    {
        ref var cursors = ref Cursors[producer];
        var queue = _queues[producer];
        var sequence = cursors.Tail;
        var takes = _takes[producer];
        for (long posted = 0; posted < count && !StopPosting; posted++, sequence++)
        {
            var spin = default(SpinWait);
            while (sequence - cursors.CachedHead >= _capacity)
            {
                cursors.CachedHead = Volatile.Read(ref cursors.Head); // acquire: pairs with the consumer's release after a drain
                if (sequence - cursors.CachedHead >= _capacity)
                {
                    spin.SpinOnce(sleep1Threshold: -1);
                }
            }

            var destination = (uint)DestinationOf(producer, sequence);
            var icr = ((ulong)destination << 32) | VectorOf(sequence) | LevelAssert;
            queue.Enqueue(ExitRecord.Create((ushort)producer, ApicRegister.X2Icr, icr, destination, (ulong)sequence));
            if (_takeAfterPost && _descriptors.HasPending(producer))
            {
                _descriptors.Take(producer);
                takes++;
            }
        }

        Volatile.Write(ref _takes[producer], takes); // release: read after the run's barrier
        Volatile.Write(ref cursors.Tail, sequence); // release: the run's barrier publishes it too; this documents the write
    }

    /// <inheritdoc/>
    protected override long Pass()
    {
        long taken = 0;
        for (var v = 0; v < Vcpus; v++)
        {
            ref var cursors = ref Cursors[v];
            var queue = _queues[v];
            var head = cursors.Head;
            var dequeued = head;
            while (queue.TryDequeue(out var record))
            {
                if ((long)record.Tag != dequeued)
                {
                    CountSequenceError();
                }

                Deliver(record);
                dequeued++;
            }

            if (dequeued != head)
            {
                taken += dequeued - head;
                Volatile.Write(ref cursors.Head, dequeued); // release: pairs with the producer's acquire of the bound
            }
        }

        return taken;
    }

    /// <summary>One record the plain way: the engine's resolver, then one atomic OR and one notification per destination.</summary>
    private void Deliver(in ExitRecord record)
    {
        var outcome = _resolver.Process(record, _destinations);
        if (outcome.Kind != ExitKind.Fired)
        {
            return;
        }

        var vector = outcome.Command.Vector;
        foreach (var destination in _destinations.Vcpus)
        {
            _descriptors.OrVectors(destination, vector >> 6, 1UL << vector);
            _descriptors.RaiseNotification(destination);
            _deliveredTo[destination]++;
        }
    }
}
