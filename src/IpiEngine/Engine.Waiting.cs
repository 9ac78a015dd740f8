using IpiEngine.Delivery;

namespace IpiEngine;

/// <content>The vCPU side beyond <see cref="TakePending"/>: an embedder's own notifier, and waiting while halted.</content>
public sealed partial class Engine
{
    /// <summary>
    /// Builds an engine that notifies through <paramref name="notifier"/>, a struct of the embedder's: the pipeline is
    /// generic over its type, so the call inlines like the engine's own notifiers. The engine keeps a copy of the struct per
    /// delivery path (local, remote): keep shared state in objects it references. The contract is
    /// <see cref="IDeliveryNotifier"/>'s: any engine thread, concurrently; thread-safe, short, never posting.
    /// </summary>
    /// <exception cref="ArgumentException">
    /// The options are inconsistent, or also set <see cref="EngineOptions.NotifyCallback"/> or
    /// <see cref="EngineOptions.NativeNotifier"/> (an engine has one notifier).
    /// </exception>
    public static unsafe Engine Create<TNotifier>(EngineOptions options, TNotifier notifier)
        where TNotifier : struct, IDeliveryNotifier
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.NotifyCallback is not null || options.NativeNotifier != null)
        {
            throw new ArgumentException("The options set NotifyCallback or NativeNotifier and a notifier struct was given too: an engine has one notifier.", nameof(options));
        }

        return new Engine(options, (o, parts, waiters) => CreatePipeline(o.ThreadingMode, parts, waiters, notifier));
    }

    /// <summary>
    /// A halted vCPU's thread: blocks until the vCPU has pending interrupts, then takes them (as <see cref="TakePending"/>)
    /// and returns true; returns false, with nothing taken, when <paramref name="timeout"/> passes first. Woken by the
    /// delivery itself (before the notifier is called), locally or from another node. One waiter per vCPU at a time.
    /// Allocation-free.
    /// </summary>
    /// <param name="vcpu">The vCPU.</param>
    /// <param name="timeout">How long to wait at most; <see cref="Timeout.InfiniteTimeSpan"/> for no limit.</param>
    /// <param name="pending">What was taken (empty on timeout).</param>
    /// <exception cref="ArgumentOutOfRangeException">Not a vCPU index, or a negative timeout other than infinite.</exception>
    /// <exception cref="InvalidOperationException">Another wait for this vCPU is in progress.</exception>
    /// <exception cref="ObjectDisposedException">The engine was disposed (also when it is disposed during the wait).</exception>
    public bool WaitForPending(int vcpu, TimeSpan timeout, out PendingInterrupts pending)
    {
        ThrowIfDisposed();
        if (timeout < TimeSpan.Zero && timeout != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(timeout), timeout, "The timeout must be zero or more, or Timeout.InfiniteTimeSpan.");
        }

        return _waiters.For(vcpu).Wait(timeout, out pending);
    }

    /// <summary>
    /// For async hosts: completes when the vCPU has pending interrupts, with them taken (as <see cref="TakePending"/>).
    /// The result can be empty: when another thread took them meanwhile, and when the notification that woke the wait was
    /// for vectors this vCPU's previous take already had (a delivery's bits can be taken before its notification lands,
    /// which then finds nothing new); wait again. The synchronous <see cref="WaitForPending"/> loops over such wakes
    /// itself. The continuation never runs on an engine thread. One waiter per
    /// vCPU at a time; await the result once. Allocation-free in steady state (the vCPU's waiter is reused; a cancellable
    /// token registers once per wait, without allocating after the first).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Not a vCPU index.</exception>
    /// <exception cref="InvalidOperationException">Another wait for this vCPU is in progress.</exception>
    /// <exception cref="OperationCanceledException">(from the task) <paramref name="cancellationToken"/> was cancelled.</exception>
    /// <exception cref="ObjectDisposedException">The engine was disposed (also, from the task, during the wait).</exception>
    public ValueTask<PendingInterrupts> WaitForPendingAsync(int vcpu, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        return _waiters.For(vcpu).WaitAsync(cancellationToken);
    }

    /// <summary>A thread is blocked in <see cref="WaitForPending"/> for <paramref name="vcpu"/> (tests: a wake-up test waits for it first).</summary>
    internal bool IsWaitBlocked(int vcpu) => _waiters.IsBlocked(vcpu);
}
