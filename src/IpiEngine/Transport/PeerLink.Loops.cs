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
    /// <summary>
    /// Writes acknowledgements, unsent records and heartbeats; parks on the wake signal when there is nothing. While it
    /// is parked, a <see cref="SendBatch.Flush"/> may do its work on the flushing thread (<see cref="SendNow"/>).
    /// </summary>
    private async Task SendLoopAsync(LinkConnection connection, long cursor)
    {
        await Task.Yield(); // leave the caller's thread: both loops start before either runs
        PipeWriter writer = connection.Writer;
        CancellationToken stopping = connection.Stopping;
        _send = new SendState(connection, cursor);
        while (true)
        {
            if (_send.PendingFlush is { } pending) // a flush that a claimer's send could not finish at once
            {
                _send.PendingFlush = null;
                ThrowIfEnded(await pending.ConfigureAwait(false));
            }
            stopping.ThrowIfCancellationRequested();
            if (WriteDue(writer, connection.Protection!) == 0)
            {
                await _signal.WaitAsync();
                continue;
            }
            ThrowIfEnded(await writer.FlushAsync(stopping).ConfigureAwait(false));
        }
    }

    private static void ThrowIfEnded(FlushResult flushed)
    {
        if (flushed.IsCompleted || flushed.IsCanceled)
            throw new OperationCanceledException();
    }

    /// <summary>
    /// The send loop's state, held by whoever has its role: the loop while it runs, or a flushing thread that claimed it
    /// while the loop is parked (<see cref="WakeSignal.TryClaimParked"/>, whose transitions order the two).
    /// </summary>
    private sealed class SendState(LinkConnection connection, long cursor)
    {
        public LinkConnection Connection { get; } = connection;
        public long Cursor = cursor;        // the first record not yet written
        public long AckSent = -1;           // the acknowledgement last written
        public ValueTask<FlushResult>? PendingFlush; // left by a claimer for the loop to await
    }

    private SendState? _send;

    /// <summary>Writes what is due (acknowledgement, topology messages, records, a due heartbeat) into the pipe; returns the bytes written.</summary>
    private int WriteDue(PipeWriter writer, FrameProtection protection)
    {
        var send = _send!;
        int written = 0;
        long next = Volatile.Read(ref _nextExpected);
        if (next != send.AckSent)
        {
            written += FrameWriter.WriteEmpty(writer, protection, FrameKind.Ack, next);
            send.AckSent = next;
        }
        while (written < FlushThreshold && _topologyOut.TryDequeue(out var topology))
            written += FrameWriter.WriteTopology(writer, protection, topology);
        long published = _window.Published;
        long cursor = send.Cursor;
        long sentBefore = cursor;
        int maxPerFrame = _node.Options.MaxRecordsPerFrame;
        while (cursor < published && written < FlushThreshold)
        {
            var slice = _window.Slice(cursor, published, maxPerFrame);
            written += FrameWriter.WriteDeliveries(writer, protection, slice, cursor);
            cursor += slice.Length;
        }
        send.Cursor = cursor;
        _window.MarkSent(cursor); // before the flush: the peer may acknowledge these from now on
        if (_heartbeatDue)
        {
            _heartbeatDue = false;
            if (written == 0)
                written += FrameWriter.WriteEmpty(writer, protection, FrameKind.Heartbeat, 0);
        }
        if (written != 0)
        {
            Volatile.Write(ref _recordsSent, _recordsSent + (cursor - sentBefore)); // release: readers see whole counts
            Volatile.Write(ref _lastSent, Stopwatch.GetTimestamp());
        }
        return written;
    }

    /// <summary>
    /// A flush's visit (<see cref="SendBatch"/>, (3)): when the send loop is parked, writes and flushes what is due on
    /// this thread and leaves the loop parked; otherwise, or when the socket cannot take it all at once or fails, the
    /// loop is woken to do or finish it (and to meet the error itself).
    /// </summary>
    internal void SendNow()
    {
        if (!_signal.TryClaimParked())
        {
            _signal.Notify();
            return;
        }
        bool wake = false;
        try
        {
            var send = _send!; // a parked loop set it before its first wait
            var connection = send.Connection;
            if (connection.Stopping.IsCancellationRequested)
            {
                wake = true; // the loop ends itself
                return;
            }
            if (WriteDue(connection.Writer, connection.Protection!) == 0)
                return;
            Volatile.Write(ref _flushSends, _flushSends + 1); // release: readers see whole counts; one claimer at a time writes it
            ValueTask<FlushResult> flush = connection.Writer.FlushAsync(connection.Stopping);
            if (!flush.IsCompletedSuccessfully)
            {
                send.PendingFlush = flush; // the loop awaits it (and meets its error) before anything else
                wake = true;
            }
            else
            {
                // Ended, or more is due than one pipe's worth (FlushThreshold): the loop sends the rest on a pool thread,
                // so a flush holds the host's thread for one socket send at most.
                wake = flush.Result is { IsCompleted: true } or { IsCanceled: true } || send.Cursor < _window.Published || !_topologyOut.IsEmpty;
            }
        }
        catch (Exception)
        {
            // Never the host's problem: the connection is failing, and the loop's next write or flush meets the same
            // error and ends the connection as it would have without the flush (records wait in the window for the next one).
            wake = true;
        }
        finally
        {
            _signal.ReleaseClaim(wake);
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
            // While a send batch is open the acknowledgement rides on its next flush (SendBatch, (2)).
            if (_nextExpected != appliedBefore && !_node.BatchesOpen)
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
                if (header.Sequence > long.MaxValue || !_window.ReleaseAcknowledged((long)header.Sequence))
                    ThrowFault(LinkFault.BadAcknowledgement, $"acknowledgement of {header.Sequence} records, only {_window.SentOnConnection} sent on this connection");
                break;
            case FrameKind.Heartbeat:
                break;
            case FrameKind.Topology:
                _node.Replication.Receive(PeerNode, payload);
                break;
            case FrameKind.Goodbye:
                var said = (LinkFault)BinaryPrimitives.ReadUInt32LittleEndian(payload);
                // A topology refusal or a failing sink holds for both sides (and slows the redial); any other goodbye is a
                // lost connection here.
                ThrowFault(PeerLink.SlowsRedial(said) ? said : LinkFault.ConnectionLost, $"the peer said goodbye ({said})");
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
        try
        {
            _node.Sink.Deliver(PeerNode, records[(int)skip..]);
        }
        catch (Exception e) when (e is not LinkProtocolException)
        {
            // The sink's contract: a throw applied nothing, or (this library's sinks) says how many leading records it
            // applied. Those are counted and expected no more; the peer resends the rest on the next connection (the
            // resume state tells it where they start), which the redial's backoff delays.
            // Believed only for the span handed over: one counted from a part a host's sink passed on means nothing here.
            int applied = e is PartlyAppliedException partly && partly.Total == count - skip ? partly.Applied : 0;
            Debug.Assert(applied >= 0 && applied < count - skip, "A sink that failed applied part of the frame at most.");
            Exception cause = e is PartlyAppliedException ? e.InnerException ?? e : e;
            if (applied > 0)
            {
                Volatile.Write(ref _duplicates, _duplicates + skip);
                Volatile.Write(ref _applied, _applied + applied);
                Volatile.Write(ref _nextExpected, first + skip + applied); // release: as below; the next resume state carries it
            }
            ThrowFault(LinkFault.SinkFailed, $"the sink could not apply records {first + skip + applied} to {first + count - 1}: {cause.GetType().Name}: {cause.Message}");
        }
        Volatile.Write(ref _duplicates, _duplicates + skip);
        Volatile.Write(ref _applied, _applied + (count - skip));
        // Release: the send loop acknowledges only what the sink has applied (the receive loop wakes it after the read).
        Volatile.Write(ref _nextExpected, first + count);
    }

    [DoesNotReturn] // no NoInlining: the JIT sees the throw when it tries to inline, and treats the call's block as cold
    private static void ThrowFault(LinkFault fault, string message) => throw new LinkProtocolException(fault, message);
}
