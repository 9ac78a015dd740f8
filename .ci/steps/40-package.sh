#!/usr/bin/env bash
# The packages work once installed, not only in the repository: pack IpiEngine (+ symbols) and the ipi tool from
# .ci/run's Release build into a local folder feed, check their metadata, then, outside the repository and with an
# empty package cache, build and run examples/nuget-consumer against the IpiEngine package (never a ProjectReference)
# and install the ipi tool from the feed into a temp tool path and run it (a trace replay checked against its
# reference, a short run with JSON, a bad option that must exit 2). The native tarball is built and used by
# 30-native.sh. Restore reads only the local feed (neither package has dependencies outside it): no network needed.
# Bounded: every command has a timeout.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
feed="$work/feed"
export NUGET_PACKAGES="$work/nuget-packages"   # an empty cache: nothing stale from an earlier pack is picked up

fail() { echo "package check failed: $*"; exit 1; }

version=$(dotnet msbuild src/IpiEngine/IpiEngine.csproj -getProperty:Version)
echo "-- pack $version"
timeout 600 dotnet pack Engine.sln -c Release --no-build -o "$feed" -nologo -v quiet
ls -l "$feed"
for f in "IpiEngine.$version.nupkg" "IpiEngine.$version.snupkg" "IpiEngine.Cli.$version.nupkg"; do
  [ -f "$feed/$f" ] || fail "dotnet pack made no $f"
done

echo "-- package metadata"
lib_nuspec=$(unzip -p "$feed/IpiEngine.$version.nupkg" IpiEngine.nuspec)
tool_nuspec=$(unzip -p "$feed/IpiEngine.Cli.$version.nupkg" IpiEngine.Cli.nuspec)
spdx=$(head -n 1 LICENSE | awk '{print $1}')   # "MIT License" -> MIT
for nuspec in "$lib_nuspec" "$tool_nuspec"; do
  grep -q "<version>$version</version>" <<<"$nuspec" || fail "a nuspec lacks version $version"
  grep -q "<license type=\"expression\">$spdx</license>" <<<"$nuspec" || fail "a nuspec lacks the license expression $spdx"
  grep -q '<authors>.\+</authors>' <<<"$nuspec" || fail "a nuspec lacks authors"
  grep -q '<readme>README.md</readme>' <<<"$nuspec" || fail "a nuspec lacks its readme"
  grep -q '<repository type="git" url="https://[^"]\+"' <<<"$nuspec" || fail "a nuspec lacks the repository URL"
done
grep -q '<packageType name="DotnetTool"' <<<"$tool_nuspec" || fail "IpiEngine.Cli is not a .NET tool package"
# (Listings go into variables first: `unzip | grep -q` under pipefail fails whenever grep stops reading early.)
lib_files=$(unzip -Z1 "$feed/IpiEngine.$version.nupkg")
for f in README.md LICENSE lib/net10.0/IpiEngine.dll lib/net10.0/IpiEngine.xml; do
  grep -qx "$f" <<<"$lib_files" || fail "IpiEngine.$version.nupkg lacks $f"
done
symbol_files=$(unzip -Z1 "$feed/IpiEngine.$version.snupkg")
grep -qx lib/net10.0/IpiEngine.pdb <<<"$symbol_files" || fail "the symbols package lacks IpiEngine.pdb"
tool_files=$(unzip -Z1 "$feed/IpiEngine.Cli.$version.nupkg")
for f in tools/net10.0/any/ipi.dll tools/net10.0/any/DotnetToolSettings.xml; do
  grep -qx "$f" <<<"$tool_files" || fail "IpiEngine.Cli.$version.nupkg lacks $f"
done
# Every bundled trace with all three of its files: a replay without its reference checks nothing, and exits 0.
for trace in traces/*.vcpus.csv; do
  name=$(basename "$trace" .vcpus.csv)
  for part in vcpus exits deliveries; do
    grep -qx "tools/net10.0/any/traces/$name.$part.csv" <<<"$tool_files" || fail "IpiEngine.Cli.$version.nupkg lacks traces/$name.$part.csv"
  done
done
tool_settings=$(unzip -p "$feed/IpiEngine.Cli.$version.nupkg" tools/net10.0/any/DotnetToolSettings.xml)
grep -q 'Name="ipi"' <<<"$tool_settings" || fail "the tool's command is not named ipi"
echo "metadata ok: version $version, license $spdx, readme, repository, XML docs, symbols, tool command ipi"

# Only the local feed: the consumer and the tool need nothing else, and a package of the same name elsewhere could
# otherwise shadow the one just packed.
cat > "$work/nuget.config" <<CONFIG
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <clear />
    <add key="local" value="$feed" />
  </packageSources>
</configuration>
CONFIG

echo "-- examples/nuget-consumer against the package"
cp -r examples/nuget-consumer "$work/consumer"
rm -rf "$work/consumer/bin" "$work/consumer/obj"
timeout 300 dotnet build "$work/consumer" -c Release --configfile "$work/nuget.config" -p:IpiEngineVersion="$version" \
  -nologo -v quiet
restored=$(grep -A1 "\"IpiEngine/$version\": {" "$work/consumer/obj/project.assets.json" || true)
[ -n "$restored" ] || fail "the consumer did not restore IpiEngine $version"
grep -q '"type": "package"' <<<"$restored" || fail "the consumer took IpiEngine as something other than a package"
(cd "$work" && timeout 120 dotnet consumer/bin/Release/net10.0/NuGetConsumer.dll)

echo "-- the ipi tool from the feed"
timeout 300 dotnet tool install IpiEngine.Cli --version "$version" --tool-path "$work/tools" --configfile "$work/nuget.config"
ipi="$work/tools/ipi"
cd "$work"   # away from the repository: the tool must find its bundled traces beside itself
tool_version=$(timeout 60 "$ipi" --version)
[[ "$tool_version" == "$version"* ]] || fail "ipi --version says $tool_version, not $version"
timeout 120 "$ipi" replay --trace xapic-flat-smp4 --json replay.json > replay.txt || { cat replay.txt; fail "ipi replay of the bundled trace failed"; }
tail -n 3 replay.txt
# Checked against the reference the tool carries, not merely replayed.
grep -q '"identical": true' replay.json || { cat replay.json; fail "ipi replay did not check the bundled trace against its reference"; }
timeout 60 "$ipi" run --duration 1s --warmup 0.2s --json - > run.json 2> run.txt || { cat run.txt; fail "ipi run failed"; }
grep -q '"conservationHeld": true' run.json || { cat run.json; fail "ipi run: conservation did not hold"; }
rc=0
timeout 60 "$ipi" run --vcpus 0 > bad.txt 2>&1 || rc=$?
[ "$rc" -eq 2 ] || { cat bad.txt; fail "ipi run --vcpus 0 exited $rc, not 2"; }
cd "$repo"
echo "packages ok: IpiEngine $version consumed from a folder feed, the ipi tool installed and run from it"
