using System.Net.Sockets;
using IpiEngine.Transport;
using Xunit;

namespace IpiEngine.Tests.Transport;

/// <summary>
/// What ends a node's accept loop: its stop, or its listener's disposal, and nothing else. One SocketException (a full
/// descriptor table, ENOBUFS, a connection reset before it was taken) used to end it while the socket stayed bound, so
/// every peer that dials this node connected into a backlog nobody served, for good.
/// </summary>
public class AcceptLoopTests
{
    [Theory]
    [InlineData(SocketError.TooManyOpenSockets)]
    [InlineData(SocketError.NoBufferSpaceAvailable)]
    [InlineData(SocketError.ConnectionAborted)]
    public void A_socket_error_while_running_does_not_end_listening(SocketError error)
        => Assert.False(NodeTransport.AcceptFailureEndsListening(new SocketException((int)error), stopping: false));

    [Fact]
    public void The_stop_and_a_disposed_listener_end_listening()
    {
        Assert.True(NodeTransport.AcceptFailureEndsListening(new SocketException((int)SocketError.OperationAborted), stopping: true));
        Assert.True(NodeTransport.AcceptFailureEndsListening(new OperationCanceledException(), stopping: false));
        Assert.True(NodeTransport.AcceptFailureEndsListening(new ObjectDisposedException("listener"), stopping: false));
        Assert.True(NodeTransport.AcceptRetryDelay > TimeSpan.Zero); // a retry that cannot spin the loop on a full table
    }
}
