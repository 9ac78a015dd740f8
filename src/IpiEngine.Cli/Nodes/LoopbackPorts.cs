using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace IpiEngine.Cli.Nodes;

/// <summary>
/// Listen ports for node processes on loopback. A port is chosen here and bound by the node a second or so later (the
/// node process starts in between), so it must be one nothing else takes meanwhile. A port the OS hands out for
/// <c>bind(port 0)</c> is not: it comes from the ephemeral range, where every other <c>bind(0)</c> on the machine (a
/// test's listener, a proxy) draws too. So ports are drawn at random from below that range (or above it), where
/// neither <c>bind(0)</c> nor an outgoing connection ever lands, checked free by a bind, and not handed out twice in
/// this process until returned (two runs starting at once draw apart).
/// </summary>
internal static class LoopbackPorts
{
    /// <summary>Where Linux says its ephemeral range is.</summary>
    private const string EphemeralRangeFile = "/proc/sys/net/ipv4/ip_local_port_range";

    /// <summary>The fewest ports a range outside the ephemeral one must hold to be drawn from.</summary>
    private const int MinimumSpan = 1000;

    private static readonly Lock s_lock = new();
    private static readonly HashSet<int> s_handedOut = [];

    /// <summary>
    /// <paramref name="count"/> distinct free loopback ports outside the ephemeral range, reserved in this process until
    /// <see cref="Return"/>. Where no range outside it is wide enough, ports from <c>bind(0)</c> (the race accepted).
    /// </summary>
    /// <exception cref="InvalidOperationException">No free port was found in many draws (one sentence).</exception>
    public static int[] Take(int count)
    {
        var (low, high) = DrawRange(ReadEphemeralRange());
        if (high - low + 1 < MinimumSpan)
        {
            return EphemeralPorts(count);
        }

        var ports = new int[count];
        lock (s_lock)
        {
            for (int i = 0; i < count; i++)
            {
                ports[i] = Draw(low, high);
                s_handedOut.Add(ports[i]);
            }
        }

        return ports;
    }

    /// <summary>Gives ports from <see cref="Take"/> back (their nodes have stopped).</summary>
    public static void Return(IEnumerable<int> ports)
    {
        lock (s_lock)
        {
            foreach (int port in ports)
            {
                s_handedOut.Remove(port);
            }
        }
    }

    /// <summary>The OS's ephemeral port range, from <see cref="EphemeralRangeFile"/>; Linux's default where unreadable.</summary>
    internal static (int Low, int High) ReadEphemeralRange()
    {
        try
        {
            var parts = File.ReadAllText(EphemeralRangeFile).Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 2
                && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int low)
                && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int high)
                && low >= 1 && low <= high && high <= IPEndPoint.MaxPort)
            {
                return (low, high);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // not Linux, or not readable: the default below
        }

        return (32768, 60999);
    }

    /// <summary>
    /// The ports to draw from, given the ephemeral range: up to 10 000 just below it (above the privileged ports), or,
    /// if fewer than <see cref="MinimumSpan"/> are there, those above it.
    /// </summary>
    internal static (int Low, int High) DrawRange((int Low, int High) ephemeral)
    {
        int below = Math.Max(1024, ephemeral.Low - 10_000);
        if (ephemeral.Low - below >= MinimumSpan)
        {
            return (below, ephemeral.Low - 1);
        }

        return (ephemeral.High + 1, IPEndPoint.MaxPort);
    }

    /// <summary>A port in [low, high] not handed out here and free to bind now. Caller holds <see cref="s_lock"/>.</summary>
    private static int Draw(int low, int high)
    {
        for (int attempt = 0; attempt < 1000; attempt++)
        {
            int port = Random.Shared.Next(low, high + 1);
            if (!s_handedOut.Contains(port) && IsFree(port))
            {
                return port;
            }
        }

        throw new InvalidOperationException($"no free loopback port in {low}-{high} after 1000 draws.");
    }

    private static bool IsFree(int port)
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            probe.Bind(new IPEndPoint(IPAddress.Loopback, port));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>Ports the OS hands out for <c>bind(0)</c> right now (bound, read and released).</summary>
    private static int[] EphemeralPorts(int count)
    {
        var sockets = new Socket[count];
        try
        {
            for (int i = 0; i < count; i++)
            {
                sockets[i] = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                sockets[i].Bind(new IPEndPoint(IPAddress.Loopback, 0));
            }

            return [.. sockets.Select(s => ((IPEndPoint)s.LocalEndPoint!).Port)];
        }
        finally
        {
            foreach (var s in sockets)
            {
                s?.Dispose();
            }
        }
    }
}
