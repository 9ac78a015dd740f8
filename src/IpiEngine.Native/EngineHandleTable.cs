namespace IpiEngine.Native;

/// <summary>
/// The engines alive in this process, addressed by opaque 64-bit handles: the low 32 bits are the slot index plus
/// one (so 0 is never a handle), the high 32 bits the slot's generation. A destroyed engine's slot gets a new
/// generation when it is reused, so an old handle (destroyed twice, kept after destroy) misses instead of reaching
/// the wrong engine or freed memory.
/// </summary>
internal static class EngineHandleTable
{
    private static readonly NativeEngine?[] s_slots = new NativeEngine?[AbiValues.MaxEngines];
    private static readonly uint[] s_generations = new uint[AbiValues.MaxEngines];
    private static readonly Lock s_gate = new();

    /// <summary>The live engine behind <paramref name="handle"/>, or null (hot path: no lock, no allocation).</summary>
    public static NativeEngine? Find(ulong handle)
    {
        uint index = (uint)handle - 1;
        if (index >= (uint)s_slots.Length)
            return null;
        // Acquire: pairs with the release in Add so the engine is seen fully built.
        NativeEngine? engine = Volatile.Read(ref s_slots[index]);
        return engine is not null && engine.Handle == handle ? engine : null;
    }

    /// <summary>Gives <paramref name="engine"/> a free slot and its handle; false when all slots are taken.</summary>
    public static bool TryAdd(NativeEngine engine)
    {
        lock (s_gate)
        {
            for (int i = 0; i < s_slots.Length; i++)
            {
                if (s_slots[i] is not null)
                    continue;
                uint generation = unchecked(s_generations[i] + 1);
                if (generation == 0)
                    generation = 1;
                s_generations[i] = generation;
                engine.Handle = ((ulong)generation << 32) | (uint)(i + 1);
                // Release: publish the engine with its handle to the lock-free readers in Find.
                Volatile.Write(ref s_slots[i], engine);
                return true;
            }
        }
        return false;
    }

    /// <summary>Removes and returns the engine behind <paramref name="handle"/>; null if it is not live (e.g. destroyed twice).</summary>
    public static NativeEngine? Remove(ulong handle)
    {
        lock (s_gate)
        {
            NativeEngine? engine = Find(handle);
            if (engine is null)
                return null;
            Volatile.Write(ref s_slots[(uint)handle - 1], null);
            return engine;
        }
    }
}
