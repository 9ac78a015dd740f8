namespace IpiEngine.Transport;

/// <summary>
/// A topology write was not applied on every node of the VM in time (or the node stopped). The message says which
/// write, which nodes were not confirmed, and whether the write may still be applied once the links return.
/// </summary>
public sealed class TopologyWriteException : Exception
{
    /// <summary>Creates the exception.</summary>
    public TopologyWriteException(TopologyWriteFailure failure, string message) : base(message) => Failure = failure;

    /// <summary>Creates the exception (kept for the standard constructor set).</summary>
    public TopologyWriteException() : this(TopologyWriteFailure.NotOrdered, "topology write failed") { }

    /// <summary>Creates the exception (kept for the standard constructor set).</summary>
    public TopologyWriteException(string message) : this(TopologyWriteFailure.NotOrdered, message) { }

    /// <summary>Creates the exception (kept for the standard constructor set).</summary>
    public TopologyWriteException(string message, Exception innerException) : base(message, innerException) { }

    /// <summary>Why the write failed.</summary>
    public TopologyWriteFailure Failure { get; }
}
