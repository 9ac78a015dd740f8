using System.Threading.Channels;

namespace IpiEngine.Benchmarks.Baselines;

/// <summary>The baseline flow on System.Threading.Channels: one bounded channel per vCPU, single reader and writer.</summary>
public sealed class ChannelsRig : BaselineRig
{
    private readonly Channel<ExitRecord>[] _channels;

    /// <summary>Builds and starts the rig.</summary>
    public ChannelsRig(int producers, int ipisPerInvocation, int capacity)
        : base(producers, ipisPerInvocation)
    {
        _channels = new Channel<ExitRecord>[VcpuCount];
        for (int v = 0; v < VcpuCount; v++)
        {
            _channels[v] = Channel.CreateBounded<ExitRecord>(new BoundedChannelOptions(capacity)
            {
                SingleReader = true,
                SingleWriter = true,
                FullMode = BoundedChannelFullMode.Wait,
            });
        }

        Start();
    }

    /// <inheritdoc/>
    protected override void Enqueue(int vcpu, in ExitRecord record)
    {
        ChannelWriter<ExitRecord> writer = _channels[vcpu].Writer;
        while (!writer.TryWrite(record))
        {
            Thread.Yield(); // full: the same yielding back-pressure the engine's producers use
        }
    }

    /// <inheritdoc/>
    protected override bool TryDequeue(int vcpu, out ExitRecord record) => _channels[vcpu].Reader.TryRead(out record);
}
