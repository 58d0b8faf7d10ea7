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
#   configs/devices/x86_64-softmmu/svmgpu-run.mak
#                        svmgpu.mak plus virtio-9p for `make run/exec SHARE=`
#   tests/qtest          += svmgpu-test (when qemu-device/tests/qtest exists)
# and applies our fixes to QEMU itself (qemu-device/patches/*.patch, each
# says what it fixes), once: a copy of each applied patch is kept in
# qemu-src/.svmgpu-patches, and a patch that changed or went away is
# reverted from that copy first.
# The build tree lives in $SVMGPU_CACHE/qemu-build, so rebuilding after a
# change to the device is incremental; a change of CONFIGURE_FLAGS reconfigures
# that tree in place (the old binary stays usable until ninja relinks it).
# Progress goes to stderr once a minute (scripts/progress.sh); ninja's own
# output is in qemu-build/ninja.log.
#
# SVMGPU_QEMU_ASAN=1 (`make qemu QEMU_ASAN=1`) builds the same QEMU with
# AddressSanitizer and UBSan (gcc, --enable-sanitizers) in
# $SVMGPU_CACHE/qemu-asan-build instead: TCG and the whole device set, so a
# guest boots on it (`make guest-test QEMU_ASAN=1`) and a use after free or
# an overflow in the device model -- one a guest provoked, or a race between
# an engine thread and the main loop -- stops QEMU with a report instead of
# corrupting memory quietly.  About twice as slow as the plain build.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
CACHE=${SVMGPU_CACHE:-$HOME/.cache/svmgpu}
SRC=$CACHE/qemu-src
BUILD=$CACHE/qemu-build
[ "${SVMGPU_QEMU_ASAN:-0}" = 1 ] && BUILD=$CACHE/qemu-asan-build
# shellcheck source=../scripts/progress.sh
. "$REPO/scripts/progress.sh"

# virtfs (virtio-9p, with libcap-ng and libattr) shares a host directory
# with the guest: `make run SHARE=DIR`, see docs/tutorial.md.  It is QEMU's
# own, so no daemon runs beside QEMU (virtiofs would need virtiofsd and a
# shared memory backend, which NUMA=N's per-node RAM backends would have to
# follow).
CONFIGURE_FLAGS=(
	--target-list=x86_64-softmmu
	--without-default-devices
	--with-devices-x86_64=svmgpu-run
	--without-default-features
	--enable-tcg --enable-kvm --enable-fdt=system
	--enable-virtfs --enable-attr --enable-cap-ng
	--disable-docs --disable-tools --disable-guest-agent
	--disable-user --disable-install-blobs
	--firmwarepath=/usr/share/qemu:/usr/share/seabios:/usr/lib/ipxe/qemu
)
[ "${SVMGPU_QEMU_ASAN:-0}" = 1 ] && CONFIGURE_FLAGS+=(--enable-sanitizers)

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
	# The fuzz build (fuzz-qemu/build.sh) keeps svmgpu.mak alone: without
	# virtfs, VIRTIO_9P=y would contradict its configuration.
	local runmak=$SRC/configs/devices/x86_64-softmmu/svmgpu-run.mak
	printf '%s\n' "# svmgpu.mak and virtio-9p, for make run/exec SHARE=DIR" \
		"include svmgpu.mak" "CONFIG_VIRTIO_PCI=y" "CONFIG_VIRTIO_9P=y" > "$runmak.new"
	if cmp -s "$runmak.new" "$runmak"; then rm -f "$runmak.new"; else mv "$runmak.new" "$runmak"; fi
	if [ -f "$HERE/tests/qtest/svmgpu-test.c" ]; then
		ln -sfn "$HERE/tests/qtest/svmgpu-test.c" "$SRC/tests/qtest/svmgpu-test.c"
		grep -q "svmgpu-test" "$SRC/tests/qtest/meson.build" ||
			sed -i "s|^qtests_x86_64 = qtests_i386$|&\nqtests_x86_64 += ['svmgpu-test']|" \
				"$SRC/tests/qtest/meson.build"
	fi
}

patch_qemu() {
	local p name kept=$SRC/.svmgpu-patches
	mkdir -p "$kept"
	# newest first, so that a series comes off in reverse order
	for p in $(ls -r "$kept"/*.patch 2>/dev/null); do
		name=${p##*/}
		cmp -s "$p" "$HERE/patches/$name" && continue
		echo "qemu-build: reverting the old $name" >&2
		(cd "$SRC" && patch -p1 -R --batch --quiet < "$p") || {
			echo "qemu-build: cannot revert $name from $SRC; delete $SRC to unpack afresh" >&2
			exit 1
		}
		rm -f "$p"
	done
	for p in "$HERE"/patches/*.patch; do
		[ -e "$p" ] || continue
		name=${p##*/}
		[ -e "$kept/$name" ] && continue
		echo "qemu-build: applying $name" >&2
		# all or nothing: a half-applied patch has no copy to revert from
		(cd "$SRC" && patch -p1 --forward --batch --quiet --dry-run < "$p" >/dev/null &&
			patch -p1 --forward --batch --quiet < "$p") || {
			echo "qemu-build: $name does not apply to $SRC; delete $SRC to unpack afresh" >&2
			exit 1
		}
		cp "$p" "$kept/$name"
	done
}

configure() {
	local want have=""
	want=$(printf '%s\n' "${CONFIGURE_FLAGS[@]}")
	[ -f "$BUILD/.configure-flags" ] && have=$(cat "$BUILD/.configure-flags")
	if [ -f "$BUILD/build.ninja" ] && [ "$want" = "$have" ]; then
		return 0
	fi
	# QEMU's configure sets a build tree up afresh (meson setup) but keeps
	# its objects: ninja then rebuilds what the new flags change.
	if [ -f "$BUILD/build.ninja" ]; then
		echo "qemu-build: configure flags changed; reconfiguring $BUILD" >&2
		diff <(echo "$have") <(echo "$want") | sed -n 's/^[<>] /  &/p' >&2 || true
	else
		echo "qemu-build: configuring $BUILD" >&2
	fi
	rm -f "$BUILD/.configure-flags"
	mkdir -p "$BUILD"
	(cd "$BUILD" && "$SRC/configure" "${CONFIGURE_FLAGS[@]}" >configure.log 2>&1) || {
		tail -n 30 "$BUILD/configure.log" >&2
		echo "qemu-build: configure failed; log in $BUILD/configure.log" >&2
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

# One build at a time in the shared tree: two ninjas in one directory race
# on the same outputs (make qemu is not under the Makefile's build lock).
mkdir -p "$CACHE"
exec 9>"$CACHE/qemu-build.lock"
if ! flock -n 9; then
	echo "qemu-build: waiting for another QEMU build in $BUILD" >&2
	flock 9
fi
unpack
integrate
patch_qemu
configure
bundle_firmware
# Nothing to do is the common case, and a dry run cannot tell (QEMU's
# version header is regenerated every time, unchanged): the watcher says
# something only when a build lasts, and the end only when it compiled.
targets=("${@:-qemu-system-x86_64}")
progress_start qemu-build "$BUILD/ninja.log" ninja
rc=0
ninja -C "$BUILD" "${targets[@]}" > "$BUILD/ninja.log" 2>&1 || rc=$?
progress_stop
if [ "$rc" -ne 0 ]; then
	grep -E -A12 '^FAILED|error:' "$BUILD/ninja.log" | head -n 60 >&2
	echo "qemu-build: failed; full log in $BUILD/ninja.log" >&2
	exit 1
fi
steps=$(grep -c -E '^\[[0-9]+/[0-9]+\] (Compiling|Linking)' "$BUILD/ninja.log" || true)
[ "${steps:-0}" -eq 0 ] || echo "qemu-build: ${targets[*]} rebuilt ($steps compile and link steps)" >&2
