using IpiEngine.Rings;
using Xunit;

namespace IpiEngine.Tests.Rings;

/// <summary>
/// Many producer threads, each on its own ring, random batch sizes, one consumer that visits only rung rings: every
/// record arrives once and in order per ring, with no lost wake-up (the consumer never scans rings whose bell is clear).
/// </summary>
public class DoorbellRingsTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(8)]
    [InlineData(70)]
    public void Consumer_guided_by_doorbells_sees_every_record_in_order(int producers)
    {
        const int PerProducer = 2_000;
        var rings = new SpscRing<long>[producers];
        for (int i = 0; i < producers; i++)
        {
            rings[i] = new SpscRing<long>(32);
        }

        var doorbell = new DoorbellBitmap(producers);
        var threads = new Thread[producers];
        for (int p = 0; p < producers; p++)
        {
            int me = p;
            threads[p] = new Thread(() =>
            {
                var random = new Random(me);
                long next = 0;
                while (next < PerProducer)
                {
                    int size = (int)Math.Min(random.Next(1, 20), PerProducer - next);
                    int free = rings[me].FreeSpace(size);
                    if (free == 0)
                    {
                        Thread.Yield();
                        continue;
                    }

                    int n = Math.Min(size, free);
                    for (int i = 0; i < n; i++)
                    {
                        rings[me].ProducerSlot(i) = ((long)me << 32) | (next + i);
                    }

                    Assert.True(rings[me].TryPublish(n));
                    doorbell.Ring(me);
                    next += n;
                }
            }) { IsBackground = true };
            threads[p].Start();
        }

        var expected = new long[producers];
        long total = 0;
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (total < (long)producers * PerProducer && DateTime.UtcNow < deadline)
        {
            bool any = false;
            for (int w = 0; w < doorbell.WordCount; w++)
            {
                ulong bits = Take(doorbell, w); // the eager protocol: take every rung bit, then read the tails
                while (bits != 0)
                {
                    int index = (w << 6) + System.Numerics.BitOperations.TrailingZeroCount(bits);
                    bits &= bits - 1;
                    ReadOnlySpan<long> run;
                    while (!(run = rings[index].PeekContiguous()).IsEmpty)
                    {
                        foreach (long value in run)
                        {
                            Assert.Equal(index, (int)(value >> 32));
                            Assert.Equal(expected[index]++, value & 0xFFFFFFFF);
                        }

                        total += run.Length;
                        rings[index].Advance(run.Length);
                        any = true;
                    }
                }
            }

            if (!any)
            {
                Thread.Yield();
            }
        }

        foreach (Thread thread in threads)
        {
            Assert.True(thread.Join(TimeSpan.FromSeconds(60)), $"{thread.Name ?? "a thread"} did not finish within 60 s");
        }

        Assert.Equal((long)producers * PerProducer, total);
        Assert.All(rings, ring => Assert.True(ring.IsEmpty));
    }

    [Fact]
    public void Ring_reports_only_the_clear_to_set_transition()
    {
        var doorbell = new DoorbellBitmap(130);
        Assert.False(doorbell.AnySet);
        Assert.True(doorbell.Ring(129));
        Assert.False(doorbell.Ring(129));
        Assert.True(doorbell.Ring(3));
        Assert.Equal(2, doorbell.PopCount());
        Assert.Equal(3, doorbell.WordCount);
        Assert.Equal(1UL << 3, Take(doorbell, 0));
        Assert.Equal(0UL, Take(doorbell, 0));
        Assert.Equal(1UL << (129 - 128), Take(doorbell, 2));
        Assert.False(doorbell.AnySet);
    }

    /// <summary>Takes a word's bits: a clear of exactly the bits read (then the clear's barrier), before any tail is read.</summary>
    private static ulong Take(DoorbellBitmap doorbell, int word)
    {
        ulong bits = doorbell.Peek(word);
        var bitsByWord = new ulong[doorbell.WordCount];
        bitsByWord[word] = bits;
        doorbell.Clear(bitsByWord);
        return bits;
    }
}
