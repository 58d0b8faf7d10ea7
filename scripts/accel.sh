#!/bin/bash
# Print the accelerator QEMU should use here: "kvm" when /dev/kvm exists and
# really runs a guest, otherwise "tcg".
#
# The probe boots a 64 KiB "BIOS" whose reset vector writes to isa-debug-exit,
# with the machine and CPU model real boots use (q35, -cpu host, 2 vCPUs);
# QEMU then exits with status 99.  Anything else means KVM is not usable: an
# error, an abort (seen here: /dev/kvm opens, but setting up a "host" vCPU
# fails on an MSR), a guest that never runs, a hang cut short by the timeout.
set -u
QEMU=${1:?usage: accel.sh QEMU_BINARY}

[ -r /dev/kvm ] && [ -w /dev/kvm ] || { echo tcg; exit 0; }

bios=$(mktemp)
trap 'rm -f "$bios"' EXIT
# reset vector (last 16 bytes): mov al,0x31; out 0xf4,al; hlt; jmp $-1
head -c 65520 /dev/zero > "$bios"
printf '\xb0\x31\xe6\xf4\xf4\xeb\xfd\x00\x00\x00\x00\x00\x00\x00\x00\x00' >> "$bios"
# (in a subshell whose stderr is dropped: the shell's "Aborted" notice too)
rc=$( (timeout -k 2 10 "$QEMU" -accel kvm -M q35 -cpu host -smp 2 -nodefaults \
	-display none -no-user-config -bios "$bios" \
	-device isa-debug-exit,iobase=0xf4,iosize=1 >/dev/null 2>&1 </dev/null
	echo $?) 2>/dev/null)
if [ "$rc" = 99 ]; then echo kvm; else echo tcg; fi
