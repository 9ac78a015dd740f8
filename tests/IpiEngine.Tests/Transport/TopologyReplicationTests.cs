using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using IpiEngine.Apic;
using IpiEngine.Cli.Nodes;
using IpiEngine.Transport;
using Xunit;

namespace IpiEngine.Tests.Transport;

/// <summary>The VM's topology writes over several nodes: one total order, synchronous for the writer, through faults.</summary>
public class TopologyReplicationTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    private static (long Index, int Origin, ulong RequestId, int Vcpu, ushort Register, ulong Value)[] Order(TopologyReplication replication)
        => [.. replication.AppliedWrites().Select(w => (w.Index, w.Origin, w.RequestId, w.Vcpu, w.Register, w.Value))];

    private static async Task ConnectAsync(ReplicatedVm vm)
        => Assert.True(await LoopbackCluster.WaitUntilAsync(() => vm.Ready, Bound), "the nodes did not connect: " + string.Join(" | ", vm.Log.TakeLast(10)));

    /// <summary>Every node applied the same writes in the same order, and their engines hold the same topology.</summary>
    private static void AssertOneOrderEverywhere(ReplicatedVm vm, int writes, Func<int, int> postedOn)
    {
        var reference = Order(vm.Replication(0));
        Assert.Equal(writes, reference.Length);
        Assert.Equal(Enumerable.Range(0, writes).Select(i => (long)i), reference.Select(w => w.Index));
        Assert.Equal(writes, reference.Select(w => (w.Origin, w.RequestId)).Distinct().Count()); // each write once
        for (int node = 0; node < vm.Transports.Length; node++)
        {
            Assert.Equal(reference, Order(vm.Replication(node)));
            Assert.Equal(writes, vm.Replication(node).Epoch);
            Assert.Equal(vm.Replication(0).Digest, vm.Replication(node).Digest);
            Assert.Equal(vm.Engine(0).Resolver.TopologyDigest(), vm.Engine(node).Resolver.TopologyDigest());
            var counters = vm.Engine(node).ReadCounters();
            Assert.Equal(writes, counters.TopologyWrites); // the contract: writes applied here, whichever node posted them
            Assert.Equal(writes - postedOn(node), counters.PeerTopologyWrites);
            Assert.True(counters.ConservationHolds, counters.ToString());
        }
    }

    /// <summary>Each vCPU writes its SVR <paramref name="perVcpu"/> times (bit 8 kept set); the values encode (vCPU, k).</summary>
    private static void WriteConcurrently(ReplicatedVm vm, int vcpus, int perVcpu)
    {
        var writers = Enumerable.Range(0, vcpus).Select(v => new Thread(() =>
        {
            for (int k = 0; k < perVcpu; k++)
                vm.Engine(vm.NodeOfVcpu[v]).Post(v, ApicRegister.Svr, 0x100u | (uint)(v << 4) | (uint)k, 0);
        }) { IsBackground = true }).ToArray();
        foreach (var t in writers)
            t.Start();
        foreach (var t in writers)
            Assert.True(t.Join(Bound), "a topology write did not return");
    }

    private static void AssertProgramOrderPerVcpu(ReplicatedVm vm, int vcpus)
    {
        var order = Order(vm.Replication(0));
        for (int v = 0; v < vcpus; v++)
        {
            var mine = order.Where(w => w.Vcpu == v).Select(w => w.Value & 0xF).ToArray();
            Assert.Equal(mine.Order(), mine); // a vCPU's writes keep its program order
        }
    }

    [Fact]
    public async Task Concurrent_writes_from_every_node_are_applied_in_one_order_on_all_nodes()
    {
        const int vcpus = 6, perVcpu = 8;
        await using var vm = ReplicatedVm.Start(nodes: 3, vcpus);
        await ConnectAsync(vm);
        WriteConcurrently(vm, vcpus, perVcpu);
        // Synchronous for the writer: once every write returned, every node applied all of them.
        AssertOneOrderEverywhere(vm, vcpus * perVcpu, node => vm.NodeOfVcpu.Count(n => n == node) * perVcpu);
        AssertProgramOrderPerVcpu(vm, vcpus);
        Assert.True(vm.Replication(0).IsSequencer);
    }

    [Fact]
    public async Task An_ipi_posted_after_the_write_resolves_with_the_new_topology_on_every_node()
    {
        // xAPIC physical, 4 vCPUs: 0 and 2 on node 0, 1 and 3 on node 1.
        await using var vm = ReplicatedVm.Start(nodes: 2, vcpus: 4);
        await ConnectAsync(vm);
        vm.PostXApicIpi(source: 0, destination: 0x21, vector: 0x40); // before the write: APIC ID 0x21 names nobody
        vm.Engine(1).Post(1, ApicRegister.Id, 0x21u << 24, 0);         // vCPU 1 (node 1) takes APIC ID 0x21
        vm.PostXApicIpi(source: 0, destination: 0x21, vector: 0x41); // node 0: forwarded to vCPU 1
        vm.PostXApicIpi(source: 3, destination: 0x21, vector: 0x42); // node 1: local
        vm.PostXApicIpi(source: 2, destination: 0x01, vector: 0x43); // the old ID names nobody now
        Assert.True(await LoopbackCluster.WaitUntilAsync(() =>
        {
            var a = vm.Engine(0).ReadCounters();
            var b = vm.Engine(1).ReadCounters();
            return a.InFlight == 0 && b.InFlight == 0 && a.IpisResolved == 3 && b.IpisResolved == 1 && b.RemoteDelivered == 1;
        }, Bound), vm.Engine(0).ReadCounters() + " / " + vm.Engine(1).ReadCounters());
        var pending = vm.Engine(1).TakePending(1);
        Assert.True(pending.IsPending(0x41) && pending.IsPending(0x42), "vCPU 1 did not receive what was sent to its new ID");
        Assert.False(pending.IsPending(0x40), "an IPI posted before the write resolved with the new topology");
        Assert.Equal(2, vm.Engine(0).ReadCounters().NoDestination); // 0x40 (before) and 0x43 (old ID)
        Assert.Equal(1, vm.Engine(0).ReadCounters().Forwarded);
        Assert.False(vm.Engine(0).HasPending(0) || vm.Engine(0).HasPending(2) || vm.Engine(1).HasPending(3));
    }

    [Theory]
    [InlineData(11)]
    [InlineData(12)]
    public async Task Links_cut_during_topology_writes_apply_each_write_exactly_once_everywhere(int seed)
    {
        const int vcpus = 6, perVcpu = 5;
        var proxies = new List<FaultProxy>();
        await using var vm = ReplicatedVm.Start(nodes: 3, vcpus, route: (_, target) =>
        {
            var proxy = new FaultProxy(target, seed + proxies.Count) { CutAfterBytes = (100, 1500), CutBudget = 6 };
            proxies.Add(proxy);
            return proxy.EndPoint;
        });
        try
        {
            await ConnectAsync(vm);
            WriteConcurrently(vm, vcpus, perVcpu);
            AssertOneOrderEverywhere(vm, vcpus * perVcpu, node => vm.NodeOfVcpu.Count(n => n == node) * perVcpu);
            AssertProgramOrderPerVcpu(vm, vcpus);
            Assert.True(proxies.Sum(p => p.Cuts) > 0, "no link was cut, so the test proved nothing");
        }
        finally
        {
            await vm.DisposeAsync();
            foreach (var proxy in proxies)
                await proxy.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_node_restarted_between_writes_catches_up_and_takes_part_again()
    {
        await using var vm = ReplicatedVm.Start(nodes: 3, vcpus: 3);
        await ConnectAsync(vm);
        for (uint k = 0; k < 3; k++)
            vm.Engine(1).Post(1, ApicRegister.Ldr, (1u << (int)(k + 1)) << 24, 0);
        await vm.StopNodeAsync(2);
        vm.StartNode(2); // a fresh engine at the initial topology
        Assert.True(await LoopbackCluster.WaitUntilAsync(() => vm.Replication(2).Epoch == 3, Bound), "the restarted node did not catch up: " + string.Join(" | ", vm.Log.TakeLast(10)));
        Assert.Equal(vm.Engine(0).Resolver.TopologyDigest(), vm.Engine(2).Resolver.TopologyDigest());
        Assert.Equal(3, vm.Engine(2).ReadCounters().PeerTopologyWrites);
        vm.Engine(2).Post(2, ApicRegister.Id, 0x30u << 24, 0); // and it writes again, synchronously for everyone
        AssertOneOrderEverywhere(vm, 4, node => node switch { 0 => 0, 1 => 3, _ => 1 });
    }

    /// <summary>
    /// Found by a review (2026-12-07): a restarted node resolves IPIs with the initial topology until it has replayed the
    /// VM's writes, and nothing told the embedder when that was over.
    /// </summary>
    [Fact]
    public async Task A_restarted_node_can_wait_until_it_has_caught_up_before_it_runs_its_vcpus()
    {
        await using var vm = ReplicatedVm.Start(nodes: 3, vcpus: 3);
        await ConnectAsync(vm);
        for (uint k = 0; k < 3; k++)
            vm.Engine(1).Post(1, ApicRegister.Ldr, (1u << (int)(k + 1)) << 24, 0);
        await vm.StopNodeAsync(2);
        vm.StartNode(2);
        Assert.True(vm.Replication(2).WaitCaughtUp(Bound), "the restarted node did not catch up: " + string.Join(" | ", vm.Log.TakeLast(10)));
        Assert.Equal(3, vm.Replication(2).Epoch); // the moment it returns, not eventually
        Assert.Equal(vm.Engine(0).Resolver.TopologyDigest(), vm.Engine(2).Resolver.TopologyDigest());

        // Restarted while the sequencer is down: it cannot know what it lacks, so it is not caught up; the others stay caught up.
        await vm.StopNodeAsync(0);
        await vm.StopNodeAsync(2);
        vm.StartNode(2);
        Assert.False(vm.Replication(2).WaitCaughtUp(TimeSpan.FromMilliseconds(300)));
        Assert.True(vm.Replication(1).WaitCaughtUp(TimeSpan.Zero));
        Assert.Throws<ArgumentOutOfRangeException>(() => vm.Replication(1).WaitCaughtUp(TimeSpan.FromSeconds(-1)));
    }

    [Fact]
    public async Task Nodes_that_start_from_different_topologies_are_refused_with_a_reason()
    {
        // Node 1 was configured with sparse APIC IDs: the digests differ at epoch 0.
        await using var vm = ReplicatedVm.Start(nodes: 2, vcpus: 4, writeTimeout: TimeSpan.FromMilliseconds(500),
            topologyOf: node => ApicTopology.Configure(4, TopologyKind.XApicPhysical, sparseIds: node == 1));
        Assert.True(await LoopbackCluster.WaitUntilAsync(
            () => vm.Transport(0).FaultCount(LinkFault.TopologyMismatch) > 0 && vm.Transport(1).FaultCount(LinkFault.TopologyMismatch) > 0, Bound));
        Assert.Contains(vm.Log, line => line.Contains("diverged", StringComparison.Ordinal) && line.Contains("TopologyMismatch", StringComparison.Ordinal));
        var e = Assert.Throws<TopologyWriteException>(() => vm.Engine(1).Post(1, ApicRegister.Ldr, 2u << 24, 0));
        Assert.Equal(TopologyWriteFailure.NotOrdered, e.Failure);
        Assert.Equal(0, vm.Engine(0).ReadCounters().TopologyWrites + vm.Engine(1).ReadCounters().TopologyWrites);
    }

    [Fact]
    public async Task A_peer_that_stays_unreachable_fails_the_write_with_a_counted_reason()
    {
        await using var vm = ReplicatedVm.Start(nodes: 2, vcpus: 2, writeTimeout: TimeSpan.FromMilliseconds(300));
        await ConnectAsync(vm);
        await vm.StopNodeAsync(1);
        var e = Assert.Throws<TopologyWriteException>(() => vm.Engine(0).ApplyTopologyWrite(0, ApicRegister.Ldr, 1u << 24));
        Assert.Equal(TopologyWriteFailure.NotConfirmed, e.Failure);
        Assert.Contains("node 1", e.Message, StringComparison.Ordinal);
        Assert.Equal(1, vm.Replication(0).FailureCount(TopologyWriteFailure.NotConfirmed));
        // Ordered, so applied here (however slowly the applier runs on a loaded machine): not silently dropped.
        Assert.True(await LoopbackCluster.WaitUntilAsync(() => vm.Replication(0).Epoch == 1, Bound));
        Assert.Equal(1, vm.Engine(0).ReadCounters().Posted);
        Assert.Equal(1, vm.Replication(0).FailedButApplied); // the failed call's write is the one in Posted
    }

    [Fact]
    public async Task A_write_the_sequencer_ordered_but_applies_late_fails_as_not_confirmed_not_as_not_ordered()
    {
        // The load the flaky 300 ms case met, made deterministic: node 0's pipeline is held in a delivery (its notifier
        // blocks), so its applier, which waits for the IPI posted after that one and before the write, applies it only after the timeout.
        using var held = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        await using var vm = ReplicatedVm.Start(nodes: 2, vcpus: 4, writeTimeout: TimeSpan.FromMilliseconds(300), notify: _ =>
        {
            held.Set();
            release.Wait(Bound, TestContext.Current.CancellationToken);
        });
        await ConnectAsync(vm);
        await vm.StopNodeAsync(1);
        vm.PostXApicIpi(source: 0, destination: 2, vector: 0x40); // local on node 0: its delivery blocks in the notifier
        Assert.True(held.Wait(Bound, TestContext.Current.CancellationToken));
        vm.PostXApicIpi(source: 0, destination: 2, vector: 0x41); // not resolved while the pipeline is held: the applier waits for it
        var e = Assert.Throws<TopologyWriteException>(() => vm.Engine(0).ApplyTopologyWrite(0, ApicRegister.Ldr, 1u << 24));
        Assert.Equal(TopologyWriteFailure.NotConfirmed, e.Failure); // ordered (the sequencer numbered it), just not applied yet
        Assert.Equal(0, vm.Replication(0).FailureCount(TopologyWriteFailure.NotOrdered));
        release.Set();
        Assert.True(await LoopbackCluster.WaitUntilAsync(() => vm.Engine(0).ReadCounters().TopologyWrites == 1, Bound));
        Assert.Equal(1, vm.Replication(0).Epoch);
    }

    [Fact]
    public async Task An_unreachable_sequencer_fails_the_write_with_a_counted_reason()
    {
        await using var vm = ReplicatedVm.Start(nodes: 2, vcpus: 2, writeTimeout: TimeSpan.FromMilliseconds(300));
        await ConnectAsync(vm);
        await vm.StopNodeAsync(0);
        var e = Assert.Throws<TopologyWriteException>(() => vm.Engine(1).PostBatch(1, [new ExitRecord(1, ApicRegister.Ldr, 2u << 24, 0, 0, 0)]));
        Assert.Equal(TopologyWriteFailure.NotOrdered, e.Failure);
        Assert.Contains("sequencer, node 0", e.Message, StringComparison.Ordinal);
        Assert.Equal(1, vm.Replication(1).FailureCount(TopologyWriteFailure.NotOrdered));
        Assert.Equal(0, vm.Engine(1).ReadCounters().TopologyWrites);
        Assert.Equal(0, vm.Replication(1).FailedButApplied);
        Assert.Equal(0, e.RecordsPosted); // the batch's first record
    }

    /// <summary>
    /// Retrying a failed write through a long sequencer outage keeps one record of it, whatever the number of failed
    /// calls: the retry reuses its request id. A different write of the vCPU is another record (the first may still have
    /// reached the sequencer); both are settled once the retried write is applied after the sequencer returns.
    /// </summary>
    [Fact]
    public async Task Retries_of_a_write_through_a_sequencer_outage_keep_one_record_of_it_until_it_is_applied()
    {
        await using var vm = ReplicatedVm.Start(nodes: 2, vcpus: 2, writeTimeout: TimeSpan.FromMilliseconds(200));
        await ConnectAsync(vm);
        await vm.StopNodeAsync(0);
        var replication = vm.Replication(1);
        void Write(uint ldr) => Assert.Equal(TopologyWriteFailure.NotOrdered, Assert.Throws<TopologyWriteException>(() => vm.Engine(1).Post(1, ApicRegister.Ldr, ldr, 0)).Failure);
        for (int call = 1; call <= 4; call++)
        {
            Write(0x10u << 24);
            Assert.Equal((call, 1), (replication.FailureCount(TopologyWriteFailure.NotOrdered), replication.FailedWritesAwaitingOutcome));
        }

        Write(0x20u << 24); // another write of vCPU 1: a new request id
        Assert.Equal(2, replication.FailedWritesAwaitingOutcome);
        for (int call = 0; call < 3; call++)
            Write(0x20u << 24);
        Assert.Equal((8L, 2), (replication.FailureCount(TopologyWriteFailure.NotOrdered), replication.FailedWritesAwaitingOutcome));

        vm.StartNode(0);
        Assert.True(await LoopbackCluster.WaitUntilAsync(() => vm.Ready, Bound), "the sequencer did not return: " + string.Join(" | ", vm.Log.TakeLast(10)));
        vm.Engine(1).Post(1, ApicRegister.Ldr, 0x20u << 24, 0); // the retry that succeeds: applied once
        Assert.Equal((1L, 0x20u << 24), (replication.Epoch, (uint)replication.AppliedWrites().Single().Value));
        Assert.Equal((4L, 0), (replication.FailedButApplied, replication.FailedWritesAwaitingOutcome)); // its four failed calls; the first write never will be
        Assert.Equal(1, vm.Engine(1).ReadCounters().Posted);
    }

    /// <summary>
    /// Found by a review (2026-12-07): a PostBatch cut short by a topology write that failed threw without saying how far
    /// it got, so the caller could not tell which records were posted. vCPU 1 (node 1) sends a physical IPI to vCPU 3
    /// (local on node 1), writes its LDR while the sequencer is down, and would send another IPI.
    /// </summary>
    [Fact]
    public async Task A_batch_cut_short_by_a_failed_topology_write_says_how_many_of_its_records_were_posted()
    {
        await using var vm = ReplicatedVm.Start(nodes: 2, vcpus: 4, writeTimeout: TimeSpan.FromMilliseconds(300));
        await ConnectAsync(vm);
        await vm.StopNodeAsync(0);
        ExitRecord[] batch =
        [
            new(1, ApicRegister.IcrHigh, 3u << 24, 3, 0, 0),
            new(1, ApicRegister.IcrLow, 0x40, 3, 0, 0),
            new(1, ApicRegister.Ldr, 2u << 24, 0, 0, 0),
            new(1, ApicRegister.IcrLow, 0x41, 3, 0, 0),
        ];
        var e = Assert.Throws<TopologyWriteException>(() => vm.Engine(1).PostBatch(1, batch));
        Assert.Equal(TopologyWriteFailure.NotOrdered, e.Failure);
        Assert.Equal(2, e.RecordsPosted); // before the fix: 0
        // What it says is what happened: the two records before the write were posted (and resolved), the one after it not.
        Assert.True(await LoopbackCluster.WaitUntilAsync(() => vm.Engine(1).ReadCounters() is { InFlight: 0, Posted: 2, IpisResolved: 1 }, Bound), vm.Engine(1).ReadCounters().ToString());
        var pending = vm.Engine(1).TakePending(3);
        Assert.True(pending.IsPending(0x40), "the IPI posted before the write did not arrive");
        Assert.False(pending.IsPending(0x41), "the IPI after the failed write was posted");
    }

    /// <summary>
    /// Found by a review (2026-12-07): a write that failed <c>NotOrdered</c> because its link dropped before the commit
    /// came back had reached the sequencer, so it was applied everywhere later; the caller's retry was a new write, ordered
    /// again: applied twice. Node 0 (the sequencer) dials node 1, so holding the proxy's client-to-server direction keeps
    /// commits and Dones from node 1 while its request gets through. The retry is posted after the link returned (and
    /// the original was applied everywhere), or while it is still down, or after another vCPU of node 1 wrote (so the
    /// sequencer's last request from node 1 is not the retried one).
    /// </summary>
    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public async Task A_write_that_failed_when_the_link_dropped_is_applied_once_when_the_caller_retries(bool retryWhileDown, bool anotherVcpuWritesFirst)
    {
        var proxies = new List<FaultProxy>();
        await using var vm = ReplicatedVm.Start(nodes: 2, vcpus: 4, writeTimeout: TimeSpan.FromSeconds(2), route: (_, target) =>
        {
            var proxy = new FaultProxy(target, seed: 70);
            proxies.Add(proxy);
            return proxy.EndPoint;
        });
        try
        {
            await ConnectAsync(vm);
            var link = proxies.Single();
            void Write() => vm.Engine(1).Post(1, ApicRegister.Ldr, 0x10u << 24, 0);

            link.HoldToServer = true;
            var e = Assert.Throws<TopologyWriteException>(Write);
            Assert.Equal(TopologyWriteFailure.NotOrdered, e.Failure);
            Assert.True(await LoopbackCluster.WaitUntilAsync(() => vm.Replication(0).Epoch == 1, Bound), "the request did not reach the sequencer: " + string.Join(" | ", vm.Log.TakeLast(10)));
            link.Block(); // the link drops: the commit it held is lost
            link.HoldToServer = false;
            Task retry = Task.CompletedTask;
            if (retryWhileDown)
                retry = Task.Factory.StartNew(Write, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            link.Unblock();
            if (!retryWhileDown)
            {
                // The sequencer resends the commit on the new connection: applied everywhere, as the failure said it might be.
                Assert.True(await LoopbackCluster.WaitUntilAsync(() => vm.Replication(1).Epoch == 1, Bound), "the failed write was not applied on node 1: " + string.Join(" | ", vm.Log.TakeLast(10)));
                Assert.Equal(1, vm.Replication(1).FailedButApplied); // in Posted now, and its failure says so
                if (anotherVcpuWritesFirst)
                    vm.Engine(1).Post(3, ApicRegister.Ldr, 0x20u << 24, 0);
                Write();
            }
            await retry.WaitAsync(Bound, TestContext.Current.CancellationToken);
            int writes = anotherVcpuWritesFirst ? 2 : 1;
            AssertOneOrderEverywhere(vm, writes, node => node == 1 ? writes : 0); // before the fix: one more write, the retry ordered again
            Assert.Contains("never applied twice", e.Message, StringComparison.Ordinal); // the failure says how to retry
            // Each write posted once, one failed call whose write was applied after all: the counters say each once.
            Assert.Equal(writes, vm.Engine(1).ReadCounters().Posted);
            Assert.Equal(1, vm.Replication(1).FailureCount(TopologyWriteFailure.NotOrdered));
            Assert.Equal(1, vm.Replication(1).FailedButApplied);
        }
        finally
        {
            await vm.DisposeAsync();
            foreach (var proxy in proxies)
                await proxy.DisposeAsync();
        }
    }

    /// <summary>
    /// The race behind a multi-process test that failed once (a restarted node's <c>topology</c> line read epoch 1 with
    /// the write's digest but 0 writes counted): the line read the engine's counters, then the epoch, then the digest, so
    /// a write applied between the reads showed in the epoch and not in the counters (or in the digest and not in the
    /// epoch). Node 1 only applies node 0's writes while a thread reads its line as fast as it can.
    /// </summary>
    [Fact]
    public async Task A_topology_line_read_while_writes_apply_never_shows_an_epoch_its_counters_or_digest_do_not_match()
    {
        const int writes = 400;
        await using var vm = ReplicatedVm.Start(nodes: 2, vcpus: 2);
        await ConnectAsync(vm);
        static ulong Value(int k) => 0x100u | (uint)(k & 0xFF);
        var expected = new ulong[writes + 1];
        expected[0] = vm.Replication(1).Digest;
        for (int k = 0; k < writes; k++)
            expected[k + 1] = TopologyReplication.Chain(expected[k], 0, ApicRegister.Svr, Value(k));

        var torn = new ConcurrentQueue<string>();
        long lines = 0;
        bool stop = false;
        var reader = new Thread(() =>
        {
            while (!Volatile.Read(ref stop)) // acquire: nothing to order, a plain stop flag
            {
                string line = NodeControl.Topology(vm.Engine(1), vm.Transport(1));
                var p = line.Split(' ');
                long epoch = long.Parse(p[1], CultureInfo.InvariantCulture);
                ulong digest = ulong.Parse(p[2], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                long counted = long.Parse(p[3], CultureInfo.InvariantCulture), peer = long.Parse(p[4], CultureInfo.InvariantCulture);
                if (epoch > writes || digest != expected[epoch] || counted < epoch || peer < epoch)
                    torn.Enqueue(line);
                lines++;
            }
        }) { IsBackground = true };
        reader.Start();
        var clock = Stopwatch.StartNew();
        int made = 0;
        for (; made < writes && clock.Elapsed < TimeSpan.FromSeconds(8); made++)
            vm.Engine(0).Post(0, ApicRegister.Svr, Value(made), 0); // returns once node 1 applied it too
        Volatile.Write(ref stop, true); // release: the reader stops after its current line
        Assert.True(reader.Join(Bound), "the reader did not stop");

        Assert.True(made >= 50 && lines >= made, $"{made} writes and {lines} lines read: too few to race");
        Assert.True(torn.IsEmpty, $"{torn.Count} of {lines} lines torn, the first: {torn.FirstOrDefault()}");
        Assert.Equal($"topology {made} {expected[made]:x16} {made} {made}", NodeControl.Topology(vm.Engine(1), vm.Transport(1)));
    }
}
