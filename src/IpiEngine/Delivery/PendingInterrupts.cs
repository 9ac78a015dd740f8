using System.Numerics;

namespace IpiEngine.Delivery;

/// <summary>
/// What a vCPU took from its descriptor in one <see cref="DescriptorTable.Take"/> (the PIR-to-IRR sync at VM entry):
/// the pending vectors and the NMI / SMI / INIT / SIPI flags.
/// </summary>
public readonly struct PendingInterrupts : IEquatable<PendingInterrupts>
{
    private readonly ulong _v0;
    private readonly ulong _v1;
    private readonly ulong _v2;
    private readonly ulong _v3;
    private readonly ulong _control;

    /// <summary>Creates a value from the four PIR words and the descriptor's events word (<see cref="PostedInterruptDescriptor.Events"/>).</summary>
    internal PendingInterrupts(ulong v0, ulong v1, ulong v2, ulong v3, ulong events)
    {
        _v0 = v0;
        _v1 = v1;
        _v2 = v2;
        _v3 = v3;
        _control = events & (PostedInterruptDescriptor.FlagMask | (0xFFUL << PostedInterruptDescriptor.SipiVectorShift));
    }

    /// <summary>Nothing was pending.</summary>
    public bool IsEmpty => (_v0 | _v1 | _v2 | _v3 | (_control & PostedInterruptDescriptor.FlagMask)) == 0;

    /// <summary>An NMI was pending.</summary>
    public bool Nmi => (_control & PostedInterruptDescriptor.NmiPending) != 0;

    /// <summary>An SMI was pending.</summary>
    public bool Smi => (_control & PostedInterruptDescriptor.SmiPending) != 0;

    /// <summary>An INIT was pending.</summary>
    public bool Init => (_control & PostedInterruptDescriptor.InitPending) != 0;

    /// <summary>A start-up IPI was pending (its vector: <see cref="SipiVector"/>).</summary>
    public bool Sipi => (_control & PostedInterruptDescriptor.SipiPending) != 0;

    /// <summary>The pending SIPI's vector (the start page), when <see cref="Sipi"/>.</summary>
    public byte SipiVector => (byte)(_control >> PostedInterruptDescriptor.SipiVectorShift);

    /// <summary>How many vectors were pending.</summary>
    public int VectorCount => BitOperations.PopCount(_v0) + BitOperations.PopCount(_v1) + BitOperations.PopCount(_v2) + BitOperations.PopCount(_v3);

    /// <summary>The 64-bit word <paramref name="index"/> (0-3) of the pending-vector bitmap.</summary>
    public ulong VectorWord(int index) => index switch
    {
        0 => _v0,
        1 => _v1,
        2 => _v2,
        3 => _v3,
        _ => throw new ArgumentOutOfRangeException(nameof(index), index, "The bitmap has words 0 to 3."),
    };

    /// <summary>Whether <paramref name="vector"/> was pending.</summary>
    public bool IsPending(byte vector) => (VectorWord(vector >> 6) & (1UL << vector)) != 0;

    /// <summary>The highest pending vector (the one a real APIC would service first), or -1.</summary>
    public int HighestVector
    {
        get
        {
            for (int w = 3; w >= 0; w--)
            {
                ulong word = VectorWord(w);
                if (word != 0)
                {
                    return (w << 6) + 63 - BitOperations.LeadingZeroCount(word);
                }
            }

            return -1;
        }
    }

    /// <inheritdoc/>
    public bool Equals(PendingInterrupts other)
        => _v0 == other._v0 && _v1 == other._v1 && _v2 == other._v2 && _v3 == other._v3 && _control == other._control;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is PendingInterrupts other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(_v0, _v1, _v2, _v3, _control);

    /// <summary>Equality.</summary>
    public static bool operator ==(PendingInterrupts left, PendingInterrupts right) => left.Equals(right);

    /// <summary>Inequality.</summary>
    public static bool operator !=(PendingInterrupts left, PendingInterrupts right) => !left.Equals(right);
}
