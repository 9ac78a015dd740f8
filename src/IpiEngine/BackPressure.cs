namespace IpiEngine;

/// <summary>What <see cref="Engine.Post"/> does when the source vCPU's ring is full.</summary>
public enum BackPressure
{
    /// <summary>Wait by the wait strategy until there is room: nothing is ever lost.</summary>
    Wait,
    /// <summary>Drop the record and count it as rejected (<see cref="Apic.RejectReason.Dropped"/>).</summary>
    Drop,
}
