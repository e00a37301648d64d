#!/usr/bin/env bash
# Installs the native libraries ShampooMkl binds to at run time (Intel MKL, OpenBLAS, Open MPI).
#
# Only Debian and Ubuntu can be provisioned automatically: their archives ship MKL 2020.4
# (Debian `non-free`, Ubuntu `multiverse`), so no vendor download is needed. Everywhere else this
# prints the exact commands to run and exits 3, so a build never fails on something obscure.
#
# Usage: bash native/provision.sh [--check] [--no-mpi] [--no-mkl] [--verbose]
#   --check    report only; exit 1 if something is missing (never installs, never needs root)
#   --no-mpi   skip Open MPI
#   --no-mkl   skip MKL (OpenBLAS is the fallback backend; MKL is amd64-only anyway)
#   --verbose  show apt's own output
#
# Exit codes: 0 ready, 1 missing (--check) or install failed, 2 bad usage,
#             3 this platform cannot be provisioned automatically (instructions printed).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

check_only=0
want_mpi=1
want_mkl=1
verbose=0
for arg in "$@"; do
    case "$arg" in
        --check) check_only=1 ;;
        --no-mpi) want_mpi=0 ;;
        --no-mkl) want_mkl=0 ;;
        --verbose | -v) verbose=1 ;;
        -h | --help)
            sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
            exit 0
            ;;
        *)
            echo "provision: unknown argument '$arg' (try --help)" >&2
            exit 2
            ;;
    esac
done

say() { printf 'provision: %s\n' "$*"; }
die() {
    printf 'provision: error: %s\n' "$*" >&2
    exit 1
}

# --- platforms we cannot provision -------------------------------------------------------------

# If someone already installed the libraries by hand, an unsupported platform is not an error:
# the build-time symbol check is the real criterion.
libraries_already_usable() {
    local extra=()
    [[ $want_mpi -eq 1 ]] || extra+=(--no-mpi)
    [[ $want_mkl -eq 1 ]] || extra+=(--no-mkl)
    # ${a[@]+...}: an empty array is "unbound" under set -u in macOS's bash 3.2.
    bash "$here/check-symbols.sh" --quiet ${extra[@]+"${extra[@]}"} >/dev/null 2>&1
}

cannot_provision() {
    local platform="$1" instructions="$2"
    if libraries_already_usable; then
        say "cannot provision $platform automatically, but the native libraries are present and complete"
        exit 0
    fi
    {
        echo "provision: cannot install native libraries automatically on $platform."
        echo "Install them by hand, then check with: bash native/check-symbols.sh"
        echo
        printf '%s\n' "$instructions"
        echo
        echo "To build without this step: SHAMPOO_SKIP_PROVISION=1 ./build.sh"
    } >&2
    exit 3
}

# shellcheck disable=SC2016 # $CONDA_PREFIX is meant literally: it is text for the user to run
macos_instructions='  OpenBLAS + Open MPI (Homebrew):   brew install openblas open-mpi
  Intel MKL (Intel Macs only; there is no Apple Silicon build):
    conda install -c conda-forge mkl        (then export DYLD_LIBRARY_PATH="$CONDA_PREFIX/lib")
    or the Intel oneAPI Math Kernel Library installer for macOS (2023.x, the last release for macOS)
  Homebrew openblas is keg-only: it is found at /opt/homebrew/opt/openblas/lib (arm64)
  or /usr/local/opt/openblas/lib (x64); set SHAMPOO_BLAS_PATH to use another file.'

windows_instructions='  Intel MKL: the Intel oneAPI Math Kernel Library installer (or its redistributable), which puts
    mkl_rt.2.dll in "C:\Program Files (x86)\Intel\oneAPI\mkl\latest\bin" (add it to PATH), or
    conda install -c conda-forge mkl
  OpenBLAS:  vcpkg install openblas:x64-windows   (openblas.dll; add vcpkg\installed\x64-windows\bin to PATH)
             or the libopenblas.dll of an official OpenBLAS x64 release zip, on PATH
  MPI:       Microsoft MPI (MS-MPI) redistributable, which installs msmpi.dll into System32
  Set SHAMPOO_BLAS_PATH to a full .dll path to pick a specific file.'

# shellcheck disable=SC2016
other_linux_instructions='  FreeBSD:      pkg install openblas openmpi
  Fedora/RHEL:  sudo dnf install openblas-openmp openmpi      (then: module load mpi/openmpi-x86_64)
  Arch:         sudo pacman -S openblas openmpi
  openSUSE:     sudo zypper install libopenblas_pthreads0 openmpi4
  Intel MKL:    conda install -c conda-forge mkl   (export LD_LIBRARY_PATH="$CONDA_PREFIX/lib")
                or the Intel oneAPI Math Kernel Library installer / Intel oneAPI dnf or zypper repository
  Set SHAMPOO_BLAS_PATH to a full library path to pick a specific file.'

case "$(uname -s)" in
    Darwin) cannot_provision "macOS" "$macos_instructions" ;;
    MINGW* | MSYS* | CYGWIN*) cannot_provision "Windows" "$windows_instructions" ;;
    Linux) ;;
    *) cannot_provision "$(uname -s)" "$other_linux_instructions" ;;
esac

os_id="" os_like="" codename=""
if [[ -r /etc/os-release ]]; then
    # Read in a subshell so os-release's variables do not leak into ours.
    eval "$(. /etc/os-release && printf 'os_id=%q os_like=%q codename=%q' \
        "${ID:-}" "${ID_LIKE:-}" "${UBUNTU_CODENAME:-${VERSION_CODENAME:-}}")"
fi

family=""
case " $os_id $os_like " in
    *" ubuntu "*) family=ubuntu ;;
    *" debian "*) family=debian ;;
esac
if [[ -z $family ]] || ! command -v apt-get >/dev/null || ! command -v dpkg-query >/dev/null; then
    cannot_provision "${os_id:-this Linux} (no apt)" "$other_linux_instructions"
fi

# --- what we need --------------------------------------------------------------------------------

arch="$(dpkg --print-architecture)"
packages=(libopenblas0-pthread)
if [[ $want_mkl -eq 1 ]]; then
    if [[ $arch == amd64 ]]; then
        # libmkl_rt dlopen()s an OpenMP runtime for its threading layer: libgomp.so.1 (GNU layer)
        # or libiomp5.so (Intel layer, shipped by LLVM's libomp-dev in Debian). Both are cheap,
        # and naming them means a --no-install-recommends apt config cannot silently drop them.
        packages+=(libmkl-rt libgomp1 libomp-dev)
    else
        [[ $check_only -eq 1 ]] || say "MKL is only packaged for amd64; skipping it on $arch (OpenBLAS will be used)"
    fi
fi
# iproute2's `ip netns` and veth pairs give the multi-host MPI test (MultiHostMpiTests) its two hosts on one machine.
[[ $want_mpi -eq 1 ]] && packages+=(openmpi-bin libopenmpi-dev iproute2)
# check-symbols.sh needs nm; it is on every machine with a compiler, but not on a minimal image.
command -v nm >/dev/null || packages+=(binutils)

is_installed() {
    [[ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null)" == "ii"* ]]
}

missing=()
for p in "${packages[@]}"; do
    is_installed "$p" || missing+=("$p")
done

if [[ ${#missing[@]} -eq 0 ]]; then
    say "ok, already installed: ${packages[*]}"
    exit 0
fi

if [[ $check_only -eq 1 ]]; then
    say "missing: ${missing[*]} (fix: bash native/provision.sh)" >&2
    exit 1
fi

# --- privileges ------------------------------------------------------------------------------

sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null; then
        # -n: never hang on a password prompt in CI (no stdin); tell the user what to do instead.
        if ! sudo -n true 2>/dev/null && [[ ! -t 0 ]]; then
            die "need root to install ${missing[*]}; run: sudo bash native/provision.sh"
        fi
        sudo_cmd=(sudo)
    else
        echo "provision: need root to install ${missing[*]}, and sudo is not available." >&2
        echo "  As root, run: bash native/provision.sh" >&2
        echo "  (or SHAMPOO_SKIP_PROVISION=1 ./build.sh if the libraries are installed some other way)" >&2
        exit 3
    fi
fi
as_root() { ${sudo_cmd[@]+"${sudo_cmd[@]}"} "$@"; }

# --- apt components --------------------------------------------------------------------------

# libmkl-rt lives outside `main`: Debian `non-free`; Ubuntu `multiverse` (OpenBLAS and Open MPI
# are in `universe` there). Only stanzas/lines for the distribution's own suites are touched, so
# third-party repositories that also use a `main` component are left alone.
components=()
if [[ $family == ubuntu ]]; then
    components=(universe multiverse)
elif [[ " ${missing[*]} " == *" libmkl-rt "* ]]; then
    components=(non-free)
fi

# Emits the edited text of one sources file on stdout. FORMAT is deb822 (*.sources) or list.
edit_sources() {
    local file="$1" format="$2"
    awk -v format="$format" -v codename="$codename" -v want="${components[*]}" '
        function ours(suite) {
            sub(/\/.*/, "", suite)  # "bookworm/updates" (old security suite) -> "bookworm"
            return (codename != "" && (suite == codename || index(suite, codename "-") == 1)) ||
                   suite ~ /^(stable|oldstable|testing|unstable|sid)(-|$)/
        }
        # Returns the components of WANT missing from the space-separated list HAVE. Only archive
        # entries (which always carry `main`) qualify: "bookworm stable" of a vendor repo does not.
        function lacking(have,   n, w, i, out, h) {
            out = ""
            h = " " have " "
            gsub(/[ \t]+/, " ", h)
            if (index(h, " main ") == 0) return ""
            n = split(want, w, " ")
            for (i = 1; i <= n; i++)
                if (index(h, " " w[i] " ") == 0) out = out " " w[i]
            return out
        }
        function flush(   i, j, n, s, is_ours, field, add) {
            is_ours = 0
            for (i = 1; i <= nl; i++) {
                if (tolower(buf[i]) ~ /^suites:/) {
                    field = buf[i]; sub(/^[^:]*:/, "", field)
                    n = split(field, s, " ")
                    for (j = 1; j <= n; j++) if (ours(s[j])) is_ours = 1
                }
            }
            for (i = 1; i <= nl; i++) {
                if (is_ours && tolower(buf[i]) ~ /^components:/) {
                    field = buf[i]; sub(/^[^:]*:/, "", field)
                    add = lacking(field)
                    if (add != "") buf[i] = buf[i] add
                }
                print buf[i]
            }
            nl = 0
        }
        format == "deb822" {
            if ($0 ~ /^[ \t]*$/) { flush(); print; next }
            buf[++nl] = $0
            next
        }
        # One-line format: deb [options] URI SUITE COMPONENT... [# comment]
        /^[ \t]*deb(-src)?[ \t]/ {
            code = $0; comment = ""
            if ((c = index(code, "#")) > 0) { comment = substr(code, c); code = substr(code, 1, c - 1) }
            sub(/[ \t]+$/, "", code)
            plain = code; gsub(/\[[^]]*\]/, "", plain)
            n = split(plain, f, " ")
            if (n >= 4 && ours(f[3])) {
                have = ""; for (i = 4; i <= n; i++) have = have " " f[i]
                add = lacking(have)
                if (add != "") { print code add (comment != "" ? " " comment : ""); next }
            }
        }
        { print }
        END { if (format == "deb822") flush() }
    ' "$file"
}

sources_changed=0
if [[ ${#components[@]} -gt 0 ]]; then
    shopt -s nullglob
    for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [[ -f $file ]] || continue
        format=list
        [[ $file == *.sources ]] && format=deb822
        edited="$(edit_sources "$file" "$format")"
        if [[ "$edited" != "$(cat "$file")" ]]; then
            # The backup lives outside sources.list.d, where apt would warn about its extension.
            backup="/var/backups/shampoo-provision/$(basename "$file").orig"
            as_root mkdir -p "$(dirname "$backup")"
            [[ -e $backup ]] || as_root cp -p "$file" "$backup"
            printf '%s\n' "$edited" | as_root tee "$file" >/dev/null
            say "enabled apt component(s) ${components[*]} in $file (original kept as $backup)"
            sources_changed=1
        fi
    done
    shopt -u nullglob
fi

# --- install ---------------------------------------------------------------------------------

log="$(mktemp -t shampoo-provision.XXXXXX)"
trap 'rm -f "$log"' EXIT

# No stdin in CI: everything must be answered up front. Dpkg lock timeout instead of failing when
# an unattended upgrade happens to hold the lock.
apt_env=(env DEBIAN_FRONTEND=noninteractive NEEDRESTART_MODE=a)
apt_opts=(-y -o DPkg::Lock::Timeout=300 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)

run_apt() {
    local what="$1"
    shift
    if [[ $verbose -eq 1 ]]; then
        as_root "${apt_env[@]}" apt-get "${apt_opts[@]}" "$@" </dev/null && return 0
    elif as_root "${apt_env[@]}" apt-get -q "${apt_opts[@]}" "$@" </dev/null >"$log" 2>&1; then
        return 0
    fi
    [[ $verbose -eq 1 ]] || tail -n 25 "$log" >&2
    die "apt-get $what failed (see above; rerun with --verbose for full output)"
}

# libmkl-rt asks whether to make MKL the system-wide libblas.so.3/liblapack.so.3. Say no: we load
# libmkl_rt.so explicitly, and numpy/R on the same machine should keep their OpenBLAS.
if [[ " ${missing[*]} " == *" libmkl-rt "* ]]; then
    echo "libmkl-rt libmkl-rt/use-as-default-blas-lapack boolean false" |
        as_root debconf-set-selections
fi

say "installing ${missing[*]} ..."
run_apt update update
# (Captured first: `apt-cache | grep -q` under pipefail fails at random when grep exits early.)
if [[ " ${missing[*]} " == *" libmkl-rt "* ]]; then
    policy="$(apt-cache policy libmkl-rt 2>/dev/null || true)"
    if [[ ! $policy =~ Candidate:\ [0-9] ]]; then
        if [[ $family == ubuntu ]]; then where_mkl="multiverse"; else where_mkl="non-free"; fi
        if [[ $sources_changed -eq 1 ]]; then
            why="the component was just added"
        else
            why="no apt source for suite '${codename:-?}' with 'main' was found to add it to"
        fi
        die "libmkl-rt has no install candidate with '$where_mkl' enabled ($why)." \
            "Enable '$where_mkl' in /etc/apt/sources.list* by hand, or use --no-mkl (OpenBLAS only)."
    fi
fi
run_apt install install "${missing[@]}"

still=()
for p in "${missing[@]}"; do
    is_installed "$p" || still+=("$p")
done
[[ ${#still[@]} -eq 0 ]] || die "still not installed after apt-get: ${still[*]}"
say "installed ${missing[*]}"
