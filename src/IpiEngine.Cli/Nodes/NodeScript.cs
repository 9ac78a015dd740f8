using System.Diagnostics;
using IpiEngine.Apic;
using IpiEngine.Cli.TraceNodes;
using IpiEngine.Transport;
using IpiEngine.Workload;

namespace IpiEngine.Cli.Nodes;

/// <summary>
/// The VM's seeded workload as every node builds it: the same topology, mix and seed give every node the same
/// <see cref="WorkloadScript"/> (<see cref="WorkloadGenerator"/>); each node posts only its own vCPUs' scripts, looping
/// over each as the single-node run does. The bring-up (INIT/SIPI from vCPU 0) is not posted in a multi-node run.
/// </summary>
internal sealed class NodeScript
{
    /// <summary>IPIs generated per vCPU at most (bounds the scripts' memory; each script loops).</summary>
    private const int ScriptBudgetIpis = 1 << 20;

    private NodeScript(WorkloadScript script, TopologyKind kind, bool sparseIds)
    {
        Script = script;
        Kind = kind;
        SparseIds = sparseIds;
    }

    /// <summary>The generated scripts, one per vCPU of the whole VM.</summary>
    public WorkloadScript Script { get; }

    /// <summary>The addressing kind.</summary>
    public TopologyKind Kind { get; }

    /// <summary>True for sparse APIC IDs.</summary>
    public bool SparseIds { get; }

    /// <summary>
    /// Builds the script; throws <see cref="ArgumentException"/> with one sentence when the topology cannot hold
    /// <paramref name="vcpus"/>. Every kind works (xAPIC flat, cluster and physical included): every node starts from the
    /// same configured topology, the state the bring-up's replicated writes leave, and the script writes no topology
    /// register, so each node's resolution of its own vCPUs' writes equals the sequential one.
    /// </summary>
    public static NodeScript Build(int vcpus, TopologyKind kind, bool sparseIds, WorkloadMix mix, int seed, long ipisPerVcpu)
    {
        ArgumentNullException.ThrowIfNull(mix);
        var topology = ApicTopology.Configure(vcpus, kind, sparseIds);
        int perVcpu = (int)Math.Clamp(ipisPerVcpu > 0 ? ipisPerVcpu : ScriptBudgetIpis / vcpus, 1, Math.Max(64, ScriptBudgetIpis / vcpus));
        return new NodeScript(WorkloadGenerator.Generate(VcpuAddressBook.From(topology, kind), mix, seed, perVcpu), kind, sparseIds);
    }

    /// <summary>A fresh topology of the VM (each engine and each resolver takes ownership of its own).</summary>
    public ApicTopology NewTopology() => ApicTopology.Configure(Script.Vcpus.Length, Kind, SparseIds);

    /// <summary>Sweeps over the local vCPUs between two reads of a timed run's clock (a few microseconds of posting).</summary>
    private const int DeadlineSweeps = 16;

    /// <summary>
    /// Posts the scripts of <paramref name="local"/> vCPUs into <paramref name="engine"/> from one thread, round-robin,
    /// one firing write (with the ICR high write before it, if any) per vCPU per turn, so each vCPU's order is kept.
    /// Stops when each vCPU posted <paramref name="ipisPerVcpu"/> IPIs (when positive) or at <paramref name="deadline"/>.
    /// Returns the IPIs (firing writes) posted per vCPU, indexed by vCPU of the whole VM.
    /// </summary>
    /// <param name="rate">IPIs per second this node posts (0: as fast as the engine takes them).</param>
    /// <param name="paceStepMicroseconds">With a rate: what is due is posted once per step of this many microseconds (<see cref="PacingClock"/>).</param>
    /// <param name="kernel">With the host's kernel serving local targets: it sees each write first, as KVM does.</param>
    /// <param name="svrWriteEvery">
    /// When positive, each vCPU also writes its SVR before every N-th IPI (its 0th included): a replicated topology write
    /// that leaves routing alone (the software enable stays set; the spurious vector's low bit alternates), so the
    /// expectations still hold while the nodes' writes cross. Returns only when every node applied it.
    /// </param>
    /// <param name="batch">
    /// Firing writes each vCPU posts per turn: 1 posts every record alone (<see cref="Engine.Post"/>); more gathers a
    /// vCPU's next <paramref name="batch"/> IPIs (their ICR high writes and SVR writes included, in order) into one
    /// <see cref="Engine.PostBatch"/>, as <c>ipi run --batch</c> does on one node.
    /// </param>
    /// <param name="sendBatchOf">
    /// With a rate: the node's transport, whose send batch this thread holds while it posts, flushing it before each
    /// pacing sleep (<see cref="SendBatch"/>, <c>--send-batch</c>); null: the links' send loops are woken per forward.
    /// </param>
    public long[] Post(Engine engine, uint[] local, long ipisPerVcpu, TimeSpan deadline, long rate, KernelStandIn? kernel, CancellationToken ct, int svrWriteEvery = 0, int batch = 1, int paceStepMicroseconds = PacingClock.DefaultStepMicroseconds,
        NodeTransport? sendBatchOf = null)
    {
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentNullException.ThrowIfNull(local);
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        // A batch holds up to `batch` IPIs, each with at most an SVR write and its ICR high write before it.
        var pending = batch > 1 ? new ExitRecord[batch * 3] : [];
        var posted = new long[Script.Vcpus.Length];
        var cursor = new int[Script.Vcpus.Length];
        var clock = Stopwatch.StartNew();
        using var pacing = rate > 0 ? new PacingClock(rate, paceStepMicroseconds) : null; // on this thread, which may be a pool thread
        using var sendBatch = pacing is not null && sendBatchOf is not null ? sendBatchOf.BeginSendBatch() : default; // closed (and flushed) on this thread
        double deadlineMs = deadline.TotalMilliseconds;
        long total = 0;
        int sweeps = 0;
        bool more = local.Length > 0;
        while (more && !ct.IsCancellationRequested)
        {
            // A timed run ends at its deadline, read every DeadlineSweeps sweeps: once a sweep of a node's 8 vCPUs, the
            // clock read was about 8% of the posting thread's time (perf record of ipi run --nodes 2, far).
            if (ipisPerVcpu <= 0 && (sweeps++ % DeadlineSweeps) == 0 && clock.Elapsed >= deadline)
                break;
            more = false;
            foreach (uint v in local)
            {
                if (ipisPerVcpu > 0 && posted[v] >= ipisPerVcpu)
                    continue;
                int ipis = batch;
                if (ipisPerVcpu > 0)
                    ipis = (int)Math.Min(ipis, ipisPerVcpu - posted[v]);
                // A timed run posts no IPI due after its deadline: a paced batch keeps only those due before.
                while (ipisPerVcpu <= 0 && rate > 0 && ipis > 0 && (total + ipis - 1) * 1000 / rate >= deadlineMs)
                    ipis--;
                if (ipis == 0)
                {
                    more = false;
                    break;
                }
                // Paced, a batch goes when its last IPI is due, so no more than the rate allows is ever offered.
                pacing?.WaitFor(total + ipis - 1, sendBatch);
                var script = Script.Vcpus[v];
                int count = 0; // records gathered for one PostBatch
                for (int k = 0; k < ipis; k++)
                {
                    if (svrWriteEvery > 0 && posted[v] % svrWriteEvery == 0)
                    {
                        var svr = new ExitRecord((ushort)v, ApicRegister.Svr, 0x1FFu ^ (ulong)(posted[v] / svrWriteEvery & 1), 0, 0, 0);
                        kernel?.Write(svr);
                        if (batch > 1)
                            Gather(engine, (int)v, pending, ref count, svr);
                        else
                            engine.Post((int)v, svr.Register, svr.Value, 0);
                    }
                    // Up to and including the next firing write (an ICR2 write only latches).
                    while (true)
                    {
                        ref readonly var record = ref script.Records[cursor[v]];
                        kernel?.Write(record);
                        if (batch > 1)
                            Gather(engine, (int)v, pending, ref count, record);
                        else
                            engine.Post((int)v, record.Register, record.Value, record.DestinationId, record.Tag);
                        if (++cursor[v] == script.Records.Length)
                            cursor[v] = 0; // the script loops (a compare, not a division per record)
                        if (ApicRegister.FiresIpi(record.Register))
                            break;
                    }
                    posted[v]++;
                    total++;
                }
                if (count > 0)
                    engine.PostBatch((int)v, pending.AsSpan(0, count));
                more |= ipisPerVcpu <= 0 || posted[v] < ipisPerVcpu;
            }
        }
        return posted;
    }

    /// <summary>Adds a record to a vCPU's batch, posting the batch first when it is full (a script with long runs of non-firing writes).</summary>
    private static void Gather(Engine engine, int vcpu, ExitRecord[] pending, ref int count, in ExitRecord record)
    {
        if (count == pending.Length)
        {
            engine.PostBatch(vcpu, pending);
            count = 0;
        }
        pending[count++] = record;
    }
}
