using IpiEngine.Apic;

namespace IpiEngine.Workload;

/// <summary>One interrupt a device thread raises: an MSI (address/data) or an IOAPIC pin (edge: a pulse; level: see <see cref="LevelPinHandshake"/>).</summary>
internal readonly record struct DeviceEvent(IpiKind Kind, int Pin, ulong Address, uint Data, ulong Tag);

/// <summary>
/// The device side of a generated workload whose mix has <c>msi</c> or <c>ioapic</c> weights: K device threads, each
/// with its own source ring (<see cref="EngineOptions.DeviceSources"/>) and a seeded script, and the IOAPIC entries
/// vCPU 0 programs at the end of the bring-up.
/// </summary>
/// <remarks>
/// Pins: device d drives the pins p with p mod K = d. Odd pins are level-triggered, even pins edge-triggered; every
/// entry is physical, fixed or lowest priority, to one vCPU (an APIC ID of at most 15 bits and not the broadcast 0xFF,
/// so the entry can name it), vector 0x40 + p for a level pin and 0x60 + p for an edge pin: no other interrupt uses
/// them, so an EOI of a level vector concerns that pin alone. MSIs: vectors 0x80-0xEF, physical to one vCPU (the
/// destination's bits 31:8 in the upper address, KVM's x2APIC API format) or, on a logical topology, to a set of
/// vCPUs of one cluster, fixed, lowest priority (delivery mode 001) or fixed with the redirection hint. Every event is
/// valid and fires exactly one interrupt, so a device's count of events is its count of IPIs.
/// </remarks>
internal sealed class DeviceWorkload
{
    /// <summary>Vector of level pin p: 0x40 + p.</summary>
    public const byte LevelVectorBase = 0x40;

    /// <summary>Vector of edge pin p: 0x60 + p.</summary>
    public const byte EdgeVectorBase = 0x60;

    private const int MsiVectorBase = 0x80;
    private const int MsiVectorCount = 0x70;
    private const ulong LevelBit = 1ul << 15;

    private DeviceWorkload(int vcpuCount, ExitRecord[] entryWrites, DeviceEvent[][] scripts, int[] levelTarget)
    {
        VcpuCount = vcpuCount;
        EntryWrites = entryWrites;
        Scripts = scripts;
        LevelTarget = levelTarget;
    }

    /// <summary>vCPUs of the VM (device d posts as source <c>VcpuCount + d</c>).</summary>
    public int VcpuCount { get; }

    /// <summary>vCPU 0's redirection entry writes (pins in use unmasked), posted at the end of the bring-up.</summary>
    public ExitRecord[] EntryWrites { get; }

    /// <summary>One script per device, each looped by its thread.</summary>
    public DeviceEvent[][] Scripts { get; }

    /// <summary>Per pin: the vCPU a level pin delivers to (and which sends its EOI), or -1 for an edge or unused pin.</summary>
    public int[] LevelTarget { get; }

    /// <summary>Number of device threads.</summary>
    public int DeviceCount => Scripts.Length;

    /// <summary>The vector of a pin's entry.</summary>
    public static byte VectorOf(int pin, bool level) => (byte)((level ? LevelVectorBase : EdgeVectorBase) + pin);

    /// <summary>Whether a pin is level-triggered.</summary>
    public bool IsLevel(int pin) => LevelTarget[pin] >= 0;

    /// <summary>Draws the IOAPIC set-up and <paramref name="devices"/> scripts of <paramref name="eventsPerDevice"/> interrupts each.</summary>
    public static DeviceWorkload Generate(VcpuAddressBook addresses, WorkloadMix mix, int seed, int devices, int eventsPerDevice)
    {
        ArgumentNullException.ThrowIfNull(addresses);
        ArgumentNullException.ThrowIfNull(mix);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(devices);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(devices, IoApic.PinCount);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(eventsPerDevice);
        var targets = new List<int>();
        for (var v = 0; v < addresses.VcpuCount; v++)
        {
            if (addresses.ApicIdOf(v) is var id && id != 0xFF && id <= 0x7FFF)
            {
                targets.Add(v);
            }
        }

#pragma warning disable CA5394 // A reproducible workload wants a seeded PRNG, not a cryptographic one.
        var random = new Random(unchecked(seed * 1_000_003 - 1));
        var entries = new List<ExitRecord>();
        var levelTarget = new int[IoApic.PinCount];
        Array.Fill(levelTarget, -1);
        var pinTarget = new int[IoApic.PinCount];
        for (var pin = 0; pin < IoApic.PinCount && targets.Count > 0; pin++)
        {
            var level = pin % 2 == 1;
            var vcpu = targets[random.Next(targets.Count)];
            pinTarget[pin] = vcpu;
            levelTarget[pin] = level ? vcpu : -1;
            var id = (ulong)addresses.ApicIdOf(vcpu);
            ulong mode = (ulong)random.Next(2); // fixed or lowest priority (one destination either way)
            var entry = VectorOf(pin, level) | mode << 8 | (level ? LevelBit : 0) | (id & 0xFF) << 56 | ((id >> 8) & 0x7F) << 49;
            entries.Add(new ExitRecord(0, ApicRegister.IoApicEntry, entry, (uint)pin, 0, 0));
        }

        var scripts = new DeviceEvent[devices][];
        for (var d = 0; d < devices; d++)
        {
            var deviceRandom = new Random(unchecked(seed * 1_000_003 + addresses.VcpuCount + d));
            var events = new DeviceEvent[eventsPerDevice];
            var pins = targets.Count == 0 ? 0 : (IoApic.PinCount - d + devices - 1) / devices; // pins d, d + K, ...
            for (var i = 0; i < events.Length; i++)
            {
                var tag = 1ul << 62 | (ulong)d << 32 | (uint)i;
                var kind = mix.PickDeviceKind(deviceRandom.Next(mix.DeviceWeight));
                if (kind == IpiKind.IoApic && pins > 0)
                {
                    events[i] = new DeviceEvent(IpiKind.IoApic, d + (devices * deviceRandom.Next(pins)), 0, 0, tag);
                    continue;
                }

                var (address, data) = RandomMsi(addresses, deviceRandom);
                events[i] = new DeviceEvent(IpiKind.Msi, -1, address, data, tag);
            }

            scripts[d] = events;
        }
#pragma warning restore CA5394

        return new DeviceWorkload(addresses.VcpuCount, [.. entries], scripts, levelTarget);
    }

    /// <summary>A valid MSI to the topology's vCPUs (see the remarks).</summary>
    private static (ulong Address, uint Data) RandomMsi(VcpuAddressBook addresses, Random random)
    {
#pragma warning disable CA5394 // Seeded on purpose (see Generate).
        uint vector = (uint)(MsiVectorBase + random.Next(MsiVectorCount));
        var shape = random.Next(4);
        uint destination;
        bool logical = addresses.IsLogical && shape > 0;
        if (logical)
        {
            Span<int> set = stackalloc int[4];
            var size = 1 + random.Next(Math.Min(4, addresses.VcpuCount));
            for (var i = 0; i < size; i++)
            {
                set[i] = random.Next(addresses.VcpuCount);
            }

            set = set[..size];
            set.Sort();
            destination = addresses.LogicalDestination(set);
        }
        else
        {
            destination = addresses.ApicIdOf(random.Next(addresses.VcpuCount));
        }
#pragma warning restore CA5394

        uint mode = shape == 2 ? (uint)DeliveryMode.LowestPriority : (uint)DeliveryMode.Fixed;
        ulong hint = shape == 3 ? 1ul << 3 : 0; // the redirection hint: one destination, picked as lowest priority
        ulong address = 0xFEE0_0000ul | (ulong)(destination & 0xFF) << 12 | hint | (logical ? 1ul << 2 : 0) | (ulong)(destination & 0xFFFF_FF00) << 32;
        return (address, vector | mode << 8);
    }
}
