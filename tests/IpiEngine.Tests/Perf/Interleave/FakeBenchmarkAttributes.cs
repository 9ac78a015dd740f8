// Stand-ins for BenchmarkDotNet's attributes, with its namespace and names: the interleaved
// runner finds benchmarks by attribute names, so these tests need no BenchmarkDotNet package.
#pragma warning disable CA1019, CA1813, IDE0130 // Mirrors of another library's attributes: their shape is theirs.
namespace BenchmarkDotNet.Attributes;

[AttributeUsage(AttributeTargets.Method)]
public sealed class BenchmarkAttribute : Attribute
{
    public int OperationsPerInvoke { get; set; } = 1;

    public bool Baseline { get; set; }
}

[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class ParamsAttribute(params object[] values) : Attribute
{
    public object[] Values { get; } = values;
}

[AttributeUsage(AttributeTargets.Class | AttributeTargets.Method, AllowMultiple = true)]
public sealed class BenchmarkCategoryAttribute(params string[] categories) : Attribute
{
    public string[] Categories { get; } = categories;
}

[AttributeUsage(AttributeTargets.Method)]
public sealed class GlobalSetupAttribute : Attribute
{
    public string? Target { get; set; }
}

[AttributeUsage(AttributeTargets.Method)]
public sealed class GlobalCleanupAttribute : Attribute
{
    public string? Target { get; set; }
}

[AttributeUsage(AttributeTargets.Method)]
public sealed class IterationSetupAttribute : Attribute
{
    public string? Target { get; set; }
}
