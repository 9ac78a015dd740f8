using System.CommandLine;
using IpiEngine.Perf.Comparison;

namespace IpiEngine.Cli;

/// <summary>
/// The verdict-policy options that <c>compare</c>, <c>compare-commits</c> and <c>aa</c> share.
/// With <paramref name="byLaunch"/> (the commands that run launches) the time is tested across
/// launches, the single-threaded floor is finer, and cross-thread benchmarks get their own threshold.
/// </summary>
internal sealed class PolicyOptions(bool byLaunch)
{
    private static readonly ComparisonOptions Defaults = new(); // the documented policy: its values are the defaults here

    public Option<string> Threshold { get; } = new("--threshold")
    {
        Description = byLaunch ? "Relative threshold for single-threaded benchmarks: smaller changes never count." : "Relative threshold of the equivalence test.",
        DefaultValueFactory = _ => "5%",
    };

    public Option<string> Noise { get; } = new("--noise")
    {
        Description = byLaunch ? "Absolute floor for single-threaded benchmarks: smaller shifts never count." : "Absolute noise floor: smaller shifts never count.",
        DefaultValueFactory = _ => byLaunch ? "0.25ns" : "1ns",
    };

    public Option<string> CrossThreshold { get; } = new("--cross-threshold") { Description = "Relative threshold for cross-thread benchmarks.", DefaultValueFactory = _ => Defaults.CrossThreadThreshold };
    public Option<string> CrossNoise { get; } = new("--cross-noise") { Description = "Absolute floor for cross-thread benchmarks.", DefaultValueFactory = _ => Defaults.CrossThreadNoiseFloor };
    public Option<double> Alpha { get; } = new("--alpha") { Description = byLaunch ? "Significance level of the slower and faster tests (0.0001 to 0.5)." : "Significance level of each one-sided test (0.0001 to 0.5).", DefaultValueFactory = _ => 0.01 };
    public Option<double> EquivalenceAlpha { get; } = new("--equivalence-alpha")
    {
        Description = "Level of the equivalence test that calls a benchmark 'same' (slower and faster keep --alpha).",
        DefaultValueFactory = _ => LaunchTest.DefaultEquivalenceAlpha,
    };
    public Option<bool> GateCrossThread { get; } = new("--gate-cross-thread") { Description = "Fail on cross-thread slowdowns too (they only warn by default)." };
    public Option<string?> Machine { get; } = new("--machine") { Description = "Machine id to compare on, when both sides have several." };
    public Option<string> Format { get; } = new("--format") { Description = "text, markdown or json.", DefaultValueFactory = _ => "text" };

    public void AddTo(Command command)
    {
        command.Options.Add(Threshold);
        command.Options.Add(Noise);
        if (byLaunch)
        {
            command.Options.Add(CrossThreshold);
            command.Options.Add(CrossNoise);
        }
        command.Options.Add(Alpha);
        if (byLaunch)
        {
            command.Options.Add(EquivalenceAlpha);
        }
        command.Options.Add(GateCrossThread);
        command.Options.Add(Machine);
        command.Options.Add(Format);
    }

    public ComparisonOptions Read(ParseResult parse) => new()
    {
        Threshold = parse.GetValue(Threshold) ?? "5%",
        NoiseFloor = parse.GetValue(Noise) ?? "1ns",
        CrossThreadThreshold = parse.GetValue(CrossThreshold) ?? Defaults.CrossThreadThreshold,
        CrossThreadNoiseFloor = parse.GetValue(CrossNoise) ?? Defaults.CrossThreadNoiseFloor,
        Unit = byLaunch ? ComparisonUnit.Launch : ComparisonUnit.Iteration,
        Alpha = parse.GetValue(Alpha),
        EquivalenceAlpha = byLaunch ? parse.GetValue(EquivalenceAlpha) : LaunchTest.DefaultEquivalenceAlpha,
        GateCrossThread = parse.GetValue(GateCrossThread),
        MachineId = parse.GetValue(Machine),
    };
}
