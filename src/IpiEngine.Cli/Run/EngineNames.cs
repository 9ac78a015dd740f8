using IpiEngine.Pipeline;

namespace IpiEngine.Cli.Run;

/// <summary>The command line's spellings of the engine's choices (kebab-case of the enum names).</summary>
internal static class EngineNames
{
    private static readonly WaitStrategyKind[] WaitKinds = Enum.GetValues<WaitStrategyKind>();

    /// <summary>Every wait strategy's spelling, in the enum's order.</summary>
    public static IReadOnlyList<string> WaitStrategies { get; } = Array.ConvertAll(WaitKinds, Of);

    /// <summary>The strategy a spelling names (null: the engine's default).</summary>
    public static WaitStrategyKind WaitStrategy(string? name)
        => name is null ? new EngineOptions().WaitStrategy : WaitKinds[Array.IndexOf([.. WaitStrategies], name)];

    /// <summary>Every threading mode's spelling, in the enum's order.</summary>
    public static IReadOnlyList<string> ThreadingModes { get; } = ["fused", "per-stage", "inline"];

    /// <summary>The threading mode a spelling (<c>fused</c>, <c>per-stage</c>, <c>inline</c>) names; null for none.</summary>
    public static ThreadingMode? TryThreading(string? name) => name switch
    {
        "fused" => ThreadingMode.Fused,
        "per-stage" => ThreadingMode.PerStage,
        "inline" => ThreadingMode.Inline,
        _ => null,
    };

    /// <summary>The threading mode a spelling names (the spelling was checked; fused otherwise).</summary>
    public static ThreadingMode Threading(string name) => TryThreading(name) ?? ThreadingMode.Fused;

    /// <summary>
    /// <c>--assist on|off</c> (<see cref="EngineOptions.AssistIdlePipeline"/>): null means the engine's default; any other
    /// spelling is a <see cref="RunInputException"/>.
    /// </summary>
    public static bool Assist(string? value) => OnOff("--assist", value, new EngineOptions().AssistIdlePipeline);

    /// <summary>An <c>on|off</c> option's value (<paramref name="option"/> names it in the error); null gives <paramref name="fallback"/>.</summary>
    public static bool OnOff(string option, string? value, bool fallback) => value?.Trim().ToLowerInvariant() switch
    {
        null => fallback,
        "on" => true,
        "off" => false,
        _ => throw new RunInputException($"Unknown {option} value '{value}': use on or off."),
    };

    /// <summary>
    /// <c>--assist on|off</c> given with <c>--threading</c> <paramref name="threading"/> (<c>ipi run</c> and <c>ipi node</c>):
    /// as <see cref="Assist(string?)"/>, and a <see cref="RunInputException"/> when it is given with a valid threading mode
    /// other than fused, where no pipeline thread parks for a post to help.
    /// </summary>
    public static bool Assist(string? value, string threading)
        => value is not null && TryThreading(threading) is { } mode && mode != ThreadingMode.Fused
            ? throw new RunInputException($"--assist applies to fused threading only (a post helps a parked pipeline thread), not to --threading {threading.Trim().ToLowerInvariant()}.")
            : Assist(value);

    /// <summary>A strategy's spelling: <c>BusySpin</c> becomes <c>busy-spin</c>.</summary>
    public static string Of(WaitStrategyKind kind)
    {
        var name = kind.ToString();
        var spelled = new System.Text.StringBuilder(name.Length + 4);
        foreach (var c in name)
        {
            if (char.IsUpper(c) && spelled.Length > 0)
            {
                spelled.Append('-');
            }

            spelled.Append(char.ToLowerInvariant(c));
        }

        return spelled.ToString();
    }
}
