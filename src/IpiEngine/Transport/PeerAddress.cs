using System.Net;

namespace IpiEngine.Transport;

/// <summary>A peer node and where to reach it. The address is needed only for peers with a higher id (this node dials them).</summary>
public sealed record PeerAddress(int NodeId, IPEndPoint? EndPoint = null);
