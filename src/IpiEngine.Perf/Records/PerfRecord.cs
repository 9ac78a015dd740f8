using IpiEngine.Perf.Calibration;
using IpiEngine.Perf.Suite;

namespace IpiEngine.Perf.Records;

/// <summary>
/// One run of the suite on one commit and one machine, trimmed from BenchmarkDotNet's full JSON
/// export and the suite's manifest: what <c>compare</c> and <c>trend</c> need, a few KB per run.
/// Schema: <c>perf-results/schema/perf-run.v1.schema.json</c>.
/// </summary>
public sealed record PerfRecord
{
    /// <summary>The format version this code writes.</summary>
    public const int CurrentSchemaVersion = 1;

    /// <summary>Format version of the record.</summary>
    public int SchemaVersion { get; init; } = CurrentSchemaVersion;

    /// <summary>The commit that was measured.</summary>
    public required CommitInfo Commit { get; init; }

    /// <summary>The machine it was measured on.</summary>
    public required MachineInfo Machine { get; init; }

    /// <summary>Tool versions, job settings and calibration thresholds.</summary>
    public required RunInfo Run { get; init; }

    /// <summary>Every benchmark of the run, failed ones included.</summary>
    public required IReadOnlyList<BenchmarkResult> Benchmarks { get; init; }
}

/// <summary>The measured commit.</summary>
public sealed record CommitInfo
{
    /// <summary>Full 40-hex sha.</summary>
    public required string Sha { get; init; }

    /// <summary>The first 12 hex digits (file names use them).</summary>
    public string ShortSha => Sha.Length > 12 ? Sha[..12] : Sha;

    /// <summary>Subject line of the commit message.</summary>
    public string Subject { get; init; } = "";

    /// <summary>Committer date.</summary>
    public DateTimeOffset? CommittedUtc { get; init; }

    /// <summary>True when the working tree had uncommitted changes: such a record is never a baseline.</summary>
    public bool Dirty { get; init; }
}

/// <summary>The machine, as BenchmarkDotNet saw it.</summary>
public sealed record MachineInfo
{
    /// <summary>Stable slug of CPU model, logical cores and OS: records are only compared within one id.</summary>
    public required string Id { get; init; }

    /// <summary>CPU model name.</summary>
    public string Cpu { get; init; } = "";

    /// <summary>Logical cores.</summary>
    public int LogicalCores { get; init; }

    /// <summary>Physical cores.</summary>
    public int PhysicalCores { get; init; }

    /// <summary>Operating system.</summary>
    public string Os { get; init; } = "";

    /// <summary>Process architecture (X64, Arm64).</summary>
    public string Architecture { get; init; } = "";
}

/// <summary>How the run was made.</summary>
public sealed record RunInfo
{
    /// <summary>When the run started (UTC).</summary>
    public required DateTimeOffset StartedUtc { get; init; }

    /// <summary>BenchmarkDotNet version.</summary>
    public string BenchmarkDotNet { get; init; } = "";

    /// <summary>.NET runtime the benchmarks ran on.</summary>
    public string Runtime { get; init; } = "";

    /// <summary>.NET SDK that built them.</summary>
    public string Sdk { get; init; } = "";

    /// <summary>The pinned job settings; null when the export came without a suite manifest.</summary>
    public SuiteProfile? Job { get; init; }

    /// <summary>The thresholds that turned calibration readings into states.</summary>
    public CoreDistanceThresholds Calibration { get; init; } = CoreDistanceThresholds.Default;

    /// <summary>Round number within a <c>compare-commits</c> session, null for a plain record.</summary>
    public int? Round { get; init; }

    /// <summary>BenchmarkDotNet's validation errors: benchmarks that could not even start are named here, not lost.</summary>
    public IReadOnlyList<string> ValidationErrors { get; init; } = [];
}

/// <summary>One benchmark's results within a record.</summary>
public sealed record BenchmarkResult
{
    /// <summary>BenchmarkDotNet's full name (namespace, type, method, parameters): the key across records.</summary>
    public required string Id { get; init; }

    /// <summary>Categories (area and <see cref="SuiteCategories"/>).</summary>
    public IReadOnlyList<string> Categories { get; init; } = [];

    /// <summary>True when the benchmark produced no measurements (it threw, or its build failed).</summary>
    public bool Failed { get; init; }

    /// <summary>Per-iteration times, ns per operation, pooled over the launches.</summary>
    public IReadOnlyList<double> Samples { get; init; } = [];

    /// <summary>Median of <see cref="Samples"/> in ns.</summary>
    public double? Median { get; init; }

    /// <summary>First quartile in ns.</summary>
    public double? Q1 { get; init; }

    /// <summary>Third quartile in ns.</summary>
    public double? Q3 { get; init; }

    /// <summary>Managed bytes allocated per operation; null when MemoryDiagnoser did not run.</summary>
    public long? AllocatedBytesPerOp { get; init; }

    /// <summary>Calibration readings around the benchmark and the resulting state.</summary>
    public BenchmarkCalibration Calibration { get; init; } = new();

    /// <summary>True when the benchmark is in <paramref name="category"/> (ordinal, ignoring case).</summary>
    public bool HasCategory(string category)
    {
        foreach (var c in Categories)
        {
            if (string.Equals(c, category, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }
        return false;
    }
}

/// <summary>The calibration readings that bracket one benchmark.</summary>
public sealed record BenchmarkCalibration
{
    /// <summary>Round trip right before the benchmark, ns.</summary>
    public double? BeforeNs { get; init; }

    /// <summary>Round trip right after it, ns.</summary>
    public double? AfterNs { get; init; }

    /// <summary>Near, far, mixed (switched during the benchmark) or unknown.</summary>
    public CoreDistanceState State { get; init; }
}
