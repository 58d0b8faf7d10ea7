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
#  2. With KERNEL_IMAGE, that kernel: it must reach start_kernel() and
#     print its banner ("Linux version") on the serial port within 60 s
#     (under a second where KVM works; QEMU is stopped then).  Seen here: a
#     /dev/kvm that passes probe 1 (kvm_pvm, KVM without hardware
#     virtualisation) and hangs in the kernel's boot stub for good, after
#     "Probing EDD", with every guest boot of the suite.
# "kvm", and "tcg" from a probe 2 that ran its 60 s out, are kept in
# $SVMGPU_CACHE/accel-* for this host boot, /dev/kvm, KVM modules, and the
# paths of QEMU and the kernel (not their builds: a rebuilt QEMU does not
# pay the minute again); other failures are probed again next time.
set -u
QEMU=${1:?usage: accel.sh QEMU_BINARY [KERNEL_IMAGE]}
KERNEL=${2:-}

[ -r /dev/kvm ] && [ -w /dev/kvm ] || { echo tcg; exit 0; }

CACHE=${SVMGPU_CACHE:-$HOME/.cache/svmgpu}
key="$(cat /proc/sys/kernel/random/boot_id 2>/dev/null)
$(stat -Lc '%t:%T %Z' /dev/kvm 2>/dev/null) $(ls /sys/module 2>/dev/null | grep '^kvm' | tr '\n' ' ')
$QEMU $KERNEL"
cached="$CACHE/accel-$(printf '%s' "$key" | md5sum | cut -c1-16)"
if [ -r "$cached" ]; then
	cat "$cached"
	exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# 0: KVM runs guests; 1: it does not (cache it); 2: a failure of the probe
probe() {
	# reset vector (last 16 bytes): mov al,0x31; out 0xf4,al; hlt; jmp $-1
	head -c 65520 /dev/zero > "$tmp/bios"
	printf '\xb0\x31\xe6\xf4\xf4\xeb\xfd\x00\x00\x00\x00\x00\x00\x00\x00\x00' >> "$tmp/bios"
	# (in a subshell whose stderr is dropped: the shell's "Aborted" notice too)
	rc=$( (timeout -k 2 10 "$QEMU" -accel kvm -M q35 -cpu host -smp 2 -nodefaults \
		-display none -no-user-config -bios "$tmp/bios" \
		-device isa-debug-exit,iobase=0xf4,iosize=1 >/dev/null 2>&1 </dev/null
		echo $?) 2>/dev/null)
	[ "$rc" = 99 ] || return 2
	[ -n "$KERNEL" ] || return 0
	: > "$tmp/serial"
	"$QEMU" -accel kvm -M q35 -cpu host -smp 2 -m 512 -nodefaults \
		-display none -no-user-config -no-reboot -serial "file:$tmp/serial" \
		-kernel "$KERNEL" -append "console=ttyS0 panic=-1" >/dev/null 2>&1 </dev/null &
	pid=$!
	for _ in $(seq 300); do
		if grep -q 'Linux version' "$tmp/serial" 2>/dev/null; then
			kill -9 "$pid" 2>/dev/null
			wait "$pid" 2>/dev/null
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || return 2	# QEMU failed
		sleep 0.2
	done
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 1
}

probe
case $? in
0) accel=kvm ;;
1) accel=tcg ;;
*) echo tcg; exit 0 ;;
esac
mkdir -p "$CACHE" && echo "$accel" > "$cached.$$" && mv "$cached.$$" "$cached"
echo "$accel"
