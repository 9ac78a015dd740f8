using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace IpiEngine.Cli.Run;

/// <summary>Where <c>--json FILE|-</c> goes: nowhere (no option), standard output (<c>-</c>), or a file.</summary>
internal static class JsonOutput
{
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
