namespace IpiEngine.Cli.Run;

/// <summary>
/// The text of <c>--pipeline-cpus</c>: logical CPUs separated by commas, in pipeline order (fused one; per-stage three,
/// or one for all), checked against the threading mode and this machine as the engine would check them. Beside
/// <c>--nodes</c>, one such list for every node, or one per node separated by slashes (<c>0/1</c>: node 0's pipeline on
/// CPU 0, node 1's on CPU 1).
/// </summary>
internal static class PipelineCpuList
{
    /// <summary>One list for one engine; <see cref="RunInputException"/> with one sentence when it is not one.</summary>
    public static int[] Parse(string text, string threading)
    {
        ThreadingMode mode = EngineNames.TryThreading(threading)
            ?? throw new RunInputException($"--threading must be fused, per-stage or inline, not '{threading}'.");
        var cpus = new List<int>();
        foreach (string part in text.Split(','))
        {
            if (!int.TryParse(part.Trim(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int cpu))
            {
                throw new RunInputException($"--pipeline-cpus takes logical CPU numbers separated by commas (such as 0,1,1), not '{text}'.");
            }

            cpus.Add(cpu);
        }

        try
        {
            _ = new EngineOptions { VcpuCount = 1, ThreadingMode = mode, PipelineCpus = cpus }.Validate();
        }
        catch (ArgumentException e)
        {
            throw new RunInputException($"--pipeline-cpus {text} with --threading {threading}: {e.Message.Split(" (Parameter", 2)[0]}");
        }

        return [.. cpus];
    }

    /// <summary>One list per node of an N-node run: one list given for all, or exactly one per node separated by slashes.</summary>
    public static int[][] ParsePerNode(string text, string threading, int nodes)
    {
        string[] groups = text.Split('/');
        if (groups.Length != 1 && groups.Length != nodes)
        {
            throw new RunInputException($"--pipeline-cpus {text} names {groups.Length} nodes' CPUs for {nodes} nodes: give one list for all, or one per node separated by slashes (such as 0/1).");
        }

        int[][] perNode = [.. groups.Select(g => Parse(g, threading))];
        return groups.Length == nodes ? perNode : [.. Enumerable.Repeat(perNode[0], nodes)];
    }

    /// <summary>The <c>--pipeline-cpus</c> argument of one node process, or none when the OS places its threads.</summary>
    public static string[] NodeArguments(IReadOnlyList<IReadOnlyList<int>>? perNode, int node)
        => perNode is null ? [] : ["--pipeline-cpus", string.Join(',', perNode[node])];
}
