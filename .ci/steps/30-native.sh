#!/usr/bin/env bash
# The C ABI, as a C host sees it: publish the NativeAOT library (SONAME, exports), build the C simulator example,
# the C error-path test, the C++17 header check and the posting benchmark with CMake through pkg-config, then run
# them briefly. The simulator exits non-zero unless every posted record is accounted for and every delivered
# interrupt was taken exactly once. Bounded: every run has a timeout.
set -euo pipefail
cd "$(dirname "$0")/../.."

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
native="$work/native"

echo "-- publish (NativeAOT, linux-x64)"
dotnet publish src/IpiEngine.Native/IpiEngine.Native.csproj -c Release -r linux-x64 -o "$native" -nologo -v quiet
lib="$native/lib/libipi_engine.so.1"

echo "-- SONAME and exports"
readelf -d "$lib" | grep -q 'SONAME.*\[libipi_engine\.so\.1\]' || { echo "no SONAME libipi_engine.so.1"; exit 1; }
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
echo "-- ipi-bench (smoke run, not a measurement)"
timeout 120 "$work/build/ipi-bench" --ipis 65536 --rounds 1
