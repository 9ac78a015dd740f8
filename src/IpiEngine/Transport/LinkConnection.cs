using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;

namespace IpiEngine.Transport;

/// <summary>
/// One TCP connection of a link: the socket, its <see cref="PipeReader"/> and <see cref="PipeWriter"/>, and the
/// token that stops both loops. The first fault recorded is the reason the connection closed.
/// </summary>
internal sealed class LinkConnection : IAsyncDisposable
{
    // The pipes' segments (rented from SegmentPool, returned when consumed). A send segment holds a whole flush
    // (up to PeerLink.FlushThreshold plus the frame that crossed it), so one flush is one send call; with 64 KiB
    // segments a 1024-record frame (32 KiB and a bit) filled one alone and every frame cost its own send. A receive
    // segment holds several such frames, so few frames are cut across two segments (those are copied before opening).
    internal const int SendSegmentBytes = 2 * PeerLink.FlushThreshold;
    internal const int ReceiveSegmentBytes = 256 * 1024;

    private readonly NetworkStream _stream;
    private readonly CancellationTokenSource _stop;
    private int _fault;

    public LinkConnection(Socket socket, CancellationToken nodeStopping)
    {
        Socket = socket;
        socket.NoDelay = true; // frames are already batched; Nagle would only add latency
        _stream = new NetworkStream(socket, ownsSocket: true);
        Reader = PipeReader.Create(_stream, new StreamPipeReaderOptions(pool: SegmentPool.Receive, bufferSize: ReceiveSegmentBytes, minimumReadSize: 64 * 1024, leaveOpen: true));
        Writer = PipeWriter.Create(_stream, new StreamPipeWriterOptions(pool: SegmentPool.Send, minimumBufferSize: SendSegmentBytes, leaveOpen: true));
        _stop = CancellationTokenSource.CreateLinkedTokenSource(nodeStopping);
    }

    public Socket Socket { get; }
    public PipeReader Reader { get; }
    public PipeWriter Writer { get; }
    public CancellationToken Stopping => _stop.Token;

    /// <summary>The keys and counters that tag every frame once the handshake derived them; null before.</summary>
    public FrameProtection? Protection { get; set; }

    /// <summary>Why the connection closed (the first fault recorded), or <see cref="LinkFault.None"/>.</summary>
    public LinkFault Fault => (LinkFault)Volatile.Read(ref _fault);

    /// <summary>Records <paramref name="fault"/> if no fault was recorded yet and stops both loops.</summary>
    public void Abort(LinkFault fault)
    {
        // First fault wins: later ones are consequences (cancelled reads, broken pipes).
        Interlocked.CompareExchange(ref _fault, (int)fault, (int)LinkFault.None);
        try
        {
            _stop.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // Already closed.
        }
    }

    /// <summary>Best effort: tells the peer why, bounded by a short timeout.</summary>
    public async ValueTask SendGoodbyeAsync(LinkFault fault)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
            FrameWriter.WriteGoodbye(Writer, Protection, fault);
            await Writer.FlushAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException or InvalidOperationException)
        {
            // The peer is gone or not reading: nothing more to tell it.
        }
    }

    /// <summary>How long <see cref="LingerAfterGoodbyeAsync"/> waits for the peer to read a goodbye and close.</summary>
    internal static readonly TimeSpan GoodbyeLinger = TimeSpan.FromSeconds(1);

    /// <summary>
    /// After a goodbye: ends this side's stream and drops what the peer still sends until it closes too (at most
    /// <see cref="GoodbyeLinger"/>; not while the node stops). A socket closed with the peer's frames unread is reset
    /// (RST), and a peer whose send failed on the reset before its receive loop read the goodbye counted the connection
    /// lost instead of the reason, and so redialed a failing sink without the backoff.
    /// </summary>
    public async ValueTask LingerAfterGoodbyeAsync(CancellationToken nodeStopping)
    {
        byte[] dropped = ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            Socket.Shutdown(SocketShutdown.Send); // after the goodbye: the peer reads it, then the end of the stream
            using var linger = CancellationTokenSource.CreateLinkedTokenSource(nodeStopping);
            linger.CancelAfter(GoodbyeLinger);
            while (await Socket.ReceiveAsync(dropped, SocketFlags.None, linger.Token).ConfigureAwait(false) > 0)
            {
                // Both loops ended, so nothing else reads the socket: what the peer sent after the goodbye is dropped.
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The peer reset, or stayed past the bound, or the node stops: close as without the linger.
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(dropped);
        }
    }

    public async ValueTask DisposeAsync()
    {
        Abort(LinkFault.ConnectionLost);
        try
        {
            Socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
            // Already reset by the peer.
        }
        catch (ObjectDisposedException)
        {
            // Already closed.
        }
        try
        {
            await Reader.CompleteAsync().ConfigureAwait(false);
            // Completing the writer flushes what is left; the peer may be gone, and resending covers it.
            await Writer.CompleteAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
            // The connection is already broken; its unacknowledged records are still in the window.
        }
        await _stream.DisposeAsync().ConfigureAwait(false);
        _stop.Dispose();
        Protection?.Dispose();
    }
}
