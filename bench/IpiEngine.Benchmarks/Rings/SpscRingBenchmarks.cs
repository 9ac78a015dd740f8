using BenchmarkDotNet.Attributes;
using IpiEngine.Perf.Suite;
using IpiEngine.Rings;

namespace IpiEngine.Benchmarks.Rings;

/// <summary>
/// The SPSC ring alone, with 32-byte exit records: batch write then read on one thread (the cost of the ring's
/// bookkeeping), and a producer thread streaming to a consumer thread (the cost of the cache-line hand-off).
/// One operation = one record.
/// </summary>
[BenchmarkCategory("Rings", SuiteCategories.ZeroAlloc)]
[MemoryDiagnoser]
public class SpscRingBenchmarks
{
    private const int Records = 1 << 16;
    private const int Batch = 64;
    private readonly ExitRecord[] _batch = new ExitRecord[Batch];
    private readonly ExitRecord[] _sink = new ExitRecord[Batch];
    private SpscRing<ExitRecord> _ring = null!;
    private Thread? _consumer;
    private long _consumed;
    private volatile bool _closing;

    /// <summary>Creates the ring (and, for the streaming benchmark, the consumer thread).</summary>
    [GlobalSetup]
    public void Setup()
    {
        _ring = new SpscRing<ExitRecord>(4096);
        for (int i = 0; i < Batch; i++)
        {
            _batch[i] = ExitRecord.Create(0, 0x830, (ulong)i, 0, (ulong)i);
        }
    }

    /// <summary>Starts the consumer thread for <see cref="StreamToAnotherThread"/>.</summary>
    [GlobalSetup(Target = nameof(StreamToAnotherThread))]
    public void SetupStreaming()
    {
        Setup();
        _consumer = new Thread(Drain) { IsBackground = true };
        _consumer.Start();
    }

    /// <summary>Stops the consumer thread.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _closing = true;
        _consumer?.Join();
    }

    /// <summary>Writes a batch and reads it back, on one thread.</summary>
    [Benchmark(OperationsPerInvoke = Records)]
    public void WriteThenReadBatches()
    {
        for (int i = 0; i < Records; i += Batch)
        {
            _ring.TryWrite(_batch);
            _ring.TryRead(_sink);
        }
    }

    /// <summary>Streams records to a consumer thread in batches; returns when it consumed them all.</summary>
    [Benchmark(OperationsPerInvoke = Records)]
    [BenchmarkCategory(SuiteCategories.CrossThread)]
    public void StreamToAnotherThread()
    {
        long target = Volatile.Read(ref _consumed) + Records;
        for (int written = 0; written < Records;)
        {
            int n = _ring.TryWrite(_batch);
            written += n;
            if (n == 0)
            {
                Thread.SpinWait(4);
            }
        }

        while (Volatile.Read(ref _consumed) < target)
        {
            Thread.SpinWait(4);
        }
    }

    private void Drain()
    {
        while (!_closing)
        {
            ReadOnlySpan<ExitRecord> run = _ring.PeekContiguous();
            if (run.IsEmpty)
            {
                Thread.SpinWait(4);
                continue;
            }

            _ring.Advance(run.Length);
            Volatile.Write(ref _consumed, _consumed + run.Length);
        }
    }
}
