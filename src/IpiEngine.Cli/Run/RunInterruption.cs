using System.Runtime.InteropServices;

namespace IpiEngine.Cli.Run;

/// <summary>
/// Turns Ctrl-C (and SIGTERM) into a request to end the run: the process is not killed, the vCPU threads stop
/// posting, the engine drains, and the summary is still printed. For work whose current step takes minutes (a run
/// of <c>ipi perf aa</c>), a second signal can be left to end the process at once.
/// </summary>
internal sealed class RunInterruption : IDisposable
{
    private readonly PosixSignalRegistration? sigterm;
    private readonly bool secondSignalEnds;
    private readonly Action? onRequest;
    private int requested;

    /// <summary>
    /// Starts listening for Ctrl-C and SIGTERM. With <paramref name="secondSignalEnds"/>, a second signal is not
    /// intercepted, so it ends the process as it would without this object; <paramref name="onRequest"/> runs once,
    /// on the first signal (to say what will happen).
    /// </summary>
    public RunInterruption(bool secondSignalEnds = false, Action? onRequest = null)
    {
        this.secondSignalEnds = secondSignalEnds;
        this.onRequest = onRequest;
        Console.CancelKeyPress += OnCancelKeyPress;
        sigterm = OperatingSystem.IsWindows() ? null : PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
    }

    /// <summary>The exit code of work that a signal ended early and that still reported (128 + SIGINT, as a shell says it).</summary>
    public const int InterruptedExitCode = 130;

    /// <summary>
    /// For work made of steps that take minutes (a run of <c>ipi perf aa</c>, a round of <c>compare-commits</c>): the first
    /// signal says so on <paramref name="error"/> and lets the <paramref name="step"/> in progress finish, then
    /// <paramref name="afterwards"/>; a second ends the process at once.
    /// </summary>
    public static RunInterruption AfterStep(TextWriter error, string step, string afterwards)
    {
        ArgumentNullException.ThrowIfNull(error);
        return new RunInterruption(secondSignalEnds: true, onRequest: () => error.WriteLine(
            $"stopping after the {step} in progress, then {afterwards}; Ctrl-C again stops at once, without a report."));
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

    /// <summary>
    /// What a signal does: records the request and says whether to keep the process alive (true), which is always
    /// the case for the first signal, and for later ones unless a second signal ends the process.
    /// </summary>
    internal bool Intercept()
    {
        // The exchange tells the first signal from later ones, also when two arrive at once on different threads.
        if (Interlocked.Exchange(ref requested, 1) == 0)
        {
            onRequest?.Invoke();
            return true;
        }

        return !secondSignalEnds;
    }

    private void OnCancelKeyPress(object? sender, ConsoleCancelEventArgs e) => e.Cancel = Intercept(); // true keeps the process alive: the run drains and reports

    private void OnSignal(PosixSignalContext context) => context.Cancel = Intercept();
}
