using IpiEngine.Cli;
using Xunit;

namespace IpiEngine.Tests.Cli;

public class ParseErrorTests
{
    [Theory]
    [InlineData("replay", "--no-such-option")]
    [InlineData("no-such-verb")]
    public void Parse_errors_exit_2_with_a_message(params string[] args)
    {
        var error = new StringWriter();
        int code = Program.Run(args, error);
        Assert.Equal(Program.BadInput, code);
        Assert.Contains("ipi:", error.ToString(), StringComparison.Ordinal);
    }
}
