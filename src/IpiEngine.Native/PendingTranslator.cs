using IpiEngine.Delivery;

namespace IpiEngine.Native;

/// <summary>Writes the engine's <see cref="PendingInterrupts"/> as an <c>ipi_pending_t</c>.</summary>
internal static unsafe class PendingTranslator
{
    public static void Write(in PendingInterrupts taken, NativePending* pending)
    {
        for (int word = 0; word < 4; word++)
            pending->Vectors[word] = taken.VectorWord(word);
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
