using ScottPlot;
using ScottPlot.TickGenerators;

namespace IpiEngine.Perf.Trend;

/// <summary>Draws a trend as a PNG (ScottPlot): median line, interquartile band, change points, short shas on the x axis.</summary>
public static class TrendChart
{
    /// <summary>Writes the chart of <paramref name="series"/> to <paramref name="path"/>.</summary>
    public static void SavePng(TrendSeries series, string path, int width = 1000, int height = 450)
    {
        ArgumentNullException.ThrowIfNull(series);
        var xs = Enumerable.Range(0, series.Points.Count).Select(i => (double)i).ToArray();
        var plot = new Plot();
        var band = plot.Add.FillY(xs, [.. series.Points.Select(p => p.Q1)], [.. series.Points.Select(p => p.Q3)]);
        band.FillStyle.Color = Colors.SteelBlue.WithAlpha(0.25);
        band.LineStyle.Width = 0;
        band.LegendText = "Q1-Q3";
        var median = plot.Add.Scatter(xs, [.. series.Points.Select(p => p.Median)]);
        median.Color = Colors.SteelBlue;
        median.LegendText = "median";
        foreach (var index in series.ChangePoints)
        {
            var step = plot.Add.VerticalLine(index - 0.5);
            step.Color = Colors.OrangeRed;
            step.LinePattern = LinePattern.Dashed;
            step.LabelOppositeAxis = true;
            step.Text = series.Points[index].ShortSha[..Math.Min(7, series.Points[index].ShortSha.Length)];
        }
        plot.Axes.Bottom.TickGenerator = new NumericManual(xs, [.. series.Points.Select(p => p.ShortSha[..Math.Min(7, p.ShortSha.Length)])]);
        plot.Axes.Bottom.TickLabelStyle.Rotation = 45;
        plot.Axes.Bottom.TickLabelStyle.Alignment = Alignment.MiddleLeft;
        // Room for the rotated shas below the axis, so they do not run into the axis label.
        plot.Axes.Bottom.MinimumSize = 90;
        plot.Title(series.Name.Length > 90 ? "..." + series.Name[^87..] : series.Name);
        plot.YLabel("ns per operation");
        plot.XLabel("commit");
        plot.ShowLegend();
        plot.SavePng(path, width, height);
    }

    /// <summary>A file name for a series: its name with everything but letters, digits, dots and dashes replaced.</summary>
    public static string FileName(TrendSeries series)
    {
        ArgumentNullException.ThrowIfNull(series);
        var builder = new System.Text.StringBuilder(series.Name.Length);
        foreach (char c in series.Name)
        {
            bool keep = char.IsAsciiLetterOrDigit(c) || c is '.' or '-';
            if (keep || (builder.Length > 0 && builder[^1] != '_'))
            {
                builder.Append(keep ? c : '_');
            }
        }
        var name = builder.ToString().Trim('_');
        return (name.Length > 150 ? name[^150..] : name) + ".png";
    }
}
