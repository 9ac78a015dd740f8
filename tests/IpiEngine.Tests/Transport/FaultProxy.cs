using System.Net;
using System.Net.Sockets;

namespace IpiEngine.Tests.Transport;

/// <summary>
/// A TCP proxy on loopback that misbehaves on purpose: delays each piece it forwards, splits writes into pieces of
/// at most <see cref="MaxPiece"/> bytes, and cuts each connection (with a reset) after a random number of bytes.
/// Seeded, so a failing run can be replayed.
/// </summary>
public sealed class FaultProxy : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly IPEndPoint _target;
    private readonly Random _random;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _tasks = [];
    private readonly Lock _lock = new();
    private readonly Task _acceptLoop;
    private int _cuts, _connections, _flipped;
    private bool _blocked, _holdToServer;
    private CancellationTokenSource _generation = new();

    public FaultProxy(IPEndPoint target, int seed)
    {
        _target = target;
        _random = new Random(seed);
        _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(16);
        EndPoint = (IPEndPoint)_listener.LocalEndPoint!;
        _acceptLoop = AcceptLoopAsync();
    }

    public IPEndPoint EndPoint { get; }

    /// <summary>Largest piece forwarded in one write (1 = byte by byte).</summary>
    public int MaxPiece { get; set; } = 64 * 1024;

    /// <summary>Pause before each piece.</summary>
    public TimeSpan Delay { get; set; }

    /// <summary>Cut each connection after a random number of forwarded bytes in [min, max); 0 = never.</summary>
    public (int Min, int Max) CutAfterBytes { get; set; }

    /// <summary>Cuts left to make; when none are left, connections run undisturbed (so a test can finish).</summary>
    public int CutBudget { get; set; } = int.MaxValue;

    /// <summary>
    /// Flip one bit of the client-to-server stream of the first connection, at this byte offset (0 = never): an attacker
    /// on the path altering a frame.
    /// </summary>
    public long FlipBitAtByte { get; set; }

    /// <summary>
    /// While set, what the client sends is held, not forwarded (the server's side still flows): a path that loses one
    /// direction. Held bytes go on once it is cleared, or are lost with the connection when <see cref="Block"/> cuts it.
    /// </summary>
    public bool HoldToServer
    {
        get => Volatile.Read(ref _holdToServer); // acquire: nothing to order, a plain flag the pumps poll
        set => Volatile.Write(ref _holdToServer, value); // release: likewise, the pumps see it on their next piece
    }

    /// <summary>Whether the bit was flipped.</summary>
    public bool Flipped => Volatile.Read(ref _flipped) != 0;

    /// <summary>While blocked, new connections are closed at once; <see cref="Block"/> also cuts the running ones.</summary>
    public void Block()
    {
        lock (_lock)
        {
            _blocked = true;
            _generation.Cancel();
            _generation = new CancellationTokenSource();
        }
    }

    /// <summary>Lets connections through again.</summary>
    public void Unblock()
    {
        lock (_lock)
            _blocked = false;
    }

    public int Cuts => Volatile.Read(ref _cuts);
    public int Connections => Volatile.Read(ref _connections);

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }
            Interlocked.Increment(ref _connections);
            lock (_lock)
                _tasks.Add(ServeAsync(client));
        }
    }

    private async Task ServeAsync(Socket client)
    {
        using var server = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        CancellationToken generation;
        bool first;
        lock (_lock)
        {
            generation = _generation.Token;
            first = _connections == 1;
            if (_blocked)
            {
                client.Dispose();
                return;
            }
        }
        using var connection = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token, generation);
        try
        {
            await server.ConnectAsync(_target, connection.Token);
            long cutAt;
            lock (_lock)
            {
                var (min, max) = CutAfterBytes;
                cutAt = max > 0 && CutBudget > 0 ? _random.Next(min, max) : long.MaxValue;
            }
            var budget = new StrongBox(cutAt);
            long flipAt = first && FlipBitAtByte > 0 ? FlipBitAtByte : long.MaxValue;
            await Task.WhenAny(PumpAsync(client, server, budget, flipAt, toServer: true, connection.Token), PumpAsync(server, client, budget, long.MaxValue, toServer: false, connection.Token));
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // Target not reachable or proxy stopping: the client sees a closed connection.
        }
        finally
        {
            await connection.CancelAsync();
            client.LingerState = new LingerOption(true, 0); // reset, like a broken network path
            client.Dispose();
        }
    }

    private sealed class StrongBox(long value)
    {
        public long Remaining = value;
    }

    private async Task PumpAsync(Socket from, Socket to, StrongBox budget, long flipAt, bool toServer, CancellationToken ct)
    {
        var buffer = new byte[64 * 1024];
        long forwarded = 0;
        try
        {
            while (true)
            {
                int read = await from.ReceiveAsync(buffer, SocketFlags.None, ct);
                if (read == 0)
                    return;
                if (flipAt >= forwarded && flipAt < forwarded + read)
                {
                    buffer[flipAt - forwarded] ^= 0x10;
                    Volatile.Write(ref _flipped, 1);
                }
                forwarded += read;
                for (int offset = 0; offset < read;)
                {
                    int piece = Math.Min(MaxPiece, read - offset);
                    long left = Interlocked.Add(ref budget.Remaining, -piece);
                    if (left < 0)
                    {
                        // Forward part of the piece, then cut mid-stream (very likely mid-frame).
                        int partial = (int)Math.Max(0, piece + left);
                        if (partial > 0)
                            await to.SendAsync(buffer.AsMemory(offset, partial), SocketFlags.None, ct);
                        lock (_lock)
                            CutBudget--;
                        Interlocked.Increment(ref _cuts);
                        to.LingerState = new LingerOption(true, 0);
                        return;
                    }
                    if (Delay > TimeSpan.Zero)
                        await Task.Delay(Delay, ct);
                    while (toServer && HoldToServer)
                        await Task.Delay(10, ct);
                    await to.SendAsync(buffer.AsMemory(offset, piece), SocketFlags.None, ct);
                    offset += piece;
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // Either side closed.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Dispose();
        await _acceptLoop;
        Task[] tasks;
        lock (_lock)
            tasks = [.. _tasks];
        await Task.WhenAll(tasks);
        _stop.Dispose();
        _generation.Dispose();
    }
}
