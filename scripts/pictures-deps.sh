#!/usr/bin/env bash
# Installs what `make pictures` needs beyond the virtualenv, from Debian's packages: chromium (the
# headless browser that screenshots the rendered Block Kit), fonts-noto-color-emoji (without a
# colour emoji font the bot's :white_check_mark: and friends come out as empty boxes) and
# fonts-lato (Slack's own typeface, so the pictures read like Slack rather than like DejaVu).
#
# Idempotent and silent when both are already there. Nothing else depends on these: `make test`
# never starts a browser.
set -euo pipefail

PACKAGES=()
command -v chromium >/dev/null 2>&1 || PACKAGES+=(chromium)
# fc-list ships with fontconfig, which chromium pulls in; before chromium is installed it may be
# absent, and then the fonts are certainly missing too.
has_font() { fc-list : family 2>/dev/null | grep -qi "^$1"; }
has_font "Noto Color Emoji" || PACKAGES+=(fonts-noto-color-emoji)
has_font "Lato" || PACKAGES+=(fonts-lato)
[ ${#PACKAGES[@]} -eq 0 ] && exit 0

echo "pictures-deps: installing ${PACKAGES[*]} from Debian's packages"

# Run privileged steps as root directly, else through sudo; say so plainly when neither works.
if [ "$(id -u)" -eq 0 ]; then
    as_root() { "$@"; }
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root() { sudo -n -- "$@"; }
else
    echo "pictures-deps: not root and no password-less sudo; as root, run:" >&2
    echo "  apt-get install --no-install-recommends ${PACKAGES[*]}" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "pictures-deps: apt-get not found; install ${PACKAGES[*]} with your system's packages," >&2
    echo "  or set CHROMIUM to a Chromium or Chrome binary" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# Other jobs on the machine may hold the dpkg lock for a while: wait for it instead of failing.
APT=(apt-get -q -y -o DPkg::Lock::Timeout=300 -o Dpkg::Use-Pty=0)

# apt and dpkg are chatty even with -q: keep their output, and show it only when a step fails.
APT_LOG=$(mktemp)
trap 'rm -f "$APT_LOG"' EXIT
quietly() {
    if ! "$@" >>"$APT_LOG" 2>&1; then
        cat "$APT_LOG" >&2
        return 1
    fi
}

# apt-get update only when the package lists offer no candidate (a fresh image ships none).
for package in "${PACKAGES[@]}"; do
    candidate=$(apt-cache policy "$package" 2>/dev/null | awk '/Candidate:/ {print $2}')
    if [ -z "$candidate" ] || [ "$candidate" = "(none)" ]; then
        quietly as_root "${APT[@]}" update
        break
    fi
done

install_packages() {
    as_root "${APT[@]}" install --no-install-recommends "${PACKAGES[@]}" >>"$APT_LOG" 2>&1
}
# Lists older than the archive give 404s for superseded versions: refresh once and try again.
if ! install_packages; then
    quietly as_root "${APT[@]}" update
    quietly install_packages
fi

if ! command -v chromium >/dev/null 2>&1; then
    echo "pictures-deps: chromium is still missing after the install" >&2
    exit 1
fi
echo "pictures-deps: ready ($(chromium --version 2>/dev/null | head -n 1))"
