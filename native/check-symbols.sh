#!/usr/bin/env bash
# Build-time check that every native library ShampooMkl binds to is present and exports every
# symbol we P/Invoke. A missing export otherwise surfaces only at the first call, deep in a run;
# here it fails the build with the library, the symbol and the fix.
#
# Usage: bash native/check-symbols.sh [--rid RID] [--no-mpi] [--no-mkl] [--backends a,b]
#                                     [--verbose] [--quiet]
#   --rid RID       manifest to use (default: this machine's, e.g. linux-x64). A RID of another
#                   OS only validates that manifest's structure, since its files cannot be inspected.
#   --backends a,b  check only these backends (mkl, openblas, mpi)
#   --verbose       one line per symbol
#   --quiet         print only failures
#
# Libraries are searched like the runtime does (native/manifest/RID.json, in order), with
# SHAMPOO_BLAS_PATH first for the backend its file name matches.
# Exit codes: 0 all present, 1 a library or symbol is missing, 2 usage or tooling problem.
# Written for bash 3.2 too (macOS /bin/bash): no associative arrays, no mapfile.
set -euo pipefail
export LC_ALL=C # sort and comm must agree on one collation

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

rid=""
only=""
skip=""
verbose=0
quiet=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --rid) rid="${2:?--rid needs a value}"; shift ;;
        --rid=*) rid="${1#--rid=}" ;;
        --backends) only=",${2:?--backends needs a value},"; shift ;;
        --backends=*) only=",${1#--backends=}," ;;
        --no-mpi) skip="$skip,mpi," ;;
        --no-mkl) skip="$skip,mkl," ;;
        --verbose | -v) verbose=1 ;;
        --quiet | -q) quiet=1 ;;
        -h | --help)
            sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
            exit 0
            ;;
        *) echo "check-symbols: unknown argument '$1' (try --help)" >&2; exit 2 ;;
    esac
    shift
done

info() { [[ $quiet -eq 1 ]] || printf '%s\n' "$*"; }
fail_tool() {
    printf 'check-symbols: %s\n' "$*" >&2
    exit 2
}

# --- platform ---------------------------------------------------------------------------------

case "$(uname -s)" in
    Linux) host_os=linux ;;
    Darwin) host_os=osx ;;
    MINGW* | MSYS* | CYGWIN*) host_os=win ;;
    *) host_os=unknown ;;
esac
case "$(uname -m)" in
    x86_64 | amd64) host_arch=x64 ;;
    aarch64 | arm64) host_arch=arm64 ;;
    *) host_arch="$(uname -m)" ;;
esac
[[ -n $rid ]] || rid="$host_os-$host_arch"

manifest="$here/manifest/$rid.json"
if [[ ! -f $manifest ]]; then
    known="$(cd "$here/manifest" && ls -1 -- *.json 2>/dev/null | sed 's/\.json$//' | tr '\n' ' ')"
    fail_tool "no manifest for '$rid' (native/manifest/$rid.json); known: ${known:-none}"
fi
cross=0
[[ $rid == "$host_os-"* ]] || cross=1

# --- manifest -> "backend<TAB>kind<TAB>value" lines -------------------------------------------
# python3 first (on every machine we build on), jq next, and a small awk tokenizer last so a
# minimal image still gets a real answer rather than "command not found".

parse_python() {
    python3 - "$manifest" <<'PY'
import json, sys
m = json.load(open(sys.argv[1], encoding="utf-8"))
for name, b in m["backends"].items():
    print(f"{name}\tbackend\t")
    for lib in b.get("libraries", []):
        print(f"{name}\tlib\t{lib}")
    for sym in b.get("symbols", []):
        print(f"{name}\tsym\t{sym}")
    if b.get("unavailable"):
        print(f"{name}\tunavailable\t{b['unavailable']}")
PY
}

parse_jq() {
    jq -r '.backends | to_entries[] | .key as $k
        | "\($k)\tbackend\t",
          (.value.libraries[]? | "\($k)\tlib\t\(.)"),
          (.value.symbols[]? | "\($k)\tsym\t\(.)"),
          (if .value.unavailable then "\($k)\tunavailable\t\(.value.unavailable)" else empty end)' \
        "$manifest"
}

parse_awk() {
    awk '
        { s = s $0 "\n" }
        END {
            n = length(s); i = 1; depth = 0
            while (i <= n) {
                c = substr(s, i, 1)
                if (c == "\"") {
                    str = ""; j = i + 1
                    while (j <= n) {
                        d = substr(s, j, 1)
                        if (d == "\\") { str = str substr(s, j + 1, 1); j += 2; continue }
                        if (d == "\"") break
                        str = str d; j++
                    }
                    i = j + 1
                    k = i
                    while (substr(s, k, 1) ~ /[ \t\r\n]/) k++
                    if (substr(s, k, 1) == ":") { key[depth] = str; i = k + 1; continue }
                    if (key[1] == "backends" && depth == 4 && key[3] == "libraries") print key[2] "\tlib\t" str
                    if (key[1] == "backends" && depth == 4 && key[3] == "symbols") print key[2] "\tsym\t" str
                    if (key[1] == "backends" && depth == 3 && key[3] == "unavailable") print key[2] "\tunavailable\t" str
                    continue
                }
                if (c == "{" || c == "[") {
                    depth++; key[depth] = ""
                    if (depth == 3 && key[1] == "backends") print key[2] "\tbackend\t"
                } else if (c == "}" || c == "]") {
                    depth--
                }
                i++
            }
        }' "$manifest"
}

entries=""
if command -v python3 >/dev/null && entries="$(parse_python 2>/dev/null)"; then
    :
elif command -v jq >/dev/null && entries="$(parse_jq 2>/dev/null)"; then
    :
else
    entries="$(parse_awk)" || true
fi
[[ -n $entries ]] || fail_tool "could not read $manifest (is it valid JSON?)"

field() { printf '%s\n' "$entries" | awk -F '\t' -v b="$1" -v k="$2" '$1 == b && $2 == k { print $3 }'; }
backends="$(printf '%s\n' "$entries" | awk -F '\t' '$2 == "backend" { print $1 }')"

# --- library lookup ---------------------------------------------------------------------------

ldcache=""
if [[ $host_os == linux && $cross -eq 0 ]]; then
    ldconfig_bin="$(command -v ldconfig || echo /sbin/ldconfig)"
    ldcache="$("$ldconfig_bin" -p 2>/dev/null || true)"
    case "$host_arch" in
        x64) ld_tag="x86-64" ;;
        arm64) ld_tag="AArch64" ;;
        *) ld_tag="" ;;
    esac
    multiarch="$(gcc -print-multiarch 2>/dev/null || dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || true)"
fi

# Prints the path a candidate resolves to, or nothing. Bare names follow the loader's order
# (LD_LIBRARY_PATH, ld.so cache, default dirs; DYLD_* on macOS; PATH on Windows).
resolve() {
    local name="$1" dir dirs
    case "$name" in
        */* | *\\*)
            if [[ $host_os == win ]] && command -v cygpath >/dev/null; then name="$(cygpath -u "$name")"; fi
            [[ -e $name ]] && printf '%s\n' "$name"
            return 0
            ;;
    esac
    case "$host_os" in
        linux) dirs="${LD_LIBRARY_PATH:-}" ;;
        osx) dirs="${DYLD_LIBRARY_PATH:-}:${DYLD_FALLBACK_LIBRARY_PATH:-}:/opt/homebrew/lib:/usr/local/lib:/usr/lib" ;;
        win) dirs="${PATH:-}:/c/Windows/System32" ;;
        *) dirs="" ;;
    esac
    local IFS=:
    for dir in $dirs; do
        [[ -n $dir && -e "$dir/$name" ]] && { printf '%s\n' "$dir/$name"; return 0; }
    done
    unset IFS
    if [[ $host_os == linux ]]; then
        local hit
        hit="$(printf '%s\n' "$ldcache" | awk -v n="$name" -v t="$ld_tag" '!done && $1 == n && (t == "" || index($0, t)) { print $NF; done = 1 }')"
        [[ -n $hit ]] && { printf '%s\n' "$hit"; return 0; }
        for dir in ${multiarch:+/lib/$multiarch /usr/lib/$multiarch} /lib64 /usr/lib64 /lib /usr/lib /usr/local/lib; do
            [[ -e "$dir/$name" ]] && { printf '%s\n' "$dir/$name"; return 0; }
        done
    fi
    return 0
}

# Prints the names a library exports (defined, dynamic), one per line.
exports_of() {
    case "$host_os" in
        linux) nm -D --defined-only "$1" 2>/dev/null | awk 'NF >= 3 { print $NF }' | sed 's/@.*//' ;;
        osx) nm -gU "$1" 2>/dev/null | awk 'NF >= 3 { print $3 }' | sed 's/^_//' ;;
        win) objdump -p "$1" 2>/dev/null |
            awk '/\[Ordinal\/Name Pointer\] Table/ { t = 1; next } t && /^[ \t]*\[/ { print $NF } t && /^[ \t]*$/ { t = 0 }' ;;
    esac
}

symbol_tool_ok=1
if [[ $cross -eq 0 ]]; then
    case "$host_os" in
        linux) command -v nm >/dev/null || fail_tool "nm not found; install binutils (bash native/provision.sh does)" ;;
        osx) command -v nm >/dev/null || fail_tool "nm not found; run: xcode-select --install" ;;
        win) command -v objdump >/dev/null || symbol_tool_ok=0 ;;
        *) fail_tool "cannot inspect libraries on $(uname -s)" ;;
    esac
fi

# --- check ------------------------------------------------------------------------------------

forced="${SHAMPOO_BLAS_PATH:-}"
forced_kind=""
if [[ -n $forced ]]; then
    case "$(basename "$forced" | tr '[:upper:]' '[:lower:]')" in
        *mkl*) forced_kind=mkl ;;
        *) forced_kind=openblas ;;
    esac
fi

tmp="$(mktemp -d "${TMPDIR:-/tmp}/shampoo-symbols.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

info "check-symbols: $rid (native/manifest/$rid.json)"
if [[ $cross -eq 1 ]]; then
    info "  not a $rid machine: manifest structure only"
    for b in $backends; do
        info "$(printf '  %-9s %2s libraries, %2s symbols' "$b" "$(field "$b" lib | grep -c . || true)" "$(field "$b" sym | grep -c . || true)")"
    done
    exit 0
fi
info "$(printf '  %-9s %-8s %-8s %s' BACKEND STATUS SYMBOLS LIBRARY)"

problems=""
for b in $backends; do
    [[ -z $only || $only == *",$b,"* ]] || continue
    [[ $skip != *",$b,"* ]] || continue

    field "$b" sym | sed '/^$/d' | sort -u >"$tmp/want"
    total="$(grep -c . "$tmp/want" || true)"
    candidates="$(field "$b" lib)"
    [[ -n $forced && $forced_kind == "$b" ]] && candidates="$forced
$candidates"

    if [[ -z $candidates ]]; then
        info "$(printf '  %-9s %-8s %-8s %s' "$b" "n/a" "-" "$(field "$b" unavailable)")"
        continue
    fi

    lib=""
    while IFS= read -r c; do
        [[ -n $c ]] || continue
        lib="$(resolve "$c")"
        [[ -z $lib ]] || break
    done <<<"$candidates"

    if [[ -z $lib ]]; then
        printf '  %-9s %-8s %-8s none of: %s\n' "$b" "MISSING" "-" "$(printf '%s' "$candidates" | tr '\n' ' ')"
        problems="$problems
  $b: no library found (looked for: $(printf '%s\n' "$candidates" | paste -sd ' ' -))"
        continue
    fi

    if [[ $symbol_tool_ok -eq 0 ]]; then
        info "$(printf '  %-9s %-8s %-8s %s' "$b" "found" "?/$total" "$lib (symbols not checked: objdump not found)")"
        continue
    fi

    exports_of "$lib" | sort -u >"$tmp/have"
    comm -23 "$tmp/want" "$tmp/have" >"$tmp/missing"
    nmissing="$(grep -c . "$tmp/missing" || true)"
    present=$((total - nmissing))

    real="$(readlink -f "$lib" 2>/dev/null || true)"
    [[ -z $real || $real == "$lib" ]] || lib="$lib -> $real"
    if [[ $nmissing -eq 0 ]]; then
        info "$(printf '  %-9s %-8s %-8s %s' "$b" "ok" "$present/$total" "$lib")"
    else
        printf '  %-9s %-8s %-8s %s\n' "$b" "FAIL" "$present/$total" "$lib"
        problems="$problems
  $b: $lib does not export: $(paste -sd ' ' "$tmp/missing")"
    fi
    if [[ $verbose -eq 1 ]]; then
        while IFS= read -r s; do
            if grep -qxF "$s" "$tmp/missing"; then mark="MISSING"; else mark="ok"; fi
            printf '      %-28s %s\n' "$s" "$mark"
        done <"$tmp/want"
    fi
done

if [[ -n $problems ]]; then
    {
        echo "check-symbols: native libraries are missing or incomplete:$problems"
        echo "  fix: bash native/provision.sh"
        echo "       (or point SHAMPOO_BLAS_PATH at a complete MKL/OpenBLAS library; --no-mpi skips MPI)"
    } >&2
    exit 1
fi
info "check-symbols: all required symbols present"
