using BenchmarkDotNet.Reports;

namespace IpiEngine.Benchmarks.Infrastructure;

/// <summary>Turns a run's summaries into the suite's exit code, so that scripts notice a failed benchmark.</summary>
public static class SuiteOutcome
{
    /// <summary>0 when every benchmark produced results, 1 otherwise.</summary>
    public static int ExitCode(IEnumerable<Summary> summaries)
    {
        ArgumentNullException.ThrowIfNull(summaries);
        foreach (var summary in summaries)
        {
            if (summary.HasCriticalValidationErrors)
            {
                return 1;
            }
            foreach (var report in summary.Reports)
            {
                if (!report.Success || report.ResultStatistics is null)
                {
                    return 1;
                }
            }
        }
        return 0;
    }
}
