#!/usr/bin/env bash
# The C ABI, as a C host sees it: publish the NativeAOT library, unpack the versioned tarball that the publish makes
# (ipi_engine-VERSION-linux-x64.tar.gz, the native package) into a fresh prefix, check it (SONAME, exports, the
# pkg-config version), build the README's C example, the C simulator example, the C error-path test, the C++17 header
# check, the posting benchmark and the trace-over-nodes replay with CMake through that prefix's pkg-config file, then
# run them briefly. The simulator exits non-zero unless every posted record is accounted for and every delivered
# interrupt was taken exactly once (in its multi-node mode: every IPI reached every destination exactly once); the
# trace replay unless every node's deliveries equal the reference. Bounded: every run has a timeout.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo_root=$PWD

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
native="$work/native"

echo "-- publish (NativeAOT, linux-x64) and its tarball"
dotnet publish src/IpiEngine.Native/IpiEngine.Native.csproj -c Release -r linux-x64 -o "$work/publish" \
  -p:PackageOutputPath="$work/packages/" -nologo -v quiet
version=$(dotnet msbuild src/IpiEngine.Native/IpiEngine.Native.csproj -getProperty:Version)
tarball="$work/packages/ipi_engine-$version-linux-x64.tar.gz"
[ -f "$tarball" ] || { echo "no tarball $tarball"; ls "$work/packages"; exit 1; }
mkdir -p "$native"
tar -xzf "$tarball" -C "$native" --strip-components=1
for f in lib/libipi_engine.so.1 lib/libipi_engine.so lib/pkgconfig/ipi_engine.pc include/ipi_engine.h share/doc/ipi_engine/LICENSE; do
  [ -e "$native/$f" ] || { echo "the tarball lacks $f"; tar -tzf "$tarball"; exit 1; }
done
pc_version=$(PKG_CONFIG_PATH="$native/lib/pkgconfig" pkg-config --modversion ipi_engine)
[ "$pc_version" = "$version" ] || { echo "ipi_engine.pc says $pc_version, the repository $version"; exit 1; }
echo "$(basename "$tarball"): $(tar -tzf "$tarball" | wc -l) entries, pkg-config version $pc_version"
lib="$native/lib/libipi_engine.so.1"

echo "-- SONAME and exports"
dynamic=$(readelf -d "$lib")   # not piped into grep -q: under pipefail, grep stopping early can fail the pipe
grep -q 'SONAME.*\[libipi_engine\.so\.1\]' <<<"$dynamic" || { echo "no SONAME libipi_engine.so.1"; exit 1; }
# Every function the header declares is exported, and nothing with the prefix is exported that it does not declare.
declared=$(grep -oE '^[a-z_0-9 ]+[ *]ipi_[a-z_]+\(' include/ipi_engine.h | grep -oE 'ipi_[a-z_]+' | sort)
exported=$(nm -D --defined-only "$lib" | grep -oE ' ipi_[a-z_]+' | tr -d ' ' | sort)
if [ "$declared" != "$exported" ]; then
  echo "header and library disagree:"; diff <(echo "$declared") <(echo "$exported") || true; exit 1
fi
echo "$(echo "$exported" | wc -l) exports match the header"

echo "-- cmake build (pkg-config ipi_engine)"
PKG_CONFIG_PATH="$native/lib/pkgconfig" cmake -S examples/c-sim -B "$work/build" -DCMAKE_BUILD_TYPE=Release > "$work/cmake.log" \
  || { cat "$work/cmake.log"; exit 1; }
cmake --build "$work/build" -j 2 > "$work/build.log" || { cat "$work/build.log"; exit 1; }

echo "-- the README's C example"
timeout 60 "$work/build/readme-example"
# Also as the README builds it, with no CMake: cc and pkg-config alone, from another folder, no LD_LIBRARY_PATH. The
# program must find the library through the rpath the .pc file adds (CMake adds its own rpath and would hide a
# broken one).
mkdir -p "$work/plain-cc"
(cd "$work/plain-cc" && cc -std=c11 -Wall -Werror -o readme-example "$repo_root/examples/c-sim/readme_example.c" \
   $(PKG_CONFIG_PATH="$native/lib/pkgconfig" pkg-config --cflags --libs ipi_engine) \
   && env -u LD_LIBRARY_PATH timeout 60 ./readme-example) || { echo "the README's cc + pkg-config build or run failed"; exit 1; }
echo "readme-example built with cc + pkg-config, found the library by its rpath"
echo "readme-example: vector 0xFD taken by vCPU 2"
echo "-- C++17 header check"
timeout 60 "$work/build/header-check-cpp"
echo "-- C error paths"
timeout 60 "$work/build/ipi-errors" | tail -n 20
echo "-- C stop racing posts and a second stop (tiny rings, repeated cycles)"
timeout 120 "$work/build/ipi-stop-race"
echo "-- c-sim: x2APIC, 4 vCPUs"
timeout 120 "$work/build/c-sim" --vcpus 4 --ipis 20000
echo "-- c-sim: xAPIC (ICR2 latch + ICR), 3 vCPUs"
timeout 120 "$work/build/c-sim" --vcpus 3 --ipis 5000 --xapic
echo "-- c-sim --nodes: the VM over 2 and 3 processes on loopback (engine-, then kernel-served local targets)"
timeout 180 "$work/build/c-sim" --nodes 2 --vcpus 4 --ipis 20000
timeout 180 "$work/build/c-sim" --nodes 3 --vcpus 7 --ipis 10000 --local-targets kernel
echo "-- c-sim --nodes with send batches: each vCPU thread sends its link frames itself every 16 exits (ABI 1.7)"
timeout 180 "$work/build/c-sim" --nodes 2 --vcpus 4 --ipis 20000 --send-batch 16
echo "-- c-trace-nodes: every bundled trace over 2 C nodes, against its reference deliveries"
for vcpus in traces/*.vcpus.csv; do
  timeout 300 "$work/build/c-trace-nodes" --trace "${vcpus%.vcpus.csv}" | tail -n 1
done
echo "-- ipi-bench (smoke run, not a measurement)"
timeout 120 "$work/build/ipi-bench" --ipis 65536 --rounds 1
