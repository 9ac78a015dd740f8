using System.Text;

namespace IpiEngine.Perf.Records;

/// <summary>
/// The machine id that keys <c>perf-results/runs/&lt;machine-id&gt;/</c>: a readable slug of CPU
/// model, logical core count and OS, so that records from different hardware never meet in one
/// comparison. Kernel and runtime patch levels are left out on purpose (they are in the record).
/// </summary>
public static class MachineIdentity
{
    private const int MaxPartLength = 32;

    /// <summary>For example <c>amd-epyc-2c-linux-debian-gnu-linux-12</c>.</summary>
    public static string From(string? cpu, int logicalCores, string? os) =>
        $"{Slug(cpu, "unknown-cpu")}-{logicalCores}c-{Slug(WithoutCodename(os), "unknown-os")}";

    /// <summary>Lower-case letters and digits, runs of anything else turned into one dash.</summary>
    internal static string Slug(string? text, string fallback)
    {
        var builder = new StringBuilder();
        foreach (char ch in text ?? "")
        {
            if (char.IsAsciiLetterOrDigit(ch))
            {
                builder.Append(char.ToLowerInvariant(ch));
            }
            else if (builder.Length > 0 && builder[^1] != '-')
            {
                builder.Append('-');
            }
            if (builder.Length >= MaxPartLength)
            {
                break;
            }
        }
        var slug = builder.ToString().Trim('-');
        return slug.Length == 0 ? fallback : slug;
    }

    // "Linux Debian GNU/Linux 12 (bookworm)": the parenthesised codename adds nothing to the version.
    private static string? WithoutCodename(string? os)
    {
        int open = os?.IndexOf('(', StringComparison.Ordinal) ?? -1;
        return open > 0 ? os![..open] : os;
    }
}
