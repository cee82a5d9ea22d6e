# Sourced by scripts/demo and scripts/test: makes sure the Debian packages a
# build or a test run needs are installed before anything is built.
#
#   require_packages "why they are needed" PACKAGE...
#
# Nothing happens when every package is installed. Otherwise the missing ones
# are installed with apt-get, as root or through sudo, after one line saying
# what and why; where neither is possible the function prints the command to
# run and exits 1, so no build starts that would stop on a missing header.
#
# Test hooks (Tests/FieldCLITests/SetupScriptTests.swift):
#   FIELD_SETUP_ABSENT="pkg1 pkg2"  treat these packages as not installed;
#   FIELD_SETUP_NO_ROOT=1           behave as a user with neither root nor sudo.

package_installed() {
    local package=$1
    case " ${FIELD_SETUP_ABSENT:-} " in *" $package "*) return 1 ;; esac
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"
}

require_packages() {
    local why=$1
    shift
    if ! command -v dpkg-query >/dev/null 2>&1 && [ -z "${FIELD_SETUP_ABSENT:-}" ]; then
        echo "note: this is not a Debian system, so the packages $* (or their equivalents) were not checked." >&2
        return 0
    fi
    local missing=()
    local package
    for package in "$@"; do
        package_installed "$package" || missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return 0

    local install="apt-get install -y ${missing[*]}"
    local runner=()
    if [ "${FIELD_SETUP_NO_ROOT:-}" != 1 ] && [ "$(id -u)" -eq 0 ]; then
        runner=()
    elif [ "${FIELD_SETUP_NO_ROOT:-}" != 1 ] && command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        runner=(sudo)
    else
        echo "Missing system packages ${missing[*]} ($why): run 'sudo apt-get update && sudo $install' as an administrator, then run this again." >&2
        exit 1
    fi
    echo "Installing ${missing[*]} with apt-get ($why)…"
    export DEBIAN_FRONTEND=noninteractive
    "${runner[@]}" apt-get update -qq >/dev/null
    if ! "${runner[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null; then
        echo "Could not install ${missing[*]}: run '$install' as root and look at what apt-get says." >&2
        exit 1
    fi
}
