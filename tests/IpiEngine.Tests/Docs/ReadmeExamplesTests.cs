using System.Text.RegularExpressions;
using Xunit;

namespace IpiEngine.Tests.Docs;

/// <summary>
/// The README is what a newcomer copies from, so what it shows must be what CI compiles and runs: its C# example is
/// the start of <c>examples/nuget-consumer/Program.cs</c> (built against the packed IpiEngine by .ci/steps/40-package.sh),
/// its C example is <c>examples/c-sim/readme_example.c</c> (built warning-free and run by .ci/steps/30-native.sh), its
/// set-up commands are the ones CI runs, its verbs table is the ipi command's, and every file it links to exists.
/// </summary>
public sealed partial class ReadmeExamplesTests
{
    [Fact]
    public void The_csharp_example_is_the_code_the_package_consumer_builds_and_runs()
    {
        string example = SingleBlock("csharp");
        string program = Normalize(File.ReadAllText(RepoFiles.Path("examples", "nuget-consumer", "Program.cs")));

        Assert.Contains(example, program, StringComparison.Ordinal);
        Assert.StartsWith("using IpiEngine;", example, StringComparison.Ordinal);
    }

    [Fact]
    public void The_c_example_is_the_program_the_native_step_builds_and_runs()
    {
        string example = SingleBlock("c");
        string source = Normalize(File.ReadAllText(RepoFiles.Path("examples", "c-sim", "readme_example.c")));

        // The file may open with a comment the README leaves out; from the #include on, the two are the same.
        Assert.Equal(source[source.IndexOf("#include", StringComparison.Ordinal)..], example);
    }

    [Theory]
    [InlineData("dotnet run -c Release --project src/IpiEngine.Cli -- run")]
    [InlineData("dotnet test --solution Engine.sln -c Release")]
    public void The_set_up_commands_are_the_ones_ci_runs(string command)
    {
        string readme = Readme();
        Assert.Contains("\n" + command + " ", readme, StringComparison.Ordinal);
        if (command.StartsWith("dotnet test", StringComparison.Ordinal))
        {
            Assert.Contains(command, File.ReadAllText(RepoFiles.Path(".ci", "run")), StringComparison.Ordinal);
        }
    }

    [Fact]
    public void The_verbs_table_names_every_verb_and_perf_subcommand_of_the_ipi_command()
    {
        string[] rows = Readme().Split('\n').Where(line => line.StartsWith("| `ipi ", StringComparison.Ordinal)).ToArray();
        System.CommandLine.RootCommand root = IpiEngine.Cli.Program.BuildRoot();

        Assert.Equal(root.Subcommands.Select(c => c.Name).Order(StringComparer.Ordinal),
            rows.Select(row => row.Split('`')[1]["ipi ".Length..]).Order(StringComparer.Ordinal));
        string perfRow = rows.Single(row => row.StartsWith("| `ipi perf` |", StringComparison.Ordinal));
        // Hidden subcommands (the benchmark worker that compare-commits starts) are not for people.
        Assert.All(root.Subcommands.Single(c => c.Name == "perf").Subcommands.Where(c => !c.Hidden),
            sub => Assert.Contains($"`{sub.Name}`", perfRow, StringComparison.Ordinal));
    }

    [Fact]
    public void Every_link_of_the_readme_names_a_file_of_the_repository()
    {
        string[] targets = LinkTarget().Matches(Readme()).Select(m => m.Groups["target"].Value)
            .Where(t => !t.Contains("://", StringComparison.Ordinal)).ToArray();

        Assert.NotEmpty(targets);
        Assert.All(targets, target => Assert.True(File.Exists(RepoFiles.Path(target.Split('#')[0].Split('/'))), $"README links to {target}, which does not exist"));
    }

    [Fact]
    public void Every_relative_link_of_the_docs_names_a_file_of_the_repository()
    {
        var docs = Directory.GetFiles(RepoFiles.Path("docs"), "*.md");
        Assert.Contains(docs, d => d.EndsWith("performance-log.md", StringComparison.Ordinal));
        int checkedLinks = 0;
        foreach (string doc in docs)
        {
            string folder = Path.GetDirectoryName(doc)!;
            var targets = LinkTarget().Matches(File.ReadAllText(doc)).Select(m => m.Groups["target"].Value)
                .Where(t => !t.Contains("://", StringComparison.Ordinal) && !t.StartsWith('#') && !t.StartsWith("mailto:", StringComparison.Ordinal)).ToList();
            Assert.All(targets, target => Assert.True(Path.Exists(Path.Combine(folder, target.Split('#')[0])), $"{Path.GetFileName(doc)} links to {target}, which does not exist"));
            checkedLinks += targets.Count;
        }

        Assert.True(checkedLinks >= 4, $"only {checkedLinks} relative links found in docs/");
    }

    [Fact]
    public void The_moved_sections_live_in_docs_and_the_readme_links_them()
    {
        string readme = Readme();
        foreach (string doc in new[] { "docs/architecture.md", "docs/performance.md", "docs/embedding.md", "docs/packaging.md" })
        {
            Assert.Contains($"]({doc})", readme, StringComparison.Ordinal);
        }

        // Facts moved, not dropped: a sample of each moved section, word for word.
        Assert.Contains("doorbell bitmap of non-empty rings", File.ReadAllText(RepoFiles.Path("docs", "architecture.md")), StringComparison.Ordinal);
        Assert.Contains("**engine, fused** (PostBatch of 64)", File.ReadAllText(RepoFiles.Path("docs", "performance.md")), StringComparison.Ordinal);
        Assert.Contains("](docs/performance-log.md)", readme, StringComparison.Ordinal);
        Assert.Contains("## Measured on 2026-12-02 (after issues 13, 14, 17, 20 landed in part)", File.ReadAllText(RepoFiles.Path("docs", "performance-log.md")), StringComparison.Ordinal);
        Assert.Contains("## Appendix: the goals table's long form", File.ReadAllText(RepoFiles.Path("docs", "performance-log.md")), StringComparison.Ordinal);
        Assert.Contains("`ipi node --config node.json` runs one node", File.ReadAllText(RepoFiles.Path("docs", "embedding.md")), StringComparison.Ordinal);
    }

    private static string Readme() => Normalize(File.ReadAllText(RepoFiles.Path("README.md")));

    private static string Normalize(string text) => text.Replace("\r\n", "\n", StringComparison.Ordinal);

    /// <summary>The body of the README's one fenced block in <paramref name="language"/>.</summary>
    private static string SingleBlock(string language)
    {
        MatchCollection blocks = Regex.Matches(Readme(), $"^```{Regex.Escape(language)}\\n(?<body>.*?)^```$", RegexOptions.Multiline | RegexOptions.Singleline);
        Assert.Single(blocks);
        return blocks[0].Groups["body"].Value;
    }

    [GeneratedRegex(@"\]\((?<target>[^)\s]+)\)")]
    private static partial Regex LinkTarget();
}
