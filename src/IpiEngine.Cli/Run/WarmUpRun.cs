using IpiEngine.Workload;

namespace IpiEngine.Cli.Run;

/// <summary>
/// The warm-up: the same workload on a throw-away engine, shown by the same display, so that JIT tiering, lazy
/// initialisation and first-contention paths (which allocate) all happen before the measured window, on code the
/// measured engine then shares.
/// </summary>
internal sealed class WarmUpRun : IDisposable
{
    private readonly WorkloadDriver driver;
    private bool finished;

    public WarmUpRun(EngineOptions options, WorkloadScript script, RunSettings settings)
    {
        Engine = new Engine(options);
        Engine.Start();
        driver = new WorkloadDriver(Engine, script, settings.Batch, null, settings.Rate);
        driver.PostBringUp();
        driver.Start(); // the threads wait, blocked, for Begin
    }

    /// <summary>The throw-away engine (for the display's samples).</summary>
    public Engine Engine { get; }

    /// <summary>Lets the warm-up's vCPU threads post.</summary>
    public void Begin() => driver.BeginPosting();

    /// <summary>Stops the vCPU threads and the engine; idempotent.</summary>
    public void Finish()
    {
        if (finished)
        {
            return;
        }

        finished = true;
        driver.Stop();
        Engine.Stop();
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        Finish();
        Engine.Dispose();
    }
}
