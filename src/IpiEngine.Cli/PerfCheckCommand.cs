using System.CommandLine;
using IpiEngine.Perf;
using IpiEngine.Perf.Records;

namespace IpiEngine.Cli;

/// <summary>
/// <c>ipi perf check RECORD...</c>: the CI smoke gate. Fails (exit 1) when a benchmark produced no
/// measurements or a <c>ZeroAlloc</c> benchmark allocated; never looks at timings.
/// </summary>
internal static class PerfCheckCommand
{
    /// <summary>The subcommand.</summary>
    public static Command Create()
    {
        var records = new Argument<string[]>("records") { Description = "Record files or folders of records.", Arity = ArgumentArity.ZeroOrMore };
        var command = new Command("check", "Check records from a smoke run: every benchmark ran, ZeroAlloc benchmarks allocated nothing.")
        {
            records,
        };
        command.SetAction(parse => PerfCommand.Guarded(parse, (output, error) =>
        {
            var paths = new List<string>();
            foreach (var spec in parse.GetValue(records) ?? [])
            {
                if (spec.StartsWith('-') && !File.Exists(spec) && !Directory.Exists(spec))
                {
                    // An option check does not have (--base, --results) reaches here as a record path.
                    throw new PerfInputException($"'{spec}' is not an option of ipi perf check, which takes record files or folders of records (see --help).");
                }

                if (Directory.Exists(spec))
                {
                    paths.AddRange(RecordStore.RecordFiles(spec));
                }
                else
                {
                    paths.Add(spec);
                }
            }
            if (paths.Count == 0)
            {
                throw new PerfInputException("No record to check: name record files or a folder that holds some.");
            }
            int problems = 0;
            foreach (var path in paths)
            {
                var record = RecordStore.Load(path);
                foreach (var problem in SmokeCheck.Problems(record))
                {
                    error.WriteLine($"{Path.GetFileName(path)}: {problem}");
                    problems++;
                }
                output.WriteLine($"{Path.GetFileName(path)}: {record.Benchmarks.Count} benchmark(s) checked");
            }
            output.WriteLine(problems == 0 ? "check: every benchmark ran and allocated what it should" : $"check: {problems} problem(s)");
            return problems == 0 ? 0 : 1;
        }));
        return command;
    }
}
