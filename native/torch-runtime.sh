#!/usr/bin/env bash
# Makes TorchSharp's native libraries loadable here, and prints how to run a .NET program with them.
#
# TorchSharp 0.107's libLibTorchSharp.so needs GLIBCXX_3.4.32 (GCC 13's libstdc++), whose libstdc++ in
# turn needs glibc 2.38. Debian 12 stops at GLIBCXX_3.4.30 and glibc 2.36. Where the system's own
# loader resolves every library TorchSharp needs, nothing is done and programs run natively. Otherwise,
# on Debian and Ubuntu, this downloads Debian 13 (trixie) libc6, libstdc++6 and libgcc-s1 with a
# private apt configuration (the system's apt state and libraries are never changed), extracts them
# into a cache folder outside git, and prepares a copy of the `dotnet` host whose ELF interpreter is
# the extracted loader. Only processes started through that host see the newer libraries.
#
# Usage: bash native/torch-runtime.sh [--check] [--print-env] [--quiet] LIBLIBTORCHSHARP_SO
#   LIBLIBTORCHSHARP_SO  path of libLibTorchSharp.so (in the NuGet cache, after a restore)
#   --check       report only: exit 0 when usable (natively or from the cache), 1 otherwise
#   --print-env   on success print shell assignments: SHAMPOO_TORCH_DOTNET=<host to run with>,
#                 SHAMPOO_TORCH_LD_LIBRARY_PATH=<directories to prepend, empty when native>
#   --quiet       no progress lines
#
# Environment: SHAMPOO_CACHE (default ${XDG_CACHE_HOME:-$HOME/.cache}/shampoo-mkl) holds the runtime.
# Exit codes: 0 ready, 1 cannot be made usable (the reason is printed), 2 bad usage.
set -euo pipefail

check_only=0 print_env=0 quiet=0 lib=""
for arg in "$@"; do
    case "$arg" in
        --check) check_only=1 ;;
        --print-env) print_env=1 ;;
        --quiet) quiet=1 ;;
        -h | --help)
            sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
            exit 0
            ;;
        -*)
            echo "torch-runtime: unknown option '$arg' (try --help)" >&2
            exit 2
            ;;
        *) lib="$arg" ;;
    esac
done
if [[ -z $lib ]]; then
    echo "torch-runtime: give the path of libLibTorchSharp.so (try --help)" >&2
    exit 2
fi
if [[ ! -f $lib ]]; then
    echo "torch-runtime: '$lib' does not exist; restore the TorchSharp package first (dotnet restore)" >&2
    exit 1
fi

say() { [[ $quiet -eq 1 ]] || printf 'torch-runtime: %s\n' "$*" >&2; }
die() {
    printf 'torch-runtime: error: %s\n' "$*" >&2
    exit 1
}

dotnet_exe="$(readlink -f "$(command -v dotnet)")" || die "no 'dotnet' on PATH"
dotnet_dir="$(dirname "$dotnet_exe")"

emit() { # $1 = host, $2 = library path
    [[ $print_env -eq 1 ]] || return 0
    printf 'SHAMPOO_TORCH_DOTNET=%q\nSHAMPOO_TORCH_LD_LIBRARY_PATH=%q\n' "$1" "$2"
}

# "not found" from the system loader names a missing library or symbol version.
missing="$(ldd "$lib" 2>&1 | grep -E 'not found' || true)"
if [[ -z $missing ]]; then
    say "the system's libraries satisfy TorchSharp; running natively"
    emit "$dotnet_exe" ""
    exit 0
fi

suite=trixie
cache="${SHAMPOO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/shampoo-mkl}/torch-runtime-$suite"
root="$cache/root"
libdir="$root/usr/lib/x86_64-linux-gnu"
loader="$libdir/ld-linux-x86-64.so.2"
host_dir="$cache/dotnet"
host="$host_dir/dotnet"

runtime_ready() {
    [[ -x $host && -e $loader ]] || return 1
    # The copy must follow the installed SDK: a new SDK version replaces the links' targets.
    [[ "$(readlink "$host_dir/shared")" == "$dotnet_dir/shared" ]] || return 1
    cmp -s "$cache/dotnet.source" <(printf '%s\n' "$dotnet_exe") || return 1
    LD_LIBRARY_PATH="$libdir" "$host" --list-runtimes >/dev/null 2>&1
}

if runtime_ready; then
    say "using the Debian 13 runtime cached in $cache"
    emit "$host" "$libdir"
    exit 0
fi
if [[ $check_only -eq 1 ]]; then
    say "the system loader reports: $(printf '%s' "$missing" | head -1 | sed 's/^[[:space:]]*//')"
    say "no runtime in $cache; run without --check to provision it"
    exit 1
fi

[[ "$(uname -m)" == x86_64 ]] || die "TorchSharp needs newer system libraries ($(printf '%s' "$missing" | head -1 | sed 's/^[[:space:]]*//')); only x86_64 Debian/Ubuntu can be provisioned automatically — install glibc >= 2.38 and GCC 13's libstdc++"
command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null ||
    die "TorchSharp needs glibc >= 2.38 and GLIBCXX_3.4.32; this system has no apt-get/dpkg-deb to fetch them — upgrade the system (e.g. Debian 13, Ubuntu 24.04)"
keyring=/usr/share/keyrings/debian-archive-trixie-stable.gpg
[[ -r $keyring ]] || keyring=/usr/share/keyrings/debian-archive-keyring.gpg

started=$SECONDS
say "TorchSharp needs newer libraries than the system's ($(printf '%s' "$missing" | head -1 | sed 's/^[[:space:]]*//;s/ (.*//')); fetching Debian 13 libc6, libstdc++6, libgcc-s1 into $cache (the system is not changed)"
rm -rf "$cache"
mkdir -p "$cache/apt/lists/partial" "$cache/apt/cache/archives/partial" "$cache/debs" "$root"
cat >"$cache/apt/sources.sources" <<EOF
Types: deb
URIs: http://deb.debian.org/debian
Suites: $suite
Components: main
Signed-By: $keyring
EOF
apt_opts=(
    -o "Dir::Etc::SourceList=$cache/apt/sources.sources"
    -o "Dir::Etc::SourceParts=/dev/null"
    -o "Dir::State::Lists=$cache/apt/lists"
    -o "Dir::Cache=$cache/apt/cache"
    -o "Dir::State::status=/dev/null"
    -o "APT::Sandbox::User=root"
    -o "Acquire::Languages=none"
)
log="$cache/apt.log"
apt-get "${apt_opts[@]}" update >"$log" 2>&1 ||
    die "apt-get update of Debian $suite failed (see $log): $(tail -1 "$log")"
(cd "$cache/debs" && apt-get "${apt_opts[@]}" download libc6 libstdc++6 libgcc-s1 >>"$log" 2>&1) ||
    die "apt-get download failed (see $log): $(tail -1 "$log")"
for deb in "$cache"/debs/*.deb; do
    dpkg-deb -x "$deb" "$root"
done
[[ -e $loader ]] || die "the extracted libc6 has no $loader"

# patchelf (Debian 12 has 0.14) sets the interpreter of our copy of the host only.
if ! command -v patchelf >/dev/null; then
    say "installing patchelf (Debian package) to point a copy of the dotnet host at the new loader"
    apt-get install -y -qq patchelf >>"$log" 2>&1 || die "apt-get install patchelf failed (see $log); install it by hand"
fi
mkdir -p "$host_dir"
cp "$dotnet_exe" "$host"
for entry in "$dotnet_dir"/*; do
    name="$(basename "$entry")"
    [[ $name == dotnet ]] || ln -sfn "$entry" "$host_dir/$name"
done
patchelf --set-interpreter "$loader" "$host"
printf '%s\n' "$dotnet_exe" >"$cache/dotnet.source"
rm -rf "$cache/apt/cache" "$cache/apt/lists"

runtime_ready || die "the prepared host does not start: LD_LIBRARY_PATH=$libdir $host --list-runtimes"
say "Debian 13 runtime ready in $((SECONDS - started)) s ($(du -sh "$cache" | cut -f1) in $cache)"
emit "$host" "$libdir"
