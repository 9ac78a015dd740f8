using IpiEngine.Pipeline;
using Xunit;

namespace IpiEngine.Tests.Pipeline;

public sealed class WaitStrategyTests
{
    private static int LooksBeforePark(WaitStrategy strategy)
    {
        int look = 0;
        while (!strategy.Pause(look))
        {
            look++;
        }

        return look;
    }

    [Fact]
    public void A_wait_idle_for_more_than_2_to_the_31_looks_never_reads_as_its_first_spins()
    {
        var strategy = new RecordingLooks();
        var condition = new SatisfiedAfter((long)int.MaxValue + 4);

        strategy.WaitUntil(ref condition, new EventCount()); // about 2^31 empty looks: a few seconds

        Assert.Equal(int.MaxValue, strategy.Last); // saturated, not wrapped to int.MinValue
        Assert.False(strategy.SawNegative);
    }

    [Fact]
    public void Hybrid_parks_after_its_spins_and_yields_and_sooner_when_posters_assist()
    {
        WaitStrategy hybrid = WaitStrategy.For(WaitStrategyKind.Hybrid);
        Assert.Equal(16 + 48, LooksBeforePark(hybrid));
        Assert.Equal(16 + 8, LooksBeforePark(hybrid.ForAssistedGathering));
        Assert.Equal(WaitStrategyKind.Hybrid, hybrid.ForAssistedGathering.Kind);
    }

    [Fact]
    public void Hybrid_producers_waiting_for_room_yield_from_the_first_look_then_park()
    {
        WaitStrategy room = WaitStrategy.For(WaitStrategyKind.Hybrid).ForRoom;
        Assert.Equal(112, LooksBeforePark(room));
        Assert.Equal(WaitStrategyKind.Hybrid, room.Kind);
        Assert.NotSame(WaitStrategy.For(WaitStrategyKind.Hybrid), room);
    }

    [Fact]
    public void Busy_spin_producers_waiting_for_room_do_not_spin_but_wait_as_hybrid_ones()
    {
        // Spinning producers took the cores the pipeline thread needed to make room: 0.22 of a core for it, 6-15 M IPIs/s.
        WaitStrategy busy = WaitStrategy.For(WaitStrategyKind.BusySpin);
        Assert.Same(WaitStrategy.For(WaitStrategyKind.Hybrid).ForRoom, busy.ForRoom);
        Assert.Equal(112, LooksBeforePark(busy.ForRoom));
        Assert.Same(busy, busy.ForAssistedGathering); // the pipeline thread itself still spins
    }

    [Theory]
    [InlineData(WaitStrategyKind.Yielding)]
    [InlineData(WaitStrategyKind.Sleeping)]
    [InlineData(WaitStrategyKind.Blocking)]
    public void Other_strategies_wait_the_same_way_when_posters_assist_or_wait_for_room(WaitStrategyKind kind)
    {
        WaitStrategy strategy = WaitStrategy.For(kind);
        Assert.Same(strategy, strategy.ForAssistedGathering);
        Assert.Same(strategy, strategy.ForRoom);
    }

    /// <summary>A strategy that never parks and records the look numbers it was given.</summary>
    private sealed class RecordingLooks : WaitStrategy
    {
        public bool SawNegative { get; private set; }

        public int Last { get; private set; }

        public override WaitStrategyKind Kind => WaitStrategyKind.Yielding;

        protected internal override bool Pause(int look)
        {
            SawNegative |= look < 0;
            Last = look;
            return false;
        }
    }

    /// <summary>Satisfied after a given number of looks (the wait takes it by reference, so the count goes down).</summary>
    private struct SatisfiedAfter(long looks) : IWaitCondition
    {
        private long _left = looks;

        public bool IsSatisfied => --_left < 0;

        public readonly void BeforePark()
        {
        }
    }
}
