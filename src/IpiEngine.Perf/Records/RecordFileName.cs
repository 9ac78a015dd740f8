using System.Globalization;
using System.Text.RegularExpressions;

namespace IpiEngine.Perf.Records;

/// <summary>
/// Record file names: <c>&lt;yyyyMMddTHHmmssZ&gt;_&lt;12-hex sha&gt;[-dirty].json</c>. They sort by
/// time, carry the commit so that a lookup by sha is a file-name match, and never collide for
/// repeated runs of one commit.
/// </summary>
public static partial class RecordFileName
{
    private const string TimestampFormat = "yyyyMMdd'T'HHmmss'Z'";

    /// <summary>The file name of a record started at <paramref name="startedUtc"/>.</summary>
    public static string For(DateTimeOffset startedUtc, string sha, bool dirty)
    {
        ArgumentNullException.ThrowIfNull(sha);
        var shortSha = sha.Length > 12 ? sha[..12] : sha;
        var stamp = startedUtc.ToUniversalTime().ToString(TimestampFormat, CultureInfo.InvariantCulture);
        return $"{stamp}_{shortSha.ToLowerInvariant()}{(dirty ? "-dirty" : "")}.json";
    }

    /// <summary>Parses a record file name; false for anything else.</summary>
    public static bool TryParse(string fileName, out DateTimeOffset startedUtc, out string shortSha, out bool dirty)
    {
        startedUtc = default;
        shortSha = "";
        dirty = false;
        var match = Pattern().Match(Path.GetFileName(fileName ?? ""));
        if (!match.Success || !DateTimeOffset.TryParseExact(match.Groups["stamp"].Value, TimestampFormat,
                CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out startedUtc))
        {
            return false;
        }
        shortSha = match.Groups["sha"].Value;
        dirty = match.Groups["dirty"].Success;
        return true;
    }

    [GeneratedRegex(@"^(?<stamp>\d{8}T\d{6}Z)_(?<sha>[0-9a-f]{12})(?<dirty>-dirty)?\.json$")]
    private static partial Regex Pattern();
}
