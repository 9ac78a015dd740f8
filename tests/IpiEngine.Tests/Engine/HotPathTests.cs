using System.Reflection;
using IpiEngine.Apic;
using IpiEngine.Delivery;
using IpiEngine.Pipeline;
using IpiEngine.Posting;
using IpiEngine.Stages;
using Xunit;

namespace IpiEngine.Tests.Facade;

/// <summary>
/// The hot path is compiled fully optimized at its first call (<see cref="HotPath"/>): where the engine's threads
/// outnumber the cores, tiered compilation's background thread starves and these methods would run unoptimized for
/// seconds. A method of the path that loses its mark fails here by name.
/// </summary>
public class HotPathTests
{
    public static TheoryData<Type, string> HotMethods() => new()
    {
        // Posting: every post, from C# and (through the exports) from C.
        { typeof(global::IpiEngine.Engine), "Post" }, { typeof(global::IpiEngine.Engine), "TryPost" }, { typeof(global::IpiEngine.Engine), "PostBatch" },
        { typeof(global::IpiEngine.Engine), "PostOne" }, { typeof(global::IpiEngine.Engine), "PostStampedOrInline" },
        { typeof(global::IpiEngine.Engine), "HasPending" }, { typeof(global::IpiEngine.Engine), "TakePending" },
        { typeof(PostingRings), "Post" }, { typeof(PostingRings), "PostWhenFull" }, { typeof(PostingRings), "WriteAndPublish" }, { typeof(PostingRings), "PostRun" }, { typeof(PostingRings), "RingSlow" }, { typeof(PostingRings), "MakeRoom" },
        { typeof(ExitRecord), "CopyAsPosted" },
        // Gathering, resolving, delivering.
        { typeof(GatherStage), "Pass" }, { typeof(GatherStage), "DrainRing" }, { typeof(GatherStage), "Drain" },
        { typeof(ResolveStage), "Resolve" }, { typeof(ResolveStage), "ResolveRun" }, { typeof(ResolveStage), "ResolveUnicasts" }, { typeof(ResolveStage), "ResolveFully" }, { typeof(ResolveStage), "PublishCounters" },
        { typeof(IcrResolver), "TryResolveUnicast" }, { typeof(DestinationMap), "VectoredUnicastTarget" }, { typeof(DestinationMap), "Resolve" },
        { typeof(DeliveryBatcher<NoNotifier>), "Add" }, { typeof(DeliveryBatcher<NoNotifier>), "AddLocal" }, { typeof(DeliveryBatcher<NoNotifier>), "AddLocalVectored" }, { typeof(DeliveryBatcher<NoNotifier>), "AddRouted" },
        { typeof(DeliveryBatcher<NoNotifier>), "CountResolved" }, { typeof(DeliveryBatcher<NoNotifier>), "Flush" },
        { typeof(DeliveryBatcher<NoNotifier>), "AddRemote" }, { typeof(DeliveryBatcher<NoNotifier>), "ForwardAll" },
        // With a delivery log (ipi run's latency sample, a node's pair check): every flush. ipi run's warm-up engine keeps no
        // log, so these started unoptimized in the measured window.
        { typeof(DeliveryBatcher<NoNotifier>), "FlushLog" }, { typeof(DeliveryBatcher<NoNotifier>), "DeliverTime" },
        { typeof(DeliveryLog), "Append" }, { typeof(DeliveryLog), "AppendSampled" }, { typeof(DeliveryLog), "Halve" },
        // The gathering thread's loop: entered once per engine, so tiering would leave it to on-stack replacement.
        { typeof(EnginePipeline<NoNotifier>), "RunLoop" },
        { typeof(DescriptorTable), "OrVectors" }, { typeof(DescriptorTable), "HasPending" }, { typeof(DescriptorTable), "Take" },
        { typeof(EnginePipeline<NoNotifier>), "FusedPass" }, { typeof(EnginePipeline<NoNotifier>), "PassOverRing" }, { typeof(EnginePipeline<NoNotifier>), "DeliverRemote" },
        { typeof(FusedPipeline<NoNotifier>), "TryAssist" },
        // Per-stage and inline modes.
        { typeof(ResolveHandler), "OnBatch" }, { typeof(DeliverHandler<NoNotifier>), "OnBatch" }, { typeof(CopyConsumer), "Consume" },
        { typeof(DeliveryPublisher), "Add" }, { typeof(DeliveryPublisher), "Commit" }, { typeof(DeliveryPublisher), "Refill" },
        { typeof(SequenceBarrier), "WaitFor" }, { typeof(InlinePipeline<NoNotifier>), "Post" }, { typeof(InlinePipeline<NoNotifier>), "PostRun" },
    };

    [Theory]
    [MemberData(nameof(HotMethods))]
    public void Every_overload_of_a_hot_path_method_is_compiled_optimized_at_first_call(Type type, string name)
    {
        var methods = type.GetMethods(BindingFlags.Instance | BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly)
            .Where(m => m.Name == name)
            .ToList();

        Assert.NotEmpty(methods);
        Assert.All(methods, m => Assert.True(
            m.MethodImplementationFlags.HasFlag(MethodImplAttributes.AggressiveOptimization),
            $"{type.Name}.{m}: not marked [MethodImpl(HotPath.Optimized)]"));
    }

    /// <summary>
    /// A throw helper (a method named Throw..., not ThrowIf...) is [DoesNotReturn] and not NoInlining: the JIT learns that
    /// a call never returns only when it tries to inline the callee and finds no return, and NoInlining stops it before
    /// it looks. Then the call's block is cold (its code moves out of the loop, an int3 after the call) instead of laid
    /// out as a likely path, which the runtime's synthesized profile did for DescriptorTable.ThrowBadVcpu in every
    /// vCPU's post loop.
    /// </summary>
    [Fact]
    public void Every_throw_helper_of_the_engine_is_seen_by_the_jit_as_never_returning()
    {
        var helpers = typeof(global::IpiEngine.Engine).Assembly.GetTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Instance | BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            .Where(m => m.Name.StartsWith("Throw", StringComparison.Ordinal) && !m.Name.StartsWith("ThrowIf", StringComparison.Ordinal) && m.ReturnType == typeof(void))
            .ToList();

        Assert.True(helpers.Count >= 8, $"{helpers.Count} throw helpers found");
        Assert.All(helpers, m =>
        {
            Assert.True(m.IsDefined(typeof(System.Diagnostics.CodeAnalysis.DoesNotReturnAttribute)), $"{m.DeclaringType!.Name}.{m.Name}: not [DoesNotReturn]");
            Assert.False(m.MethodImplementationFlags.HasFlag(MethodImplAttributes.NoInlining), $"{m.DeclaringType!.Name}.{m.Name}: NoInlining hides its throw from the JIT");
        });
    }
}
