using System.Globalization;
using IpiEngine.Perf.Suite;

namespace IpiEngine.Perf.Records;

/// <summary>
/// What CI checks on a <c>ci</c>-profile record: every benchmark produced samples, and every
/// benchmark in <see cref="SuiteCategories.ZeroAlloc"/> allocated nothing per operation. Timings are
/// never checked: a CI machine is too noisy for a timed gate.
/// </summary>
public static class SmokeCheck
{
    /// <summary>One sentence per problem; empty when the record passes.</summary>
    public static IReadOnlyList<string> Problems(PerfRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        var problems = new List<string>();
        if (record.Benchmarks.Count == 0)
        {
            problems.Add("the record holds no benchmark");
        }
        foreach (var validationError in record.Run.ValidationErrors)
        {
            problems.Add($"BenchmarkDotNet validation error: {validationError}");
        }
        foreach (var benchmark in record.Benchmarks)
        {
            if (benchmark.Failed)
            {
                problems.Add($"{benchmark.Id} failed (no measurements)");
            }
            else if (benchmark.HasCategory(SuiteCategories.ZeroAlloc))
            {
                if (benchmark.AllocatedBytesPerOp is not { } bytes)
                {
                    problems.Add($"{benchmark.Id} is tagged {SuiteCategories.ZeroAlloc} but its allocations were not measured");
                }
                else if (bytes > 0)
                {
                    problems.Add(string.Create(CultureInfo.InvariantCulture,
                        $"{benchmark.Id} is tagged {SuiteCategories.ZeroAlloc} but allocated {bytes} B per operation"));
                }
            }
        }
        return problems;
    }
}
