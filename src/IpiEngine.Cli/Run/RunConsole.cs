using Spectre.Console;

namespace IpiEngine.Cli.Run;

/// <summary>
/// Where a run's human-readable output goes: a Spectre console over the given writer, with colours and a live
/// display only when that writer is a real terminal.
/// </summary>
internal sealed class RunConsole
{
    private RunConsole(IAnsiConsole console, bool isTerminal, TextWriter writer)
    {
        Console = console;
        IsTerminal = isTerminal;
        Writer = writer;
    }

    /// <summary>The console to render on.</summary>
    public IAnsiConsole Console { get; }

    /// <summary>True when output reaches a terminal (live display, colours); false for pipes, files and tests.</summary>
    public bool IsTerminal { get; }

    /// <summary>The underlying writer.</summary>
    public TextWriter Writer { get; }

    /// <summary>A console over <paramref name="writer"/>; a terminal only if it is the process's own stdout/stderr, not redirected.</summary>
    public static RunConsole Over(TextWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        var terminal = (ReferenceEquals(writer, System.Console.Out) && !System.Console.IsOutputRedirected)
            || (ReferenceEquals(writer, System.Console.Error) && !System.Console.IsErrorRedirected);
        terminal &= AnsiConsole.Profile.Capabilities.Ansi && AnsiConsole.Profile.Capabilities.Interactive;
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(writer),
            Ansi = terminal ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = terminal ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = terminal ? InteractionSupport.Detect : InteractionSupport.No,
        });
        if (!terminal)
        {
            console.Profile.Width = 120; // tables keep their shape in logs
        }

        return new RunConsole(console, terminal, writer);
    }

    /// <summary>The progress display that suits this output.</summary>
    public IRunDisplay Display(string title, bool forcePlain)
        => IsTerminal && !forcePlain ? new LiveRunDisplay(Console, title) : new PlainRunDisplay(Writer);
}
