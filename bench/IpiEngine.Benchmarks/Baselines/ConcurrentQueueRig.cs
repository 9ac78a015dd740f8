using System.Collections.Concurrent;

namespace IpiEngine.Benchmarks.Baselines;

/// <summary>The baseline flow on ConcurrentQueue: one (unbounded) queue per vCPU.</summary>
public sealed class ConcurrentQueueRig : BaselineRig
{
    private readonly ConcurrentQueue<ExitRecord>[] _queues;

    /// <summary>Builds and starts the rig.</summary>
    public ConcurrentQueueRig(int producers, int ipisPerInvocation)
        : base(producers, ipisPerInvocation)
    {
        _queues = new ConcurrentQueue<ExitRecord>[VcpuCount];
        for (int v = 0; v < VcpuCount; v++)
        {
            _queues[v] = new ConcurrentQueue<ExitRecord>();
        }

        Start();
    }

    /// <inheritdoc/>
    protected override void Enqueue(int vcpu, in ExitRecord record) => _queues[vcpu].Enqueue(record);

    /// <inheritdoc/>
    protected override bool TryDequeue(int vcpu, out ExitRecord record) => _queues[vcpu].TryDequeue(out record);
}
