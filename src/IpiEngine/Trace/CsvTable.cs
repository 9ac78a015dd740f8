using System.Globalization;

namespace IpiEngine.Trace;

/// <summary>
/// Reads one of the trace's comma-separated files line by line: checks the header and the column count, and parses
/// fields with errors that name the file and line. Blank lines are skipped.
/// </summary>
internal sealed class CsvTable : IDisposable
{
    private readonly TextReader _reader;
    private readonly string _file;
    private readonly int _columns;
    private string[] _fields = [];

    private CsvTable(TextReader reader, string file, int columns)
    {
        _reader = reader;
        _file = file;
        _columns = columns;
    }

    /// <summary>The line number of the current row (1-based, the header is line 1).</summary>
    public int Line { get; private set; }

    /// <summary>Opens <paramref name="file"/> and checks its header against <paramref name="header"/>.</summary>
    public static CsvTable Open(string file, string header)
    {
        StreamReader reader;
        try
        {
            reader = new StreamReader(file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new TraceFormatException(file, 0, $"cannot open the file ({e.Message})", e);
        }

        return Open(reader, file, header);
    }

    /// <summary>Reads from <paramref name="reader"/> (named <paramref name="file"/> in errors) and checks the header.</summary>
    public static CsvTable Open(TextReader reader, string file, string header)
    {
        var table = new CsvTable(reader, file, header.Split(',').Length);
        string? first = table.ReadLine();
        if (first is null)
        {
            table.Dispose();
            throw new TraceFormatException(file, 1, $"the file is empty; expected the header '{header}'");
        }

        if (!string.Equals(first.Trim(), header, StringComparison.Ordinal))
        {
            table.Dispose();
            throw new TraceFormatException(file, 1, $"wrong header '{first.Trim()}'; expected '{header}'");
        }

        return table;
    }

    /// <summary>Moves to the next non-blank row; false at the end of the file.</summary>
    public bool Next()
    {
        string? line;
        do
        {
            line = ReadLine();
            if (line is null)
            {
                return false;
            }
        }
        while (line.Trim().Length == 0);

        _fields = line.TrimEnd('\r').Split(',');
        if (_fields.Length != _columns)
        {
            throw Error($"expected {_columns} columns, found {_fields.Length}");
        }

        return true;
    }

    /// <summary>The raw text of a field of the current row.</summary>
    public string Field(int column) => _fields[column].Trim();

    /// <summary>A non-negative decimal field.</summary>
    public long Decimal(int column, string name)
    {
        string text = Field(column);
        if (!long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long value))
        {
            throw Error($"bad {name} '{text}': expected a non-negative decimal number");
        }

        return value;
    }

    /// <summary>A hexadecimal field written with a <c>0x</c> prefix, at most <paramref name="bits"/> bits wide.</summary>
    public ulong Hex(int column, string name, int bits)
    {
        string text = Field(column);
        if (text.Length < 3 || text[0] != '0' || (text[1] != 'x' && text[1] != 'X')
            || !ulong.TryParse(text.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong value))
        {
            throw Error($"bad hex {name} '{text}': expected 0x followed by hexadecimal digits");
        }

        if (bits < 64 && value >> bits != 0)
        {
            throw Error($"{name} {text} does not fit {bits} bits");
        }

        return value;
    }

    /// <summary>An error at the current line.</summary>
    public TraceFormatException Error(string problem) => new(_file, Line, problem);

    /// <inheritdoc/>
    public void Dispose() => _reader.Dispose();

    private string? ReadLine()
    {
        try
        {
            string? line = _reader.ReadLine();
            if (line is not null)
            {
                Line++;
            }

            return line;
        }
        catch (IOException e)
        {
            throw new TraceFormatException(_file, Line + 1, $"cannot read the file ({e.Message})", e);
        }
    }
}
