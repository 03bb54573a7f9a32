#!/usr/bin/env bash
# Installs the Debian packages the e2e tests run as real clients: prometheus-alertmanager (the
# Alertmanager that posts webhooks to the bot, SPEC §4.7) and prometheus (for promtool).
#
# Idempotent and silent when both binaries are already there. When it installs, it keeps the
# packaged daemons from running: Debian's postinst enables them and starts them (Alertmanager on
# :9093 and :9094, Prometheus on :9090) wherever an init system runs, systemd or sysvinit; only
# in a container with neither does invoke-rc.d refuse by itself. Our harness starts its own
# Alertmanager on a free port, so a system one would only squat on those ports. The daemons are
# held back during the install by a temporary policy-rc.d exiting 101, which invoke-rc.d and
# deb-systemd-invoke both obey (unless the machine already has one), and disabled afterwards; a
# package that was already installed is left exactly as its owner configured it.
set -euo pipefail

PACKAGES=(prometheus-alertmanager prometheus)
SERVICES=(prometheus-alertmanager prometheus)
BINARIES=(/usr/bin/prometheus-alertmanager /usr/bin/promtool)

missing=()
for binary in "${BINARIES[@]}"; do
    [ -x "$binary" ] || missing+=("$binary")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "system-deps: missing ${missing[*]}; installing ${PACKAGES[*]} from Debian's packages"

# Run privileged steps as root directly, else through sudo; say so plainly when neither works.
if [ "$(id -u)" -eq 0 ]; then
    as_root() { "$@"; }
elif command -v sudo >/dev/null 2>&1; then
    as_root() { sudo -- "$@"; }
else
    echo "system-deps: not root and sudo is not available; as root, run:" >&2
    echo "  apt-get install --no-install-recommends ${PACKAGES[*]}" >&2
    echo "  (then disable their services: the tests start their own Alertmanager)" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "system-deps: apt-get not found; this script expects Debian (12 or later)" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# Other jobs on the machine may hold the dpkg lock for a while: wait for it instead of failing.
APT=(apt-get -q -y -o DPkg::Lock::Timeout=300 -o Dpkg::Use-Pty=0)

# apt and dpkg are chatty even with -q: keep their output, and show it only when a step fails.
APT_LOG=$(mktemp)
quietly() {
    if ! "$@" >>"$APT_LOG" 2>&1; then
        cat "$APT_LOG" >&2
        return 1
    fi
}

# apt-get update only when the package lists do not offer a candidate (a fresh image ships none).
needs_update=0
for package in "${PACKAGES[@]}"; do
    candidate=$(apt-cache policy "$package" 2>/dev/null | awk '/Candidate:/ {print $2}')
    if [ -z "$candidate" ] || [ "$candidate" = "(none)" ]; then
        needs_update=1
    fi
done
if [ "$needs_update" -eq 1 ]; then
    quietly as_root "${APT[@]}" update
fi

# A policy-rc.d that exits 101 tells invoke-rc.d not to start anything during the install.
POLICY=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$POLICY" ]; then
    as_root sh -c "printf '#!/bin/sh\nexit 101\n' > $POLICY && chmod 755 $POLICY"
    own_policy=1
fi
remove_own_policy() {
    if [ "$own_policy" -eq 1 ]; then
        as_root rm -f "$POLICY"
        own_policy=0
    fi
}
trap 'remove_own_policy; rm -f "$APT_LOG"' EXIT

install_packages() {
    as_root "${APT[@]}" install --no-install-recommends "${PACKAGES[@]}" >>"$APT_LOG" 2>&1
}
# Lists older than the archive give 404s for superseded versions: refresh once and try again.
if ! install_packages; then
    quietly as_root "${APT[@]}" update
    quietly install_packages
fi
remove_own_policy

# Leave neither daemon enabled nor running, whichever init system the machine has.
for service in "${SERVICES[@]}"; do
    if [ -d /run/systemd/system ]; then
        as_root systemctl disable --now --quiet "$service.service" >>"$APT_LOG" 2>&1 || true
    else
        as_root deb-systemd-helper disable "$service.service" >/dev/null 2>&1 || true
        if [ -x "/etc/init.d/$service" ]; then
            as_root update-rc.d "$service" disable >/dev/null 2>&1 || true
            if as_root "/etc/init.d/$service" status >/dev/null 2>&1; then
                quietly as_root "/etc/init.d/$service" stop
            fi
        fi
    fi
done

for binary in "${BINARIES[@]}"; do
    if [ ! -x "$binary" ]; then
        echo "system-deps: $binary is still missing after the install" >&2
        exit 1
    fi
done
echo "system-deps: installed $(/usr/bin/prometheus-alertmanager --version 2>&1 | head -n 1)"
