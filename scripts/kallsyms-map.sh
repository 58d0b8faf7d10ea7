#!/bin/bash
# A System.map for a guest kernel that ships none: Debian's package has a
# one-line stub beside vmlinuz (the real one is in the 850 MB
# linux-image-*-dbg).  One boot in exec mode copies the text symbols of
# /proc/kallsyms out through the shared folder; every non-interactive boot
# is nokaslr (scripts/boot.sh), so they are the addresses of every later
# boot.  Module symbols are left out: each boot prints its own
# (SVMGPU-KSYM lines, images/init).  Used by scripts/qemu-hang-dump.py only:
# a failure here costs names in a hang dump, never the build.
#
#   kallsyms-map.sh OUT     with scripts/boot.sh's environment (BOOT_ENV)
set -euo pipefail
out=${1:?usage: kallsyms-map.sh OUT}
LOGDIR=${LOGDIR:?LOGDIR: the directory for the boot logs}
HERE=$(cd "$(dirname "$0")" && pwd)
share=$(mktemp -d /tmp/svmgpu-kallsyms.XXXXXX)
trap 'rm -rf "$share"' EXIT
if SHARE=$share SYSTEM_MAP= \
	EXEC_CMD="grep -E ' [tTwW] ' /proc/kallsyms | grep -v '\\[' > /share/map" \
	bash "$HERE/boot.sh" exec > /dev/null 2>&1 && [ -s "$share/map" ] &&
	# kptr_restrict would show every address as 0
	grep -q -v '^0\{16\} ' "$share/map"; then
	mv "$share/map" "$out.tmp" && mv "$out.tmp" "$out"
	rm -f "$out.failed"
	echo "kallsyms-map: $(wc -l < "$out") kernel text symbols in $out"
else
	# not again for this kernel image (the Makefile compares the dates)
	touch "$out.failed"
	echo "kallsyms-map: no symbols from the guest (logs in $LOGDIR);" \
		"hang dumps will not name this kernel's functions" >&2
fi
