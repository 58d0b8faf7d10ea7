#!/bin/bash
# Install everything svmgpu needs from Debian bookworm's archive, idempotently.
#
# The system's apt sources are left alone: a private apt configuration under
# $SVMGPU_CACHE/apt (its own sources list, with deb-src, and its own package
# lists) is used for source packages and for the guest kernel packages.
# Host packages are installed with the system's apt-get (as root, or via sudo).
set -euo pipefail

CACHE=${SVMGPU_CACHE:-$HOME/.cache/svmgpu}
APTDIR=$CACHE/apt
STAMP=$CACHE/deps.stamp
HERE=$(cd "$(dirname "$0")" && pwd)

HOST_PACKAGES=(
	# toolchain and userspace build
	build-essential clang llvm meson ninja-build pkg-config python3
	libdrm-dev libpciaccess-dev libdrm-tests
	# QEMU 7.2 build
	dpkg-dev libglib2.0-dev libfdt-dev libpixman-1-dev zlib1g-dev flex bison
	# QEMU's virtfs (virtio-9p), for make run/exec SHARE=DIR
	libcap-ng-dev libattr1-dev
	# QEMU firmware (Debian strips the blobs from its source)
	seabios qemu-system-data ipxe-qemu
	# kernel builds and the guest image
	bc libelf-dev libssl-dev cpio xz-utils kmod rsync busybox-static
	# tools; locales: localedef for the assembler's comma-decimal locale test
	perl locales
	# the tools' --json output (libuserspace/common/cli.c); make bench's plots
	libjson-c-dev python3-matplotlib
	# memory-management stress in the guest (make stress)
	stress-ng
	# a hung guest's QEMU threads, backtraced (scripts/qemu-hang-dump.py)
	gdb
	# Debian packages of the stack (make deb): debhelper with meson, DKMS, lintian
	debhelper dh-dkms dkms fakeroot lintian
)

sudo_() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# The private apt configuration: bookworm, bookworm-updates and
# bookworm-security, binaries and sources.
apt_private_setup() {
	mkdir -p "$APTDIR/lists/partial" "$APTDIR/archives/partial" "$APTDIR/sources.list.d"
	cat > "$APTDIR/sources.list.new" <<SRC
deb     http://deb.debian.org/debian bookworm main
deb-src http://deb.debian.org/debian bookworm main
deb     http://deb.debian.org/debian bookworm-updates main
deb-src http://deb.debian.org/debian bookworm-updates main
deb     http://deb.debian.org/debian-security bookworm-security main
deb-src http://deb.debian.org/debian-security bookworm-security main
SRC
	mv "$APTDIR/sources.list.new" "$APTDIR/sources.list"
	cat > "$APTDIR/apt.conf" <<CONF
Dir::Etc::SourceList "$APTDIR/sources.list";
Dir::Etc::SourceParts "$APTDIR/sources.list.d";
Dir::State::Lists "$APTDIR/lists";
Dir::Cache::Archives "$APTDIR/archives";
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
APT::Sandbox::User "root";
CONF
}

# apt-get with the private configuration; for downloads and `source`.
apt_private() {
	APT_CONFIG="$APTDIR/apt.conf" apt-get -q "$@"
}

apt_private_update() {
	# Refresh the private lists at most once a day.
	if [ -z "$(find "$APTDIR/lists" -maxdepth 1 -name '*Sources*' -mtime -1 2>/dev/null | head -n 1)" ]; then
		apt_private update >/dev/null
	fi
}

# One dpkg-query for all of them: every make target runs this script, and a
# query per package cost 1-2 s per run (6 s on a loaded machine).
host_packages_missing() {
	local p s1 s2 s3 missing=()
	local -A have=()
	while read -r p s1 s2 s3; do
		if [ "$s1 $s2 $s3" = "install ok installed" ]; then
			have[$p]=1
		fi
	done < <(dpkg-query -W -f='${Package} ${Status}\n' "${HOST_PACKAGES[@]}" 2>/dev/null || true)
	for p in "${HOST_PACKAGES[@]}"; do
		[ -n "${have[$p]:-}" ] || missing+=("$p")
	done
	echo "${missing[@]:-}"
}

main() {
	apt_private_setup
	missing=$(host_packages_missing)
	if [ -n "$missing" ]; then
		echo "deps: installing host packages:$missing"
		sudo_ apt-get -q -o DPkg::Lock::Timeout=900 update >/dev/null
		# shellcheck disable=SC2086
		sudo_ env DEBIAN_FRONTEND=noninteractive apt-get -q -y -o DPkg::Lock::Timeout=900 install --no-install-recommends $missing >/dev/null
	fi
	apt_private_update
	touch "$STAMP"
}

case "${1:-}" in
	apt) shift; apt_private_setup; apt_private_update; apt_private "$@" ;;
	*) main ;;
esac
