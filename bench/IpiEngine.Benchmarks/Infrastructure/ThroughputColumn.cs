using System.Globalization;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace IpiEngine.Benchmarks.Infrastructure;

/// <summary>
/// IPIs handled per second: one second divided by the mean time of one operation. A benchmark
/// that handles N IPIs per invocation declares <c>[Benchmark(OperationsPerInvoke = N)]</c>, so that
/// an operation is one IPI and this column reads as IPIs/s.
/// </summary>
public sealed class ThroughputColumn : IColumn
{
    /// <summary>The one instance the suite config adds.</summary>
    public static ThroughputColumn Instance { get; } = new();

    /// <inheritdoc />
    public string Id => nameof(ThroughputColumn);

    /// <inheritdoc />
    public string ColumnName => "IPIs/s";

    /// <inheritdoc />
    public bool AlwaysShow => true;

    /// <inheritdoc />
    public ColumnCategory Category => ColumnCategory.Custom;

    /// <inheritdoc />
    public int PriorityInCategory => 0;

    /// <inheritdoc />
    public bool IsNumeric => true;

    /// <inheritdoc />
    public UnitType UnitType => UnitType.Dimensionless;

    /// <inheritdoc />
    public string Legend => "IPIs (operations) per second = 1 s / Mean; OperationsPerInvoke is the IPIs per invocation";

    /// <inheritdoc />
    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

    /// <inheritdoc />
    public bool IsAvailable(Summary summary) => true;

    /// <inheritdoc />
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) =>
        GetValue(summary, benchmarkCase, SummaryStyle.Default);

    /// <inheritdoc />
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        var mean = summary[benchmarkCase]?.ResultStatistics?.Mean;
        return mean is > 0 ? Format(1e9 / mean.Value) : "NA";
    }

    /// <summary>A rate with an SI prefix, e.g. <c>94.1 M</c>.</summary>
    public static string Format(double perSecond) => perSecond switch
    {
        >= 1e9 => (perSecond / 1e9).ToString("0.00 G", CultureInfo.InvariantCulture),
        >= 1e6 => (perSecond / 1e6).ToString("0.00 M", CultureInfo.InvariantCulture),
        >= 1e3 => (perSecond / 1e3).ToString("0.00 k", CultureInfo.InvariantCulture),
        _ => perSecond.ToString("0.00", CultureInfo.InvariantCulture),
    };

    /// <inheritdoc />
    public override string ToString() => ColumnName;
}
