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

    /// <summary>
    /// How many records of the posting call were posted before the failed write: in <see cref="Engine.PostBatch"/>, the
    /// write's index in the records (those before it were posted, those after it were not); 0 for a call that posts one
    /// record (<see cref="Engine.Post"/>, <see cref="Engine.TryPost"/>, <see cref="Engine.ApplyTopologyWrite"/>).
    /// </summary>
    public int RecordsPosted { get; internal set; }
}
