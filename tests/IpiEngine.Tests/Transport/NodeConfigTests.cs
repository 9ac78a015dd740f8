using IpiEngine.Cli.Nodes;
using Xunit;

namespace IpiEngine.Tests.Transport;

public class NodeConfigTests
{
    private static string Write(string json, string? key = "00112233445566778899AABBCCDDEEFF")
    {
        string folder = Directory.CreateTempSubdirectory("ipi-config-").FullName;
        if (key is not null)
            File.WriteAllText(Path.Combine(folder, "vm.key"), key);
        string path = Path.Combine(folder, "node.json");
        File.WriteAllText(path, json);
        return path;
    }

    [Theory]
    [InlineData("{\"node\":0,\"keyFile\":\"vm.key\",\"peers\":[]}", "placement")]
    [InlineData("{\"node\":0,\"placement\":[0,1],\"peers\":[{\"node\":1}]}", "keyFile")]
    [InlineData("{\"node\":0,\"keyFile\":\"vm.key\",\"placement\":[0,1],\"peers\":[{\"node\":1}]}", "needs an \"address\"")]
    [InlineData("{\"node\":0,\"keyFile\":\"vm.key\",\"placement\":[0,1],\"peers\":[{\"node\":0}]}", "twice")]
    [InlineData("{\"node\":0,\"keyFile\":\"vm.key\",\"placement\":[0,1],\"listen\":\"here\",\"peers\":[]}", "\"listen\" must be ip:port")]
    [InlineData("{\"node\":0,", "not valid JSON")]
    [InlineData("{\"node\":0,\"keyFile\":\"vm.key\",\"placement\":[0],\"peers\":[],\"topologyWriteTimeoutMs\":0}", "\"topologyWriteTimeoutMs\" must be a positive")]
    [InlineData("{\"node\":0,\"keyFile\":\"vm.key\",\"placement\":[0],\"peers\":[],\"queueRecords\":1000}", "\"queueRecords\" must be a power of two")]
    [InlineData("{\"node\":0,\"keyFile\":\"vm.key\",\"placement\":[0],\"peers\":[],\"fullQueue\":\"drop\"}", "\"fullQueue\" must be \"wait\" or \"fail\"")]
    public void A_bad_config_is_one_clear_sentence(string json, string expected)
    {
        var e = Assert.Throws<NodeConfigException>(() => NodeConfig.Load(Write(json)));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Link_settings_reach_the_transport_options()
    {
        string path = Write("{\"node\":1,\"keyFile\":\"vm.key\",\"placement\":[0,1],\"peers\":[{\"node\":0}],\"encrypt\":true,\"queueRecords\":4096,\"fullQueue\":\"fail\"}");
        var options = NodeConfig.Load(path).ToTransportOptions(path, null);
        Assert.True(options.Encrypt);
        Assert.Equal(4096, options.WindowRecords);
        Assert.Equal(IpiEngine.Transport.FullQueuePolicy.Fail, options.FullQueuePolicy);
        string plain = Write("{\"node\":1,\"keyFile\":\"vm.key\",\"placement\":[0,1],\"peers\":[{\"node\":0}]}");
        var defaults = NodeConfig.Load(plain).ToTransportOptions(plain, null);
        Assert.Equal((false, IpiEngine.Transport.TransportOptions.DefaultWindowRecords, IpiEngine.Transport.FullQueuePolicy.Wait),
            (defaults.Encrypt, defaults.WindowRecords, defaults.FullQueuePolicy));
    }

    [Theory]
    [InlineData("not hex", "hex digits")]
    [InlineData("0011", "at least 16")]
    public void A_bad_key_file_is_refused(string key, string expected)
    {
        string path = Write("{\"node\":1,\"keyFile\":\"vm.key\",\"placement\":[0,1],\"peers\":[{\"node\":0}]}", key);
        var config = NodeConfig.Load(path);
        var e = Assert.Throws<NodeConfigException>(() => config.ToTransportOptions(path, null));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_node_verb_exits_2_on_a_missing_config()
        => Assert.Equal(2, IpiEngine.Cli.Program.Main(["node", "--config", "/nonexistent/node.json"]));

    [Fact]
    public void A_good_config_becomes_loopback_transport_options()
    {
        string path = Write("{\"node\":0,\"keyFile\":\"vm.key\",\"placement\":[0,0,1],\"peers\":[{\"node\":1,\"address\":\"127.0.0.1:7001\"}]}");
        var options = NodeConfig.Load(path).ToTransportOptions(path, null);
        Assert.Equal(System.Net.IPAddress.Loopback, options.Listen.Address);
        Assert.Equal(16, options.Key.Length);
        Assert.Equal(7001, options.Peers[0].EndPoint!.Port);
        Assert.Equal(IpiEngine.Transport.TransportOptions.DefaultTopologyWriteTimeout, options.TopologyWriteTimeout);
    }

    [Fact]
    public void The_topology_write_timeout_is_read_from_the_config()
    {
        string path = Write("{\"node\":0,\"keyFile\":\"vm.key\",\"placement\":[0],\"peers\":[],\"topologyWriteTimeoutMs\":1500}");
        Assert.Equal(TimeSpan.FromMilliseconds(1500), NodeConfig.Load(path).ToTransportOptions(path, null).TopologyWriteTimeout);
    }
}
