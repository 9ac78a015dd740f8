using BenchmarkDotNet.Attributes;
using IpiEngine.Perf.Suite;
using IpiEngine.Pipeline;

namespace IpiEngine.Benchmarks.Pipeline;

/// <summary>
/// Our Disruptor alone: one producer publishing batches of 64 exit records through the single- or multi-producer
/// sequencer to a batch event processor on another thread, for each wait strategy. One operation = one event.
/// </summary>
[BenchmarkCategory("Pipeline", SuiteCategories.ZeroAlloc)]
[MemoryDiagnoser]
public class DisruptorBenchmarks
{
    private const int Events = 1 << 16;
    private const int Batch = 64;
    private RingBuffer<ExitRecord> _ring = null!;
    private Sequencer _sequencer = null!;
    private BatchEventProcessor<ExitRecord, CountingHandler> _processor = null!;
    private Thread _thread = null!;

    /// <summary>The consumer's (and producer's) wait strategy.</summary>
    [Params(WaitStrategyKind.Hybrid, WaitStrategyKind.BusySpin, WaitStrategyKind.Yielding, WaitStrategyKind.Sleeping, WaitStrategyKind.Blocking)]
    public WaitStrategyKind Wait { get; set; }

    /// <summary>Single-producer or multi-producer sequencer.</summary>
    [Params(false, true)]
    public bool MultiProducer { get; set; }

    /// <summary>Builds the ring and starts the processor.</summary>
    [GlobalSetup]
    public void Setup()
    {
        var signal = new EventCount();
        WaitStrategy wait = WaitStrategy.For(Wait);
        _ring = new RingBuffer<ExitRecord>(8192);
        _sequencer = MultiProducer ? new MultiProducerSequencer(8192, wait, signal) : new SingleProducerSequencer(8192, wait, signal);
        _processor = new BatchEventProcessor<ExitRecord, CountingHandler>(_ring, _sequencer.NewBarrier(), signal, default);
        _sequencer.SetGatingSequences(_processor.Sequence);
        _thread = new Thread(_processor.Run) { IsBackground = true };
        _thread.Start();
    }

    /// <summary>Halts the processor.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _processor.Halt();
        _thread.Join();
    }

    /// <summary>Publishes the events and waits until the processor handled them.</summary>
    [Benchmark(OperationsPerInvoke = Events)]
    public void PublishAndProcess()
    {
        long last = 0;
        for (int i = 0; i < Events; i += Batch)
        {
            last = _sequencer.Next(Batch);
            for (long s = last - Batch + 1; s <= last; s++)
            {
                _ring[s] = ExitRecord.Create(0, 0x830, (ulong)s, 0, (ulong)s);
            }

            _sequencer.Publish(last - Batch + 1, last);
        }

        while (_processor.Sequence.Value < last)
        {
            Thread.SpinWait(4);
        }
    }

    /// <summary>Touches every event of each batch.</summary>
    private struct CountingHandler : IBatchHandler<ExitRecord>
    {
        private ulong _sum;

        public void OnBatch(RingBuffer<ExitRecord> ring, long first, long last)
        {
            for (long s = first; s <= last; s++)
            {
                _sum += ring[s].Value;
            }
        }
    }
}
