namespace IpiEngine.Cli.Run;

/// <summary>Shows a run's progress while it runs (a live table on a terminal, plain lines otherwise).</summary>
internal interface IRunDisplay
{
    /// <summary>
    /// Calls <paramref name="poll"/> until it returns null, showing each sample. <paramref name="poll"/> blocks until
    /// the next sample is due, so the display costs the engine nothing but a few counter reads a second.
    /// </summary>
    void Show(Func<RunProgress?> poll);
}
