using System.CommandLine;
using IpiEngine.Perf.Comparison;

namespace IpiEngine.Cli;

/// <summary>The verdict-policy options that <c>compare</c> and <c>compare-commits</c> share.</summary>
internal sealed class PolicyOptions
{
    public Option<string> Threshold { get; } = new("--threshold") { Description = "Relative threshold of the equivalence test.", DefaultValueFactory = _ => "5%" };
    public Option<string> Noise { get; } = new("--noise") { Description = "Absolute noise floor: smaller shifts never count.", DefaultValueFactory = _ => "1ns" };
    public Option<double> Alpha { get; } = new("--alpha") { Description = "Significance level of each one-sided test.", DefaultValueFactory = _ => 0.01 };
    public Option<bool> GateCrossThread { get; } = new("--gate-cross-thread") { Description = "Fail on cross-thread slowdowns too (they only warn by default)." };
    public Option<string?> Machine { get; } = new("--machine") { Description = "Machine id to compare on, when both sides have several." };
    public Option<string> Format { get; } = new("--format") { Description = "text, markdown or json.", DefaultValueFactory = _ => "text" };

    public void AddTo(Command command)
    {
        command.Options.Add(Threshold);
        command.Options.Add(Noise);
        command.Options.Add(Alpha);
        command.Options.Add(GateCrossThread);
        command.Options.Add(Machine);
        command.Options.Add(Format);
    }

    public ComparisonOptions Read(ParseResult parse) => new()
    {
        Threshold = parse.GetValue(Threshold) ?? "5%",
        NoiseFloor = parse.GetValue(Noise) ?? "1ns",
        Alpha = parse.GetValue(Alpha),
        GateCrossThread = parse.GetValue(GateCrossThread),
        MachineId = parse.GetValue(Machine),
    };
}
