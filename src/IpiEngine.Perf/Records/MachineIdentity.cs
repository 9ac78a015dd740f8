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

    /// <summary>
    /// This machine as BenchmarkDotNet describes it (CPU model name, logical cores, OS name and
    /// version), read without BenchmarkDotNet: records of the interleaved runner land beside those of
    /// <c>ipi perf record</c> under the same id.
    /// </summary>
    public static MachineInfo Current()
    {
        string? cpu = null;
        string? os = null;
        if (OperatingSystem.IsLinux())
        {
            cpu = FirstValue("/proc/cpuinfo", "model name", ':');
            os = FirstValue("/etc/os-release", "PRETTY_NAME", '=')?.Trim('"') is { } pretty ? "Linux " + pretty : null;
        }
        cpu ??= System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture.ToString();
        os ??= System.Runtime.InteropServices.RuntimeInformation.OSDescription;
        return new MachineInfo
        {
            Id = From(cpu, Environment.ProcessorCount, os),
            Cpu = cpu,
            LogicalCores = Environment.ProcessorCount,
            Os = os,
            Architecture = System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture.ToString(),
        };

        static string? FirstValue(string file, string key, char separator)
        {
            try
            {
                foreach (var line in File.ReadLines(file))
                {
                    int at = line.IndexOf(separator, StringComparison.Ordinal);
                    if (at > 0 && line[..at].Trim() == key)
                    {
                        return line[(at + 1)..].Trim();
                    }
                }
            }
            catch (IOException)
            {
                // Unreadable: the fallback names the machine.
            }
            catch (UnauthorizedAccessException)
            {
            }
            return null;
        }
    }

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
