namespace IpiEngine.Native;

/// <summary>The status codes of the C ABI (<c>IPI_OK</c>, <c>IPI_E_*</c> in <c>include/ipi_engine.h</c>).</summary>
/// <remarks>Plain <see langword="int"/> constants, not an enum: the ABI carries fixed-width integers only.</remarks>
internal static class Status
{
    public const int Ok = 0;
    public const int NullPointer = -1;
    public const int StructSize = -2;
    public const int BadConfig = -3;
    public const int BadHandle = -4;
    public const int VcpuRange = -5;
    public const int BadRegister = -6;
    public const int Stopped = -7;
    public const int State = -8;
    public const int WouldBlock = -9;
    public const int Limit = -10;
    public const int NoMemory = -11;
    public const int Internal = -12;
    public const int Faulted = -13;
    public const int Network = -14;
    public const int NotReplicated = -15;

    /// <summary>The lowest defined code (the codes are dense from 0 down to it).</summary>
    public const int Lowest = NotReplicated;

    /// <summary>
    /// The status for an exception caught at the boundary: it must never cross into the host, where it would abort
    /// the whole simulator. Argument errors are the caller's (a bad config or value); anything else is ours.
    /// </summary>
    public static int FromException(Exception exception) => exception switch
    {
        OutOfMemoryException => NoMemory,
        EngineStoppedException => Stopped,
        EngineFaultedException => Faulted,
        IpiEngine.Transport.TopologyWriteException => NotReplicated,
        System.Net.Sockets.SocketException => Network,
        ObjectDisposedException => BadHandle,
        ArgumentException => BadConfig,
        InvalidOperationException => State,
        _ => Internal,
    };
}
