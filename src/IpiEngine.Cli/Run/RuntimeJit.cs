namespace IpiEngine.Cli.Run;

/// <summary>
/// Whether the runtime's dynamic PGO was on in this process (JSON <c>runtime</c>), and the two variables that decide it.
/// It changes how the engine's hot path is compiled: with it on (the default), the JIT gives the methods that skip
/// tiered compilation (<c>HotPath</c>) a synthesized profile, which lays their code out differently; on this project's
/// machine one record per post moved a median 68.9 M IPIs/s with it and 81.1 M without (12 alternating rounds, near;
/// docs/embedding.md, "The runtime's dynamic PGO"). The regression suite pins it off.
/// </summary>
/// <param name="DynamicPgo">Tiered compilation and tiered PGO both on: the variables first, then the runtime config.</param>
/// <param name="TieredPgoVariable"><c>DOTNET_TieredPGO</c> as the process saw it (null: not set).</param>
/// <param name="TieredCompilationVariable"><c>DOTNET_TieredCompilation</c> as the process saw it (null: not set).</param>
internal sealed record RuntimeJit(bool DynamicPgo, string? TieredPgoVariable, string? TieredCompilationVariable)
{
    internal const string TieredPgoName = "DOTNET_TieredPGO";
    internal const string TieredCompilationName = "DOTNET_TieredCompilation";

    /// <summary>This process's settings.</summary>
    public static RuntimeJit Current { get; } = Read(Environment.GetEnvironmentVariable, AppContext.GetData);

    /// <summary>
    /// The settings from <paramref name="environment"/> and <paramref name="runtimeConfig"/> (<c>AppContext.GetData</c>):
    /// a variable, when set, wins over the runtime config's <c>System.Runtime.TieredPGO</c> /
    /// <c>System.Runtime.TieredCompilation</c>, and each is on unless set to 0 or false (the runtime's defaults).
    /// </summary>
    internal static RuntimeJit Read(Func<string, string?> environment, Func<string, object?> runtimeConfig)
    {
        var pgo = environment(TieredPgoName);
        var tiering = environment(TieredCompilationName);
        return new RuntimeJit(
            On(pgo, runtimeConfig("System.Runtime.TieredPGO")) && On(tiering, runtimeConfig("System.Runtime.TieredCompilation")),
            pgo,
            tiering);
    }

    /// <summary>The run summary's wording.</summary>
    public string Describe()
    {
        var source = TieredPgoVariable is not null ? $"{TieredPgoName}={TieredPgoVariable}"
            : TieredCompilationVariable is not null ? $"{TieredCompilationName}={TieredCompilationVariable}"
            : "the runtime config";
        return $"{(DynamicPgo ? "on" : "off")} ({source})";
    }

    private static bool On(string? variable, object? configured)
    {
        if (variable is not null)
        {
            return variable.Trim() is not ("0" or "");
        }

        return configured is not string text || !bool.TryParse(text, out var value) || value;
    }
}
