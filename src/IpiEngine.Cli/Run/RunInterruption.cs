using System.Runtime.InteropServices;

namespace IpiEngine.Cli.Run;

/// <summary>
/// Turns Ctrl-C (and SIGTERM) into a request to end the run: the process is not killed, the vCPU threads stop
/// posting, the engine drains, and the summary is still printed.
/// </summary>
internal sealed class RunInterruption : IDisposable
{
    private readonly PosixSignalRegistration? sigterm;
    private int requested;

    /// <summary>Starts listening for Ctrl-C and SIGTERM.</summary>
    public RunInterruption()
    {
        Console.CancelKeyPress += OnCancelKeyPress;
        sigterm = OperatingSystem.IsWindows() ? null : PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
    }

    /// <summary>True once the user asked to stop.</summary>
    public bool Requested => Volatile.Read(ref requested) != 0; // acquire: pairs with the signal handler's exchange

    /// <summary>Asks to stop (what Ctrl-C does; tests call it directly).</summary>
    public void Request() => Interlocked.Exchange(ref requested, 1);

    /// <inheritdoc/>
    public void Dispose()
    {
        Console.CancelKeyPress -= OnCancelKeyPress;
        sigterm?.Dispose();
    }

    private void OnCancelKeyPress(object? sender, ConsoleCancelEventArgs e)
    {
        e.Cancel = true; // keep the process alive: the run drains and reports
        Request();
    }

    private void OnSignal(PosixSignalContext context)
    {
        context.Cancel = true;
        Request();
    }
}
