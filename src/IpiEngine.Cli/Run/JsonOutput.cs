using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace IpiEngine.Cli.Run;

/// <summary>Where <c>--json FILE|-</c> goes: nowhere (no option), standard output (<c>-</c>), or a file.</summary>
internal static class JsonOutput
{
    /// <summary>
    /// Checks <c>--json</c>'s value before any work starts: null and <c>-</c> pass; a file must lie in an existing folder
    /// and not be a folder itself.
    /// </summary>
    /// <exception cref="RunInputException">It cannot be written there (one sentence).</exception>
    public static void CheckPath(string? path)
    {
        if (path is not null && path != "-" && (path.Trim().Length == 0 || Directory.Exists(path) || Path.GetDirectoryName(Path.GetFullPath(path)) is { } folder && !Directory.Exists(folder)))
        {
            throw new RunInputException($"--json cannot write '{path}': give a file in an existing folder.");
        }
    }

    /// <summary>Serializes <paramref name="report"/> to <paramref name="path"/> (null: nothing; <c>-</c>: <paramref name="output"/>).</summary>
    public static void Write<T>(string? path, T report, JsonTypeInfo<T> type, TextWriter output)
    {
        if (path is null)
        {
            return;
        }

        var json = JsonSerializer.Serialize(report, type);
        if (path == "-")
        {
            output.WriteLine(json);
        }
        else
        {
            File.WriteAllText(path, json + Environment.NewLine);
        }
    }
}
