using IpiEngine.Apic;

namespace IpiEngine.Cli.Run;

/// <summary>A <c>--topology</c> value: the addressing kind and whether APIC IDs are sparse.</summary>
internal readonly record struct TopologyChoice(TopologyKind Kind, bool SparseIds)
{
    /// <summary>The names <c>--topology</c> accepts; each also has a <c>-sparse</c> variant.</summary>
    public static readonly IReadOnlyList<string> Names = ["xapic-flat", "xapic-cluster", "xapic-physical", "x2apic-physical", "x2apic-cluster"];

    private static readonly TopologyKind[] Kinds =
        [TopologyKind.XApicFlat, TopologyKind.XApicCluster, TopologyKind.XApicPhysical, TopologyKind.X2ApicPhysical, TopologyKind.X2ApicCluster];

    /// <summary>The option's spelling of this choice.</summary>
    public string Name => Names[Array.IndexOf(Kinds, Kind)] + (SparseIds ? "-sparse" : string.Empty);

    /// <summary>Parses a name; throws <see cref="RunInputException"/> naming the accepted values.</summary>
    public static TopologyChoice Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var name = text.Trim().ToLowerInvariant();
        var sparse = name.EndsWith("-sparse", StringComparison.Ordinal);
        if (sparse)
        {
            name = name[..^"-sparse".Length];
        }

        for (var i = 0; i < Names.Count; i++)
        {
            if (Names[i] == name)
            {
                return new TopologyChoice(Kinds[i], sparse);
            }
        }

        throw new RunInputException($"Unknown topology '{text}': use one of {string.Join(", ", Names)}, each optionally with -sparse.");
    }
}
