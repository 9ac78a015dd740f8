using System.Diagnostics.CodeAnalysis;

namespace IpiEngine.Transport;

/// <summary>
/// A posting thread's promise to flush: from <see cref="NodeTransport.BeginSendBatch"/> until <see cref="Dispose"/>,
/// the records this thread forwards (in the engine's passes it runs itself, <see cref="EngineOptions.AssistIdlePipeline"/>)
/// and the acknowledgements of what arrives wait for the next <see cref="Flush"/>, which sends them on the calling
/// thread. Use it where a host posts in bursts (a paced load, a vCPU thread that handles a run of exits before it
/// re-enters the guest): one send per burst on a thread that already holds a core, instead of waking each link's send
/// loop through the thread pool, which on a loaded machine waits for a core (docs/performance-log.md, "thirty-sixth
/// session").
/// </summary>
/// <remarks>
/// <para>
/// The whole protocol, in one place. (1) While a batch is open on a thread, <see cref="PeerLink.Forward"/> called on
/// that thread queues its records in the link's window without waking the send loop; forwards on any other thread
/// wake it as before. (2) While any batch of the transport is open, a link's receive loop does not wake the send loop
/// to acknowledge what it applied (the acknowledgement rides on the next flush's frames). (3) <see cref="Flush"/>
/// visits every link: when the send loop is parked it takes the loop's role (<see cref="WakeSignal.TryClaimParked"/>),
/// writes the acknowledgement, topology messages and every queued record, flushes the socket on this thread and
/// gives the role back (a flush the socket could not finish at once, or an error, goes to the loop, which it then
/// wakes); when the loop is running it is notified, and sends what is due itself. (4) The transport's timer notifies
/// every link at each tick while a batch is open, so records and acknowledgements never wait longer than a tick
/// (half of <see cref="TransportOptions.HeartbeatInterval"/>) for a host that stops flushing. (5) <see cref="Dispose"/>
/// closes the batch and then flushes.
/// </para>
/// <para>
/// Why nothing is lost or doubled: the window, its sequence numbers and the acknowledgements are unchanged; only which
/// thread writes the frames changes, and exactly one thread holds the send loop's role at a time (the loop, or a
/// claimer while the loop stays parked; <see cref="WakeSignal"/> has the proof). Why no acknowledgement waits for a
/// tick after the last batch closes: the receive loop publishes what it applied, runs a full fence, then reads the
/// open-batch count; <see cref="Dispose"/> decrements that count (a full fence), then flushes, reading what was
/// applied. One of the two sees the other's write: either the receive loop sees no batch open and wakes the send
/// loop, or the closing flush sends the acknowledgement.
/// </para>
/// </remarks>
public readonly struct SendBatch : IDisposable
{
    [ThreadStatic]
    private static NodeTransport? t_open; // the transport whose batch is open on this thread, if any

    [ThreadStatic]
    private static long t_token; // which opening of it: a copy of an earlier batch closes nothing

    private static long s_lastToken;

    private readonly NodeTransport? _transport;
    private readonly long _token;
    private readonly int _thread; // the opener's managed thread id

    private SendBatch(NodeTransport transport, long token)
    {
        _transport = transport;
        _token = token;
        _thread = Environment.CurrentManagedThreadId;
    }

    /// <summary>Sends, on the calling thread where it can, what the batch held back (see the type's remarks, (3)).</summary>
    public void Flush() => _transport?.FlushLinks();

    /// <summary>
    /// Closes the batch and flushes; a second call, or a call on a copy of a batch already closed, does nothing. Only the
    /// thread that opened it may close it: a batch cannot span an <c>await</c> that may resume on another thread.
    /// </summary>
    /// <exception cref="InvalidOperationException">Called on another thread than the one that opened the batch (the batch stays open).</exception>
    public void Dispose()
    {
        if (_transport is null)
            return;
        if (Environment.CurrentManagedThreadId != _thread)
            ThrowOtherThread();
        if (!IsOpenHere(_transport, _token))
            return;
        t_open = null;
        _transport.CloseBatch(); // full fence before the flush reads what the receive loops applied (remarks)
        _transport.FlushLinks();
    }

    /// <summary>Whether the calling thread's forwards through <paramref name="transport"/> wait for a flush ((1)).</summary>
    internal static bool Defers(NodeTransport transport) => ReferenceEquals(t_open, transport);

    /// <summary>The batch of <paramref name="transport"/> open on the calling thread, if any (a host that keeps no <see cref="SendBatch"/> value: the C library).</summary>
    internal static SendBatch? OpenHere(NodeTransport transport) => Defers(transport) ? new SendBatch(transport, t_token) : null;

    /// <summary>
    /// Opens a batch of <paramref name="transport"/> on the calling thread (one per thread at a time). A batch of a
    /// transport since disposed no longer counts: its thread may open another.
    /// </summary>
    internal static SendBatch Open(NodeTransport transport)
    {
        if (t_open is { } open)
        {
            if (!open.IsStopping)
                ThrowAlreadyOpen(ReferenceEquals(open, transport));
            t_open = null; // left open on a transport that has stopped: nothing of it can be sent any more
        }

        transport.OpenBatch();
        long token = Interlocked.Increment(ref s_lastToken);
        t_open = transport;
        t_token = token;
        return new SendBatch(transport, token);
    }

    private static bool IsOpenHere(NodeTransport transport, long token) => ReferenceEquals(t_open, transport) && t_token == token;

    [DoesNotReturn]
    private static void ThrowOtherThread() => throw new InvalidOperationException(
        "a send batch is closed by the thread that opened it: its forwards are the ones it holds back");

    [DoesNotReturn]
    private static void ThrowAlreadyOpen(bool same) => throw new InvalidOperationException(same
        ? "a send batch of this transport is already open on this thread: dispose it first"
        : "a send batch of another transport is open on this thread: dispose it first (one batch per thread)");
}
