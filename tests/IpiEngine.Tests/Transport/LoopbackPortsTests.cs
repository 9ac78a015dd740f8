using System.Net;
using System.Net.Sockets;
using IpiEngine.Cli.Nodes;
using Xunit;

namespace IpiEngine.Tests.Transport;

/// <summary>
/// The node processes' listen ports (<see cref="LoopbackPorts"/>): chosen where no <c>bind(0)</c> and no outgoing
/// connection of anything else on the machine lands, free when chosen, and never handed out twice at once.
/// </summary>
public class LoopbackPortsTests
{
    [Fact]
    public void Ports_lie_outside_the_ephemeral_range_and_are_free_and_distinct()
    {
        var (low, high) = LoopbackPorts.ReadEphemeralRange();
        int[] ports = LoopbackPorts.Take(8);
        try
        {
            Assert.Equal(8, ports.Distinct().Count());
            Assert.All(ports, p => Assert.True(p is >= 1024 and <= IPEndPoint.MaxPort && (p < low || p > high), $"port {p} against the ephemeral range {low}-{high}"));
            foreach (int port in ports)
            {
                using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                listener.Bind(new IPEndPoint(IPAddress.Loopback, port)); // throws if the port was not free
            }
        }
        finally
        {
            LoopbackPorts.Return(ports);
        }
    }

    [Fact]
    public void Ports_taken_and_not_returned_are_not_handed_out_again()
    {
        // 2 000 draws from the (usually 10 000-port) range: a chooser without the reservation repeats one almost surely.
        var held = new List<int[]>();
        try
        {
            for (int i = 0; i < 200; i++)
            {
                held.Add(LoopbackPorts.Take(10));
            }

            Assert.Equal(2000, held.SelectMany(p => p).Distinct().Count());
        }
        finally
        {
            foreach (var ports in held)
            {
                LoopbackPorts.Return(ports);
            }
        }
    }

    [Theory]
    [InlineData(32768, 60999, 22768, 32767)] // Linux's default: the 10 000 ports below it
    [InlineData(5000, 65535, 1024, 4999)] // a wide ephemeral range: down to the privileged ports
    [InlineData(1500, 60000, 60001, 65535)] // too few below: the ports above
    public void The_drawing_range_sits_beside_the_ephemeral_one(int ephemeralLow, int ephemeralHigh, int low, int high)
        => Assert.Equal((low, high), LoopbackPorts.DrawRange((ephemeralLow, ephemeralHigh)));
}
