namespace IpiEngine.Benchmarks.EndToEnd;

/// <summary>
/// Persistent producer threads released together for each invocation: <see cref="Run"/> starts every producer's
/// work and returns when all have finished it. Nothing is allocated per run.
/// </summary>
public sealed class ProducerGang : IDisposable
{
    private readonly Thread[] _threads;
    private readonly Barrier _gate;
    private readonly Action<int> _work;
    private volatile bool _closing;

    /// <summary>Starts <paramref name="producers"/> threads that run <paramref name="work"/>(producer index) per run.</summary>
    public ProducerGang(int producers, Action<int> work)
    {
        _work = work;
        _gate = new Barrier(producers + 1);
        _threads = new Thread[producers];
        for (int p = 0; p < producers; p++)
        {
            int producer = p;
            _threads[p] = new Thread(() => Loop(producer)) { IsBackground = true, Name = $"producer-{p}" };
            _threads[p].Start();
        }
    }

    /// <summary>Runs every producer's work once and waits for all of it.</summary>
    public void Run()
    {
        _gate.SignalAndWait(); // start
        _gate.SignalAndWait(); // all done
    }

    /// <summary>Ends the threads.</summary>
    public void Dispose()
    {
        _closing = true;
        _gate.SignalAndWait();
        foreach (Thread thread in _threads)
        {
            thread.Join();
        }

        _gate.Dispose();
    }

    private void Loop(int producer)
    {
        while (true)
        {
            _gate.SignalAndWait();
            if (_closing)
            {
                return;
            }

            _work(producer);
            _gate.SignalAndWait();
        }
    }
}
