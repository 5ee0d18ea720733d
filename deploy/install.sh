#!/usr/bin/env bash
# Builds a release and installs Warden's binaries, configuration and systemd unit. Run as root.
# Usage: deploy/install.sh [--prefix /usr/local] [--no-start]
set -euo pipefail
cd "$(dirname "$0")/.."
PREFIX=/usr/local
START=1
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) PREFIX="$2"; shift 2 ;;
    --no-start) START=0; shift ;;
    *) echo "install.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "install.sh: run as root" >&2; exit 1; }
make deps
# The Swift runtime and Foundation linked in: less resident memory per process, no Swift libraries needed at run time.
swift build -c release --static-swift-stdlib
BIN="$(swift build -c release --static-swift-stdlib --show-bin-path)"
install -d "$PREFIX/bin" "$PREFIX/share/doc/warden"
for exe in warden wardenctl; do install -m 0755 "$BIN/$exe" "$PREFIX/bin/$exe"; done
for exe in warden-engine warden-notifier warden-dashboard warden-fakes; do
  [ -x "$BIN/$exe" ] && install -m 0755 "$BIN/$exe" "$PREFIX/bin/$exe"
done
install -m 0644 README.md "$PREFIX/share/doc/warden/README.md"
install -D -m 0644 deploy/systemd/warden.sysusers.conf /usr/lib/sysusers.d/warden.conf
install -D -m 0644 deploy/systemd/warden.tmpfiles.conf /usr/lib/tmpfiles.d/warden.conf
systemd-sysusers /usr/lib/sysusers.d/warden.conf
systemd-tmpfiles --create /usr/lib/tmpfiles.d/warden.conf
if [ ! -f /etc/warden/warden.yaml ]; then
  install -m 0640 -g warden etc/warden.yaml /etc/warden/warden.yaml
else
  echo "keeping existing /etc/warden/warden.yaml (new default: etc/warden.yaml)"
fi
for cred in telegram_token telegram_chat_id webhook_url; do
  [ -f "/etc/warden/credentials/$cred" ] || install -m 0640 -g warden /dev/null "/etc/warden/credentials/$cred"
done
sed "s|/usr/local/bin|$PREFIX/bin|g" deploy/systemd/warden.service > /etc/systemd/system/warden.service
"$PREFIX/bin/warden" --check-config --config /etc/warden/warden.yaml
systemctl daemon-reload
if [ "$START" = 1 ]; then systemctl enable --now warden.service; systemctl --no-pager status warden.service || true; fi
