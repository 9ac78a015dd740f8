using System.Globalization;

namespace IpiEngine.Workload;

/// <summary>
/// Relative weights of the <see cref="IpiKind"/>s in a generated workload: a named pattern
/// (<c>unicast</c>, <c>multicast</c>, <c>broadcast</c>, <c>linux-mix</c>, <c>storm</c>) or explicit weights such as
/// <c>single=60,resched=30,call=5,tlb=4,broadcast=1,pv-ipi=10</c>; <c>msi</c> and <c>ioapic</c> are device interrupts,
/// posted by device threads (<see cref="DeviceWorkload"/>), the rest IPIs posted by the vCPUs.
/// </summary>
internal sealed class WorkloadMix
{
    /// <summary>The names accepted for each kind in a weights list, in <see cref="IpiKind"/> order.</summary>
    public static readonly IReadOnlyList<string> KindNames = ["single", "resched", "call", "tlb", "broadcast", "storm", "pv-ipi", "msi", "ioapic"];

    /// <summary>The named patterns.</summary>
    public static readonly IReadOnlyList<string> PatternNames = ["unicast", "multicast", "broadcast", "linux-mix", "storm"];

    private readonly int[] weights;

    private WorkloadMix(string name, int[] weights)
    {
        Name = name;
        this.weights = weights;
        for (var k = 0; k < weights.Length; k++)
        {
            TotalWeight += weights[k];
            if (IsDeviceKind((IpiKind)k))
            {
                DeviceWeight += weights[k];
            }
        }
    }

    /// <summary>Sum of the device kinds' weights (<c>msi</c>, <c>ioapic</c>): their share goes to device threads.</summary>
    public int DeviceWeight { get; }

    /// <summary>Sum of the kinds the vCPUs send (all but the device kinds).</summary>
    public int VcpuWeight => TotalWeight - DeviceWeight;

    /// <summary>True when the mix has device interrupts (and so needs device threads).</summary>
    public bool HasDevices => DeviceWeight > 0;

    /// <summary>Whether device threads, not vCPUs, post this kind.</summary>
    public static bool IsDeviceKind(IpiKind kind) => kind is IpiKind.Msi or IpiKind.IoApic;

    /// <summary>The pattern's name, or the weights as given.</summary>
    public string Name { get; }

    /// <summary>Sum of all weights (positive).</summary>
    public int TotalWeight { get; }

    /// <summary>Unicast only: CALL_FUNCTION_SINGLE and RESCHEDULE.</summary>
    public static WorkloadMix Unicast => new("unicast", [60, 40, 0, 0, 0, 0, 0, 0, 0]);

    /// <summary>Multicast only: CALL_FUNCTION sets and TLB shootdowns.</summary>
    public static WorkloadMix Multicast => new("multicast", [0, 0, 50, 50, 0, 0, 0, 0, 0]);

    /// <summary>All-excluding-self shorthands only.</summary>
    public static WorkloadMix Broadcast => new("broadcast", [0, 0, 0, 0, 100, 0, 0, 0, 0]);

    /// <summary>
    /// What a busy Linux guest sends: mostly unicast CALL_FUNCTION_SINGLE and RESCHEDULE, some multicast
    /// CALL_FUNCTION and TLB shootdowns, rare broadcasts (the proportions of the bundled traces, rounded).
    /// </summary>
    public static WorkloadMix LinuxMix => new("linux-mix", [55, 30, 7, 7, 1, 0, 0, 0, 0]);

    /// <summary>Every vCPU hammers one hot vCPU with RESCHEDULE.</summary>
    public static WorkloadMix Storm => new("storm", [0, 0, 0, 0, 0, 100, 0, 0, 0]);

    /// <summary>The weight of one kind.</summary>
    public int WeightOf(IpiKind kind) => weights[(int)kind];

    /// <summary>Picks a vCPU kind for a uniform draw in [0, <see cref="VcpuWeight"/>).</summary>
    public IpiKind PickVcpuKind(int draw) => Pick(draw, device: false);

    /// <summary>Picks a device kind for a uniform draw in [0, <see cref="DeviceWeight"/>).</summary>
    public IpiKind PickDeviceKind(int draw) => Pick(draw, device: true);

    private IpiKind Pick(int draw, bool device)
    {
        var last = 0;
        for (var k = 0; k < weights.Length; k++)
        {
            if (IsDeviceKind((IpiKind)k) != device || weights[k] == 0)
            {
                continue;
            }

            last = k;
            draw -= weights[k];
            if (draw < 0)
            {
                return (IpiKind)k;
            }
        }

        return (IpiKind)last;
    }

    /// <summary>Parses a pattern name or a weights list; on failure <paramref name="error"/> is one sentence saying why.</summary>
    public static bool TryParse(string text, out WorkloadMix? mix, out string? error)
    {
        ArgumentNullException.ThrowIfNull(text);
        mix = text.Trim().ToLowerInvariant() switch
        {
            "unicast" => Unicast,
            "multicast" => Multicast,
            "broadcast" => Broadcast,
            "linux-mix" or "linux" or "mix" => LinuxMix,
            "storm" => Storm,
            _ => null,
        };
        error = null;
        if (mix is not null)
        {
            return true;
        }

        if (!text.Contains('=', StringComparison.Ordinal))
        {
            error = $"Unknown workload '{text}': use one of {string.Join(", ", PatternNames)}, or weights such as single=60,resched=30,call=5,tlb=4,broadcast=1,pv-ipi=10,msi=5,ioapic=5 (pv-ipi: CALL_FUNCTION by the KVM_HC_SEND_IPI hypercall; msi and ioapic: device interrupts).";
            return false;
        }

        var weights = new int[KindNames.Count];
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var eq = part.IndexOf('=', StringComparison.Ordinal);
            var key = eq < 0 ? part : part[..eq].Trim().ToLowerInvariant();
            var index = IndexOfKind(key);
            if (index < 0)
            {
                error = $"Unknown IPI kind '{key}' in workload weights: use {string.Join(", ", KindNames)}.";
                return false;
            }

            if (eq < 0 || !int.TryParse(part[(eq + 1)..].Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var weight) || weight > 1_000_000)
            {
                error = $"The weight of '{key}' in the workload must be a whole number from 0 to 1000000.";
                return false;
            }

            weights[index] = weight;
        }

        if (Array.TrueForAll(weights, w => w == 0))
        {
            error = "The workload weights are all zero: give at least one kind a positive weight.";
            return false;
        }

        if (weights.Where((w, k) => !IsDeviceKind((IpiKind)k)).All(w => w == 0))
        {
            error = "The workload needs at least one IPI kind besides msi and ioapic with a positive weight (the vCPUs send those and take the device interrupts).";
            return false;
        }

        mix = new WorkloadMix(text.Trim(), weights);
        return true;
    }

    private static int IndexOfKind(string key)
    {
        for (var i = 0; i < KindNames.Count; i++)
        {
            if (KindNames[i] == key)
            {
                return i;
            }
        }

        return -1;
    }
}
