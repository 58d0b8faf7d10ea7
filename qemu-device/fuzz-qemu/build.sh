#!/bin/bash
# Build QEMU a second time, with clang, libFuzzer and ASan/UBSan, for
# QEMU's own device fuzzer (qemu-fuzz-x86_64, target generic-fuzz).
#
#   qemu-device/fuzz-qemu/build.sh
#
# It reuses the source tree that qemu-device/qemu-build.sh unpacked and
# hooked the device into ($SVMGPU_CACHE/qemu-src; run `make qemu` first)
# and keeps its own build tree, $SVMGPU_CACHE/qemu-fuzz-build, so a change
# to the device rebuilds incrementally.  The device set is the main build's
# (qemu-device/svmgpu.mak); TCG is left out: the fuzzer runs the machine
# under the qtest accelerator and never executes guest code.
#
# Prints the binary's path; exits non-zero (log tail on stderr) on failure.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${SVMGPU_CACHE:-$HOME/.cache/svmgpu}
SRC=$CACHE/qemu-src
BUILD=$CACHE/qemu-fuzz-build
BIN=$BUILD/qemu-fuzz-x86_64

CONFIGURE_FLAGS=(
	--cc=clang --cxx=clang++ --host-cc=clang
	--enable-fuzzing --enable-sanitizers --disable-werror
	--target-list=x86_64-softmmu
	--without-default-devices
	--with-devices-x86_64=svmgpu
	--without-default-features
	--disable-tcg --enable-kvm --enable-fdt=system
	--disable-docs --disable-tools --disable-guest-agent
	--disable-user --disable-install-blobs
	--firmwarepath=/usr/share/qemu:/usr/share/seabios:/usr/lib/ipxe/qemu
)

if [ ! -f "$SRC/.unpacked" ] || [ ! -e "$SRC/hw/svmgpu/svmgpu-pci.c" ] ||
		[ ! -f "$SRC/configs/devices/x86_64-softmmu/svmgpu.mak" ]; then
	echo "fuzz-qemu build: $SRC has no svmgpu device; run 'make qemu' first" >&2
	exit 1
fi
# The main build copies svmgpu.mak in when it changes; so do we, so that a
# fuzz build never runs with a stale device set.
cmp -s "$HERE/../svmgpu.mak" "$SRC/configs/devices/x86_64-softmmu/svmgpu.mak" ||
	cp "$HERE/../svmgpu.mak" "$SRC/configs/devices/x86_64-softmmu/svmgpu.mak"

mkdir -p "$BUILD"
exec 9>"$CACHE/qemu-fuzz-build.lock"
flock 9
# and the source tree: qemu-build.sh applies and reverts our QEMU patches
# (qemu-device/patches) under this lock
exec 8>"$CACHE/qemu-build.lock"
flock 8

want=$(printf '%s\n' "${CONFIGURE_FLAGS[@]}")
have=""
[ -f "$BUILD/.configure-flags" ] && have=$(cat "$BUILD/.configure-flags")
if [ ! -f "$BUILD/build.ninja" ] || [ "$want" != "$have" ]; then
	rm -rf "$BUILD"
	mkdir -p "$BUILD"
	if ! (cd "$BUILD" && nice -n 10 "$SRC/configure" "${CONFIGURE_FLAGS[@]}" \
			>configure.log 2>&1); then
		tail -n 30 "$BUILD/configure.log" >&2
		echo "fuzz-qemu build: configure failed; log in $BUILD/configure.log" >&2
		exit 1
	fi
	echo "$want" > "$BUILD/.configure-flags"
fi

if ! nice -n 10 ninja -C "$BUILD" qemu-fuzz-x86_64 > "$BUILD/ninja.log" 2>&1; then
	grep -E -A12 '^FAILED|error:' "$BUILD/ninja.log" | head -n 60 >&2
	echo "fuzz-qemu build: failed; full log in $BUILD/ninja.log" >&2
	exit 1
fi
# fork-kick.c: see there; run.sh preloads it.
if [ ! -f "$BUILD/fork-kick.so" ] || [ "$HERE/fork-kick.c" -nt "$BUILD/fork-kick.so" ]; then
	clang -O2 -shared -fPIC -Wall -Wextra -Werror "$HERE/fork-kick.c" \
		-o "$BUILD/fork-kick.so.tmp" -ldl
	mv "$BUILD/fork-kick.so.tmp" "$BUILD/fork-kick.so"
fi

# A binary run from the build tree looks for its data under
# qemu-bundle/<configured path>: point those at Debian's firmware packages
# (as qemu-build.sh does for the main build).
for d in /usr/share/qemu /usr/share/seabios /usr/lib/ipxe/qemu; do
	mkdir -p "$BUILD/qemu-bundle$(dirname "$d")"
	[ -L "$BUILD/qemu-bundle$d" ] || ln -sfn "$d" "$BUILD/qemu-bundle$d"
done
echo "$BIN"
