using System.Globalization;
using System.Text.RegularExpressions;

namespace IpiEngine.Tests.Native;

/// <summary>
/// Reads <c>include/ipi_engine.h</c> as the tests need it: its integer <c>#define</c>s and its size and offset
/// assertions, so the managed mirrors are checked against the header itself and the two cannot drift.
/// </summary>
internal static partial class NativeHeader
{
    private static readonly Lazy<string> s_text = new(() => File.ReadAllText(Path.Combine(RepositoryRoot(), "include", "ipi_engine.h")));

    /// <summary>Every <c>#define NAME value</c> whose value is an integer literal (decimal or hex, optional u suffix).</summary>
    public static IReadOnlyDictionary<string, long> Defines()
    {
        var result = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (Match m in DefineLine().Matches(s_text.Value))
        {
            string literal = m.Groups["value"].Value.TrimEnd('u', 'U');
            long value = literal.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
                ? long.Parse(literal.AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture)
                : long.Parse(literal, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
            result[m.Groups["name"].Value] = value;
        }
        return result;
    }

    /// <summary>The header's <c>sizeof(T) == N</c> assertions: type name to size.</summary>
    public static IReadOnlyDictionary<string, int> AssertedSizes()
        => SizeAssert().Matches(s_text.Value).ToDictionary(m => m.Groups["type"].Value, m => int.Parse(m.Groups["size"].Value, CultureInfo.InvariantCulture));

    /// <summary>The header's <c>offsetof(T, field) == N</c> assertions.</summary>
    public static IReadOnlyList<(string Type, string Field, int Offset)> AssertedOffsets()
        => [.. OffsetAssert().Matches(s_text.Value).Select(m => (m.Groups["type"].Value, m.Groups["field"].Value,
            int.Parse(m.Groups["offset"].Value, CultureInfo.InvariantCulture)))];

    private static string RepositoryRoot()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Engine.sln")))
                return dir.FullName;
        }
        throw new DirectoryNotFoundException("Engine.sln not found above " + AppContext.BaseDirectory);
    }

    [GeneratedRegex(@"^#define\s+(?<name>IPI_[A-Z0-9_]+)\s+\(?(?<value>-?(0x[0-9A-Fa-f]+|[0-9]+))([uU]|ull|ULL)?\b", RegexOptions.Multiline)]
    private static partial Regex DefineLine();

    [GeneratedRegex(@"IPI_STATIC_ASSERT\(sizeof\((?<type>ipi_[a-z0-9_]+)\)\s*==\s*(?<size>[0-9]+)")]
    private static partial Regex SizeAssert();

    [GeneratedRegex(@"IPI_STATIC_ASSERT\(offsetof\((?<type>ipi_[a-z0-9_]+),\s*(?<field>[a-z0-9_]+)\)\s*==\s*(?<offset>[0-9]+)")]
    private static partial Regex OffsetAssert();
}
