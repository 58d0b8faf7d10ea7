#!/bin/bash
# Build Debian bookworm's QEMU 7.2 with the svmgpu device.
#
#   qemu-build.sh [ninja targets...]
#
# The source package is unpacked once (dpkg-source applies Debian's patch
# series) under $SVMGPU_CACHE/qemu-src; this script then hooks the device in:
#   hw/svmgpu            -> link to this directory (Kconfig, meson.build,
#                           trace-events, sources)
#   include/svmgpu       -> link to the repository's shared header directory
#   hw/Kconfig           += source svmgpu/Kconfig
#   hw/meson.build       += subdir('svmgpu')
#   meson.build          += 'hw/svmgpu' in trace_events_subdirs
#   configs/devices/x86_64-softmmu/svmgpu.mak  (the device set we build)
#   tests/qtest          += svmgpu-test (when qemu-device/tests/qtest exists)
# The build tree lives in $SVMGPU_CACHE/qemu-build, so rebuilding after a
# change to the device is incremental.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
CACHE=${SVMGPU_CACHE:-$HOME/.cache/svmgpu}
SRC=$CACHE/qemu-src
BUILD=$CACHE/qemu-build

CONFIGURE_FLAGS=(
	--target-list=x86_64-softmmu
	--without-default-devices
	--with-devices-x86_64=svmgpu
	--without-default-features
	--enable-tcg --enable-kvm --enable-fdt=system
	--disable-docs --disable-tools --disable-guest-agent
	--disable-user --disable-install-blobs
	--firmwarepath=/usr/share/qemu:/usr/share/seabios:/usr/lib/ipxe/qemu
)

unpack() {
	[ -f "$SRC/.unpacked" ] && return 0
	local dl=$CACHE/downloads/qemu
	mkdir -p "$dl"
	(cd "$dl" && bash "$REPO/scripts/deps.sh" apt source --download-only qemu >/dev/null)
	rm -rf "$SRC.tmp"
	dpkg-source -x "$(ls "$dl"/qemu_*.dsc | tail -n 1)" "$SRC.tmp" >/dev/null
	rm -rf "$SRC"
	mv "$SRC.tmp" "$SRC"
	touch "$SRC/.unpacked"
}

# Add LINE to FILE unless it is already there.
add_line() {
	grep -qxF "$2" "$1" || echo "$2" >> "$1"
}

integrate() {
	ln -sfn "$HERE" "$SRC/hw/svmgpu"
	ln -sfn "$REPO/include/svmgpu" "$SRC/include/svmgpu"
	add_line "$SRC/hw/Kconfig" "source svmgpu/Kconfig"
	add_line "$SRC/hw/meson.build" "subdir('svmgpu')"
	grep -q "'hw/svmgpu'" "$SRC/meson.build" ||
		sed -i "s|^    'hw/misc',\$|    'hw/misc',\n    'hw/svmgpu',|" "$SRC/meson.build"
	grep -q "'hw/svmgpu'" "$SRC/meson.build"
	cmp -s "$HERE/svmgpu.mak" "$SRC/configs/devices/x86_64-softmmu/svmgpu.mak" ||
		cp "$HERE/svmgpu.mak" "$SRC/configs/devices/x86_64-softmmu/svmgpu.mak"
	if [ -f "$HERE/tests/qtest/svmgpu-test.c" ]; then
		ln -sfn "$HERE/tests/qtest/svmgpu-test.c" "$SRC/tests/qtest/svmgpu-test.c"
		grep -q "svmgpu-test" "$SRC/tests/qtest/meson.build" ||
			sed -i "s|^qtests_x86_64 = qtests_i386$|&\nqtests_x86_64 += ['svmgpu-test']|" \
				"$SRC/tests/qtest/meson.build"
	fi
}

configure() {
	local want have=""
	want=$(printf '%s\n' "${CONFIGURE_FLAGS[@]}")
	[ -f "$BUILD/.configure-flags" ] && have=$(cat "$BUILD/.configure-flags")
	if [ -f "$BUILD/build.ninja" ] && [ "$want" = "$have" ]; then
		return 0
	fi
	rm -rf "$BUILD"
	mkdir -p "$BUILD"
	(cd "$BUILD" && "$SRC/configure" "${CONFIGURE_FLAGS[@]}" >configure.log 2>&1) || {
		tail -n 30 "$BUILD/configure.log" >&2
		exit 1
	}
	echo "$want" > "$BUILD/.configure-flags"
}

# A binary run from the build tree looks for its data under
# qemu-bundle/<configured path>; point those at Debian's firmware packages.
bundle_firmware() {
	local d
	for d in /usr/share/qemu /usr/share/seabios /usr/lib/ipxe/qemu; do
		mkdir -p "$BUILD/qemu-bundle$(dirname "$d")"
		[ -L "$BUILD/qemu-bundle$d" ] || ln -sfn "$d" "$BUILD/qemu-bundle$d"
	done
}

unpack
integrate
configure
bundle_firmware
if ! ninja -C "$BUILD" "${@:-qemu-system-x86_64}" > "$BUILD/ninja.log" 2>&1; then
	grep -E -A12 '^FAILED|error:' "$BUILD/ninja.log" | head -n 60 >&2
	echo "qemu-build: failed; full log in $BUILD/ninja.log" >&2
	exit 1
fi
