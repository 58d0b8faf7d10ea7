#!/bin/sh
# svmgpu-stress SECONDS: the memory manager under pressure while the device
# works on process memory.  Sets up swap on zram, KSM, THP "always",
# compaction and NUMA balancing where the kernel has them, then runs
# svmgpu-torture (every byte checked against a CPU model) and svmgpu-fuzz
# (random ioctls and mm calls, errno sets and data checked) for SECONDS,
# side by side with Debian's stress-ng: vm (THP, KSM-mergeable and a memory
# hog larger than free RAM that pushes pages to zram), mmap, mmaphuge,
# mremap, fork, numa (page migration).  Reported as one program of the
# guest suite (TAP between SVMGPU-PROGRAM/EXIT markers); the host judges the
# kernel log as for every boot.
secs=${1:-1800}
n=0
rc=0
log=/tmp/stress

say() { echo "$@"; }
ok() { n=$((n + 1)); say "ok $n $*"; }
notok() { n=$((n + 1)); say "not ok $n $*"; rc=1; }
skip() { n=$((n + 1)); say "ok $n $1 # SKIP $2"; }
vmstat() { awk -v k="$1" '$1 == k { print $2 }' /proc/vmstat; }

mkdir -p $log
say "# SVMGPU-PROGRAM stress"
start=$(cut -d' ' -f1 /proc/uptime)
say "TAP version 13"

# --- the environment --------------------------------------------------
nodes=$(ls -d /sys/devices/system/node/node[0-9]* 2>/dev/null | wc -l)
say "# $(nproc) CPUs, $nodes NUMA node(s), $(awk '/MemTotal/ { print $2 / 1024 }' /proc/meminfo) MiB"
if [ -w /sys/kernel/mm/transparent_hugepage/enabled ]; then
	echo always > /sys/kernel/mm/transparent_hugepage/enabled
	echo always > /sys/kernel/mm/transparent_hugepage/defrag 2>/dev/null
	ok "THP always"
else
	skip "THP always" "kernel without transparent huge pages"
fi
if [ -w /sys/kernel/mm/ksm/run ]; then
	echo 1000 > /sys/kernel/mm/ksm/pages_to_scan
	echo 20 > /sys/kernel/mm/ksm/sleep_millisecs
	echo 1 > /sys/kernel/mm/ksm/run
	ok "KSM running"
else
	skip "KSM running" "kernel without KSM"
fi
if [ "$nodes" -gt 1 ] && [ -w /proc/sys/kernel/numa_balancing ]; then
	echo 1 > /proc/sys/kernel/numa_balancing
	ok "NUMA balancing on $nodes nodes"
else
	skip "NUMA balancing" "one node (boot with NUMA=2) or no NUMA_BALANCING"
fi
swap=0
if [ -e /sys/block/zram0/disksize ]; then
	# zram stores what it is given compressed in RAM: most of stress-ng's
	# patterns compress well, so 1 GiB of swap costs far less than that.
	cat /sys/block/zram0/comp_algorithm > $log/zram-algs 2>/dev/null
	for alg in lzo-rle lzo lz4 zstd; do
		grep -qw "$alg" $log/zram-algs && echo $alg > /sys/block/zram0/comp_algorithm && break
	done
	echo 100 > /proc/sys/vm/swappiness
	if echo 1G > /sys/block/zram0/disksize && mkswap /dev/zram0 > /dev/null &&
		swapon /dev/zram0; then
		swap=1
		ok "swap on zram0 ($(cat /sys/block/zram0/comp_algorithm | tr -d '[]' | head -c 60))"
	else
		notok "swap on zram0"
	fi
else
	skip "swap on zram0" "kernel without zram"
fi

# --- the load ---------------------------------------------------------
pswpout0=$(vmstat pswpout)
if command -v stress-ng > /dev/null; then
	# Pages the memory hog must push out: what is available now plus 128 MiB,
	# within the swap, so that reclaim never has to call the OOM killer
	# (whose report would fail the run: it carries a Call Trace).
	avail=$(awk '/MemAvailable/ { print int($2 / 1024) }' /proc/meminfo)
	hog=$((avail / 2))
	[ "$swap" = 1 ] && hog=$((avail + 128))
	# --no-madvise: stress-ng's random advice may include MADV_HWPOISON;
	# svmgpu-fuzz gives every other advice value.
	common="--timeout ${secs}s --no-madvise --oomable --metrics-brief"
	# shellcheck disable=SC2086
	{
		stress-ng $common --vm 1 --vm-bytes 48M --vm-madvise hugepage \
			--mmap 1 --mmap-bytes 16M --mmaphuge 1 --mremap 1 \
			--mremap-bytes 8M --fork 1 --numa 1 > $log/mm.log 2>&1
		echo $? > $log/mm.rc
	} &
	{
		# zero-one: pages of one byte value, left alone for 10 s after each
		# pass (--vm-hang) so that KSM sees them stable and merges them
		stress-ng $common --vm 2 --vm-bytes 16M --vm-madvise mergeable \
			--vm-method zero-one --vm-hang 10 > $log/ksm.log 2>&1
		echo $? > $log/ksm.rc
	} &
	{
		stress-ng $common --vm 1 --vm-bytes ${hog}M --vm-keep \
			--vm-method zero-one > $log/hog.log 2>&1
		echo $? > $log/hog.rc
	} &
	ok "stress-ng started (vm, mmap, mmaphuge, mremap, fork, numa; KSM; a ${hog} MiB hog)"
else
	notok "stress-ng started # stress-ng is not in the image"
fi
{
	# compaction every few seconds, and the page cache dropped now and then
	end=$(( $(cut -d. -f1 /proc/uptime) + secs ))
	i=0
	while [ "$(cut -d. -f1 /proc/uptime)" -lt "$end" ]; do
		echo 1 > /proc/sys/vm/compact_memory 2>/dev/null
		i=$((i + 1))
		[ $((i % 5)) -eq 0 ] && echo 1 > /proc/sys/vm/drop_caches
		sleep 3
	done
} &

# svmgpu-fuzz beside the torture: random ioctls and mm calls, and its data
# checks see pages that were merged, swapped, migrated or compacted.
# Neither may be the OOM killer's choice (stress-ng's workers are).
echo -1000 > /proc/self/oom_score_adj
svmgpu-fuzz --seconds "$secs" --threads 1 > $log/fuzz.log 2>&1 &
fuzz=$!
svmgpu-torture --time "$secs" --threads 2 --procs 2 > $log/torture.log 2>&1
trc=$?
wait $fuzz
frc=$?
wait

sed 's/^/# /' $log/torture.log | tail -n 40
if [ "$trc" -eq 0 ]; then
	ok "svmgpu-torture for ${secs}s under stress: every byte as the model says"
else
	notok "svmgpu-torture for ${secs}s under stress (exit $trc)"
fi
sed 's/^/# /' $log/fuzz.log | tail -n 30
if [ "$frc" -eq 0 ]; then
	ok "svmgpu-fuzz for ${secs}s under stress: $(tail -n 1 $log/fuzz.log)"
else
	notok "svmgpu-fuzz for ${secs}s under stress (exit $frc)"
fi
for s in mm ksm hog; do
	[ -f $log/$s.rc ] || continue
	grep -E 'stressor|bogo|fail|error' $log/$s.log | sed 's/^/# /' | tail -n 12
	r=$(cat $log/$s.rc)
	# 0: passed; 3: a stressor could not get resources (not our failure)
	if [ "$r" -eq 0 ] || [ "$r" -eq 3 ]; then
		ok "stress-ng $s ended normally (exit $r)"
	else
		notok "stress-ng $s (exit $r)"
	fi
done

# --- what the memory manager did meanwhile ----------------------------
for k in pswpout pswpin thp_fault_alloc thp_collapse_alloc thp_split_pmd \
	compact_migrate_scanned compact_success numa_pages_migrated \
	numa_hint_faults pgmigrate_success; do
	say "# vmstat $k $(vmstat $k)"
done
[ -r /sys/kernel/mm/ksm/pages_sharing ] &&
	say "# ksm pages_sharing $(cat /sys/kernel/mm/ksm/pages_sharing) full_scans $(cat /sys/kernel/mm/ksm/full_scans)"
if [ "$swap" = 1 ]; then
	out=$(( $(vmstat pswpout) - pswpout0 ))
	if [ "$out" -gt 0 ]; then
		ok "pages went to swap while the device worked ($out)"
	else
		notok "pages went to swap while the device worked (none)"
	fi
	swapoff /dev/zram0 2>/dev/null
fi
say "1..$n"
say "# SVMGPU-EXIT stress $rc $start $(cut -d' ' -f1 /proc/uptime)"
