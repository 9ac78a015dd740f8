using System.Runtime.CompilerServices;
using IpiEngine.Apic;
using IpiEngine.Workload;

namespace IpiEngine.Cli.Nodes;

/// <summary>
/// What one node must receive, computed without the network: the VM's scripts, each vCPU's first <c>posted[v]</c>
/// firing writes (looping as <see cref="NodeScript.Post"/> does), run through an <see cref="IcrResolver"/> on one
/// thread. x2APIC topologies take no topology writes during the run and each vCPU's ICR latch is its own, so the
/// sequential resolution gives the same destinations as the engines' concurrent one.
/// </summary>
internal sealed class NodeExpectation
{
    private readonly long[] _pairs;

    private NodeExpectation(int vcpus, long[] pairs, long local, long forwarded, long remote)
    {
        Vcpus = vcpus;
        _pairs = pairs;
        Local = local;
        Forwarded = forwarded;
        Remote = remote;
    }

    /// <summary>vCPUs of the VM.</summary>
    public int Vcpus { get; }

    /// <summary>Deliveries from this node's vCPUs to this node's vCPUs.</summary>
    public long Local { get; }

    /// <summary>Deliveries from this node's vCPUs to other nodes' vCPUs (the engine forwards them).</summary>
    public long Forwarded { get; }

    /// <summary>Deliveries from other nodes' vCPUs to this node's vCPUs.</summary>
    public long Remote { get; }

    /// <summary>Deliveries expected from vCPU <paramref name="source"/> (local or remote) at local vCPU <paramref name="destination"/>.</summary>
    public long Pair(int source, int destination) => _pairs[source * Vcpus + destination];

    /// <summary>Computes the expectation of node <paramref name="self"/> for the IPIs <paramref name="posted"/> per vCPU.</summary>
    /// <remarks>
    /// A node computes this after its own posting, while the other nodes may still post and every link drains, on the
    /// same cores: so the replay is kept short. A script loops, and a loop of a vCPU whose records touch only its own
    /// latches (<see cref="IcrResolver.TouchesOnlySourceLatches"/>) resolves the same whenever it starts from the same
    /// latches; so once the latches at the start of two loops in a row are equal, every later loop repeats the second,
    /// and its deliveries are counted once, times the loops left. Any other vCPU is replayed record by record, in the
    /// same vCPU order as before, so the shared state (the IOAPIC) sees the same writes in the same order.
    /// </remarks>
    public static NodeExpectation Compute(NodeScript script, IReadOnlyList<int> nodeOfVcpu, int self, IReadOnlyList<long> posted)
    {
        ArgumentNullException.ThrowIfNull(script);
        ArgumentNullException.ThrowIfNull(nodeOfVcpu);
        ArgumentNullException.ThrowIfNull(posted);
        var replay = new Replay(script, nodeOfVcpu, self);
        for (int v = 0; v < replay.Vcpus; v++)
        {
            replay.Source(v, posted[v]);
        }

        return new NodeExpectation(replay.Vcpus, replay.Pairs, replay.Local, replay.Forwarded, replay.Remote);
    }

    /// <summary>The resolution of the scripts on one thread, with the counts it adds up.</summary>
    private sealed class Replay(NodeScript script, IReadOnlyList<int> nodeOfVcpu, int self)
    {
        private readonly IcrResolver _resolver = new(script.NewTopology());
        private readonly DestinationSet _destinations = new(script.Script.Vcpus.Length);

        public int Vcpus { get; } = script.Script.Vcpus.Length;

        public long[] Pairs { get; } = new long[script.Script.Vcpus.Length * script.Script.Vcpus.Length];

        public long Local { get; private set; }

        public long Forwarded { get; private set; }

        public long Remote { get; private set; }

        /// <summary>Counts the deliveries of vCPU <paramref name="v"/>'s first <paramref name="ipis"/> IPIs (its script looping).</summary>
        public void Source(int v, long ipis)
        {
            VcpuScript vcpu = script.Script.Vcpus[v];
            int perLoop = vcpu.Ipis;
            if (perLoop == 0 && ipis > 0)
            {
                throw new InvalidOperationException($"vCPU {v}'s script fires no IPI, yet {ipis:N0} are expected of it.");
            }

            if (ipis <= perLoop || !TouchesOnlyItsLatches(vcpu))
            {
                Run(vcpu, ipis); // record by record, looping as the posting did
                return;
            }

            long loops = ipis / perLoop;
            RunLoop(vcpu);
            long done = 1;
            while (done < loops)
            {
                var start = _resolver.SourceLatches(v);
                var before = Snapshot(v);
                RunLoop(vcpu);
                done++;
                if (_resolver.SourceLatches(v) == start && done < loops)
                {
                    // This loop started and ended with the same latches: each loop left starts there and repeats it.
                    AddTimes(v, before, loops - done);
                    done = loops;
                }
            }

            Run(vcpu, ipis - (loops * perLoop)); // the last, partial loop, from the latches the whole loops ended with
        }

        /// <summary>Whether every record of the script reads and writes only its vCPU's latches.</summary>
        private static bool TouchesOnlyItsLatches(VcpuScript vcpu)
        {
            foreach (ref readonly var record in vcpu.Records.AsSpan())
            {
                if (!IcrResolver.TouchesOnlySourceLatches(record.Register))
                    return false;
            }

            return true;
        }

        /// <summary>Resolves the script's records from its start until <paramref name="ipis"/> IPIs fired (looping).</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)] // runs once per node, millions of records: no time at tier 0
        private void Run(VcpuScript vcpu, long ipis)
        {
            int cursor = 0;
            for (long fired = 0; fired < ipis;)
            {
                fired += Resolve(vcpu.Vcpu, vcpu.Records[cursor]);
                cursor = (cursor + 1) % vcpu.Records.Length;
            }
        }

        /// <summary>Resolves every record of the script once, in order.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)] // runs once per node, millions of records: no time at tier 0
        private void RunLoop(VcpuScript vcpu)
        {
            foreach (ref readonly var record in vcpu.Records.AsSpan())
            {
                Resolve(vcpu.Vcpu, record);
            }
        }

        /// <summary>Resolves one record of vCPU <paramref name="v"/>'s script and counts its deliveries; returns 1 when it fires an IPI (delivered or not).</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)] // runs once per node, millions of records: no time at tier 0
        private int Resolve(int v, in ExitRecord record)
        {
            var outcome = _resolver.Process(record, _destinations);
            if (!ApicRegister.FiresIpi(record.Register))
                return 0;
            if (outcome.Kind != ExitKind.Fired)
                return 1;
            bool fromHere = nodeOfVcpu[v] == self;
            foreach (int d in _destinations.Vcpus)
            {
                bool toHere = nodeOfVcpu[d] == self;
                if (toHere)
                    Pairs[v * Vcpus + d]++;
                if (fromHere && toHere)
                    Local++;
                else if (fromHere)
                    Forwarded++;
                else if (toHere)
                    Remote++;
            }

            return 1;
        }

        private (long[] Row, long Local, long Forwarded, long Remote) Snapshot(int v)
            => (Pairs.AsSpan(v * Vcpus, Vcpus).ToArray(), Local, Forwarded, Remote);

        /// <summary>Adds <paramref name="times"/> more of what vCPU <paramref name="v"/>'s last loop counted (since <paramref name="before"/>).</summary>
        private void AddTimes(int v, (long[] Row, long Local, long Forwarded, long Remote) before, long times)
        {
            for (int d = 0; d < Vcpus; d++)
                Pairs[v * Vcpus + d] += (Pairs[v * Vcpus + d] - before.Row[d]) * times;
            Local += (Local - before.Local) * times;
            Forwarded += (Forwarded - before.Forwarded) * times;
            Remote += (Remote - before.Remote) * times;
        }
    }
}
