#!/bin/bash
# Print the accelerator QEMU should use here: "kvm" when /dev/kvm exists and
# really runs a guest, otherwise "tcg".
#
# usage: accel.sh QEMU_BINARY [KERNEL_IMAGE]
#
# Two probes, with the machine and CPU model real boots use (q35, -cpu host,
# 2 vCPUs).  Anything but the expected ending means KVM is not usable: an
# error, an abort (seen here: /dev/kvm opens, but setting up a "host" vCPU
# fails on an MSR), a guest that never runs, a hang cut short by a timeout.
#  1. A 64 KiB "BIOS" whose reset vector writes to isa-debug-exit: QEMU
#     exits with status 99.
#  2. With KERNEL_IMAGE, that kernel with no root file system: it must
#     print its panic within 60 s (a few seconds where KVM works).  Seen
#     here: a /dev/kvm that passes probe 1 (kvm_pvm, KVM without hardware
#     virtualisation) and hangs in the kernel's boot stub for good, after
#     "Probing EDD", with every guest boot of the suite.
# The answer is kept for this host boot, QEMU and kernel in
# $SVMGPU_CACHE/accel (probe 2 costs up to a minute where it fails).
set -u
QEMU=${1:?usage: accel.sh QEMU_BINARY [KERNEL_IMAGE]}
KERNEL=${2:-}

[ -r /dev/kvm ] && [ -w /dev/kvm ] || { echo tcg; exit 0; }

CACHE=${SVMGPU_CACHE:-$HOME/.cache/svmgpu}
key="$(cat /proc/sys/kernel/random/boot_id 2>/dev/null) $(stat -c '%n %Y %s' "$QEMU" ${KERNEL:+"$KERNEL"} 2>/dev/null | tr '\n' ' ')"
if [ -r "$CACHE/accel" ] && [ "$(sed -n 1p "$CACHE/accel")" = "$key" ]; then
	sed -n 2p "$CACHE/accel"
	exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

probe() {
	# reset vector (last 16 bytes): mov al,0x31; out 0xf4,al; hlt; jmp $-1
	head -c 65520 /dev/zero > "$tmp/bios"
	printf '\xb0\x31\xe6\xf4\xf4\xeb\xfd\x00\x00\x00\x00\x00\x00\x00\x00\x00' >> "$tmp/bios"
	# (in a subshell whose stderr is dropped: the shell's "Aborted" notice too)
	rc=$( (timeout -k 2 10 "$QEMU" -accel kvm -M q35 -cpu host -smp 2 -nodefaults \
		-display none -no-user-config -bios "$tmp/bios" \
		-device isa-debug-exit,iobase=0xf4,iosize=1 >/dev/null 2>&1 </dev/null
		echo $?) 2>/dev/null)
	[ "$rc" = 99 ] || return 1
	[ -n "$KERNEL" ] || return 0
	( timeout -k 2 60 "$QEMU" -accel kvm -M q35 -cpu host -smp 2 -m 512 -nodefaults \
		-display none -no-user-config -no-reboot -serial "file:$tmp/serial" \
		-kernel "$KERNEL" -append "console=ttyS0 panic=-1" >/dev/null 2>&1 </dev/null ) \
		2>/dev/null
	grep -q 'Kernel panic' "$tmp/serial" 2>/dev/null
}

if probe; then accel=kvm; else accel=tcg; fi
mkdir -p "$CACHE" && printf '%s\n%s\n' "$key" "$accel" > "$CACHE/accel.$$" &&
	mv "$CACHE/accel.$$" "$CACHE/accel"
echo "$accel"
