namespace IpiEngine.Delivery;

/// <summary>Which node each vCPU lives on, and which node this engine is. The default (none) is everything local.</summary>
public sealed class VcpuPlacement
{
    private readonly int[] _nodeOfVcpu;

    /// <summary>Creates a placement.</summary>
    /// <param name="nodeOfVcpu">The node of each vCPU (non-negative), indexed by vCPU.</param>
    /// <param name="localNode">This engine's node.</param>
    public VcpuPlacement(ReadOnlySpan<int> nodeOfVcpu, int localNode)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(localNode);
        foreach (int node in nodeOfVcpu)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(node, nameof(nodeOfVcpu));
        }

        _nodeOfVcpu = nodeOfVcpu.ToArray();
        LocalNode = localNode;
        int max = localNode;
        foreach (int node in _nodeOfVcpu)
        {
            max = Math.Max(max, node);
        }

        NodeCount = max + 1;
    }

    /// <summary>This engine's node.</summary>
    public int LocalNode { get; }

    /// <summary>One more than the highest node number named.</summary>
    public int NodeCount { get; }

    /// <summary>How many vCPUs are placed.</summary>
    public int VcpuCount => _nodeOfVcpu.Length;

    /// <summary>The node of each vCPU.</summary>
    public ReadOnlySpan<int> NodeOfVcpu => _nodeOfVcpu;

    /// <summary>Whether the vCPU lives on this node.</summary>
    public bool IsLocal(int vcpu) => (uint)vcpu < (uint)_nodeOfVcpu.Length && _nodeOfVcpu[vcpu] == LocalNode;
}
