using IpiEngine.Perf.Suite;

namespace IpiEngine.Benchmarks.Infrastructure;

/// <summary>
/// The suite's own command-line options, taken out of the arguments before the rest goes to
/// BenchmarkDotNet: <c>--profile ci|full</c> (default <c>full</c>) and <c>--manifest PATH</c>
/// (where to write the categories and calibration readings of the run).
/// </summary>
public sealed record SuiteArguments
{
    /// <summary>The job settings to run with.</summary>
    public required SuiteProfile Profile { get; init; }

    /// <summary>Where to write the run's manifest, or null for none (the probe then does not run).</summary>
    public string? ManifestPath { get; init; }

    /// <summary>The arguments left for BenchmarkDotNet.</summary>
    public required IReadOnlyList<string> Remaining { get; init; }

    /// <summary>A one-sentence usage error, or null.</summary>
    public string? Error { get; init; }

    /// <summary>Splits the suite's options from BenchmarkDotNet's.</summary>
    public static SuiteArguments Parse(IReadOnlyList<string> args)
    {
        var profile = SuiteProfile.Full;
        string? manifest = null;
        var remaining = new List<string>(args.Count);
        for (int i = 0; i < args.Count; i++)
        {
            string arg = args[i];
            bool hasValue = i + 1 < args.Count;
            if (arg == "--profile")
            {
                if (!hasValue || SuiteProfile.Find(args[i + 1]) is not { } found)
                {
                    return Failed($"--profile needs one of: {string.Join(", ", SuiteProfile.All.Select(p => p.Name))}.");
                }
                profile = found;
                i++;
            }
            else if (arg == "--manifest")
            {
                if (!hasValue)
                {
                    return Failed("--manifest needs a file path.");
                }
                manifest = Path.GetFullPath(args[i + 1]);
                i++;
            }
            else
            {
                remaining.Add(arg);
            }
        }
        return new SuiteArguments { Profile = profile, ManifestPath = manifest, Remaining = remaining };

        static SuiteArguments Failed(string error) =>
            new() { Profile = SuiteProfile.Full, Remaining = [], Error = error };
    }
}
