using System.Diagnostics;
using System.Text;
using IpiEngine.Cli.Machine;
using Xunit;

namespace IpiEngine.Tests.Run;

public class ThreadCpuTimesTests
{
    // A stat line as Linux writes it (proc(5)), with utime 1234 and stime 56 at fields 14 and 15.
    private static string StatLine(string name, long user, long system)
        => $"4242 ({name}) R 4200 4200 4100 34816 4200 4194368 512 0 0 0 {user} {system} 0 0 20 0 12 0 9876 123456 789 18446744073709551615 1 1 0 0 0 0 0 4096 17630 0 0 0 -1 1 0 0 0 0 0\n";

    [Theory]
    [InlineData("ipi-fused", nameof(ThreadRole.Pipeline))]
    [InlineData("ipi-deliver", nameof(ThreadRole.Pipeline))]
    [InlineData("vcpu12", nameof(ThreadRole.Vcpu))]
    [InlineData("device0", nameof(ThreadRole.Device))]
    [InlineData(".NET TP Worker", nameof(ThreadRole.Other))]
    [InlineData("we (ir) d) name", nameof(ThreadRole.Other))]
    [InlineData("probe-consumer", nameof(ThreadRole.ReferenceConsumer))]
    [InlineData("queue-consumer", nameof(ThreadRole.ReferenceConsumer))]
    [InlineData("probe-producer-", nameof(ThreadRole.ReferenceProducer))] // "probe-producer-7" as Linux keeps it (15 bytes)
    [InlineData("-producer", nameof(ThreadRole.Other))]
    public void A_stat_line_gives_the_role_by_name_and_user_plus_system_ticks(string name, string role)
    {
        Assert.True(ThreadCpuTimes.TryParseStat(Encoding.UTF8.GetBytes(StatLine(name, 1234, 56)), out var parsed, out var ticks));

        Assert.Equal(role, parsed.ToString());
        Assert.Equal(1290, ticks);
    }

    [Theory]
    [InlineData("")]
    [InlineData("4242 vcpu0 R 1 2 3")]
    [InlineData("4242 (vcpu0) R 4200 4200 4100 34816 4200 4194368 512 0 0 0 12")]
    [InlineData("4242 (vcpu0) R 4200 4200 4100 34816 4200 4194368 512 0 0 0 12 x3 0")]
    [InlineData("4242 (vcpu0) R 4200 4200 4100 34816 4200 4194368 512 0 0 0 -12 3 0")]
    public void A_malformed_stat_line_is_refused(string line)
        => Assert.False(ThreadCpuTimes.TryParseStat(Encoding.UTF8.GetBytes(line), out _, out _));

    [Fact]
    public void Seconds_by_role_are_the_listed_threads_differences_and_an_ended_thread_adds_nothing()
    {
        var root = Directory.CreateTempSubdirectory("ipi-tasks-").FullName;
        try
        {
            void Write(int id, string name, long user, long system)
            {
                Directory.CreateDirectory(Path.Combine(root, $"{id}"));
                File.WriteAllText(Path.Combine(root, $"{id}", "stat"), StatLine(name, user, system));
            }

            Write(10, "ipi-fused", 100, 0);
            Write(11, "vcpu0", 50, 5);
            Write(12, "vcpu1", 70, 0);
            Write(13, ".NET TP Worker", 1, 1);
            Directory.CreateDirectory(Path.Combine(root, "not-a-thread"));
            var threads = ThreadCpuTimes.TryList(root);
            Assert.NotNull(threads);
            Assert.Equal(4, threads.Count);
            var before = new long[threads.Count];
            threads.ReadTicks(before);

            Write(10, "ipi-fused", 180, 20);   // +100 ticks
            Write(11, "vcpu0", 80, 15);        // +40
            Directory.Delete(Path.Combine(root, "12"), recursive: true); // ended
            Write(13, ".NET TP Worker", 2, 2); // +2
            Write(14, "vcpu2", 999, 0);        // started after the listing: not seen
            var after = new long[threads.Count];
            threads.ReadTicks(after);
            var seconds = new double[ThreadCpuTimes.RoleCount];
            threads.AddSecondsBetween(before, after, seconds);

            var tick = ThreadCpuTimes.ResolutionSeconds;
            Assert.Equal(100 * tick, seconds[(int)ThreadRole.Pipeline], 9);
            Assert.Equal(40 * tick, seconds[(int)ThreadRole.Vcpu], 9);
            Assert.Equal(0, seconds[(int)ThreadRole.Device]);
            Assert.Equal(2 * tick, seconds[(int)ThreadRole.Other], 9);
            Assert.Contains(-1, after);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void A_missing_task_directory_lists_nothing()
        => Assert.Null(ThreadCpuTimes.TryList(Path.Combine(Path.GetTempPath(), $"ipi-no-tasks-{Guid.NewGuid():N}")));
}

/// <summary>Reads this process's own threads, so it runs alone (no other test's vCPU threads beside its own).</summary>
[Collection(nameof(MeasuredWindowAllocationTests))]
public class ThreadCpuTimesOfThisProcessTests
{
    [Fact]
    public void A_busy_vcpu_thread_of_this_process_is_seen_running_and_an_idle_one_is_not()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "/proc/self/task is Linux's");
        using var stop = new ManualResetEventSlim();
        var deadline = Stopwatch.GetTimestamp() + (10 * Stopwatch.Frequency);
        var busy = new Thread(() =>
        {
            while (!stop.IsSet && Stopwatch.GetTimestamp() < deadline)
            {
            }
        }) { Name = "vcpu-busy-test", IsBackground = true };
        var idle = new Thread(() => stop.Wait()) { Name = "device-idle-test", IsBackground = true };
        idle.Start();
        var threads = ThreadCpuTimes.TryList();
        Assert.NotNull(threads);
        Assert.Contains(ThreadRole.Device, threads.Roles.ToArray()); // the idle thread, listed by its name
        busy.Start(); // after the listing: not seen
        var before = new long[threads.Count];
        threads.ReadTicks(before);
        Thread.Sleep(300);
        var after = new long[threads.Count];
        threads.ReadTicks(after);
        var seconds = new double[ThreadCpuTimes.RoleCount];
        threads.AddSecondsBetween(before, after, seconds);
        Assert.Equal(0, seconds[(int)ThreadRole.Vcpu]);

        threads = ThreadCpuTimes.TryList()!;
        before = new long[threads.Count];
        threads.ReadTicks(before);
        try
        {
            while (Stopwatch.GetTimestamp() < deadline)
            {
                Thread.Sleep(50);
                after = new long[threads.Count];
                threads.ReadTicks(after);
                seconds = new double[ThreadCpuTimes.RoleCount];
                threads.AddSecondsBetween(before, after, seconds);
                if (seconds[(int)ThreadRole.Vcpu] >= 0.1)
                {
                    Assert.True(seconds[(int)ThreadRole.Device] < 0.05, $"an idle thread ran {seconds[(int)ThreadRole.Device]} s");
                    return;
                }
            }

            Assert.Fail("a spinning thread named vcpu-* was not seen using 0.1 s of CPU in 10 s");
        }
        finally
        {
            stop.Set();
            busy.Join();
            idle.Join();
        }
    }
}
