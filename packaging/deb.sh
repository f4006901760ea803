#!/usr/bin/env bash
# Builds the Debian package for one architecture with Debian's own dpkg-deb: the compiled binary
# (packaging/compile.sh) in /usr/bin, the systemd unit and the udev rule from deploy/,
# /etc/openseg/config.json as a conffile, and maintainer scripts (packaging/debian/) that create
# the openseg system user in dialout and /var/lib/openseg.
#
# deb-systemd-helper and deb-systemd-invoke are used as debhelper's generated scripts use them;
# every systemctl call is guarded by /run/systemd/system, so the package also installs in a chroot
# or a container without systemd.
#
# Usage: packaging/deb.sh ARCH OUT_DIR   (ARCH: amd64 or arm64)
# Environment: DENORT_BIN (a stub runtime where the real one cannot be fetched, as for
# compile.sh: the package is then for checking only, its binary cannot run),
# OPENSEG_DEB_VERSION (default: the version in package.json).
set -euo pipefail
cd "$(dirname "$0")/.."
arch="${1:?usage: packaging/deb.sh ARCH OUT_DIR}"
out_dir="${2:?usage: packaging/deb.sh ARCH OUT_DIR}"
case "$arch" in
  amd64) target=x86_64-unknown-linux-gnu ;;
  arm64) target=aarch64-unknown-linux-gnu ;;
  *)
    echo "packaging/deb.sh: unknown architecture '$arch' (amd64 or arm64)" >&2
    exit 2
    ;;
esac
version="${OPENSEG_DEB_VERSION:-$(node -p 'require("./package.json").version')}"
maintainer="openseg contributors <openseg@users.noreply.github.com>"

root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
chmod 0755 "$root"

bash packaging/compile.sh "$target" "$root/usr/bin/openseg"
chmod 0755 "$root/usr/bin/openseg"
if [ -n "${DENORT_BIN:-}" ]; then
  echo "deb: WARNING: /usr/bin/openseg in this package is built on the STUB runtime $DENORT_BIN" \
    "(the real denort could not be fetched): the package is for checking only, its binary" \
    "cannot run. Build without DENORT_BIN on a machine with internet access to ship it."
fi
install -D -m 0644 deploy/openseg.service "$root/lib/systemd/system/openseg.service"
install -D -m 0644 deploy/99-openseg-radios.rules "$root/lib/udev/rules.d/99-openseg-radios.rules"
install -D -m 0644 deploy/config.json "$root/etc/openseg/config.json"
doc="$root/usr/share/doc/openseg"
install -D -m 0644 packaging/debian/copyright "$doc/copyright"
install -m 0644 README.md "$doc/README.md"
# A native package's changelog; its date is the last commit's, so rebuilds are identical.
changed="$(git log -1 --format=%cD 2>/dev/null || date -R)"
printf 'openseg (%s) unstable; urgency=medium\n\n  * Release %s.\n\n -- %s  %s\n' \
  "$version" "$version" "$maintainer" "$changed" | gzip -9n >"$doc/changelog.gz"
chmod 0644 "$doc/changelog.gz"
install -d -m 0755 "$root/usr/share/man/man1"
gzip -9n <packaging/openseg.1 >"$root/usr/share/man/man1/openseg.1.gz"
chmod 0644 "$root/usr/share/man/man1/openseg.1.gz"

install -d -m 0755 "$root/DEBIAN"
installed_kb=$(du -sk --apparent-size "$root" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@INSTALLED_SIZE@/$installed_kb/" \
  packaging/debian/control.in >"$root/DEBIAN/control"
echo "/etc/openseg/config.json" >"$root/DEBIAN/conffiles"
# Checksums of every shipped file but the conffile (dpkg tracks that one itself).
(cd "$root" && find usr lib -type f -print0 | sort -z | xargs -0 md5sum) >"$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/md5sums"
for script in postinst prerm postrm; do
  install -m 0755 "packaging/debian/$script" "$root/DEBIAN/$script"
done

mkdir -p "$out_dir"
deb="$out_dir/openseg_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "deb: $deb is $(stat -c %s "$deb") bytes"
