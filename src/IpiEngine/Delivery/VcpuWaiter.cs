using System.Diagnostics;
using System.Threading.Tasks.Sources;

namespace IpiEngine.Delivery;

/// <summary>
/// One vCPU's halt: a thread (<see cref="Wait"/>) or an async host (<see cref="WaitAsync"/>) waits until the vCPU has
/// pending interrupts, and the deliverer wakes it (<see cref="Wake"/>, called before the embedder's notifier). Made on
/// the vCPU's first wait and reused by every later one: a wait allocates nothing in steady state (the async one is its
/// own <see cref="IValueTaskSource{TResult}"/> through <see cref="ManualResetValueTaskSourceCore{TResult}"/>).
/// </summary>
/// <remarks>
/// No lost wakeup. The waiter arms (<see cref="_state"/> to Blocking or Awaiting, an interlocked exchange: full fence),
/// then reads the descriptor. The deliverer sets the outstanding-notification bit (an interlocked OR: full fence), then,
/// when the bit was clear, reads <see cref="_state"/> here. Both sides write, fence, then read the other's word, so at
/// least one sees the other's write: either the waiter sees the bit (and does not sleep) or the deliverer sees the armed
/// state (and wakes it). When the bit was already set, the waiter's read sees it (the set precedes the deliverer's
/// check, and nothing but a take clears it), so it does not sleep either. Exactly one of the deliverer, the cancellation
/// and the engine's disposal moves an armed state to Woken (compare-and-swap), so a wait completes once. A blocked
/// thread sleeps on <see cref="_gate"/> with the state armed under that lock, so the deliverer's pulse (under the same
/// lock) cannot fall between the check and the sleep.
/// </remarks>
internal sealed class VcpuWaiter : IValueTaskSource<PendingInterrupts>
{
    private const int Idle = 0;
    private const int Blocking = 1;
    private const int Awaiting = 2;
    private const int Woken = 3;

    private readonly DescriptorTable _descriptors;
    private readonly int _vcpu;
    private readonly object _gate = new(); // Monitor.Wait/Pulse: the blocked thread's sleep
    private ManualResetValueTaskSourceCore<bool> _completion = new() { RunContinuationsAsynchronously = true }; // never on the deliver thread
    private CancellationTokenRegistration _cancellation;
    private int _state;
    private int _inUse; // one wait per vCPU at a time
    private volatile bool _aborted;

    public VcpuWaiter(DescriptorTable descriptors, int vcpu)
    {
        _descriptors = descriptors;
        _vcpu = vcpu;
    }

    /// <summary>A thread is blocked in <see cref="Wait"/> (or about to sleep, holding the gate): tests wait for it.</summary>
    internal bool IsBlocked => Volatile.Read(ref _state) == Blocking; // acquire: pairs with the arm's exchange

    /// <summary>
    /// Blocks until the vCPU has pending interrupts (then takes them) or the timeout passes. True with the interrupts;
    /// false (and nothing taken) on timeout.
    /// </summary>
    public bool Wait(TimeSpan timeout, out PendingInterrupts pending)
    {
        double ticks = timeout.TotalSeconds * Stopwatch.Frequency;
        long deadline = timeout == Timeout.InfiniteTimeSpan || ticks >= long.MaxValue / 2 ? long.MaxValue : Stopwatch.GetTimestamp() + (long)ticks;
        Enter();
        try
        {
            while (true)
            {
                if (TryTake(out pending))
                {
                    return true;
                }

                // Whole milliseconds rounded up: rounded down, a timeout under 1 ms never blocked and every wait could end
                // up to 1 ms early (review of 2026-12-07).
                long left = deadline - Stopwatch.GetTimestamp();
                if (deadline != long.MaxValue && left <= 0)
                {
                    return false;
                }

                long remaining = deadline == long.MaxValue ? -1 : (long)Math.Ceiling(left * 1000.0 / Stopwatch.Frequency);

                lock (_gate)
                {
                    Interlocked.Exchange(ref _state, Blocking); // full fence before the descriptor read: see the remarks
                    if (!_descriptors.HasPending(_vcpu) && !_aborted)
                    {
                        Monitor.Wait(_gate, (int)Math.Min(remaining, int.MaxValue)); // Wake pulses under _gate
                    }

                    Volatile.Write(ref _state, Idle); // release: the next arm starts from Idle
                }

                ThrowIfAborted();
            }
        }
        finally
        {
            Volatile.Write(ref _inUse, 0); // release: the next wait may begin
        }
    }

    /// <summary>Completes when the vCPU has pending interrupts, with them taken; cancellable.</summary>
    public ValueTask<PendingInterrupts> WaitAsync(CancellationToken cancellationToken)
    {
        if (TryTake(out PendingInterrupts pending))
        {
            return new ValueTask<PendingInterrupts>(pending);
        }

        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<PendingInterrupts>(cancellationToken);
        }

        Enter(); // released by GetResult, or below when the wait ends at once
        _completion.Reset();
        _cancellation = cancellationToken.CanBeCanceled // before arming: a cancellation from now on is seen (callback or check)
            ? cancellationToken.UnsafeRegister(static (waiter, token) => ((VcpuWaiter)waiter!).Cancel(token), this)
            : default;
        Interlocked.Exchange(ref _state, Awaiting); // full fence before the descriptor read: see the remarks
        if ((_descriptors.HasPending(_vcpu) || _aborted || cancellationToken.IsCancellationRequested)
            && Interlocked.CompareExchange(ref _state, Idle, Awaiting) == Awaiting) // nobody woke it: finish here
        {
            _cancellation.Dispose(); // its callback, if running, finds the state Idle and does nothing
            _cancellation = default;
            Volatile.Write(ref _inUse, 0); // release: the next wait may begin
            ThrowIfAborted();
            return cancellationToken.IsCancellationRequested
                ? ValueTask.FromCanceled<PendingInterrupts>(cancellationToken)
                : WaitAsync(cancellationToken); // pending now (or taken meanwhile by another thread: wait again)
        }

        return new ValueTask<PendingInterrupts>(this, _completion.Version); // completed by Wake, Cancel or Abort
    }

    /// <summary>The deliverer (any engine thread), after setting the outstanding-notification bit: wake a waiter.</summary>
    public void Wake()
    {
        switch (Volatile.Read(ref _state)) // after the deliverer's interlocked OR: see the remarks
        {
            case Blocking:
                if (Interlocked.CompareExchange(ref _state, Woken, Blocking) == Blocking)
                {
                    lock (_gate)
                    {
                        Monitor.Pulse(_gate);
                    }
                }

                break;
            case Awaiting:
                if (Interlocked.CompareExchange(ref _state, Woken, Awaiting) == Awaiting)
                {
                    _completion.SetResult(true);
                }

                break;
        }
    }

    /// <summary>The engine was disposed: release a waiter (it throws <see cref="ObjectDisposedException"/>).</summary>
    public void Abort()
    {
        _aborted = true;
        if (Interlocked.CompareExchange(ref _state, Woken, Awaiting) == Awaiting)
        {
            _completion.SetException(new ObjectDisposedException(nameof(Engine), "The engine was disposed while a vCPU waited for pending interrupts."));
            return;
        }

        if (Interlocked.CompareExchange(ref _state, Woken, Blocking) == Blocking)
        {
            lock (_gate)
            {
                Monitor.Pulse(_gate);
            }
        }
    }

    /// <inheritdoc/>
    public PendingInterrupts GetResult(short token)
    {
        if (token != _completion.Version)
        {
            throw new InvalidOperationException("This wait's ValueTask was already consumed (a ValueTask is awaited once).");
        }

        try
        {
            _completion.GetResult(token); // throws when cancelled or aborted
            return _descriptors.Take(_vcpu); // empty only if another thread took them meanwhile
        }
        finally
        {
            _cancellation.Dispose(); // waits for a cancellation callback running elsewhere; returns the node to its source
            _cancellation = default;
            Volatile.Write(ref _state, Idle);
            Volatile.Write(ref _inUse, 0); // release: the next wait may begin
        }
    }

    /// <inheritdoc/>
    public ValueTaskSourceStatus GetStatus(short token) => _completion.GetStatus(token);

    /// <inheritdoc/>
    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
        => _completion.OnCompleted(continuation, state, token, flags);

    private void Cancel(CancellationToken token)
    {
        if (Interlocked.CompareExchange(ref _state, Woken, Awaiting) == Awaiting)
        {
            _completion.SetException(new OperationCanceledException(token));
        }
    }

    private bool TryTake(out PendingInterrupts pending)
    {
        pending = default;
        if (!_descriptors.HasPending(_vcpu))
        {
            return false;
        }

        pending = _descriptors.Take(_vcpu);
        return !pending.IsEmpty; // empty: the outstanding bit alone, or another thread took them
    }

    private void Enter()
    {
        ThrowIfAborted();
        if (Interlocked.CompareExchange(ref _inUse, 1, 0) != 0) // acquire: the previous wait's writes are visible
        {
            throw new InvalidOperationException($"vCPU {_vcpu} already has a waiter: one thread (its own) waits for a vCPU at a time.");
        }
    }

    private void ThrowIfAborted()
    {
        if (_aborted)
        {
            throw new ObjectDisposedException(nameof(Engine), "The engine was disposed.");
        }
    }
}
