#!/usr/bin/env bash
# Entry point for developers and CI: native libraries, then the Cake build.
#   ./build.sh                       provision + Default target (Build -> Native -> Test)
#   ./build.sh --target=Bench        any Cake argument is passed through
#   SHAMPOO_SKIP_PROVISION=1 ./build.sh   skip apt (e.g. libraries installed by hand, no root)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

# Keep CI logs about the build, not about the SDK's first-run banners.
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
# Cake colours its errors even into a pipe or file; escape codes make CI logs hard to read.
[[ -t 1 ]] || export NO_COLOR=1
# Cake compiles build.cake on every run (~15 s); the cache (under tools/, git-ignored) skips that
# until the script changes.
export CAKE_SETTINGS_ENABLESCRIPTCACHE="${CAKE_SETTINGS_ENABLESCRIPTCACHE:-true}"

if [[ "${SHAMPOO_SKIP_PROVISION:-0}" != 1 ]]; then
    bash native/provision.sh
fi

# Quiet on success; on failure the restore output is the diagnosis.
if ! restore_log="$(dotnet tool restore 2>&1)"; then
    printf '%s\n' "$restore_log" >&2
    echo "build.sh: 'dotnet tool restore' failed (Cake is pinned in .config/dotnet-tools.json)" >&2
    exit 1
fi

exec dotnet cake build.cake "$@"
