namespace IpiEngine.Apic;

/// <summary>
/// The result of processing one exit record: what happened, why it was rejected if it was, and the decoded command
/// (valid when <see cref="Kind"/> is <see cref="ExitKind.Fired"/>, and when a firing write was rejected after decoding).
/// </summary>
internal readonly struct ExitOutcome : IEquatable<ExitOutcome>
{
    /// <summary>Creates an outcome.</summary>
    /// <param name="kind">What happened.</param>
    /// <param name="reason">Why it was rejected, or <see cref="RejectReason.None"/>.</param>
    /// <param name="command">The decoded command, or default.</param>
    /// <param name="isFiringWrite">Whether the record was a write to a firing register (ICR low, x2APIC ICR, SELF IPI).</param>
    /// <param name="input">The kind of interrupt a fired or rejected record stands for.</param>
    public ExitOutcome(ExitKind kind, RejectReason reason, IcrCommand command, bool isFiringWrite, InterruptInput input = InterruptInput.Icr)
    {
        Input = input;
        Kind = kind;
        Reason = reason;
        Command = command;
        IsFiringWrite = isFiringWrite;
    }

    /// <summary>What happened.</summary>
    public ExitKind Kind { get; }

    /// <summary>Why the record was rejected (<see cref="RejectReason.None"/> otherwise).</summary>
    public RejectReason Reason { get; }

    /// <summary>The decoded ICR command (default when the record was not a decodable firing write).</summary>
    public IcrCommand Command { get; }

    /// <summary>
    /// Whether the record was a write to a firing register (ICR low, x2APIC ICR, SELF IPI): one IPI, fired or rejected,
    /// and <see cref="Command"/> holds its decoded fields.
    /// </summary>
    public bool IsFiringWrite { get; }

    /// <summary>The kind of interrupt the record stands for (ICR for latches, topology writes and unknown registers too).</summary>
    public InterruptInput Input { get; }

    /// <inheritdoc/>
    public bool Equals(ExitOutcome other)
        => Kind == other.Kind && Reason == other.Reason && Command == other.Command && IsFiringWrite == other.IsFiringWrite && Input == other.Input;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is ExitOutcome other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Kind, Reason, Command, IsFiringWrite, Input);

    /// <summary>Equality.</summary>
    public static bool operator ==(ExitOutcome left, ExitOutcome right) => left.Equals(right);

    /// <summary>Inequality.</summary>
    public static bool operator !=(ExitOutcome left, ExitOutcome right) => !left.Equals(right);

    /// <inheritdoc/>
    public override string ToString() => Kind == ExitKind.Rejected ? $"Rejected ({Reason}) {Command}" : $"{Kind} {Command}";
}
