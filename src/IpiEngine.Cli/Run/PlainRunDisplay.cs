using System.Globalization;

namespace IpiEngine.Cli.Run;

/// <summary>Progress as plain lines, about one a second, with no escape codes (for logs and pipes).</summary>
internal sealed class PlainRunDisplay : IRunDisplay
{
    private readonly TextWriter writer;

    /// <summary>Writes the lines to <paramref name="writer"/>.</summary>
    public PlainRunDisplay(TextWriter writer) => this.writer = writer;

    /// <inheritdoc/>
    public void Show(Func<RunProgress?> poll)
    {
        ArgumentNullException.ThrowIfNull(poll);
        var lastLine = TimeSpan.Zero;
        while (poll() is { } p)
        {
            var final = p.Phase == RunProgress.Done;
            if (!final && p.Elapsed - lastLine < TimeSpan.FromSeconds(1))
            {
                continue; // about a line a second, and always the last one
            }

            lastLine = p.Elapsed;
            writer.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"{p.Elapsed.TotalSeconds,6:F1}s  {p.Phase,-9}  posted {p.Posted,14:N0}  {Rate(p.PostedPerSecond)} posted/s  {Rate(p.DeliveredPerSecond)} delivered/s  ring {p.RingOccupancy,4:P0}  rejected {p.Rejected:N0}"));
            writer.Flush();
        }
    }

    /// <summary>A rate in engineering notation (12.3M), for narrow columns.</summary>
    public static string Rate(double perSecond)
        => perSecond switch
        {
            >= 1e9 => string.Create(CultureInfo.InvariantCulture, $"{perSecond / 1e9:F2}G"),
            >= 1e6 => string.Create(CultureInfo.InvariantCulture, $"{perSecond / 1e6:F2}M"),
            >= 1e3 => string.Create(CultureInfo.InvariantCulture, $"{perSecond / 1e3:F1}k"),
            _ => string.Create(CultureInfo.InvariantCulture, $"{perSecond:F0}"),
        };
}
