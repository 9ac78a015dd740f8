namespace IpiEngine.Transport;

/// <summary>A peer broke the protocol or failed the handshake; the connection is closed with <see cref="Fault"/>.</summary>
internal sealed class LinkProtocolException : Exception
{
    /// <summary>Creates the exception.</summary>
    public LinkProtocolException(LinkFault fault, string message) : base(message) => Fault = fault;

    /// <summary>Creates the exception for a handshake with a known peer (its link records the fault as its last).</summary>
    public LinkProtocolException(LinkFault fault, string message, int peerNode) : this(fault, message) => PeerNode = peerNode;

    /// <summary>Creates the exception without a fault code (kept for the standard constructor set).</summary>
    public LinkProtocolException() : this(LinkFault.None, "link protocol error") { }

    /// <summary>Creates the exception without a fault code (kept for the standard constructor set).</summary>
    public LinkProtocolException(string message) : this(LinkFault.None, message) { }

    /// <summary>Creates the exception without a fault code (kept for the standard constructor set).</summary>
    public LinkProtocolException(string message, Exception innerException) : base(message, innerException) { }

    /// <summary>Why the connection is closed.</summary>
    public LinkFault Fault { get; }

    /// <summary>The peer the refused handshake came from, once it was known to be one of this node's peers; -1 before.</summary>
    public int PeerNode { get; } = -1;

    /// <summary>
    /// The handshake ended with a goodbye sent before any key was proven (untagged): someone refused it, but its reason
    /// is not believed, so <see cref="Fault"/> is <see cref="LinkFault.ConnectionLost"/> and the node counts it apart
    /// (<see cref="NodeTransport.RejectedHandshakes"/>).
    /// </summary>
    public bool Unauthenticated { get; init; }
}
