namespace IpiEngine.Native;

/// <summary>Writes the engine's <see cref="PendingInterrupts"/> as an <c>ipi_pending_t</c>.</summary>
internal static unsafe class PendingTranslator
{
    public static void Write(in PendingInterrupts taken, NativePending* pending)
    {
        pending->Vectors[0] = taken.V0;
        pending->Vectors[1] = taken.V1;
        pending->Vectors[2] = taken.V2;
        pending->Vectors[3] = taken.V3;
        uint flags = 0;
        if (taken.Nmi)
            flags |= NativePending.Nmi;
        if (taken.Smi)
            flags |= NativePending.Smi;
        if (taken.Init)
            flags |= NativePending.Init;
        if (taken.Sipi)
            flags |= NativePending.Sipi;
        pending->Flags = flags;
        pending->SipiVector = taken.Sipi ? taken.SipiVector : 0u;
    }
}
