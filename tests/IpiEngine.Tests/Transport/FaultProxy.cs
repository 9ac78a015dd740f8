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
    private int _cuts, _connections;

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
        using var connection = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
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
            await Task.WhenAny(PumpAsync(client, server, budget, connection.Token), PumpAsync(server, client, budget, connection.Token));
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

    private async Task PumpAsync(Socket from, Socket to, StrongBox budget, CancellationToken ct)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                int read = await from.ReceiveAsync(buffer, SocketFlags.None, ct);
                if (read == 0)
                    return;
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
    }
}
