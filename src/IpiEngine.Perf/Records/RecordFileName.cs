using System.Globalization;
using System.Text.RegularExpressions;

namespace IpiEngine.Perf.Records;

/// <summary>
/// Record file names: <c>&lt;yyyyMMddTHHmmssZ&gt;_&lt;12-hex sha&gt;[-dirty][-N].json</c>. They sort by
/// time and carry the commit so that a lookup by sha is a file-name match. Two records of one commit
/// started in the same second (both sides of an A/A round) get the copy number N = 2, 3, ... from
/// <see cref="RecordStore.Save"/>, so neither overwrites the other.
/// </summary>
public static partial class RecordFileName
{
    private const string TimestampFormat = "yyyyMMdd'T'HHmmss'Z'";

    /// <summary>The file name of a record started at <paramref name="startedUtc"/>.</summary>
    public static string For(DateTimeOffset startedUtc, string sha, bool dirty, int copy = 1)
    {
        ArgumentNullException.ThrowIfNull(sha);
        ArgumentOutOfRangeException.ThrowIfLessThan(copy, 1);
        var shortSha = sha.Length > 12 ? sha[..12] : sha;
        var stamp = startedUtc.ToUniversalTime().ToString(TimestampFormat, CultureInfo.InvariantCulture);
        var number = copy == 1 ? "" : string.Create(CultureInfo.InvariantCulture, $"-{copy}");
        return $"{stamp}_{shortSha.ToLowerInvariant()}{(dirty ? "-dirty" : "")}{number}.json";
    }

    /// <summary>Parses a record file name; false for anything else.</summary>
    public static bool TryParse(string fileName, out DateTimeOffset startedUtc, out string shortSha, out bool dirty)
        => TryParse(fileName, out startedUtc, out shortSha, out dirty, out _);

    /// <summary>Parses a record file name with its copy number (1 when it has none); false for anything else.</summary>
    public static bool TryParse(string fileName, out DateTimeOffset startedUtc, out string shortSha, out bool dirty, out int copy)
    {
        startedUtc = default;
        shortSha = "";
        dirty = false;
        copy = 1;
        var match = Pattern().Match(Path.GetFileName(fileName ?? ""));
        if (!match.Success || !DateTimeOffset.TryParseExact(match.Groups["stamp"].Value, TimestampFormat,
                CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out startedUtc))
        {
            return false;
        }
        shortSha = match.Groups["sha"].Value;
        dirty = match.Groups["dirty"].Success;
        if (match.Groups["copy"].Success)
        {
            copy = int.Parse(match.Groups["copy"].Value, CultureInfo.InvariantCulture);
        }
        return true;
    }

    [GeneratedRegex(@"^(?<stamp>\d{8}T\d{6}Z)_(?<sha>[0-9a-f]{12})(?<dirty>-dirty)?(?:-(?<copy>[2-9]|[1-9][0-9]{1,8}))?\.json$")]
    private static partial Regex Pattern();
}
