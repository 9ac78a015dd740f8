using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using IpiEngine.Delivery;

namespace IpiEngine.Transport;

/// <summary>The two loops of a running connection: frames out (send) and frames in (receive, validate, apply).</summary>
internal sealed partial class PeerLink
{
    /// <summary>Writes acknowledgements, unsent records and heartbeats; parks on the wake signal when there is nothing.</summary>
    private async Task SendLoopAsync(LinkConnection connection, long cursor)
    {
        await Task.Yield(); // leave the caller's thread: both loops start before either runs
        PipeWriter writer = connection.Writer;
        FrameProtection protection = connection.Protection!;
        CancellationToken stopping = connection.Stopping;
        int maxPerFrame = _node.Options.MaxRecordsPerFrame;
        long ackSent = -1;
        while (true)
        {
            stopping.ThrowIfCancellationRequested();
            int written = 0;
            long next = Volatile.Read(ref _nextExpected);
            if (next != ackSent)
            {
                written += FrameWriter.WriteEmpty(writer, protection, FrameKind.Ack, next);
                ackSent = next;
            }
            while (written < FlushThreshold && _topologyOut.TryDequeue(out var topology))
                written += FrameWriter.WriteTopology(writer, protection, topology);
            long published = _window.Published;
            long sentBefore = cursor;
            while (cursor < published && written < FlushThreshold)
            {
                var slice = _window.Slice(cursor, published, maxPerFrame);
                written += FrameWriter.WriteDeliveries(writer, protection, slice, cursor);
                cursor += slice.Length;
            }
            if (_heartbeatDue)
            {
                _heartbeatDue = false;
                if (written == 0)
                    written += FrameWriter.WriteEmpty(writer, protection, FrameKind.Heartbeat, 0);
            }
            if (written == 0)
            {
                await _signal.WaitAsync();
                continue;
            }
            Volatile.Write(ref _recordsSent, _recordsSent + (cursor - sentBefore));
            Volatile.Write(ref _lastSent, Stopwatch.GetTimestamp());
            FlushResult flushed = await writer.FlushAsync(stopping).ConfigureAwait(false);
            if (flushed.IsCompleted || flushed.IsCanceled)
                throw new OperationCanceledException();
        }
    }

    /// <summary>
    /// Parses frames as they arrive, checks each one's tag, and applies it; any protocol violation, and any frame that
    /// fails its tag (<see cref="LinkFault.BadMac"/>), closes the connection before anything of that frame is applied.
    /// </summary>
    private async Task ReceiveLoopAsync(LinkConnection connection)
    {
        await Task.Yield();
        PipeReader reader = connection.Reader;
        FrameProtection protection = connection.Protection!;
        CancellationToken stopping = connection.Stopping;
        while (true)
        {
            ReadResult result = await reader.ReadAsync(stopping).ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = result.Buffer;
            long appliedBefore = _nextExpected; // only this loop writes it while the connection runs
            while (FrameHeader.TryRead(buffer, out var header))
            {
                long frameLength = FrameHeader.Size + header.PayloadLength + FrameProtection.TagSize;
                if (buffer.Length < frameLength)
                    break; // the header is valid, so the payload awaited is bounded
                OpenAndHandle(protection, header, buffer.Slice(0, frameLength));
                buffer = buffer.Slice(frameLength);
            }
            // One acknowledgement for everything this read applied: waking the send loop per frame cost a tagged Ack
            // frame (and a thread-pool hop and a send) per delivery frame.
            if (_nextExpected != appliedBefore)
                _signal.Notify();
            reader.AdvanceTo(buffer.Start, buffer.End);
            Volatile.Write(ref _lastReceived, Stopwatch.GetTimestamp());
            if (result.IsCompleted)
            {
                throw buffer.IsEmpty
                    ? new LinkProtocolException(LinkFault.ConnectionLost, "the peer closed the connection")
                    : new LinkProtocolException(LinkFault.TruncatedFrame, $"the stream ended inside a frame ({buffer.Length} bytes left)");
            }
        }
    }

    /// <summary>
    /// Checks the tag of one whole frame and hands its plain payload on. The payload is read where it arrived, in the
    /// pipe's buffer; only a frame cut across two of the pipe's segments is first copied whole into
    /// <see cref="_frameScratch"/>, and only an encrypted payload is decrypted into <see cref="_decrypted"/>.
    /// </summary>
    private void OpenAndHandle(FrameProtection protection, in FrameHeader header, in ReadOnlySequence<byte> frame)
    {
        ReadOnlySpan<byte> bytes;
        if (frame.IsSingleSegment)
        {
            bytes = frame.FirstSpan;
        }
        else
        {
            frame.CopyTo(_frameScratch);
            bytes = _frameScratch.AsSpan(0, (int)frame.Length);
        }
        int tagAt = bytes.Length - FrameProtection.TagSize;
        if (!protection.TryOpen(bytes[..tagAt], bytes[tagAt..], _decrypted, out var payload))
            ThrowFault(LinkFault.BadMac, $"frame {protection.ReceiveCounter - 1} ({header.Kind}, sequence {header.Sequence}) failed authentication; nothing of it was applied");
        HandleFrame(header, payload);
    }

    private void HandleFrame(in FrameHeader header, ReadOnlySpan<byte> payload)
    {
        switch (header.Kind)
        {
            case FrameKind.Deliveries:
                Apply(header, MemoryMarshal.Cast<byte, RemoteDelivery>(payload));
                break;
            case FrameKind.Ack:
                if (header.Sequence > long.MaxValue || !_window.Release((long)header.Sequence))
                    ThrowFault(LinkFault.BadAcknowledgement, $"acknowledgement of {header.Sequence} records, only {_window.Published} sent");
                break;
            case FrameKind.Heartbeat:
                break;
            case FrameKind.Topology:
                _node.Replication.Receive(PeerNode, payload);
                break;
            case FrameKind.Goodbye:
                var said = (LinkFault)BinaryPrimitives.ReadUInt32LittleEndian(payload);
                // A topology refusal holds for both sides (and slows the redial); any other goodbye is a lost connection here.
                ThrowFault(said == LinkFault.TopologyMismatch ? said : LinkFault.ConnectionLost, $"the peer said goodbye ({said})");
                break;
            default:
                ThrowFault(LinkFault.UnexpectedFrame, $"{header.Kind} frame after the handshake");
                break;
        }
    }

    /// <summary>
    /// Applies the <paramref name="records"/> of an opened delivery frame not applied before, after validating all. They
    /// are the frame's bytes as received (the record image is the wire image; unaligned reads are fine on every
    /// little-endian target the transport starts on).
    /// </summary>
    private void Apply(in FrameHeader header, ReadOnlySpan<RemoteDelivery> records)
    {
        long next = _nextExpected; // only this loop writes it while the connection runs
        if (header.Sequence > (ulong)next)
            ThrowFault(LinkFault.SequenceGap, $"delivery frame starts at {header.Sequence}, next expected is {next}");
        long first = (long)header.Sequence;
        int count = records.Length; // = header.RecordCount: the header's length was checked against it
        var nodeOfVcpu = _node.NodeOfVcpu;
        int self = _node.NodeId;
        for (int i = 0; i < records.Length; i++)
        {
            ref readonly var r = ref records[i];
            // A source past the vCPUs is one of the peer's device sources (docs/apic.md, "Device interrupts").
            if (r.DestinationVcpu >= (uint)nodeOfVcpu.Length || nodeOfVcpu[r.DestinationVcpu] != self
                || r.SourceVcpu > ushort.MaxValue || (r.SourceVcpu < (uint)nodeOfVcpu.Length && nodeOfVcpu[r.SourceVcpu] != PeerNode))
            {
                ThrowFault(LinkFault.RecordOutsidePlacement, $"record {first + i} goes from source {r.SourceVcpu} to vCPU {r.DestinationVcpu}, not from node {PeerNode} to node {self}");
            }
        }
        long skip = next - first;
        if (skip >= count)
        {
            Volatile.Write(ref _duplicates, _duplicates + count);
            return;
        }
        _node.Sink.Deliver(PeerNode, records[(int)skip..]);
        Volatile.Write(ref _duplicates, _duplicates + skip);
        Volatile.Write(ref _applied, _applied + (count - skip));
        // Release: the send loop acknowledges only what the sink has applied (the receive loop wakes it after the read).
        Volatile.Write(ref _nextExpected, first + count);
    }

    [DoesNotReturn] // no NoInlining: the JIT sees the throw when it tries to inline, and treats the call's block as cold
    private static void ThrowFault(LinkFault fault, string message) => throw new LinkProtocolException(fault, message);
}
