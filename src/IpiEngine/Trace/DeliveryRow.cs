using IpiEngine.Apic;

namespace IpiEngine.Trace;

/// <summary>
/// One row of <c>deliveries.csv</c>: the IPI of one firing write, with the vCPUs it reached (ascending).
/// </summary>
internal sealed class DeliveryRow : IEquatable<DeliveryRow>
{
    /// <summary>The mode name of a firing write the engine refused.</summary>
    public const string RejectedMode = "REJECTED";

    /// <summary>The mode name of an INIT level de-assert (delivers nothing).</summary>
    public const string InitDeassertMode = "INIT_DEASSERT";

    private static readonly string[] ModeNames = ["FIXED", "LOWPRI", "SMI", "RESERVED3", "NMI", "INIT", "SIPI", "EXTINT"];

    private readonly int[] _destinations;

    /// <summary>Creates a row; <paramref name="destinations"/> must be ascending (the row keeps its own copy).</summary>
    public DeliveryRow(long seq, int sourceVcpu, string mode, byte vector, ReadOnlySpan<int> destinations)
    {
        ArgumentNullException.ThrowIfNull(mode);
        Seq = seq;
        SourceVcpu = sourceVcpu;
        Mode = mode;
        Vector = vector;
        _destinations = destinations.ToArray();
    }

    /// <summary>The exit row's <c>seq</c>.</summary>
    public long Seq { get; }

    /// <summary>The sending vCPU.</summary>
    public int SourceVcpu { get; }

    /// <summary>FIXED, LOWPRI, SMI, NMI, INIT, INIT_DEASSERT, SIPI, EXTINT or REJECTED.</summary>
    public string Mode { get; }

    /// <summary>The ICR's vector field (whatever the mode).</summary>
    public byte Vector { get; }

    /// <summary>The vCPUs the IPI reached, ascending.</summary>
    public ReadOnlySpan<int> Destinations => _destinations;

    /// <summary>The row of a firing write's outcome (fired or rejected) and the destinations it resolved to.</summary>
    public static DeliveryRow FromOutcome(in ExitRecord record, in ExitOutcome outcome, ReadOnlySpan<int> destinations)
        => new((long)record.Tag, record.SourceVcpu, ModeName(outcome), outcome.Command.Vector, destinations);

    /// <summary>The row's mode name for an outcome of a firing write.</summary>
    public static string ModeName(in ExitOutcome outcome)
    {
        if (outcome.Kind == ExitKind.Rejected)
        {
            return RejectedMode;
        }

        return outcome.Command.IsInitDeassert ? InitDeassertMode : ModeNames[(int)outcome.Command.DeliveryMode];
    }

    /// <summary>The mode name of one delivery made in <paramref name="mode"/> (a delivered INIT is an assert: a de-assert delivers nothing).</summary>
    public static string ModeName(DeliveryMode mode) => ModeNames[(int)mode & 7];

    /// <summary>The delivery mode <see cref="ModeName(DeliveryMode)"/> names <paramref name="name"/>; false for any other text.</summary>
    public static bool TryParseDeliveredMode(string name, out DeliveryMode mode)
    {
        int index = Array.IndexOf(ModeNames, name);
        mode = (DeliveryMode)Math.Max(index, 0);
        return index >= 0;
    }

    /// <summary>Whether a mode name may appear in <c>deliveries.csv</c>.</summary>
    public static bool IsKnownMode(string mode)
        => mode is RejectedMode or InitDeassertMode || (Array.IndexOf(ModeNames, mode) >= 0 && !mode.StartsWith("RESERVED", StringComparison.Ordinal));

    /// <summary>The row as a line of <c>deliveries.csv</c> (no newline).</summary>
    public override string ToString() => DeliveryCsv.Format(this);

    /// <inheritdoc/>
    public bool Equals(DeliveryRow? other)
        => other is not null && Seq == other.Seq && SourceVcpu == other.SourceVcpu && Vector == other.Vector
           && string.Equals(Mode, other.Mode, StringComparison.Ordinal) && Destinations.SequenceEqual(other.Destinations);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as DeliveryRow);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Seq, SourceVcpu, Vector, Mode, _destinations.Length);
}
