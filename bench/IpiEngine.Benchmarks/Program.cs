using BenchmarkDotNet.Running;
using IpiEngine.Benchmarks.Infrastructure;

namespace IpiEngine.Benchmarks;

/// <summary>
/// Runs the suite through BenchmarkSwitcher (<c>--filter</c>, <c>--anyCategories</c>, <c>--list flat</c>, ...)
/// with the suite's configuration. Own options: <c>--profile ci|full</c> (default full) and
/// <c>--manifest PATH</c> (calibration readings and categories, for <c>ipi perf record</c>).
/// </summary>
public static class Program
{
    /// <summary>Entry point: 0 when every benchmark ran, 1 when one failed, 2 on a usage error.</summary>
    public static int Main(string[] args)
    {
        var suite = SuiteArguments.Parse(args);
        if (suite.Error is not null)
        {
            Console.Error.WriteLine(suite.Error);
            return 2;
        }
        try
        {
            IpiEngine.Perf.Suite.SuiteSlowdown.FromEnvironment();
        }
        catch (IpiEngine.Perf.PerfInputException e)
        {
            Console.Error.WriteLine(e.Message);
            return 2;
        }
        var summaries = BenchmarkSwitcher
            .FromAssembly(typeof(Program).Assembly)
            .Run([.. suite.Remaining], SuiteConfig.Create(suite.Profile, suite.ManifestPath));
        return SuiteOutcome.ExitCode(summaries);
    }
}
