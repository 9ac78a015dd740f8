namespace IpiEngine.Rings;

/// <summary>
/// The one place where false-sharing padding is decided. x86 lines are 64 bytes, but the adjacent-line prefetcher pulls
/// lines in pairs, so data written by different threads is kept <see cref="PaddedSize"/> (two lines) apart.
/// </summary>
internal static class CacheLine
{
    /// <summary>Bytes in one cache line.</summary>
    public const int Size = 64;

    /// <summary>The distance kept between fields written by different threads (two lines: adjacent-line prefetch).</summary>
    public const int PaddedSize = 128;
}
