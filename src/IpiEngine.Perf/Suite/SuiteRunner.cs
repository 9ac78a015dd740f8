using System.Globalization;
using IpiEngine.Perf.Records;

namespace IpiEngine.Perf.Suite;

/// <summary>
/// Builds and runs the benchmark suite of one source tree (the repository, or a temporary clone of
/// a commit) and turns the run into a <see cref="PerfRecord"/>. The suite runs as one
/// BenchmarkDotNet session over every selected benchmark, in the suite's own process: the
/// calibration probe runs inside it before and after each benchmark (BenchmarkDotNet event hooks),
/// so the benchmarks are built once instead of once per benchmark, and each reading is taken
/// right next to the benchmark it describes, while no benchmark process runs.
/// </summary>
public sealed class SuiteRunner(string sourceRoot, TextWriter log)
{
    /// <summary>The suite's project, relative to the source root.</summary>
    public const string ProjectPath = "bench/IpiEngine.Benchmarks/IpiEngine.Benchmarks.csproj";

    private string ProjectFolder => Path.GetDirectoryName(Path.Combine(sourceRoot, ProjectPath))!;

    private readonly string? builtAssembly;

    /// <summary>A runner whose suite is already built at <paramref name="assembly"/> (tests: a stand-in suite).</summary>
    internal SuiteRunner(string sourceRoot, TextWriter log, string assembly)
        : this(sourceRoot, log) => builtAssembly = assembly;

    /// <summary>The built suite assembly (what the interleaved runner's workers load).</summary>
    internal string Assembly => builtAssembly ?? Path.Combine(ProjectFolder, "bin", "Release", "net10.0", "IpiEngine.Benchmarks.dll");

    /// <summary>Builds the suite in Release.</summary>
    /// <exception cref="PerfInputException">The tree has no suite, or it does not build.</exception>
    public void Build()
    {
        var project = Path.Combine(sourceRoot, ProjectPath);
        if (!File.Exists(Path.Combine(ProjectFolder, "Infrastructure", "SuiteConfig.cs")))
        {
            throw new PerfInputException($"{sourceRoot} has no perf suite ({ProjectPath} with Infrastructure/SuiteConfig.cs); it predates the suite.");
        }
        log.WriteLine($"building {project} (Release)");
        var outcome = ExternalCommand.Run("dotnet", ["build", project, "-c", "Release", "--nologo", "-v", "quiet"], sourceRoot);
        if (outcome.ExitCode != 0)
        {
            log.Write(outcome.Output);
            throw new PerfInputException($"The suite in {sourceRoot} does not build (dotnet build exit code {outcome.ExitCode}).");
        }
    }

    /// <summary>
    /// Runs the selected benchmarks with <paramref name="profile"/> and converts the run into a
    /// record. Artifacts go to <paramref name="workFolder"/>, never into the source tree.
    /// </summary>
    /// <returns>The record and whether every benchmark produced results.</returns>
    /// <exception cref="PerfInputException">The suite is not built, or no benchmark ran.</exception>
    public (PerfRecord Record, bool AllRan) Run(SuiteProfile profile, IReadOnlyList<string> filters, string workFolder, CommitInfo commit, int? round = null)
    {
        ArgumentNullException.ThrowIfNull(profile);
        log.WriteLine($"running the suite ({profile.Name} profile, filter {string.Join(" ", filters.Count == 0 ? ["*"] : filters)})");
        return Run(["--profile", profile.Name], filters, workFolder, commit, round, log, environment: null);
    }

    /// <summary>
    /// Runs one launch of every selected benchmark in one suite process (in-process toolchain, see
    /// <see cref="SuiteProfile.CompareLaunch"/>), quietly, with <paramref name="environment"/> added
    /// to the profile's. The record says <paramref name="profile"/>, the settings that were asked for.
    /// </summary>
    /// <exception cref="PerfInputException">The suite is not built, or no benchmark ran.</exception>
    public (PerfRecord Record, bool AllRan) RunLaunch(SuiteProfile profile, IReadOnlyList<string> filters, string workFolder, CommitInfo commit, int round, IReadOnlyDictionary<string, string> environment)
    {
        ArgumentNullException.ThrowIfNull(profile);
        ArgumentNullException.ThrowIfNull(environment);
        string[] job =
        [
            "--profile", SuiteProfile.Ci.Name, "--inProcess",
            "--launchCount", "1",
            "--warmupCount", profile.WarmupCount.ToString(CultureInfo.InvariantCulture),
            "--iterationCount", profile.IterationCount.ToString(CultureInfo.InvariantCulture),
            "--iterationTime", profile.IterationTimeMs.ToString(CultureInfo.InvariantCulture),
        ];
        var variables = new Dictionary<string, string>(profile.Environment, StringComparer.Ordinal);
        foreach (var (name, value) in environment)
        {
            variables[name] = value;
        }
        var (record, allRan) = Run(job, filters, workFolder, commit, round, echo: null, variables);
        // The suite wrote the ci profile it was started with; the settings that ran are the launch profile's.
        return (record with { Run = record.Run with { Job = profile } }, allRan);
    }

    private (PerfRecord Record, bool AllRan) Run(string[] job, IReadOnlyList<string> filters, string workFolder, CommitInfo commit, int? round, TextWriter? echo, IReadOnlyDictionary<string, string>? environment)
    {
        ArgumentNullException.ThrowIfNull(filters);
        if (!File.Exists(Assembly))
        {
            throw new PerfInputException($"The suite is not built ({Assembly} is missing); run without --no-build.");
        }
        Directory.CreateDirectory(workFolder);
        var manifestPath = Path.Combine(workFolder, "manifest.json");
        var arguments = new List<string> { Assembly };
        arguments.AddRange(job);
        arguments.AddRange(["--artifacts", workFolder, "--manifest", manifestPath, "--filter"]);
        arguments.AddRange(filters.Count == 0 ? ["*"] : filters);
        var started = DateTimeOffset.UtcNow;
        // The working folder must be the project's: BenchmarkDotNet finds the project to build from it.
        var outcome = ExternalCommand.Run("dotnet", arguments, ProjectFolder, echo, environment);
        var exports = Directory.Exists(Path.Combine(workFolder, "results"))
            ? Directory.GetFiles(Path.Combine(workFolder, "results"), "*-report-full.json")
            : [];
        Array.Sort(exports, StringComparer.Ordinal);
        var manifest = File.Exists(manifestPath) ? SuiteRunManifest.Load(manifestPath) : null;
        if (exports.Length == 0 || manifest is null || manifest.Benchmarks.Count == 0)
        {
            if (echo is null)
            {
                // A quiet run kept its output: show its end, where BenchmarkDotNet says what went wrong.
                log.WriteLine(string.Join(Environment.NewLine, outcome.Output.Split('\n').TakeLast(20)));
            }
            throw new PerfInputException(outcome.ExitCode == 2
                ? $"The suite refused its arguments: {outcome.Error.Trim()}"
                : $"No benchmark ran (suite exit code {outcome.ExitCode}); check the filter ({string.Join(" ", filters)}) with 'dotnet {Assembly} --list flat'.");
        }
        var record = RecordConverter.Convert(exports, manifest, commit, started, round);
        return (record, outcome.ExitCode == 0 && !record.Benchmarks.Any(b => b.Failed));
    }
}
