using System.Xml.Linq;
using Xunit;

namespace IpiEngine.Tests.Docs;

/// <summary>
/// One version and one license for everything shipped (docs/packaging.md): the packages, the native tarball's
/// pkg-config file and the sample an embedder copies must not drift apart.
/// </summary>
public sealed class PackagingMetadataTests
{
    [Fact]
    public void The_package_license_expression_is_the_license_file()
    {
        string firstLine = File.ReadLines(RepoFiles.Path("LICENSE")).First();

        Assert.Equal("MIT License", firstLine);
        Assert.Equal("MIT", BuildProperty("PackageLicenseExpression"));
    }

    [Fact]
    public void The_sample_consumer_asks_for_the_version_the_repository_packs()
    {
        string version = BuildProperty("VersionPrefix");
        XDocument sample = XDocument.Load(RepoFiles.Path("examples", "nuget-consumer", "NuGetConsumer.csproj"));

        Assert.Matches(@"^\d+\.\d+\.\d+$", version);
        Assert.Equal(version, sample.Descendants("IpiEngineVersion").Single().Value);
        Assert.Equal("$(IpiEngineVersion)", sample.Descendants("PackageReference").Single(p => (string?)p.Attribute("Include") == "IpiEngine").Attribute("Version")?.Value);
    }

    [Fact]
    public void The_pkg_config_file_takes_the_version_from_the_build()
    {
        string[] lines = File.ReadAllLines(RepoFiles.Path("src", "IpiEngine.Native", "ipi_engine.pc.in"));

        Assert.Contains("Version: @VERSION@", lines);
        Assert.DoesNotContain(lines, line => line.StartsWith("Version:", StringComparison.Ordinal) && line != "Version: @VERSION@");
    }

    [Fact]
    public void The_library_and_the_tool_are_packable_and_the_tool_is_named_ipi()
    {
        XDocument library = XDocument.Load(RepoFiles.Path("src", "IpiEngine", "IpiEngine.csproj"));
        XDocument tool = XDocument.Load(RepoFiles.Path("src", "IpiEngine.Cli", "IpiEngine.Cli.csproj"));

        Assert.Equal("true", library.Descendants("IsPackable").Single().Value);
        Assert.Equal("README.md", library.Descendants("PackageReadmeFile").Single().Value);
        Assert.Equal("true", tool.Descendants("PackAsTool").Single().Value);
        Assert.Equal("ipi", tool.Descendants("ToolCommandName").Single().Value);
    }

    [Fact]
    public void A_new_abi_minor_comes_with_a_new_package_version()
    {
        // The C ABI each package version carries (docs/packaging.md, "One version"). Raising IPI_ABI_VERSION_MINOR fails
        // here until VersionPrefix moves too and the pair is added: a package name then says which ABI is inside.
        var abiMinorOf = new Dictionary<string, long> { ["0.2.0"] = 10, ["0.3.0"] = 11, ["0.4.0"] = 12, ["0.5.0"] = 13 };
        string version = BuildProperty("VersionPrefix");
        long headerMinor = IpiEngine.Tests.Native.NativeHeader.Defines()["IPI_ABI_VERSION_MINOR"];

        Assert.True(abiMinorOf.TryGetValue(version, out long minor), $"VersionPrefix {version} has no ABI recorded here");
        Assert.Equal(minor, headerMinor);
    }

    private static string BuildProperty(string name)
        => XDocument.Load(RepoFiles.Path("Directory.Build.props")).Descendants(name).Single().Value;
}
