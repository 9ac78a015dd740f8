using System.Globalization;
using System.Reflection;
using System.Text.RegularExpressions;

namespace IpiEngine.Perf.Interleave;

/// <summary>
/// One benchmark case of a suite assembly (a <c>[Benchmark]</c> method with one combination of its
/// class's <c>[Params]</c>), found by reflection on BenchmarkDotNet's attribute names rather than
/// its types, so that the suite of any commit, built against any BenchmarkDotNet version, can be
/// run by this commit's worker (<see cref="BenchmarkWorker"/>).
/// </summary>
internal sealed class BenchmarkCase
{
    private const string Attributes = "BenchmarkDotNet.Attributes.";

    private BenchmarkCase(Type type, MethodInfo method, IReadOnlyList<(MemberInfo Member, object? Value)> parameters, int operationsPerInvoke, IReadOnlyList<string> categories)
    {
        Type = type;
        Method = method;
        Parameters = parameters;
        OperationsPerInvoke = operationsPerInvoke;
        Categories = categories;
        FilterName = $"{type.FullName}.{method.Name}";
        Id = parameters.Count == 0
            ? FilterName
            : $"{FilterName}({string.Join(", ", parameters.Select(p => $"{p.Member.Name}: {Display(p.Value)}"))})";
        GlobalSetups = Hooks(type, "GlobalSetupAttribute", method.Name);
        GlobalCleanups = Hooks(type, "GlobalCleanupAttribute", method.Name);
        IterationSetups = Hooks(type, "IterationSetupAttribute", method.Name);
        IterationCleanups = Hooks(type, "IterationCleanupAttribute", method.Name);
    }

    /// <summary>BenchmarkDotNet's full name: namespace, type, method and parameters, e.g. <c>N.T.M(Case: X)</c>; the key across records.</summary>
    public string Id { get; }

    /// <summary>Namespace, type and method: what a <c>--filter</c> glob is matched against, besides <see cref="Id"/>.</summary>
    public string FilterName { get; }

    /// <summary>The class's and the method's <c>[BenchmarkCategory]</c> values.</summary>
    public IReadOnlyList<string> Categories { get; }

    /// <summary>Operations one call of the method performs (times are per operation).</summary>
    public int OperationsPerInvoke { get; }

    internal Type Type { get; }
    internal MethodInfo Method { get; }
    internal IReadOnlyList<(MemberInfo Member, object? Value)> Parameters { get; }
    internal IReadOnlyList<MethodInfo> GlobalSetups { get; }
    internal IReadOnlyList<MethodInfo> GlobalCleanups { get; }
    internal IReadOnlyList<MethodInfo> IterationSetups { get; }
    internal IReadOnlyList<MethodInfo> IterationCleanups { get; }

    /// <summary>
    /// Every case of <paramref name="assembly"/> whose <see cref="FilterName"/> or <see cref="Id"/>
    /// matches one of <paramref name="filters"/> (globs with <c>*</c> and <c>?</c>, ignoring case,
    /// as BenchmarkDotNet's <c>--filter</c>; none: every case), in the assembly's order.
    /// </summary>
    /// <exception cref="PerfInputException">A matched class uses a parameter form the worker does not run.</exception>
    public static IReadOnlyList<BenchmarkCase> Discover(Assembly assembly, IReadOnlyList<string> filters)
    {
        ArgumentNullException.ThrowIfNull(assembly);
        ArgumentNullException.ThrowIfNull(filters);
        var patterns = filters.Select(f => new Regex("^" + Regex.Escape(f).Replace("\\*", ".*", StringComparison.Ordinal).Replace("\\?", ".", StringComparison.Ordinal) + "$",
            RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)).ToList();
        var cases = new List<BenchmarkCase>();
        foreach (var type in LoadableTypes(assembly).Where(t => t is { IsClass: true, IsAbstract: false, IsPublic: true, IsGenericTypeDefinition: false }))
        {
            var methods = type.GetMethods(BindingFlags.Public | BindingFlags.Instance)
                .Where(m => Attribute(m, "BenchmarkAttribute") is not null)
                .OrderBy(m => m.MetadataToken)
                .ToList();
            if (methods.Count == 0)
            {
                continue;
            }
            var classCategories = CategoriesOf(type);
            foreach (var method in methods)
            {
                var benchmark = Attribute(method, "BenchmarkAttribute")!;
                int perInvoke = benchmark.NamedArguments.Where(a => a.MemberName == "OperationsPerInvoke").Select(a => (int)a.TypedValue.Value!).FirstOrDefault(1);
                var categories = classCategories.Concat(CategoriesOf(method)).Distinct(StringComparer.Ordinal).ToList();
                foreach (var parameters in ParameterCombinations(type))
                {
                    var candidate = new BenchmarkCase(type, method, parameters, perInvoke, categories);
                    if (patterns.Count == 0 || patterns.Exists(p => p.IsMatch(candidate.FilterName) || p.IsMatch(candidate.Id)))
                    {
                        if (method.GetParameters().Length != 0 || Attribute(method, "ArgumentsAttribute") is not null || Attribute(method, "ArgumentsSourceAttribute") is not null)
                        {
                            throw new PerfInputException($"{candidate.FilterName} takes [Arguments], which the interleaved runner does not run; use --mode launches for it.");
                        }
                        cases.Add(candidate);
                    }
                }
            }
        }
        return cases;
    }

    /// <summary>The value as BenchmarkDotNet shows a parameter: enum names, invariant numbers, <c>True</c>/<c>False</c>.</summary>
    internal static string Display(object? value) => value switch
    {
        null => "null",
        IFormattable formattable => formattable.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    private static IEnumerable<Type> LoadableTypes(Assembly assembly)
    {
        try
        {
            return assembly.GetTypes();
        }
        catch (ReflectionTypeLoadException e)
        {
            // A type whose dependencies are missing cannot be a benchmark the suite ran either.
            return e.Types.Where(t => t is not null)!;
        }
    }

    private static CustomAttributeData? Attribute(MemberInfo member, string name) =>
        member.GetCustomAttributesData().FirstOrDefault(a => a.AttributeType.FullName == Attributes + name);

    private static IEnumerable<string> CategoriesOf(MemberInfo member)
    {
        for (var current = member; current is not null; current = (current as System.Type)?.BaseType)
        {
            foreach (var attribute in current.GetCustomAttributesData().Where(a => a.AttributeType.FullName == Attributes + "BenchmarkCategoryAttribute"))
            {
                foreach (var value in Values(attribute.ConstructorArguments))
                {
                    if (value is string category)
                    {
                        yield return category;
                    }
                }
            }
            if (member is not System.Type)
            {
                yield break;
            }
        }
    }

    /// <summary>Every combination of the class's <c>[Params]</c> members, in declaration order, the last varying fastest.</summary>
    private static List<List<(MemberInfo Member, object? Value)>> ParameterCombinations(Type type)
    {
        var members = type.GetMembers(BindingFlags.Public | BindingFlags.Instance)
            .Where(m => m is PropertyInfo or FieldInfo)
            .OrderBy(m => DeclarationOrder(type, m))
            .ToList();
        var axes = new List<(MemberInfo Member, object?[] Values)>();
        foreach (var member in members)
        {
            if (Attribute(member, "ParamsSourceAttribute") is not null || Attribute(member, "ParamsAllValuesAttribute") is not null)
            {
                throw new PerfInputException($"{type.FullName}.{member.Name} uses [ParamsSource] or [ParamsAllValues], which the interleaved runner does not run; use --mode launches for it.");
            }
            if (Attribute(member, "ParamsAttribute") is { } attribute)
            {
                var memberType = member is PropertyInfo p ? p.PropertyType : ((FieldInfo)member).FieldType;
                axes.Add((member, Values(attribute.ConstructorArguments).Select(v => Convert(v, memberType)).ToArray()));
            }
        }
        var combinations = new List<List<(MemberInfo, object?)>> { new() };
        foreach (var (member, values) in axes)
        {
            combinations = combinations.SelectMany(c => values.Select(v => new List<(MemberInfo, object?)>(c) { (member, v) })).ToList();
        }
        return combinations;
    }

    // Source order across fields and auto-properties: an auto-property's backing field sits among the fields in declaration order.
    private static long DeclarationOrder(System.Type type, MemberInfo member)
    {
        var field = member as FieldInfo ?? type.GetField($"<{member.Name}>k__BackingField", BindingFlags.NonPublic | BindingFlags.Instance);
        return field is not null ? field.MetadataToken : (1L << 32) + member.MetadataToken;
    }

    // [Params(...)] and [BenchmarkCategory(...)] take params arrays: one constructor argument holding the values.
    private static IEnumerable<object?> Values(IList<CustomAttributeTypedArgument> arguments)
    {
        foreach (var argument in arguments)
        {
            if (argument.Value is IReadOnlyCollection<CustomAttributeTypedArgument> array)
            {
                foreach (var element in array)
                {
                    yield return element.Value;
                }
            }
            else
            {
                yield return argument.Value;
            }
        }
    }

    // Attribute data gives enums as their underlying integers.
    private static object? Convert(object? value, Type target) =>
        value is not null && target.IsEnum ? Enum.ToObject(target, value) : value;

    private static List<MethodInfo> Hooks(Type type, string attributeName, string benchmark) =>
        type.GetMethods(BindingFlags.Public | BindingFlags.Instance)
            .Where(m => Attribute(m, attributeName) is { } a && (Targets(a) is not { } targets || targets.Contains(benchmark)))
            .OrderBy(m => m.MetadataToken)
            .ToList();

    // Null (no Target or Targets): the hook serves every benchmark of the class.
    private static HashSet<string>? Targets(CustomAttributeData hook)
    {
        var named = hook.NamedArguments.Where(a => a.MemberName is "Target" or "Targets").ToList();
        if (named.Count == 0)
        {
            return null;
        }
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var argument in named)
        {
            foreach (var value in Values([argument.TypedValue]))
            {
                if (value is string name)
                {
                    names.Add(name);
                }
            }
        }
        return names;
    }
}
