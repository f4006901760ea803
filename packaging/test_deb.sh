#!/usr/bin/env bash
# Checks that the package's maintainer scripts survive a whole life cycle on this machine (as root,
# with or without systemd running): install, upgrade to a newer version with the conffile edited
# (the edit is kept), remove (configuration and data stay), reinstall, purge (both go).
#
# Usage: packaging/test_deb.sh OLD.deb NEW.deb   (two versions of the package for this machine)
set -euo pipefail
old="${1:?usage: packaging/test_deb.sh OLD.deb NEW.deb}"
new="${2:?usage: packaging/test_deb.sh OLD.deb NEW.deb}"

fail() {
  echo "deb life cycle: $*" >&2
  exit 1
}
installed_version() { dpkg-query -W -f='${Status} ${Version}' openseg 2>/dev/null || true; }
if dpkg-query -W openseg >/dev/null 2>&1; then fail "openseg is already installed here"; fi

echo "deb life cycle: install $(basename "$old")"
dpkg -i "$old"
[[ "$(installed_version)" == "install ok installed "* ]] || fail "not installed: $(installed_version)"
[ -x /usr/bin/openseg ] || fail "no /usr/bin/openseg"
getent passwd openseg >/dev/null || fail "no openseg user"
id -nG openseg | tr ' ' '\n' | grep -qx dialout || fail "openseg is not in dialout"
[ "$(stat -c '%U:%G %a' /var/lib/openseg)" = "openseg:openseg 750" ] ||
  fail "/var/lib/openseg is $(stat -c '%U:%G %a' /var/lib/openseg)"
dpkg-query -W -f='${Conffiles}\n' openseg | grep -q "/etc/openseg/config.json" ||
  fail "config.json is not a conffile"
echo "deb life cycle: systemd-analyze verify of the installed unit"
systemd-analyze verify /lib/systemd/system/openseg.service

echo "deb life cycle: the owner edits the config, then upgrades to $(basename "$new")"
sed -i 's/0.0.0.0:8080/0.0.0.0:8081/' /etc/openseg/config.json
echo "gateway data" >/var/lib/openseg/openseg.db
dpkg -i --force-confold "$new"
[[ "$(installed_version)" == "install ok installed "* ]] || fail "upgrade: $(installed_version)"
grep -q "0.0.0.0:8081" /etc/openseg/config.json || fail "upgrade replaced the edited conffile"
[ "$(cat /var/lib/openseg/openseg.db)" = "gateway data" ] || fail "upgrade lost the data"

echo "deb life cycle: remove"
dpkg -r openseg
[ ! -e /usr/bin/openseg ] || fail "remove left /usr/bin/openseg"
[ -e /etc/openseg/config.json ] || fail "remove deleted the configuration"
[ -e /var/lib/openseg/openseg.db ] || fail "remove deleted the data"

echo "deb life cycle: reinstall, then purge"
dpkg -i "$new"
dpkg -P openseg
[ -z "$(dpkg-query -W -f='${Status}' openseg 2>/dev/null || true)" ] ||
  [[ "$(installed_version)" == *"not-installed"* ]] || fail "purge: $(installed_version)"
[ ! -e /etc/openseg ] || fail "purge left /etc/openseg"
[ ! -e /var/lib/openseg ] || fail "purge left /var/lib/openseg"
[ ! -e /etc/systemd/system/multi-user.target.wants/openseg.service ] &&
  [ ! -e /etc/systemd/system/openseg.service ] || fail "purge left systemd links"
echo "deb life cycle: install, upgrade, remove, reinstall and purge all passed"
