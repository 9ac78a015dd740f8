using System.Runtime.CompilerServices;

namespace IpiEngine.Apic;

/// <summary>
/// The destination vCPUs of one IPI, ascending: a preallocated buffer (capacity = vCPU count) reused for every IPI,
/// so resolution never allocates.
/// </summary>
internal sealed class DestinationSet
{
    private readonly int[] _vcpus;

    /// <summary>Creates an empty set able to hold every vCPU once.</summary>
    public DestinationSet(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(capacity);
        _vcpus = new int[capacity];
    }

    /// <summary>How many vCPUs the set can hold.</summary>
    public int Capacity => _vcpus.Length;

    /// <summary>How many destinations.</summary>
    public int Count { get; private set; }

    /// <summary>The destination vCPU indices, ascending, each once.</summary>
    public ReadOnlySpan<int> Vcpus => new(_vcpus, 0, Count);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void Clear() => Count = 0;

    /// <summary>Appends a vCPU; callers add in ascending order or call <see cref="SortSmall"/> afterwards.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void Add(int vcpu) => _vcpus[Count++] = vcpu;

    /// <summary>Insertion sort: used after an x2APIC cluster lookup (at most 16 members, usually ascending already).</summary>
    internal void SortSmall()
    {
        int[] items = _vcpus;
        for (int i = 1; i < Count; i++)
        {
            int value = items[i];
            int j = i - 1;
            while (j >= 0 && items[j] > value)
            {
                items[j + 1] = items[j];
                j--;
            }

            items[j + 1] = value;
        }
    }

    /// <summary>Sorts ascending and drops repeats (after lookups whose vCPUs come in APIC ID order). Allocation-free.</summary>
    internal void SortUnique()
    {
        Span<int> items = _vcpus.AsSpan(0, Count);
        if (items.Length <= 32)
        {
            SortSmall(); // usually ascending already: one pass
        }
        else
        {
            items.Sort();
        }

        int kept = 0;
        for (int i = 0; i < items.Length; i++)
        {
            if (kept == 0 || items[kept - 1] != items[i])
            {
                items[kept++] = items[i];
            }
        }

        Count = kept;
    }

    /// <summary>
    /// Lowest priority: keeps the candidate at index <c>vector mod Count</c> of the ascending candidates (KVM's vector
    /// hashing, <c>kvm_vector_to_index</c>, our documented deterministic rule), or nothing when there is no candidate.
    /// </summary>
    internal void KeepOnly(byte vector)
    {
        if (Count > 1)
        {
            _vcpus[0] = _vcpus[vector % Count];
            Count = 1;
        }
    }
}
