namespace IpiEngine.Workload;

/// <summary>A generated workload: the bring-up sent before the run, then one looping script per vCPU.</summary>
internal sealed class WorkloadScript
{
    /// <summary>Creates a workload.</summary>
    public WorkloadScript(VcpuAddressBook addresses, WorkloadMix mix, int seed, ExitRecord[] bringUp, int bringUpIpis, VcpuScript[] vcpus)
    {
        Addresses = addresses;
        Mix = mix;
        Seed = seed;
        BringUp = bringUp;
        BringUpIpis = bringUpIpis;
        Vcpus = vcpus;
    }

    /// <summary>How the guest addresses its vCPUs.</summary>
    public VcpuAddressBook Addresses { get; }

    /// <summary>The mix the scripts were drawn from.</summary>
    public WorkloadMix Mix { get; }

    /// <summary>The seed: the same seed, topology and mix give the same records.</summary>
    public int Seed { get; }

    /// <summary>vCPU 0 bringing up the others: INIT assert, INIT de-assert, two SIPIs each (all from vCPU 0).</summary>
    public ExitRecord[] BringUp { get; }

    /// <summary>Firing writes in <see cref="BringUp"/>.</summary>
    public int BringUpIpis { get; }

    /// <summary>One script per vCPU, indexed by vCPU.</summary>
    public VcpuScript[] Vcpus { get; }

    /// <summary>The device threads' scripts and IOAPIC set-up, when the mix has device kinds (<c>msi</c>, <c>ioapic</c>).</summary>
    public DeviceWorkload? Devices { get; init; }
}
