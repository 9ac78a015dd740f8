using System.Diagnostics;
using System.Reflection;

namespace IpiEngine.Perf.Interleave;

/// <summary>
/// Runs one <see cref="BenchmarkCase"/> in blocks. A block is self-contained: a fresh instance with
/// its parameters set, the global setup, one unmeasured iteration, the measured iterations, the
/// global cleanup. So nothing of a case (its pipeline threads, its engines) outlives its block,
/// and the other side's block, run by another process right after, has the machine to itself.
/// </summary>
/// <remarks>
/// An iteration calls the method a fixed number of times (sized by <see cref="Pilot"/> so that it
/// takes about the iteration time) and is timed as a whole: time per operation is the iteration's
/// time over calls × <see cref="BenchmarkCase.OperationsPerInvoke"/>. The call goes through a
/// delegate of the method's own signature (a nanosecond or two, the same on both sides; BenchmarkDotNet
/// subtracts its overhead, this runner does not, so its times are not BenchmarkDotNet's).
/// </remarks>
internal sealed class CaseRunner(BenchmarkCase benchmark)
{
    /// <summary>What one measured block gave.</summary>
    /// <param name="SamplesNs">Each measured iteration's time per operation, ns.</param>
    /// <param name="AllocatedBytesPerOp">Managed bytes allocated (every thread) per operation over the measured iterations, rounded.</param>
    internal readonly record struct BlockResult(double[] SamplesNs, long AllocatedBytesPerOp);

    /// <summary>
    /// Runs the case for about <paramref name="warmup"/> (the JIT tiers the code up meanwhile) in
    /// one block, on <paramref name="cpu"/> as <see cref="Block"/> does, and returns the calls per iteration that make an iteration last about
    /// <paramref name="iteration"/>.
    /// </summary>
    public long Pilot(TimeSpan warmup, TimeSpan iteration, int cpu = -1)
    {
        using var pin = ThreadAffinity.PinCurrentThread(cpu);
        var (instance, invoker) = Start();
        try
        {
            long calls = 1, total = 0;
            var clock = Stopwatch.StartNew();
            double nsPerCall = double.NaN;
            while (clock.Elapsed < warmup || double.IsNaN(nsPerCall))
            {
                RunHooks(benchmark.IterationSetups, instance);
                long start = Stopwatch.GetTimestamp();
                invoker.Run(calls);
                double elapsedNs = Stopwatch.GetElapsedTime(start).TotalNanoseconds;
                RunHooks(benchmark.IterationCleanups, instance);
                total += calls;
                nsPerCall = elapsedNs / calls;
                // Grow the batch until one takes a tenth of an iteration, so the clock's cost disappears.
                if (elapsedNs < iteration.TotalNanoseconds / 10)
                {
                    calls *= 2;
                }
            }
            return Math.Max(1, (long)Math.Round(iteration.TotalNanoseconds / Math.Max(nsPerCall, 0.001)));
        }
        finally
        {
            Stop(instance);
        }
    }

    /// <summary>
    /// One block: setup, one unmeasured iteration, <paramref name="iterations"/> measured ones,
    /// cleanup; on logical CPU <paramref name="cpu"/> when it is not negative (the thread is pinned
    /// for the block and given its CPUs back after).
    /// </summary>
    public BlockResult Block(int iterations, long callsPerIteration, int cpu = -1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(iterations, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(callsPerIteration, 1);
        // The garbage of earlier blocks (and of the other cases) is collected now, not during the measurement.
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        using var pin = ThreadAffinity.PinCurrentThread(cpu);
        var (instance, invoker) = Start();
        try
        {
            RunHooks(benchmark.IterationSetups, instance);
            invoker.Run(callsPerIteration);
            RunHooks(benchmark.IterationCleanups, instance);
            var samples = new double[iterations];
            double operations = (double)callsPerIteration * benchmark.OperationsPerInvoke;
            long allocated = 0;
            for (int i = 0; i < iterations; i++)
            {
                RunHooks(benchmark.IterationSetups, instance);
                long bytesBefore = GC.GetTotalAllocatedBytes(precise: true);
                long start = Stopwatch.GetTimestamp();
                invoker.Run(callsPerIteration);
                double elapsedNs = Stopwatch.GetElapsedTime(start).TotalNanoseconds;
                allocated += GC.GetTotalAllocatedBytes(precise: true) - bytesBefore;
                RunHooks(benchmark.IterationCleanups, instance);
                samples[i] = elapsedNs / operations;
            }
            return new BlockResult(samples, (long)Math.Round(allocated / (operations * iterations)));
        }
        finally
        {
            Stop(instance);
        }
    }

    private (object Instance, Invoker Invoker) Start()
    {
        var instance = Activator.CreateInstance(benchmark.Type)
            ?? throw new PerfInputException($"Cannot create {benchmark.Type.FullName}.");
        foreach (var (member, value) in benchmark.Parameters)
        {
            switch (member)
            {
                case PropertyInfo property:
                    property.SetValue(instance, value);
                    break;
                case FieldInfo field:
                    field.SetValue(instance, value);
                    break;
            }
        }
        RunHooks(benchmark.GlobalSetups, instance);
        return (instance, Invoker.For(benchmark.Method, instance));
    }

    private void Stop(object instance) => RunHooks(benchmark.GlobalCleanups, instance);

    private static void RunHooks(IReadOnlyList<MethodInfo> hooks, object instance)
    {
        foreach (var hook in hooks)
        {
            try
            {
                var result = hook.Invoke(instance, null);
                // An async hook is waited for, as BenchmarkDotNet does.
                if (result is Task task)
                {
                    task.GetAwaiter().GetResult();
                }
                else if (result is ValueTask valueTask)
                {
                    valueTask.AsTask().GetAwaiter().GetResult();
                }
            }
            catch (TargetInvocationException e) when (e.InnerException is not null)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e.InnerException);
            }
        }
    }

    /// <summary>Calls the benchmark method a number of times through a delegate of its own signature.</summary>
    private abstract class Invoker
    {
        public abstract void Run(long calls);

        public static Invoker For(MethodInfo method, object instance)
        {
            var returns = method.ReturnType;
            if (returns == typeof(void))
            {
                return new ActionInvoker(method.CreateDelegate<Action>(instance));
            }
            if (returns == typeof(Task))
            {
                return new TaskInvoker(method.CreateDelegate<Func<Task>>(instance));
            }
            if (returns == typeof(ValueTask))
            {
                return new ValueTaskInvoker(method.CreateDelegate<Func<ValueTask>>(instance));
            }
            if (returns.IsByRefLike || returns.IsByRef || returns.IsPointer)
            {
                throw new PerfInputException($"{method.DeclaringType?.FullName}.{method.Name} returns {returns.Name}, which the interleaved runner cannot call; use --mode launches for it.");
            }
            var definition = returns.IsGenericType ? returns.GetGenericTypeDefinition() : null;
            var kind = definition == typeof(Task<>) ? typeof(TaskInvoker<>)
                : definition == typeof(ValueTask<>) ? typeof(ValueTaskInvoker<>)
                : typeof(FuncInvoker<>);
            var argument = kind == typeof(FuncInvoker<>) ? returns : returns.GetGenericArguments()[0];
            var delegateType = typeof(Func<>).MakeGenericType(returns);
            return (Invoker)Activator.CreateInstance(kind.MakeGenericType(argument), method.CreateDelegate(delegateType, instance))!;
        }
    }

    private sealed class ActionInvoker(Action call) : Invoker
    {
        public override void Run(long calls)
        {
            for (long i = 0; i < calls; i++)
            {
                call();
            }
        }
    }

    private sealed class FuncInvoker<T>(Func<T> call) : Invoker
    {
        // The last result is kept so the JIT cannot drop the call's work.
        public T? Last { get; private set; }

        public override void Run(long calls)
        {
            T? last = default;
            for (long i = 0; i < calls; i++)
            {
                last = call();
            }
            Last = last;
        }
    }

    private sealed class TaskInvoker(Func<Task> call) : Invoker
    {
        public override void Run(long calls)
        {
            for (long i = 0; i < calls; i++)
            {
                call().GetAwaiter().GetResult();
            }
        }
    }

    private sealed class TaskInvoker<T>(Func<Task<T>> call) : Invoker
    {
        public T? Last { get; private set; }

        public override void Run(long calls)
        {
            for (long i = 0; i < calls; i++)
            {
                Last = call().GetAwaiter().GetResult();
            }
        }
    }

    private sealed class ValueTaskInvoker(Func<ValueTask> call) : Invoker
    {
        public override void Run(long calls)
        {
            for (long i = 0; i < calls; i++)
            {
                // A completed ValueTask is consumed in place (no allocation); a pending one is waited for through its Task.
                var pending = call();
                if (!pending.IsCompletedSuccessfully)
                {
                    pending.AsTask().GetAwaiter().GetResult();
                }
            }
        }
    }

    private sealed class ValueTaskInvoker<T>(Func<ValueTask<T>> call) : Invoker
    {
        public T? Last { get; private set; }

        public override void Run(long calls)
        {
            for (long i = 0; i < calls; i++)
            {
                var pending = call();
                Last = pending.IsCompletedSuccessfully ? pending.Result : pending.AsTask().GetAwaiter().GetResult();
            }
        }
    }
}
