using System.Globalization;
using IpiEngine.Transport;

namespace IpiEngine.Cli.Nodes;

/// <summary>
/// One link's health at the end of a node's run (the <c>links</c> piece of a node's JSON): its state, the seconds spent
/// in each state, the time forwarding stalled on a full queue (policy wait), and the records refused because the peer
/// was unreachable (policy fail) or abandoned at the stop.
/// </summary>
internal sealed record LinkReport(
    int Peer,
    string State,
    double ConnectedSeconds,
    double BackPressuredSeconds,
    double ReconnectingSeconds,
    double DownSeconds,
    double StalledSeconds,
    long Forwarded,
    long Acknowledged,
    long Unreachable,
    long Abandoned,
    long Connections,
    string LastFault)
{
    /// <summary>The report of <paramref name="c"/>.</summary>
    public static LinkReport Of(LinkCounters c) => new(c.PeerNode, Name(c.State), c.Times.Connected.TotalSeconds, c.Times.BackPressured.TotalSeconds,
        c.Times.Reconnecting.TotalSeconds, c.Times.Down.TotalSeconds, c.Stalled.TotalSeconds, c.Forwarded, c.Acknowledged, c.Unreachable,
        c.Abandoned, c.Connections, c.LastFault.ToString());

    /// <summary>The status line <c>ipi node</c> prints for the link.</summary>
    public static string StatusLine(int node, LinkCounters c)
    {
        var t = c.Times;
        return string.Create(CultureInfo.InvariantCulture,
            $"link {node}->{c.PeerNode}: {Name(c.State)}; connected {t.Connected.TotalSeconds:0.0} s, back-pressured {t.BackPressured.TotalSeconds:0.0} s, "
            + $"reconnecting {t.Reconnecting.TotalSeconds:0.0} s, down {t.Down.TotalSeconds:0.0} s; stalled {c.Stalled.TotalSeconds:0.000} s; "
            + $"in flight {c.InFlight}, unreachable {c.Unreachable}, abandoned {c.Abandoned}, connections {c.Connections}");
    }

    private static string Name(LinkState state) => state switch
    {
        LinkState.Down => "down",
        LinkState.Reconnecting => "reconnecting",
        LinkState.Connected => "connected",
        _ => "back-pressured",
    };
}
