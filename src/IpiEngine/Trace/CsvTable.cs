using System.Globalization;

namespace IpiEngine.Trace;

/// <summary>
/// Reads one of the trace's comma-separated files line by line: checks the header and the column count, and parses
/// fields with errors that name the file and line. Blank lines are skipped. A line longer than
/// <see cref="MaxLineLength"/> is refused as soon as that many characters are read, so a corrupt file of one huge line
/// fails at once instead of exhausting memory.
/// </summary>
internal sealed class CsvTable : IDisposable
{
    /// <summary>
    /// The longest line accepted, in characters: a <c>deliveries.csv</c> row naming all 65,536 vCPUs as destinations
    /// takes about 390,000, every other row well under 100.
    /// </summary>
    public const int MaxLineLength = 1 << 20;

    /// <summary>How much of a bad header an error quotes.</summary>
    private const int QuotedHeaderLength = 80;

    private readonly TextReader _reader;
    private readonly string _file;
    private readonly int _columns;
    private readonly char[] _buffer = new char[16 * 1024];
    private readonly System.Text.StringBuilder _line = new();
    private int _buffered;
    private int _position;
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
        if (Directory.Exists(file))
        {
            throw new TraceFormatException(file, 0, "is a directory, not a file");
        }

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
            throw new TraceFormatException(file, 1, $"wrong header {Quote(first.Trim())}; expected '{header}'");
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

    /// <summary>
    /// The text of <paramref name="text"/> fit for one line of a terminal: in quotes, control and other non-printable
    /// characters written as <c>\uXXXX</c>, cut after <see cref="QuotedHeaderLength"/> characters.
    /// </summary>
    internal static string Quote(string text)
    {
        var quoted = new System.Text.StringBuilder("'");
        foreach (char c in text.Length > QuotedHeaderLength ? text.AsSpan(0, QuotedHeaderLength) : text.AsSpan())
        {
            if (c is >= ' ' and <= '~')
            {
                quoted.Append(c);
            }
            else
            {
                quoted.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}");
            }
        }

        quoted.Append('\'');
        return text.Length > QuotedHeaderLength ? quoted.Append(CultureInfo.InvariantCulture, $" (first {QuotedHeaderLength} of {text.Length} characters)").ToString() : quoted.ToString();
    }

    /// <summary>Reads one line (without its end: \n, \r\n or \r) of at most <see cref="MaxLineLength"/> characters; null at the end.</summary>
    private string? ReadLine()
    {
        _line.Clear();
        bool any = false;
        while (true)
        {
            if (_position == _buffered && !Fill())
            {
                return any ? Ended() : null;
            }

            any = true;
            var rest = _buffer.AsSpan(_position, _buffered - _position);
            int end = rest.IndexOfAny('\n', '\r');
            int take = end < 0 ? rest.Length : end;
            if (_line.Length + take > MaxLineLength)
            {
                throw new TraceFormatException(_file, Line + 1, $"line longer than {MaxLineLength:N0} characters: not a trace row (is this the right file?)");
            }

            _line.Append(rest[..take]);
            _position += take;
            if (end < 0)
            {
                continue;
            }

            bool carriageReturn = _buffer[_position] == '\r';
            _position++;
            if (carriageReturn && (_position < _buffered || Fill()) && _buffer[_position] == '\n')
            {
                _position++;
            }

            return Ended();
        }
    }

    private string Ended()
    {
        Line++;
        return _line.ToString();
    }

    private bool Fill()
    {
        try
        {
            _buffered = _reader.Read(_buffer, 0, _buffer.Length);
            _position = 0;
            return _buffered > 0;
        }
        catch (IOException e)
        {
            throw new TraceFormatException(_file, Line + 1, $"cannot read the file ({e.Message})", e);
        }
    }
}
