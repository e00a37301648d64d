#!/usr/bin/env bash
# Regenerates the public API baselines after an intentional public API change:
#
#   scripts/update-public-api.sh          (or: ./build.sh --target=ApiBaseline)
#
# Each shipped library (every src/*/*.csproj that references Microsoft.CodeAnalysis.PublicApiAnalyzers: today
# src/ShampooMkl, src/ShampooMkl.Analysis and src/ShampooMkl.TorchSharp) carries PublicAPI.Shipped.txt and
# PublicAPI.Unshipped.txt, read by Microsoft.CodeAnalysis.PublicApiAnalyzers; a public member missing from them
# (RS0016) or listed but gone (RS0017) fails the build. Nothing is released yet (0.x), so the whole surface lives
# in PublicAPI.Unshipped.txt and PublicAPI.Shipped.txt is only the '#nullable enable' header; at a release, move
# the Unshipped lines into Shipped.
#
# What it does, per project: resets PublicAPI.Unshipped.txt to the header (so stale lines go too), lets the
# analyzer's own code fix write every current public symbol (`dotnet format analyzers --diagnostics RS0016`),
# sorts the file, then builds the projects to prove the baselines are complete. Only the PublicAPI files may
# change: the script fails if dotnet format touched any *.cs. Review the diff before committing. A new library
# project joins by copying the PublicApiAnalyzers block of src/ShampooMkl/ShampooMkl.csproj.
# Lines in PublicAPI.Shipped.txt are left alone: removing a shipped API needs a '*REMOVED*<line>' entry in
# Unshipped, written by hand (the final build reports RS0017 for it).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

configuration="${CONFIGURATION:-Release}"
header='#nullable enable'
mapfile -t projects < <(grep -l 'Microsoft.CodeAnalysis.PublicApiAnalyzers' src/*/*.csproj | LC_ALL=C sort)
if [[ ${#projects[@]} == 0 ]]; then
    echo "update-public-api: no project under src/ references Microsoft.CodeAnalysis.PublicApiAnalyzers." >&2
    exit 1
fi

sources_digest() { find src -name '*.cs' -not -path '*/obj/*' -not -path '*/bin/*' -print0 | LC_ALL=C sort -z | xargs -0 md5sum | md5sum; }
before="$(sources_digest)"

for project in "${projects[@]}"; do
    dir="$(dirname "$project")"
    [[ -f $dir/PublicAPI.Shipped.txt ]] || printf '%s\n' "$header" > "$dir/PublicAPI.Shipped.txt"
    printf '%s\n' "$header" > "$dir/PublicAPI.Unshipped.txt"
    dotnet restore "$project" >/dev/null
done

for pass in 1 2 3; do
    for project in "${projects[@]}"; do
        dir="$(dirname "$project")"
        echo "update-public-api: $project (pass $pass)"
        # Exit code ignored: it is non-zero while diagnostics remain; the builds below decide.
        dotnet format analyzers "$project" --diagnostics RS0016 --severity info --no-restore >/dev/null 2>&1 || true
        {
            printf '%s\n' "$header"
            grep -v -x -F "$header" "$dir/PublicAPI.Unshipped.txt" | grep -v '^[[:space:]]*$' | LC_ALL=C sort -u || true
        } > "$dir/PublicAPI.Unshipped.txt.tmp"
        mv "$dir/PublicAPI.Unshipped.txt.tmp" "$dir/PublicAPI.Unshipped.txt"
    done

    failed=0 missing=0 log=""
    for project in "${projects[@]}"; do
        if ! out="$(dotnet build "$project" -c "$configuration" --no-restore -nologo 2>&1)"; then
            failed=1
            log+="$out"$'\n'
            grep -q 'error RS0016' <<<"$out" && missing=1
        fi
    done
    if [[ $failed == 0 ]]; then
        break
    fi
    if [[ $missing == 0 || $pass == 3 ]]; then
        printf '%s\n' "$log" | grep -E ': error ' | sort -u >&2
        echo "update-public-api: the projects do not build with the regenerated baselines (errors above)." >&2
        exit 1
    fi
done

for project in "${projects[@]}"; do
    dir="$(dirname "$project")"
    echo "update-public-api: $dir/PublicAPI.Unshipped.txt: $(($(wc -l < "$dir/PublicAPI.Unshipped.txt") - 1)) lines"
done

if [[ "$(sources_digest)" != "$before" ]]; then
    echo "update-public-api: dotnet format changed source files under src/ (see git diff); revert them." >&2
    exit 1
fi
echo "update-public-api: done; review with: git diff -- 'src/*/PublicAPI.*.txt'"
