using IpiEngine.Apic;
using IpiEngine.Transport;

namespace IpiEngine.Cli.TraceNodes;

/// <summary>
/// One host's kernel as the distributed-VM KVM patch behaves (docs/distributed.md): at an ICR write of a vCPU of this
/// host it resolves the IPI with the VM's topology and delivers it to the targets on this host (<c>kvm_apic_send_ipi</c>)
/// before the exit reaches userspace; it applies the VM's topology writes; and it takes the IPIs other hosts forward as
/// <c>KVM_DSM_IPI</c> records (<see cref="IcrInjector"/>). Here the resolution is the sequential <see cref="IcrResolver"/>
/// under a lock (the stand-in is not the engine under test), and what it served or injected is recorded for the check.
/// </summary>
internal sealed class KernelStandIn : IcrInjector
{
    private readonly Lock _lock = new();
    private readonly IcrResolver _resolver;
    private readonly DestinationSet _destinations;
    private readonly IReadOnlyList<int> _nodeOfVcpu;
    private readonly int _self;
    private readonly List<NodeDelivery>? _served;
    private readonly long[]? _pairs; // only when not recording: vCPUs squared longs (a 50,000-vCPU trace overflowed an int)
    private long _servedTotal;
    private readonly Dictionary<IcrInjection, long> _injected = [];
    private long _injectedTotal;
    private long _misinjected;

    /// <summary>
    /// Creates the kernel of node <paramref name="self"/>, with its own copy of the VM's topology; with
    /// <paramref name="recordServed"/> it keeps every served (tag, target, mode, vector), else only counts per (source, target).
    /// </summary>
    public KernelStandIn(ApicTopology topology, IReadOnlyList<int> nodeOfVcpu, int self, bool recordServed)
    {
        ArgumentNullException.ThrowIfNull(topology);
        ArgumentNullException.ThrowIfNull(nodeOfVcpu);
        _resolver = new IcrResolver(topology);
        _destinations = new DestinationSet(topology.VcpuCount);
        _nodeOfVcpu = nodeOfVcpu;
        _self = self;
        _served = recordServed ? [] : null;
        _pairs = recordServed ? null : new long[checked(topology.VcpuCount * topology.VcpuCount)];
    }

    /// <summary>Local targets served at ICR writes, all pairs.</summary>
    public long ServedTotal
    {
        get
        {
            lock (_lock)
            {
                return _servedTotal;
            }
        }
    }

    /// <summary>
    /// Local targets served per (source, target) pair, indexed <c>source * vCPUs + target</c> (a copy); null for a
    /// stand-in that records every served target instead (<see cref="Served"/>).
    /// </summary>
    public long[]? ServedPairs
    {
        get
        {
            lock (_lock)
            {
                return _pairs is null ? null : [.. _pairs];
            }
        }
    }

    /// <summary>Local targets served at ICR writes, as (the record's tag, the target vCPU, the IPI's mode and vector); empty unless recorded.</summary>
    public IReadOnlyList<NodeDelivery> Served
    {
        get
        {
            lock (_lock)
            {
                return [.. _served ?? []];
            }
        }
    }

    /// <summary>KVM_DSM_IPI records taken.</summary>
    public long Injected
    {
        get
        {
            lock (_lock)
            {
                return _injectedTotal;
            }
        }
    }

    /// <summary>KVM_DSM_IPI records naming a vCPU that is not on this host.</summary>
    public long Misinjected
    {
        get
        {
            lock (_lock)
            {
                return _misinjected;
            }
        }
    }

    /// <summary>The <c>KVM_DSM_IPI</c> records taken for this host's vCPUs, as the injector wrote them, each with how many times.</summary>
    public IReadOnlyDictionary<IcrInjection, long> InjectedRecords
    {
        get
        {
            lock (_lock)
            {
                return new Dictionary<IcrInjection, long>(_injected);
            }
        }
    }

    /// <summary>
    /// A register write trapped on this host (a local vCPU's ICR, ICR2 or other write) or a topology row of the VM:
    /// resolved as KVM does at the write, local targets served at once.
    /// </summary>
    public void Write(in ExitRecord record)
    {
        lock (_lock)
        {
            ExitOutcome outcome = _resolver.Process(record, _destinations);
            if (outcome.Kind != ExitKind.Fired)
            {
                return;
            }

            foreach (int destination in _destinations.Vcpus)
            {
                if (_nodeOfVcpu[destination] == _self)
                {
                    _served?.Add(new NodeDelivery((long)record.Tag, destination, outcome.Command.DeliveryMode, outcome.Command.Vector));
                    if (_pairs is not null)
                    {
                        _pairs[(record.SourceVcpu * _nodeOfVcpu.Count) + destination]++;
                    }

                    _servedTotal++;
                }
            }
        }
    }

    /// <inheritdoc/>
    public override void Inject(ReadOnlySpan<IcrInjection> injections)
    {
        lock (_lock)
        {
            foreach (ref readonly IcrInjection injection in injections)
            {
                _injectedTotal++;
                if (injection.TargetVcpu >= (uint)_nodeOfVcpu.Count || _nodeOfVcpu[(int)injection.TargetVcpu] != _self)
                {
                    _misinjected++;
                    continue;
                }

                _injected[injection] = _injected.GetValueOrDefault(injection) + 1;
            }
        }
    }
}
