namespace IpiEngine.Perf.Records;

/// <summary>
/// The parts of BenchmarkDotNet's full JSON export (<c>*-report-full.json</c>, exporter
/// <c>fulljson</c>) that a record keeps. Property names are BenchmarkDotNet's.
/// </summary>
internal sealed record BdnFullReport
{
    public string? Title { get; init; }
    public BdnHostEnvironment? HostEnvironmentInfo { get; init; }
    public IReadOnlyList<BdnBenchmark>? Benchmarks { get; init; }
}

/// <summary>BenchmarkDotNet's description of the machine and runtime.</summary>
internal sealed record BdnHostEnvironment
{
    public string? BenchmarkDotNetVersion { get; init; }
    public string? OsVersion { get; init; }
    public string? ProcessorName { get; init; }
    public int? PhysicalCoreCount { get; init; }
    public int? LogicalCoreCount { get; init; }
    public string? RuntimeVersion { get; init; }
    public string? Architecture { get; init; }
    public string? DotNetCliVersion { get; init; }
}

/// <summary>One benchmark case of the export.</summary>
internal sealed record BdnBenchmark
{
    public string? FullName { get; init; }
    public string? Type { get; init; }
    public string? Method { get; init; }
    public string? Parameters { get; init; }
    public BdnStatistics? Statistics { get; init; }
    public BdnMemory? Memory { get; init; }
}

/// <summary>Statistics over the workload iterations (ns per operation); null for a failed benchmark.</summary>
internal sealed record BdnStatistics
{
    public IReadOnlyList<double>? OriginalValues { get; init; }
    public double Median { get; init; }
    public double Mean { get; init; }
    public double Q1 { get; init; }
    public double Q3 { get; init; }
}

/// <summary>MemoryDiagnoser's results.</summary>
internal sealed record BdnMemory
{
    public long Gen0Collections { get; init; }
    public long TotalOperations { get; init; }
    public long BytesAllocatedPerOperation { get; init; }
}
