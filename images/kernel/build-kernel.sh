#!/bin/bash
# Provide a guest kernel and the tree svmgpu.ko builds against.
#
#   build-kernel.sh debian   Debian's bookworm kernel image (extracted with
#                            dpkg -x, never installed into /boot) and its
#                            matching linux-headers package.
#   build-kernel.sh debug    A kernel built from Debian's linux-source-6.1
#                            with debug.config (KASAN, lockdep, kmemleak...).
#
# Prints three lines on success: the bzImage, the KDIR to build modules
# against, and the directory holding the kernel's own modules (or "-").
# Everything is cached under $SVMGPU_CACHE; progress goes to stderr: each
# phase (fetch, configure, build) as it starts, and during the debug build a
# line a minute with the number of files compiled (scripts/progress.sh;
# Kbuild's own output is in linux-debug/build.log).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
# shellcheck source=../../scripts/progress.sh
. "$REPO/scripts/progress.sh"
CACHE=${SVMGPU_CACHE:-$HOME/.cache/svmgpu}
DL=$CACHE/downloads/linux
JOBS=${JOBS:-$(nproc)}

apt_private() {
	bash "$REPO/scripts/deps.sh" apt "$@"
}

sudo_() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# The ABI name behind linux-image-amd64, e.g. 6.1.0-56-amd64.  The image and
# headers meta packages are resolved together so they always match.
debian_abi() {
	local img hdr
	img=$(APT_CONFIG=$CACHE/apt/apt.conf apt-cache depends linux-image-amd64 |
		sed -n 's/^  Depends: linux-image-\(.*\)$/\1/p' | grep -v unsigned | head -n 1)
	hdr=$(APT_CONFIG=$CACHE/apt/apt.conf apt-cache depends linux-headers-amd64 |
		sed -n 's/^  Depends: linux-headers-\(.*\)$/\1/p' | head -n 1)
	if [ -z "$img" ] || [ "$img" != "$hdr" ]; then
		echo "build-kernel: linux-image-amd64 ($img) and linux-headers-amd64 ($hdr) disagree" >&2
		exit 1
	fi
	echo "$img"
}

debian() {
	local abi root
	bash "$REPO/scripts/deps.sh" >&2
	abi=$(debian_abi)
	root=$CACHE/kernel-debian/$abi
	if [ ! -f "$root/.extracted" ]; then
		echo "build-kernel: fetching linux-image-$abi" >&2
		mkdir -p "$DL"
		(cd "$DL" && apt_private download "linux-image-$abi" >&2)
		rm -rf "$root"
		mkdir -p "$root"
		dpkg -x "$(ls "$DL"/linux-image-"$abi"_*.deb | tail -n 1)" "$root"
		touch "$root/.extracted"
	fi
	if [ ! -f "/usr/src/linux-headers-$abi/Makefile" ]; then
		echo "build-kernel: installing linux-headers-$abi" >&2
		bash "$REPO/scripts/deps.sh" apt -y install --no-install-recommends \
			"linux-headers-$abi" >&2 || {
			# the private lists may be newer than the system's; fall back
			sudo_ apt-get -q -y install --no-install-recommends "linux-headers-$abi" >&2
		}
	fi
	echo "$root/boot/vmlinuz-$abi"
	echo "/usr/src/linux-headers-$abi"
	echo "$root/lib/modules/$abi"
}

debug() {
	local src=$CACHE/linux-src out=$CACHE/linux-debug want have=""
	bash "$REPO/scripts/deps.sh" >&2
	# One build at a time in the shared tree (make kernel is not under the
	# Makefile's build lock, and several checkouts share the cache).
	mkdir -p "$CACHE"
	exec 9>"$CACHE/linux-debug.lock"
	if ! flock -n 9; then
		echo "build-kernel: waiting for another debug kernel build" >&2
		flock 9
	fi
	if [ ! -f "$src/.extracted" ]; then
		echo "build-kernel: fetching linux-source-6.1" >&2
		mkdir -p "$DL"
		(cd "$DL" && apt_private download linux-source-6.1 >&2)
		rm -rf "$src" "$src.tmp"
		mkdir -p "$src.tmp"
		dpkg -x "$(ls "$DL"/linux-source-6.1_*.deb | tail -n 1)" "$src.tmp/deb"
		tar -C "$src.tmp" -xf "$src.tmp"/deb/usr/src/linux-source-6.1.tar.xz
		mv "$src.tmp/linux-source-6.1" "$src"
		rm -rf "$src.tmp"
		touch "$src/.extracted"
	fi
	# DRM_BUDDY is a hidden symbol only drivers select; svmgpu.ko manages
	# its device-local memory with it, so give it a prompt (idempotent).
	if grep -qx '	tristate' <(sed -n '/^config DRM_BUDDY$/,/^$/p' "$src/drivers/gpu/drm/Kconfig"); then
		sed -i '/^config DRM_BUDDY$/{n;s/^\ttristate$/\ttristate "DRM buddy allocator"/}' \
			"$src/drivers/gpu/drm/Kconfig"
	fi
	mkdir -p "$out"
	want=$(cat "$HERE/debug.config")
	[ -f "$out/.fragment" ] && have=$(cat "$out/.fragment")
	if [ ! -f "$out/.config" ] || [ "$want" != "$have" ]; then
		echo "build-kernel: configuring the debug kernel" >&2
		make -s -C "$src" O="$out" x86_64_defconfig >&2
		(cd "$out" && "$src/scripts/kconfig/merge_config.sh" -m -O "$out" \
			"$out/.config" "$HERE/debug.config" >/dev/null)
		make -s -C "$src" O="$out" olddefconfig >&2
		check_config "$out/.config"
		cp "$HERE/debug.config" "$out/.fragment"
	fi
	if [ -f "$out/arch/x86/boot/bzImage" ]; then
		echo "build-kernel: building the debug kernel (incremental)" >&2
	else
		echo "build-kernel: building the debug kernel from scratch (the longest step of a cold make check)" >&2
	fi
	progress_start build-kernel "$out/build.log" kbuild
	local rc=0
	make -C "$src" O="$out" -j"$JOBS" bzImage modules > "$out/build.log" 2>&1 || rc=$?
	progress_stop
	if [ "$rc" -ne 0 ]; then
		grep -E -B2 -A8 'error:|Error [0-9]' "$out/build.log" | head -n 60 >&2
		echo "build-kernel: the debug kernel failed to build; log in $out/build.log" >&2
		exit 1
	fi
	local done_
	done_=$(progress_line "$out/build.log" kbuild)
	done_=${done_%%, now*}
	echo "build-kernel: debug kernel up to date (${done_:-nothing rebuilt})" >&2
	echo "$out/arch/x86/boot/bzImage"
	echo "$out"
	echo "-"
}

# Every option the fragment asks for must have survived olddefconfig.
check_config() {
	local line opt val bad=0
	while read -r line; do
		case "$line" in ''|'#'*) continue ;; esac
		opt=${line%%=*}
		val=${line#*=}
		if [ "$val" = n ]; then
			grep -q "^$opt=" "$1" && { echo "build-kernel: $opt is still set" >&2; bad=1; }
		else
			grep -qx "$opt=$val" "$1" || { echo "build-kernel: $opt=$val did not stick" >&2; bad=1; }
		fi
	done < "$HERE/debug.config"
	return $bad
}

case "${1:-}" in
	debian) debian ;;
	debug) debug ;;
	*) echo "usage: $0 debian|debug" >&2; exit 2 ;;
esac
