using System.Diagnostics;
using System.Runtime.CompilerServices;
using IpiEngine.Apic;

namespace IpiEngine;

/// <content>The producer API: posts go through <see cref="Posting.PostingRings"/>; topology writes are ordered here.</content>
public sealed partial class Engine
{
    /// <summary>
    /// Posts one trapped register write as the hypervisor reports it. An unknown source vCPU is rejected and counted at
    /// once; a routing-relevant register (APIC ID, LDR, DFR, SVR, IA32_APIC_BASE) is applied in order (see
    /// <see cref="ApplyTopologyWrite"/>); everything else (ICR, ICR2, unknown registers) goes through the source's ring
    /// and is resolved or rejected there. When the ring is full, waits by the wait strategy (or drops and counts, if the
    /// options say so). Allocation-free.
    /// </summary>
    /// <param name="sourceVcpu">The vCPU that wrote the register.</param>
    /// <param name="register">The register: MMIO offset (0x300, 0x310 ...) or MSR number (0x830 ...).</param>
    /// <param name="value">The value written (64 bits for the x2APIC ICR).</param>
    /// <param name="destinationId">The destination id the hypervisor reported (informational).</param>
    /// <param name="tag">Returned with every delivery of this record's IPI.</param>
    /// <exception cref="InvalidOperationException">The engine is not started and the ring is full.</exception>
    /// <exception cref="EngineStoppedException">The engine is stopped (the record was not taken).</exception>
    /// <exception cref="EngineFaultedException">The engine's pipeline failed (the inner exception says how).</exception>
    /// <exception cref="ObjectDisposedException">The engine was disposed.</exception>
    [MethodImpl(HotPath.Inlined)]
    public void Post(int sourceVcpu, uint register, ulong value, uint destinationId, ulong tag = 0)
        => PostOne(sourceVcpu, register, value, destinationId, tag, wait: true);

    /// <summary>
    /// Like <see cref="Post"/>, but returns false instead of waiting when the source's ring is full (the record is then
    /// not posted and not counted). True when the record was taken (including when it was rejected and counted).
    /// </summary>
    /// <remarks>
    /// In the fused and per-stage modes a try-post never waits for a peer: on an engine with a forwarder it does not take
    /// the idle assist (which could forward into a full link window), it rings the pipeline instead. In
    /// <see cref="ThreadingMode.Inline"/> every post, this one included, delivers on the calling thread under the
    /// engine's one lock: a try-post waits for a post in flight on another thread and, with a forwarder whose links use
    /// <see cref="Transport.FullQueuePolicy.Wait"/>, for a peer's window, as <see cref="Post"/> does.
    /// </remarks>
    /// <exception cref="EngineStoppedException">The engine is stopped.</exception>
    /// <exception cref="EngineFaultedException">The engine's pipeline failed (the inner exception says how).</exception>
    /// <exception cref="ObjectDisposedException">The engine was disposed.</exception>
    [MethodImpl(HotPath.Inlined)]
    public bool TryPost(int sourceVcpu, uint register, ulong value, uint destinationId, ulong tag = 0)
        => PostOne(sourceVcpu, register, value, destinationId, tag, wait: false);

    /// <summary>
    /// <see cref="Post"/> and <see cref="TryPost"/>. Every call before the record's stores is the last thing its branch
    /// does, so the record's fields are never live across a call: the JIT keeps them in registers instead of spilling them
    /// to the stack on every post (stores that queue behind the ring slot's own, which waits for the line while the
    /// consumer reads its other half).
    /// </summary>
    [MethodImpl(HotPath.Inlined)]
    private bool PostOne(int sourceVcpu, uint register, ulong value, uint destinationId, ulong tag, bool wait)
    {
        ushort reg = register <= 0xFFFE ? (ushort)register : ApicRegister.Invalid;
        if ((uint)sourceVcpu >= (uint)_rings.Length || ApicTopology.IsTopologyRegister(reg))
        {
            PostOutsideRing(sourceVcpu, reg, value, 1);
            return true;
        }

        return _postsStraightToRings
            ? _posting.Post(sourceVcpu, reg, value, destinationId, tag, timestamp: 0, wait)
            : PostStampedOrInline(sourceVcpu, reg, value, destinationId, tag, wait);
    }

    /// <summary><see cref="PostOne"/> on an engine that stamps posts or delivers on the posting thread.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | HotPath.Optimized)]
    private bool PostStampedOrInline(int sourceVcpu, ushort reg, ulong value, uint destinationId, ulong tag, bool wait)
    {
        long timestamp = _stamp ? _posting.StampFor(sourceVcpu, reg) : 0;
        return _inline is not null
            ? _inline.Post(sourceVcpu, reg, value, destinationId, tag, timestamp, wait)
            : _posting.Post(sourceVcpu, reg, value, destinationId, tag, timestamp, wait);
    }

    /// <summary>
    /// Posts many records of one source vCPU with one publication per run that fits (one fence, one doorbell check).
    /// Each record's source is taken to be <paramref name="sourceVcpu"/>; a record without a post timestamp gets the
    /// batch's. Topology registers among them are applied in order, as by <see cref="Post"/>. When the engine stops or
    /// fails part way, the records before the refused piece were taken (and are resolved by the drain), the rest not.
    /// </summary>
    /// <exception cref="Transport.TopologyWriteException">A topology write among them was not replicated to every node:
    /// its <see cref="Transport.TopologyWriteException.RecordsPosted"/> records before it were posted, those after it not.</exception>
    /// <exception cref="InvalidOperationException">The engine is not started and the ring is full.</exception>
    /// <exception cref="EngineStoppedException">The engine is stopped.</exception>
    /// <exception cref="EngineFaultedException">The engine's pipeline failed (the inner exception says how).</exception>
    /// <exception cref="ObjectDisposedException">The engine was disposed.</exception>
    [MethodImpl(HotPath.Optimized)]
    public void PostBatch(int sourceVcpu, ReadOnlySpan<ExitRecord> records)
    {
        if ((uint)sourceVcpu >= (uint)_rings.Length)
        {
            PostOutsideRing(sourceVcpu, ApicRegister.Invalid, 0, records.Length);
            return;
        }

        long timestamp = _stamp ? Stopwatch.GetTimestamp() : 0;
        int i = 0;
        while (i < records.Length)
        {
            if (ApicTopology.IsTopologyRegister(records[i].Register))
            {
                PostBatchTopologyWrite(sourceVcpu, records[i].Register, records[i].Value, posted: i);
                i++;
                continue;
            }

            int run = 1;
            while (i + run < records.Length && !ApicTopology.IsTopologyRegister(records[i + run].Register))
            {
                run++;
            }

            if (_inline is not null)
            {
                _inline.PostRun(sourceVcpu, records.Slice(i, run), timestamp);
            }
            else
            {
                _posting.PostRun(sourceVcpu, records.Slice(i, run), timestamp);
            }

            i += run;
        }
    }

    /// <summary>A topology write of a batch, after <paramref name="posted"/> of its records: a failure to replicate it says how many.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void PostBatchTopologyWrite(int sourceVcpu, ushort register, ulong value, int posted)
    {
        try
        {
            PostOutsideRing(sourceVcpu, register, value, 1);
        }
        catch (Transport.TopologyWriteException e)
        {
            e.RecordsPosted = posted;
            throw;
        }
    }

    /// <summary>
    /// Records of <paramref name="sourceVcpu"/>'s ring taken so far (published, or dropped by policy and counted), for
    /// its producer: the difference across a refused <see cref="PostBatch"/> is how many of its ring records were taken.
    /// </summary>
    internal long RecordsTakenFrom(int sourceVcpu) => _rings[sourceVcpu].PublishedCount + _rings[sourceVcpu].DroppedCount;

    /// <summary>
    /// Posts a message-signalled interrupt that device <paramref name="device"/> wrote (an address/data pair, decoded as
    /// KVM's <c>kvm_set_msi_irq</c> does: docs/apic.md, "Device interrupts") on the device's own ring, to be resolved by
    /// the same destination rules as an ICR write. One thread per device at a time. Invalid MSIs are rejected and
    /// counted (<see cref="EngineCounters.MsisRejected"/>). Waits when the ring is full, as <see cref="Post"/>.
    /// </summary>
    /// <param name="device">The device source, 0 to <see cref="EngineOptions.DeviceSources"/> - 1.</param>
    /// <param name="address">The MSI address (bits 63:32 carry destination bits 31:8 under KVM's x2APIC API).</param>
    /// <param name="data">The MSI data (vector, delivery mode, trigger).</param>
    /// <param name="tag">Returned with every delivery of this interrupt.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="device"/> is not a configured device source.</exception>
    /// <exception cref="EngineStoppedException">The engine is stopped.</exception>
    /// <exception cref="EngineFaultedException">The engine's pipeline failed.</exception>
    /// <exception cref="ObjectDisposedException">The engine was disposed.</exception>
    public void PostMsi(int device, ulong address, uint data, ulong tag = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(device);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(device, _rings.Length - _vcpus);
        Post(_vcpus + device, ApicRegister.Msi, MsiMessage.RecordValue(address, data), (uint)(address >> 32), tag);
    }

    /// <summary>
    /// Posts a <c>KVM_HC_SEND_IPI</c> hypercall that <paramref name="vcpu"/> made (a 128-bit bitmap of physical APIC IDs
    /// from <paramref name="minApicId"/> up, and the ICR low bits), on the vCPU's ring as two records published together
    /// (docs/apic.md, "Device interrupts"). Each named APIC resolves as a physical ICR write to it would; invalid calls are
    /// rejected and counted (<see cref="EngineCounters.PvIpisRejected"/>). Same threading rule as <see cref="Post"/>.
    /// </summary>
    /// <param name="vcpu">The calling vCPU.</param>
    /// <param name="bitmapLow">a0: bit i names APIC ID <paramref name="minApicId"/> + i.</param>
    /// <param name="bitmapHigh">a1: bit i names APIC ID <paramref name="minApicId"/> + 64 + i.</param>
    /// <param name="minApicId">a2.</param>
    /// <param name="icr">a3: the ICR low bits (vector, delivery mode; physical, no shorthand).</param>
    /// <param name="tag">Returned with every delivery of this IPI.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="vcpu"/> is not a vCPU index.</exception>
    /// <exception cref="EngineStoppedException">The engine is stopped.</exception>
    /// <exception cref="EngineFaultedException">The engine's pipeline failed.</exception>
    /// <exception cref="ObjectDisposedException">The engine was disposed.</exception>
    public void PostPvIpi(int vcpu, ulong bitmapLow, ulong bitmapHigh, uint minApicId, uint icr, ulong tag = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(vcpu);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(vcpu, _vcpus);
        Span<ExitRecord> call = stackalloc ExitRecord[2];
        call[0] = new ExitRecord((ushort)vcpu, ApicRegister.PvSendIpiHigh, bitmapHigh, icr, tag, 0);
        call[1] = new ExitRecord((ushort)vcpu, ApicRegister.PvSendIpi, bitmapLow, minApicId, tag, 0);
        PostBatch(vcpu, call);
    }

    /// <summary>
    /// Device <paramref name="device"/> drives IOAPIC input <paramref name="pin"/> (0 to 23) high or low, on the device's
    /// ring. The pin's redirection entry decides: an unmasked edge pin fires on a rising edge; an asserted level pin fires
    /// unless its remote IRR is set (then again at the EOI of its vector, if still asserted); an assertion on a masked
    /// pin is refused (<see cref="RejectReason.MaskedPin"/>). The interrupt resolves as the MSI the entry describes
    /// (docs/apic.md, "IOAPIC"). Counted in <see cref="EngineCounters.IoApicResolved"/> and its siblings.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The device or the pin does not exist.</exception>
    /// <exception cref="InvalidOperationException">The VM's IOAPIC is on another node (<see cref="EngineOptions.IoApicNode"/>).</exception>
    /// <exception cref="EngineStoppedException">The engine is stopped.</exception>
    /// <exception cref="EngineFaultedException">The engine's pipeline failed.</exception>
    /// <exception cref="ObjectDisposedException">The engine was disposed.</exception>
    public void SetIoApicPin(int device, int pin, bool asserted, ulong tag = 0)
    {
        if (_options.IoApicNode >= 0 && _options.Placement!.LocalNode != _options.IoApicNode)
        {
            // This node's own IOAPIC is not the VM's: its entries stay masked, and a pin driven here would be lost.
            throw new InvalidOperationException($"The VM's IOAPIC is on node {_options.IoApicNode} (EngineOptions.IoApicNode): drive its pins there, not on node {_options.Placement.LocalNode}.");
        }

        ArgumentOutOfRangeException.ThrowIfNegative(device);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(device, _rings.Length - _vcpus);
        ArgumentOutOfRangeException.ThrowIfNegative(pin);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(pin, IoApic.PinCount);
        Post(_vcpus + device, ApicRegister.IoApicPin, asserted ? 1ul : 0, (uint)pin, tag);
    }

    /// <summary>
    /// <paramref name="vcpu"/> writes IOAPIC redirection entry <paramref name="pin"/> (the 64-bit entry: vector, delivery
    /// mode, destination mode, trigger, mask, destination in bits 63:56), on its ring, in order with its other records.
    /// Every pin starts masked. Unmasking an asserted level pin delivers it. With <see cref="EngineOptions.IoApicNode"/>
    /// another node, the write travels to that node's IOAPIC, the VM's one (entry bits 31:17, reserved, do not travel).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The vCPU or the pin does not exist.</exception>
    /// <exception cref="EngineStoppedException">The engine is stopped.</exception>
    /// <exception cref="EngineFaultedException">The engine's pipeline failed.</exception>
    /// <exception cref="ObjectDisposedException">The engine was disposed.</exception>
    public void WriteIoApicEntry(int vcpu, int pin, ulong entry)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(vcpu);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(vcpu, _vcpus);
        ArgumentOutOfRangeException.ThrowIfNegative(pin);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(pin, IoApic.PinCount);
        Post(vcpu, ApicRegister.IoApicEntry, entry, (uint)pin);
    }

    /// <summary>
    /// <paramref name="vcpu"/> ended the handler of <paramref name="vector"/> (an EOI write; with APICv, the EOI exit of a
    /// level-triggered vector): every level IOAPIC pin with that vector loses its remote IRR, and one still asserted
    /// is delivered again. Post only EOIs of vectors the vCPU accepted as level-triggered: the engine keeps no TMR, so
    /// the EOI of an edge interrupt sharing a level pin's vector would clear that pin's remote IRR (docs/apic.md).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The vCPU does not exist.</exception>
    /// <exception cref="EngineStoppedException">The engine is stopped.</exception>
    /// <exception cref="EngineFaultedException">The engine's pipeline failed.</exception>
    /// <exception cref="ObjectDisposedException">The engine was disposed.</exception>
    public void PostEoi(int vcpu, byte vector)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(vcpu);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(vcpu, _vcpus);
        Post(vcpu, ApicRegister.Eoi, vector, 0);
    }

    /// <summary>
    /// Applies a routing-relevant register write (APIC ID, LDR, DFR, SVR, IA32_APIC_BASE) so that every IPI posted
    /// before this call, by any thread, resolves with the old topology and every IPI posted after it with the new:
    /// the call waits until the pipeline has resolved everything published so far, then publishes a new destination
    /// map with one swap. Topology writes are rare; any thread; serialised. With a <see cref="EngineOptions.Replicator"/>
    /// (a multi-node VM), the write is applied so on every node, in the VM's one order of topology writes, and the call
    /// returns once every node applied it.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="vcpu"/> is not a vCPU index.</exception>
    /// <exception cref="ArgumentException"><paramref name="register"/> is not a topology register.</exception>
    public void ApplyTopologyWrite(int vcpu, uint register, ulong value)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(vcpu);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(vcpu, _vcpus);
        ushort reg = register <= 0xFFFE ? (ushort)register : ApicRegister.Invalid;
        if (!ApicTopology.IsTopologyRegister(reg))
        {
            throw new ArgumentException($"Register 0x{register:x} is not a topology register (APIC ID, LDR, DFR, SVR, IA32_APIC_BASE).", nameof(register));
        }

        PostOutsideRing(vcpu, reg, value, 1);
    }

    /// <summary>
    /// Records that do not enter a ring: unknown sources (rejected) and topology writes (applied in order; with a
    /// <see cref="EngineOptions.Replicator"/>, handed to it, which returns once every node applied the write).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void PostOutsideRing(int sourceVcpu, ushort register, ulong value, int count)
    {
        if (_options.Replicator is { } replicator && (uint)sourceVcpu < (uint)_vcpus)
        {
            if (Volatile.Read(ref _state) > Running || _posting.Fault is not null)
            {
                _posting.ThrowClosed(); // a stopped or failed engine replicates nothing
            }

            replicator.Replicate(sourceVcpu, register, value); // never under _control: the applier needs it
            return;
        }

        ApplyInOrder(sourceVcpu, register, value, count, fromPeer: false);
    }

    /// <summary>
    /// Under <see cref="_control"/>: rejects an unknown source, or applies a topology write after everything posted
    /// before it resolved (with the old map) and before anything posted after it (with the new one).
    /// </summary>
    private void ApplyInOrder(int sourceVcpu, ushort register, ulong value, int count, bool fromPeer)
    {
        lock (_control)
        {
            if (_state > Running || _posting.Fault is not null)
            {
                _posting.ThrowClosed(); // a stopped or failed engine accepts nothing, topology writes included
            }

            if ((uint)sourceVcpu >= (uint)_vcpus)
            {
                _controlCounters.AddRejected(RejectReason.UnknownSource, count); // a device source has no topology either
                return;
            }

            if (_state == Running)
            {
                for (int i = 0; i < _rings.Length; i++)
                {
                    _topologySnapshot[i] = _rings[i].PublishedCount; // acquire: everything posted before us, by anyone
                }

                if (!_pipeline.WaitResolved(_topologySnapshot))
                {
                    _posting.ThrowClosed(); // only a fault ends the wait early (Stop needs _control, which we hold)
                }
            }
            else
            {
                _pipeline.DrainInline(); // not running: resolve what is queued with the old map first, on this thread
            }

            _resolver.ApplyTopologyWrite(sourceVcpu, register, value); // new immutable map, one reference swap
            _controlCounters.Add(CounterSlot.TopologyWrites, 1);
            if (fromPeer)
            {
                _controlCounters.Add(CounterSlot.PeerTopologyWrites, 1);
            }
        }
    }
}
