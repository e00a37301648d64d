#!/usr/bin/env bash
# Fuzzes one reader with AFL++ through SharpFuzz for a bounded time (fuzz/README.md):
#
#   fuzz/run-afl.sh npy|checkpoint [seconds=300] [output folder=/tmp/shampoo-fuzz-<target>]
#
# Needs afl-fuzz (Debian: apt-get install afl++) and the SharpFuzz instrumentation tool (dotnet tool
# SharpFuzz.CommandLine 2.3.0; installed here into the output folder if it is not on the PATH). It publishes the
# harness, instruments ShampooMkl.dll and ShampooMkl.Analysis.dll in the published copy (never the build output),
# runs afl-fuzz on fuzz/corpus/<target> and replays whatever it found; exit 1 when there are findings.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
target="${1:?usage: fuzz/run-afl.sh npy|checkpoint [seconds] [output folder]}"
seconds="${2:-300}"
out="${3:-/tmp/shampoo-fuzz-$target}"
mkdir -p "$out"
publish="$out/publish"
rm -rf "$publish"   # sharpfuzz refuses an already instrumented copy
dotnet publish fuzz/ShampooMkl.Fuzz -c Release -o "$publish" --nologo -v quiet
sharpfuzz="$(command -v sharpfuzz || true)"
if [[ -z "$sharpfuzz" ]]; then
    [[ -x "$out/tools/sharpfuzz" ]] || dotnet tool install --tool-path "$out/tools" SharpFuzz.CommandLine --version 2.3.0 >/dev/null
    sharpfuzz="$out/tools/sharpfuzz"
fi
for dll in ShampooMkl.dll ShampooMkl.Analysis.dll; do
    "$sharpfuzz" "$publish/$dll"
done
# The target is `dotnet`, which afl-fuzz cannot see instrumented; SharpFuzz's shared-memory forkserver does the rest.
export AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_SKIP_CPUFREQ=1
rm -rf "$out/afl"
afl-fuzz -V "$seconds" -i "fuzz/corpus/$target" -o "$out/afl" -t 10000 -m none -- dotnet "$publish/ShampooMkl.Fuzz.dll" "$target" afl \
    > "$out/afl.log" 2>&1 || { tail -30 "$out/afl.log"; exit 2; }
grep -E "execs_done|execs_per_sec|corpus_count|saved_crashes|saved_hangs" "$out/afl/default/fuzzer_stats" || true
shopt -s nullglob
found=("$out"/afl/default/crashes/id* "$out"/afl/default/hangs/id*)
if (( ${#found[@]} == 0 )); then
    echo "run-afl: no crashes or hangs"
    exit 0
fi
# Replayed by the uninstrumented build: instrumented code dies of an access violation outside afl-fuzz.
dotnet build fuzz/ShampooMkl.Fuzz -c Release --nologo -v quiet
dotnet fuzz/ShampooMkl.Fuzz/bin/Release/net10.0/ShampooMkl.Fuzz.dll "$target" replay "${found[@]}" || true
exit 1
