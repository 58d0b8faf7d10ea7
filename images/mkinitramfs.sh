#!/bin/bash
# Build the guest initramfs.
#
#   mkinitramfs.sh OUT.cpio.gz KMODDIR SVMGPU_KO USERSPACE_DESTDIR
#
# KMODDIR is the guest kernel's /lib/modules/<version> tree (Debian's kernel,
# whose drm.ko svmgpu.ko needs) or "-" for a kernel with DRM built in.
# USERSPACE_DESTDIR is a `meson install --destdir` tree: library, tools and
# test programs.  Shared libraries they need are copied from the host, which
# runs the same Debian release as the guest userspace expects.
set -euo pipefail

OUT=$1
KMODDIR=$2
SVMGPU_KO=$3
DESTDIR=$4
HERE=$(cd "$(dirname "$0")" && pwd)

# Every make target that boots rebuilds the image first, and building it
# takes 10-70 s (busybox links, modinfo, ldd, gzip) on a loaded machine: when
# nothing that goes into it changed since the last build of $OUT, keep it.
# The inputs: this directory's scripts, the test scripts, svmgpu.ko, the
# install tree (names, types, modes, link targets, contents), the kernel's
# module tree by name (it never changes under one name) and, for the host's
# busybox, e2fsprogs, drmdevice, stress-ng and shared libraries, dpkg's
# status file.
inputs() {
	echo "$KMODDIR"
	stat -c '%n %s %Y' /var/lib/dpkg/status
	sha256sum "$HERE"/mkinitramfs.sh "$HERE"/init "$HERE"/guest-tests.sh "$HERE"/stress.sh \
		"$HERE"/../tests/guest-scripts/*.sh "$SVMGPU_KO"
	if [ -d "$DESTDIR" ]; then
		(cd "$DESTDIR" && find . -printf '%p %y %m %l\n' | LC_ALL=C sort &&
			find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum)
	fi
}
sum=$(inputs | sha256sum | cut -d' ' -f1) || sum=
if [ -n "$sum" ] && [ -f "$OUT" ] && [ "$(cat "$OUT.inputs" 2>/dev/null)" = "$sum" ]; then
	exit 0
fi
rm -f "$OUT.inputs"

root=$(mktemp -d "${OUT}.root.XXXXXX")
trap 'rm -rf "$root"' EXIT

mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,usr/lib,usr/libexec/svmgpu,lib,lib64,proc,sys,dev,tmp,etc,root,lib/modules}

# busybox and its applets
cp /bin/busybox "$root/bin/busybox"
for applet in $(/bin/busybox --list-full); do
	[ -e "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
done

cp "$HERE/init" "$root/init"
cp "$HERE/guest-tests.sh" "$root/usr/bin/svmgpu-guest-tests"
install -m 755 "$HERE/stress.sh" "$root/usr/bin/svmgpu-stress"
echo "root:x:0:0:root:/root:/bin/sh" > "$root/etc/passwd"
echo "root:x:0:" > "$root/etc/group"

# Kernel modules: drm.ko and whatever it depends on, then svmgpu.ko.
: > "$root/lib/modules/load-order"
add_module() {
	local path=$1 name dep
	name=$(basename "$path")
	grep -qxF "$name" "$root/lib/modules/load-order" && return 0
	for dep in $(modinfo -F depends "$path" | tr ',' ' '); do
		add_module "$(find "$KMODDIR/kernel" -name "$dep.ko*" | head -n 1)"
	done
	cp "$path" "$root/lib/modules/$name"
	echo "$name" >> "$root/lib/modules/load-order"
}
if [ "$KMODDIR" != "-" ]; then
	add_module "$KMODDIR/kernel/drivers/gpu/drm/drm.ko"
fi
add_module "$SVMGPU_KO"

# A RAM block device with ext4, and mkfs.ext4, for tests of device writes to
# file-backed shared memory on a disk-backed filesystem (tests/guest/
# svm_reclaim.c), and FUSE for a slow filesystem (tests/guest/svm_faults.c).
# The debug kernel has brd and ext4 built in.
if [ "$KMODDIR" != "-" ]; then
	for m in drivers/block/brd fs/ext4/ext4 crypto/crc32c_generic fs/fuse/fuse; do
		f=$(find "$KMODDIR/kernel/$(dirname "$m")" -maxdepth 1 -name "$(basename "$m").ko*" 2>/dev/null | head -n 1 || true)
		[ -n "$f" ] && add_module "$f"
	done
fi
# aer_inject, for tests of PCIe error recovery (tests/guest/svm_aer.c); the
# debug kernel has it built in.
if [ "$KMODDIR" != "-" ]; then
	f=$(find "$KMODDIR/kernel/drivers/pci/pcie" -maxdepth 1 -name "aer_inject.ko*" 2>/dev/null | head -n 1 || true)
	[ -n "$f" ] && add_module "$f"
fi
# virtio-9p for make run/exec SHARE=DIR (images/init mounts it on /share);
# the debug kernel has them built in.
if [ "$KMODDIR" != "-" ]; then
	for m in drivers/virtio/virtio_pci net/9p/9pnet_virtio fs/9p/9p; do
		f=$(find "$KMODDIR/kernel/$(dirname "$m")" -maxdepth 1 -name "$(basename "$m").ko*" 2>/dev/null | head -n 1 || true)
		[ -n "$f" ] && add_module "$f"
	done
fi
if [ -x /sbin/mke2fs ]; then
	# Replace busybox's applet links, never write through them.
	rm -f "$root/sbin/mke2fs" "$root/sbin/mkfs.ext4"
	cp /sbin/mke2fs "$root/sbin/mke2fs"
	ln -s mke2fs "$root/sbin/mkfs.ext4"
	[ -f /etc/mke2fs.conf ] && cp /etc/mke2fs.conf "$root/etc/"
fi
# Swap on zram for `make stress` (the debug kernel has it built in): zram and
# a compressor it can use, when Debian's kernel has them as modules.
if [ "$KMODDIR" != "-" ]; then
	for m in crypto/lzo-rle crypto/lzo drivers/block/zram/zram; do
		f=$(find "$KMODDIR/kernel/$(dirname "$m")" -maxdepth 1 -name "$(basename "$m").ko*" 2>/dev/null | head -n 1 || true)
		[ -n "$f" ] && add_module "$f"
	done
fi

# Userspace: our programs, the in-guest test scripts, Debian's drmdevice,
# and the shared libraries they all link against.
if [ -d "$DESTDIR" ]; then
	cp -a "$DESTDIR"/. "$root"/
fi
mkdir -p "$root/usr/libexec/svmgpu/tests"
cp "$HERE"/../tests/guest-scripts/*.sh "$root/usr/libexec/svmgpu/tests/"
for f in "$root"/usr/libexec/svmgpu/tests/*.sh; do mv "$f" "${f%.sh}"; done
[ -x /usr/bin/drmdevice ] && cp /usr/bin/drmdevice "$root/usr/bin/"
# Debian's stress-ng, for `make stress` (scripts/deps.sh installs it)
[ -x /usr/bin/stress-ng ] && cp /usr/bin/stress-ng "$root/usr/bin/"
libs() {
	find "$root" -type f -perm -u+x -not -path "$root/lib/modules/*" -print0 |
		LD_LIBRARY_PATH="$root/usr/lib/x86_64-linux-gnu:$root/usr/lib" \
		xargs -0 -r ldd 2>/dev/null | grep -v "=> $root/" | awk '/=> \// { print $3 } /^\t\/lib64\// { print $1 }' |
		sort -u
}
for lib in $(libs); do
	mkdir -p "$root$(dirname "$lib")"
	cp -L "$lib" "$root$lib"
done

(cd "$root" && find . -print0 | cpio --null -o -H newc --quiet) | gzip -1 > "$OUT.$$"
mv "$OUT.$$" "$OUT"
[ -z "$sum" ] || echo "$sum" > "$OUT.inputs"
