using BenchmarkDotNet.Running;

namespace IpiEngine.Benchmarks;

/// <summary>Runs the suite through BenchmarkSwitcher: <c>--filter</c>, <c>--anyCategories</c>, <c>--list</c>.</summary>
public static class Program
{
    /// <summary>Entry point.</summary>
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
