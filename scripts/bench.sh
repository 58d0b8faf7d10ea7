#!/bin/bash
# `make bench`: one boot runs every benchmark in the guest; the host's own
# memcpy is measured in the same run as the limit for the device's DMA; the
# boot itself is timed from QEMU's start to the driver being ready.
#
# Environment: as scripts/boot.sh (the Makefile sets it), plus
#   BENCH       quick | full (default full)
#   BENCH_OUT   output directory (table.txt, results.json, results.csv, *.png,
#               plots.json)
#   BENCH_LOCAL_MEM       the svmgpu's local-mem-size in the bench boots
#                         (512M: a 256 MiB PREFETCH fits beside the DAX pool)
#   BENCH_LINK_BANDWIDTH  link-bandwidth (MB/s) of the second, short boot
#                         that runs the "link" rows (default 1000)
#   BENCH_LINK_LATENCY    its link-latency (ns per burst, default 1000)
# The link model stays off in the main boot: it would slow the other rows.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
BENCH=${BENCH:-full}
export LOCAL_MEM=${BENCH_LOCAL_MEM:-512M}
LINK_BW=${BENCH_LINK_BANDWIDTH:-1000}
LINK_LAT=${BENCH_LINK_LATENCY:-1000}
: "${BENCH_OUT:?}" "${LOGDIR:?}" "${HOST_MEMCPY:?}"
mkdir -p "$BENCH_OUT" "$LOGDIR"
raw=$BENCH_OUT/raw.txt
: > "$raw"

echo "bench: host memcpy baseline" >&2
"$HOST_MEMCPY" "$BENCH" >> "$raw"

echo "bench: booting the guest ($BENCH)" >&2
# no stale READY line from an earlier boot may be timed
rm -f "$LOGDIR/results.log"
start=$(date +%s.%N)
BENCH=$BENCH bash "$HERE/boot.sh" bench &
boot=$!
# Boot time: QEMU's start to the guest's SVMGPU-READY line.
ready=""
while kill -0 "$boot" 2>/dev/null; do
	if [ -z "$ready" ] && grep -q '^SVMGPU-READY' "$LOGDIR/results.log" 2>/dev/null; then
		ready=$(printf '%.3f' "$(echo "$(date +%s.%N) - $start" | bc)")
	fi
	sleep 0.05
done
wait "$boot"
guest_ready=$(sed -n 's/^SVMGPU-READY \([0-9.]*\).*/\1/p' "$LOGDIR/results.log" | head -n 1)
guest_ready=$(printf '%.3f' "${guest_ready:-0}")
accel=$(sed -n 's/^accel \([a-z]*\).*/\1/p' "$LOGDIR/qemu.log" 2>/dev/null || true)
# A boot that stalled before /init and was booted again (boot.sh): its
# time is the stall watch's, not a boot's.
if [ -n "$ready" ] && [ -e "$LOGDIR/console-early-stall.log" ]; then
	echo "bench: the guest kernel stalled before /init and was booted again: no boot-time row" >&2
	ready=""
fi
if [ -n "$ready" ]; then
	printf 'BENCH {"group": "boot", "name": "QEMU start to driver ready", "size": 0, "unit": "s", "min": %s, "median": %s, "max": %s, "reps": 1, "baseline": %s, "baseline_name": "guest kernel uptime at driver ready", "ratio": 0, "note": "accelerator %s"}\n' \
		"$ready" "$ready" "$ready" "$guest_ready" "${accel:-unknown}" >> "$raw"
fi
grep -E '^BENCH' "$LOGDIR/results.log" >> "$raw" || true

# The link rows: a second boot with the link model on (hw-spec 5a).
echo "bench: booting again with link-bandwidth=$LINK_BW MB/s, link-latency=$LINK_LAT ns" >&2
linklog=$LOGDIR/link
mkdir -p "$linklog"
rm -f "$linklog/results.log"
LOGDIR=$linklog \
	QEMU_EXTRA="${QEMU_EXTRA:-} -global svmgpu.link-bandwidth=$LINK_BW -global svmgpu.link-latency=$LINK_LAT" \
	EXEC_CMD="SVMGPU_BENCH_LINK='link $LINK_BW MB/s, $LINK_LAT ns per burst' svmgpu-bench --only link $BENCH" \
	bash "$HERE/boot.sh" exec > /dev/null
grep -E '^BENCH \{' "$linklog/results.log" >> "$raw" || true

# Debian's python3, where make deps installs python3-matplotlib for the plots
/usr/bin/python3 "$HERE/bench.py" "$raw" "$BENCH_OUT" "$BENCH"
for log in "$LOGDIR" "$linklog"; do
	if ! grep -q '^BENCH-END' "$log/results.log"; then
		echo "bench: the guest did not finish; see $log" >&2
		exit 1
	fi
	if grep -q '^BENCH-ERROR' "$log/results.log"; then
		grep '^BENCH-ERROR' "$log/results.log" >&2
		exit 1
	fi
done
