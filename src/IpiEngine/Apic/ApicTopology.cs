using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;

namespace IpiEngine.Apic;

/// <summary>
/// The control plane's model of every APIC's routing state, changed by the routing-relevant register writes.
/// Mutable and not thread-safe by itself: <see cref="IcrResolver"/> serialises writers and publishes immutable
/// <see cref="DestinationMap"/> snapshots for the hot path.
/// </summary>
public sealed class ApicTopology
{
    private const ulong ApicBaseGlobalEnable = 1ul << 11;
    private const ulong ApicBaseX2Apic = 1ul << 10;
    private const uint SvrSoftwareEnable = 1u << 8;
    private const int XApicFlatLimit = 8;
    private const int XApicClusterLimit = 60;
    private const int XApicPhysicalLimit = 255;
    private const int X2ApicLimit = 1 << 16;

    private readonly ApicState[] _apics;

    private ApicTopology(ApicState[] apics) => _apics = apics;

    /// <summary>The number of vCPUs (dense indices from 0).</summary>
    public int VcpuCount => _apics.Length;

    /// <summary>Every APIC's current state, by vCPU index.</summary>
    internal ReadOnlySpan<ApicState> Apics => _apics;

    /// <summary>
    /// The spec's reset state for each vCPU: globally enabled, software-disabled, xAPIC mode, LDR 0, DFR flat,
    /// with these initial APIC IDs (the xAPIC ID is the low byte).
    /// </summary>
    public static ApicTopology Reset(ReadOnlySpan<uint> initialApicIds)
    {
        var apics = new ApicState[initialApicIds.Length];
        for (int i = 0; i < apics.Length; i++)
        {
            apics[i] = ApicState.Reset(initialApicIds[i]);
        }

        return new ApicTopology(apics);
    }

    /// <summary>
    /// Every APIC enabled and set up as an OS would for <paramref name="kind"/>; <paramref name="sparseIds"/> spreads the
    /// APIC IDs (every other ID in xAPIC, every third in x2APIC, so x2APIC clusters are partly filled).
    /// </summary>
    /// <exception cref="ArgumentException">The kind cannot address that many vCPUs.</exception>
    public static ApicTopology Configure(int vcpuCount, TopologyKind kind, bool sparseIds = false)
    {
        bool x2 = kind is TopologyKind.X2ApicPhysical or TopologyKind.X2ApicCluster;
        uint stride = sparseIds ? (x2 ? 3u : 2u) : 1u;
        int limit = kind switch
        {
            TopologyKind.XApicFlat => XApicFlatLimit,
            TopologyKind.XApicCluster => XApicClusterLimit,
            TopologyKind.XApicPhysical => sparseIds ? 128 : XApicPhysicalLimit,
            TopologyKind.X2ApicPhysical or TopologyKind.X2ApicCluster => X2ApicLimit,
            _ => throw new ArgumentException($"Unknown topology kind {kind}.", nameof(kind)),
        };
        if (vcpuCount < 1 || vcpuCount > limit)
        {
            throw new ArgumentException(
                $"A {kind}{(sparseIds ? " (sparse IDs)" : "")} topology holds 1 to {limit} vCPUs, not {vcpuCount}.", nameof(vcpuCount));
        }

        var apics = new ApicState[vcpuCount];
        for (int i = 0; i < vcpuCount; i++)
        {
            uint id = (uint)i * stride;
            byte logical = kind switch
            {
                TopologyKind.XApicFlat => (byte)(1 << i),
                TopologyKind.XApicCluster => (byte)(((i / 4) << 4) | (1 << (i % 4))),
                _ => 0,
            };
            byte dfr = kind == TopologyKind.XApicCluster ? ApicState.DfrCluster : ApicState.DfrFlat;
            apics[i] = new ApicState(id, (byte)id, logical, dfr, SoftwareEnabled: true, GloballyEnabled: true, X2Apic: x2);
        }

        return new ApicTopology(apics);
    }

    /// <summary>Whether a register write changes routing (APIC ID, LDR, DFR, SVR, IA32_APIC_BASE).</summary>
    /// <remarks>Inlined on the posting path: the ICR registers (0x300 and up, except 0x80F) cost two compares.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool IsTopologyRegister(ushort register) => register < 0x100
        ? register is ApicRegister.Id or ApicRegister.Ldr or ApicRegister.Dfr or ApicRegister.Svr or ApicRegister.ApicBase
        : register == ApicRegister.X2Svr;

    /// <summary>The initial APIC ID of a vCPU.</summary>
    public uint InitialApicId(int vcpu) => _apics[vcpu].InitialId;

    /// <summary>The APIC ID in the vCPU's current mode.</summary>
    public uint CurrentApicId(int vcpu) => _apics[vcpu].CurrentId;

    /// <summary>Whether the vCPU's APIC is in x2APIC mode.</summary>
    public bool IsX2Apic(int vcpu) => _apics[vcpu].X2Apic;

    /// <summary>
    /// Applies a routing-relevant register write of <paramref name="vcpu"/>. Returns false (and changes nothing) when the
    /// register is not a topology register. As in QEMU's <c>apic_register_write</c>/<c>apic_msr_write</c>/
    /// <c>apic_set_base_check</c>: the xAPIC ID, LDR and DFR (MMIO) are ignored in x2APIC mode, the x2APIC SVR MSR is
    /// ignored in xAPIC mode (it faults), an invalid IA32_APIC_BASE transition is ignored; the SVR written through MMIO
    /// takes effect in either mode (QEMU's MMIO handler does not check the mode and its SVR case has no x2APIC guard).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="vcpu"/> is not a vCPU index.</exception>
    internal bool Apply(int vcpu, ushort register, ulong value)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(vcpu);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(vcpu, _apics.Length);
        ref ApicState apic = ref _apics[vcpu];
        uint low = (uint)value;
        switch (register)
        {
            case ApicRegister.Id when !apic.X2Apic:
                apic = apic with { XApicId = (byte)(low >> 24) }; // SDM: xAPIC ID in bits 31:24.
                return true;
            case ApicRegister.Ldr when !apic.X2Apic:
                apic = apic with { LogicalId = (byte)(low >> 24) }; // SDM: logical APIC ID in bits 31:24.
                return true;
            case ApicRegister.Dfr when !apic.X2Apic:
                apic = apic with { DfrModel = (byte)(low >> 28) }; // SDM: model in bits 31:28.
                return true;
            case ApicRegister.Svr:
            case ApicRegister.X2Svr when apic.X2Apic:
                apic = apic with { SoftwareEnabled = (low & SvrSoftwareEnable) != 0 };
                return true;
            case ApicRegister.ApicBase:
                apic = WithApicBase(apic, value);
                return true;
            default:
                return IsTopologyRegister(register); // a topology register the current mode ignores
        }
    }

    /// <summary>
    /// A 64-bit digest of every APIC's routing state (the first 8 bytes of a SHA-256 over each APIC's fields, in vCPU
    /// order): equal topologies give equal digests, so nodes of one VM can check that they start from the same one.
    /// </summary>
    internal ulong Digest()
    {
        const int bytesPerApic = 8;
        const int stackBytes = 1024; // 128 vCPUs hashed from the stack; a larger VM borrows a pooled buffer
        int length = _apics.Length * bytesPerApic;
        byte[]? pooled = length > stackBytes ? ArrayPool<byte>.Shared.Rent(length) : null;
        Span<byte> image = pooled is null ? stackalloc byte[stackBytes] : pooled;
        image = image[..length];
        for (int i = 0; i < _apics.Length; i++)
        {
            ApicState a = _apics[i];
            Span<byte> slot = image.Slice(i * bytesPerApic, bytesPerApic);
            BinaryPrimitives.WriteUInt32LittleEndian(slot, a.InitialId);
            slot[4] = a.XApicId;
            slot[5] = a.LogicalId;
            slot[6] = a.DfrModel;
            slot[7] = (byte)((a.SoftwareEnabled ? 1 : 0) | (a.GloballyEnabled ? 2 : 0) | (a.X2Apic ? 4 : 0));
        }

        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(image, hash);
        if (pooled is not null)
        {
            ArrayPool<byte>.Shared.Return(pooled);
        }

        return BinaryPrimitives.ReadUInt64LittleEndian(hash);
    }

    /// <summary>Builds the immutable routing snapshot of the current state.</summary>
    internal DestinationMap BuildMap() => new(_apics);

    /// <summary>
    /// IA32_APIC_BASE (SDM Vol. 3A "x2APIC State Transitions"): the invalid transitions (x2APIC without global enable,
    /// disabled straight to x2APIC, x2APIC back to xAPIC) fault and change nothing; a global disable also leaves x2APIC
    /// mode and clears the software enable (QEMU <c>apic_set_base</c>); IDs and DFR keep their values. A write that sets
    /// x2APIC mode also overwrites the 8-bit xAPIC logical ID with the low byte of the derived x2APIC LDR, as QEMU's
    /// <c>apic_set_base</c> does: invisible in x2APIC mode, it is what an APIC that later returns to xAPIC mode (global
    /// disable, then enable) matches logical addresses with until the guest writes its LDR.
    /// </summary>
    private static ApicState WithApicBase(ApicState apic, ulong value)
    {
        bool enable = (value & ApicBaseGlobalEnable) != 0;
        bool x2 = (value & ApicBaseX2Apic) != 0;
        bool invalid = (x2 && !enable)
                       || (x2 && !apic.GloballyEnabled)
                       || (enable && !x2 && apic.X2Apic);
        if (invalid)
        {
            return apic;
        }

        if (!enable)
        {
            return apic with { GloballyEnabled = false, X2Apic = false, SoftwareEnabled = false };
        }

        return x2
            ? apic with { GloballyEnabled = true, X2Apic = true, LogicalId = (byte)apic.X2ApicLdr }
            : apic with { GloballyEnabled = true, X2Apic = false };
    }
}
