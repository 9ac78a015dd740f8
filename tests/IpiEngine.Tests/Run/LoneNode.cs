namespace IpiEngine.Tests.Run;

/// <summary>
/// A temporary folder holding a key and the config of a VM's only node (two vCPUs, no peers), and the <c>ipi node</c>
/// arguments that run it to its end: for tests of the node verb's own options. Deleted on dispose.
/// </summary>
internal sealed class LoneNode : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("ipi-lone-node-").FullName;

    public LoneNode()
    {
        File.WriteAllText(Path.Combine(_folder, "vm.key"), "00112233445566778899AABBCCDDEEFF");
        string config = Path.Combine(_folder, "node.json");
        File.WriteAllText(config, "{\"node\":0,\"keyFile\":\"vm.key\",\"placement\":[0,0],\"peers\":[]}");
        Run = ["node", "--config", config, "--ipis-per-vcpu", "5", "--timeout", "30"];
    }

    /// <summary><c>ipi node --config node.json</c> posting 5 IPIs per vCPU; add the options under test.</summary>
    public string[] Run { get; }

    public void Dispose() => Directory.Delete(_folder, recursive: true);
}
