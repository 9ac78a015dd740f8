using IpiEngine.Cli.Nodes;
using Xunit;

namespace IpiEngine.Tests.Transport;

public sealed class NodeConfigTests : IDisposable
{
    /// <summary>The temporary folders this test made; removed when it ends (xunit makes one instance per test).</summary>
    private readonly List<string> _folders = [];

    public void Dispose()
    {
        foreach (string folder in _folders)
            Directory.Delete(folder, recursive: true);
    }

    private string TempFolder(string prefix)
    {
        string folder = Directory.CreateTempSubdirectory(prefix).FullName;
        _folders.Add(folder);
        return folder;
    }

    private string Write(string json, string? key = "00112233445566778899AABBCCDDEEFF")
    {
        string folder = TempFolder("ipi-config-");
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
    [InlineData("[]", "must be a JSON object with \"node\", \"keyFile\", \"placement\" and \"peers\".")]
    [InlineData("{\"node\":\"zero\",\"keyFile\":\"vm.key\",\"placement\":[0],\"peers\":[]}", "\"node\" has the wrong type (line 1).")]
    [InlineData("{\"node\":0,\"keyFile\":\"vm.key\",\"placement\":[0,\"x\"],\"peers\":[]}", "\"placement[1]\" has the wrong type")]
    [InlineData("{\"node\":0,\"keyFile\":\"vm.key\",\"placement\":[0],\"peers\":[],\"topologyWriteTimeoutMs\":0}", "\"topologyWriteTimeoutMs\" must be a positive")]
    [InlineData("{\"node\":-1,\"keyFile\":\"vm.key\",\"placement\":[0,0],\"peers\":[]}", "\"node\" must be a node id from 0 to 1023, not -1")]
    [InlineData("{\"node\":1000000,\"keyFile\":\"vm.key\",\"placement\":[1000000],\"peers\":[]}", "\"node\" must be a node id from 0 to 1023, not 1000000")]
    [InlineData("{\"node\":2147483647,\"keyFile\":\"vm.key\",\"placement\":[2147483647],\"peers\":[]}", "not 2147483647")]
    [InlineData("{\"node\":0,\"keyFile\":\"vm.key\",\"placement\":[0,-2],\"peers\":[]}", "\"placement\" puts vCPU 1 on node -2; node ids go from 0 to 1023")]
    [InlineData("{\"node\":0,\"keyFile\":\"vm.key\",\"placement\":[0,0],\"peers\":[{\"node\":-3,\"address\":\"127.0.0.1:7001\"}]}", "\"peers\" lists node -3; node ids go from 0 to 1023")]
    [InlineData("{\"node\":0,\"keyFile\":\"vm.key\",\"placement\":[0,0],\"peers\":[{\"node\":2147483647,\"address\":\"127.0.0.1:7001\"}]}", "\"peers\" lists node 2147483647")]
    [InlineData("{\"node\":0,\"keyFile\":\"vm.key\",\"placement\":[0,0,1,1],\"peers\":[]}", "\"placement\" puts vCPU 2 on node 1, which has no entry in \"peers\"")]
    [InlineData("{\"node\":0,\"keyFile\":\"vm.key\",\"placement\":[0],\"peers\":[],\"queueRecords\":1000}", "\"queueRecords\" must be a power of two")]
    [InlineData("{\"node\":0,\"keyFile\":\"vm.key\",\"placement\":[0],\"peers\":[],\"fullQueue\":\"drop\"}", "\"fullQueue\" must be \"wait\" or \"fail\"")]
    [InlineData("{\"node\":0,\"keyFile\":\"vm.key\",\"placement\":[0],\"peers\":[],\"queueRecords\":2147483648}", "\"queueRecords\" has the wrong type")]
    [InlineData("{\"node\":1,\"keyFile\":\"vm.key\",\"placement\":[0,1],\"peers\":[{\"node\":0,\"address\":\"nope\"}]}", "peer 0's \"address\" must be ip:port")]
    [InlineData("{\"node\":1,\"keyFile\":\"vm.key\",\"placement\":[0,1],\"peers\":[{\"node\":0,\"address\":\"127.0.0.1:99999\"}]}", "peer 0's \"address\" must be ip:port")]
    public void A_bad_config_is_one_clear_sentence(string json, string expected)
    {
        var e = Assert.Throws<NodeConfigException>(() => NodeConfig.Load(Write(json)));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
        Assert.EndsWith(".", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("IpiEngine.", e.Message, StringComparison.Ordinal); // no type names
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

    [Theory]
    [InlineData("{\"node\":-1,\"keyFile\":\"vm.key\",\"placement\":[0,0],\"peers\":[]}")]
    [InlineData("{\"node\":1000000,\"keyFile\":\"vm.key\",\"placement\":[1000000,1000000],\"peers\":[]}")]
    [InlineData("{\"node\":0,\"keyFile\":\"vm.key\",\"placement\":[0,0],\"peers\":[{\"node\":-3,\"address\":\"127.0.0.1:7001\"}]}")]
    [InlineData("{\"node\":0,\"keyFile\":\"vm.key\",\"placement\":[0,0,1,1],\"peers\":[]}")]
    [InlineData("{\"node\":1,\"keyFile\":\"vm.key\",\"placement\":[0,1],\"peers\":[{\"node\":0,\"address\":\"nope\"}]}")] // a lower id's address: not dialled, but parsed
    public void The_node_verb_exits_2_before_listening_on_a_bad_config(string json)
    {
        // Each of these once got past the config check and ended in a stack trace (or, for the missing peer, after "ready").
        Assert.Equal(2, IpiEngine.Cli.Program.Main(["node", "--config", Write(json), "--ipis-per-vcpu", "1", "--timeout", "5"]));
    }

    [Fact]
    public void A_directory_given_as_the_config_is_called_a_directory()
    {
        string folder = TempFolder("ipi-config-dir-");
        var e = Assert.Throws<NodeConfigException>(() => NodeConfig.Load(folder));
        Assert.Equal($"the node config {folder} is a directory, not a file.", e.Message);
    }

    [Theory]
    [InlineData("--trace-vcpus", "v.csv")] // a trace's option without --trace-exits: the workload ran, the option ignored
    [InlineData("--deliveries", "out.csv")]
    public void A_trace_replays_option_without_the_trace_is_refused(string option, string value)
    {
        string path = Write("{\"node\":0,\"keyFile\":\"vm.key\",\"placement\":[0],\"peers\":[]}");
        Assert.Equal(2, IpiEngine.Cli.Program.Main(["node", "--config", path, "--ipis-per-vcpu", "5", option, value, "--timeout", "5"]));
    }

    [Theory]
    [InlineData("--ipis-per-vcpu", "5")] // a workload's option beside a trace: ignored before
    [InlineData("--batch", "0")]
    public void A_workloads_option_beside_a_trace_is_refused(string option, string value)
    {
        string folder = TempFolder("ipi-node-trace-");
        string path = Write("{\"node\":0,\"keyFile\":\"vm.key\",\"placement\":[0,0,0,0],\"peers\":[]}"); // the trace's 4 vCPUs, all here
        Assert.Equal(2, IpiEngine.Cli.Program.Main(["node", "--config", path, "--control", "--trace-vcpus", RepoFiles.Path("traces", "xapic-flat-smp4.vcpus.csv"),
            "--trace-exits", RepoFiles.Path("traces", "xapic-flat-smp4.exits.csv"), "--deliveries", Path.Combine(folder, "out.csv"), option, value, "--timeout", "5"]));
    }

    [Fact]
    public void A_trace_nodes_deliveries_path_in_a_missing_folder_is_refused_before_listening()
    {
        string path = Write("{\"node\":0,\"keyFile\":\"vm.key\",\"placement\":[0,0,0,0],\"peers\":[]}");
        // Refused at once: it used to listen, wait for the run, replay, and only then fail, with a stack trace.
        Assert.Equal(2, IpiEngine.Cli.Program.Main(["node", "--config", path, "--control", "--trace-vcpus", RepoFiles.Path("traces", "xapic-flat-smp4.vcpus.csv"),
            "--trace-exits", RepoFiles.Path("traces", "xapic-flat-smp4.exits.csv"), "--deliveries", "/nonexistent/dir/out.csv", "--timeout", "5"]));
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
