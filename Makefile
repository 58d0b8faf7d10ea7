# svmgpu: build, boot and test the whole stack.  See README.md.
#
#   make            build QEMU with the device, the module, userspace, the image
#   make run        boot a guest with a shell on the serial console
#                   (SHARE=DIR: DIR is /share in the guest, read-write)
#   make exec CMD='...'  boot, run CMD in the guest (in /share with SHARE=DIR),
#                   print its output and exit status, exit with that status
#                   (HOST_CMD='make': run on the host in SHARE first)
#   make tutorial-test  run docs/tutorial.md's commands, compare their output
#   make demo       boot, run the showcase workload, print results, power off
#   make check      every test: host, device, in-guest on both kernels
#   make bench      the benchmark suite
#   make fuzz       the device fuzzers (core; compute engines against the
#                   reference), for FUZZ_SECONDS each
#   make fuzz-qemu  QEMU's generic-fuzz on the device, FUZZ_SECONDS split
#                   between its configurations (plain, intel-iommu)
#   make torture    svmgpu-torture in a guest for TORTURE_SECONDS
#   make stress     svmgpu-torture and svmgpu-fuzz under stress-ng, swap on
#                   zram, KSM, THP, NUMA=2, for STRESS_SECONDS
#   make syscall-fuzz  svmgpu-fuzz in a guest for FUZZ_OPS operations
#   make failsweep  svm_failsweep on the debug kernel: scenarios with one
#                   allocation failed, FAILSWEEP_SECONDS per group of them,
#                   seed FAILSWEEP_SEED (default: the time)
#   make guest-test-multi  the in-guest tests (all, or TESTS=a,b) in a guest
#                   with three svmgpu devices, two in PCIe hotplug slots
#   make deb        the Debian packages (debian/) in build/deb, lintian-clean
#   make deb-test   the packages in a guest: svmgpu.ko built by DKMS from
#                   svmgpu-dkms, libsvmgpu and the tools from the .debs
#
# Variables: KERNEL=debian|debug  ACCEL=auto|kvm|tcg  IOMMU=0|1  MEM=2G  SMP=2  NUMA=1
#            MACHINE=q35|pc  QEMU_EXTRA='...'  TESTS=a,b  TEST_TIMEOUT=120
#            LOCAL_MEM=256M (the svmgpu's device-local memory, 0 = none)
#            QEMU_ASAN=1 (build and boot QEMU with ASan/UBSan, docs/testing.md)
#            BOOT_TIMEOUT=900|1800(debug)  SVMGPU_CACHE=~/.cache/svmgpu  BUILD=./build
#            SHARE=DIR  CMD='...'  HOST_CMD='...'

SHELL := /bin/bash
TOP := $(CURDIR)
BUILD ?= $(TOP)/build
SVMGPU_CACHE ?= $(HOME)/.cache/svmgpu
export SVMGPU_CACHE

KERNEL ?= debian
ACCEL ?= auto
IOMMU ?= 0
MEM ?= 2G
SMP ?= 2
MACHINE ?= q35
NUMA ?= 1
LOCAL_MEM ?= 256M
QEMU_EXTRA ?=
QEMU_ASAN ?= 0
GUEST_APPEND ?=
TESTS ?=
# The debug kernel (KASAN, lockdep, kmemleak) runs the programs ~5x slower.
TEST_TIMEOUT ?= $(if $(filter debug,$(KERNEL)),300,120)
# A whole check run of the debug kernel takes ~850 s under TCG.
BOOT_TIMEOUT ?= $(if $(filter debug,$(KERNEL)),1800,900)
FUZZ_SECONDS ?= 600
SHARE ?=
CMD ?=
HOST_CMD ?=

QEMU := $(SVMGPU_CACHE)/qemu-$(if $(filter 1,$(QEMU_ASAN)),asan-)build/qemu-system-x86_64
MESON_BUILD := $(BUILD)/meson
DESTDIR_UAPI := $(BUILD)/destdir
KENV := $(BUILD)/kernel-$(KERNEL).env
MODDIR := $(BUILD)/module-$(KERNEL)
INITRD := $(BUILD)/initramfs-$(KERNEL).cpio.gz
LOGDIR ?= $(BUILD)/logs/$(KERNEL)$(if $(filter 1,$(IOMMU)),-iommu)

# Read a line of the kernel env file written by images/kernel/build-kernel.sh
kenv = $(shell sed -n '$(1)p' $(KENV) 2>/dev/null)

.PHONY: all deps qemu kernel module module-unlocked userspace userspace-unlocked \
	image image-unlocked run demo demo-unlocked \
	check guest-test guest-test-unlocked bench bench-unlocked torture \
	torture-unlocked fuzz fuzz-qemu stress stress-unlocked syscall-fuzz guest-test-multi \
	syscall-fuzz-unlocked failsweep host-test test-manifest clean distclean exec exec-args exec-unlocked \
	host-cmd dev-env tutorial-test

all: image

deps:
	@bash scripts/deps.sh

qemu: deps
	@SVMGPU_QEMU_ASAN=$(QEMU_ASAN) bash qemu-device/qemu-build.sh

kernel: deps
	@mkdir -p $(BUILD)
	@bash images/kernel/build-kernel.sh $(KERNEL) > $(KENV).$$$$ && mv $(KENV).$$$$ $(KENV)

# The module is built in a per-kernel directory of links to the sources, so
# objects for the two kernels never mix.  Not svmgpu.mod.c, which an in-tree
# build leaves in kernel-driver/: modpost would write both kernels' symbol
# versions and dependencies through the link into that one file.
module: kernel
	@mkdir -p $(MODDIR)
	@flock $(MODDIR)/.lock $(MAKE) -s module-unlocked

# A module built from stale modpost state once lacked its symbol versions
# (the kernel then force-loads it with a taint).  If that happens, rebuild
# once from a clean directory.
MODULE_BUILD = $(MAKE) -s -C $(call kenv,2) M=$(MODDIR) SVMGPU_TOP=$(TOP) modules 2>&1 \
	| { grep -v '^Skipping BTF generation' || true; }
MODULE_OK = ! grep -q '^CONFIG_MODVERSIONS=y' $(call kenv,2)/.config || \
	readelf -S $(MODDIR)/svmgpu.ko | grep -q __versions

module-unlocked:
	@for f in kernel-driver/Kbuild kernel-driver/*.c kernel-driver/*.h; do \
		ln -sf $(TOP)/$$f $(MODDIR)/; done
	@set -o pipefail; $(MODULE_BUILD)
	@if ! { $(MODULE_OK); }; then \
		echo "module: svmgpu.ko has no symbol versions; rebuilding from clean" >&2; \
		rm -f $(MODDIR)/*.o $(MODDIR)/*.ko $(MODDIR)/*.mod* $(MODDIR)/.*.cmd \
			$(MODDIR)/Module.symvers $(MODDIR)/modules.order; \
		set -o pipefail; $(MODULE_BUILD) && { $(MODULE_OK); }; fi

# meson.build files that appear later (subdirs are optional) need a reconfigure
MESON_FILES := $(shell find . -name meson.build -not -path './build/*' 2>/dev/null)
$(MESON_BUILD)/build.ninja: $(MESON_FILES)
	@if [ -f $@ ]; then meson setup --reconfigure $(MESON_BUILD) >/dev/null; \
	else meson setup $(MESON_BUILD) --prefix=/usr --buildtype=debugoptimized >/dev/null; fi
	@touch $@

userspace: deps
	@mkdir -p $(BUILD)
	@flock $(BUILD)/.meson.lock $(MAKE) -s userspace-unlocked

userspace-unlocked: $(MESON_BUILD)/build.ninja
	@ninja -C $(MESON_BUILD) >/dev/null
	@rm -rf $(DESTDIR_UAPI)
	@meson install -C $(MESON_BUILD) --destdir $(DESTDIR_UAPI) --quiet >/dev/null

# Builds and boots take locks, so that several `make` runs in one tree (two
# terminals, or parallel agents) never interleave a build or share a log dir.
BUILD_LOCK = mkdir -p $(BUILD) && flock $(BUILD)/.build.lock
LOG_LOCK = mkdir -p $(LOGDIR) && flock $(LOGDIR)/.lock

image:
	@$(BUILD_LOCK) $(MAKE) -s image-unlocked

image-unlocked: qemu module userspace
	@bash images/mkinitramfs.sh $(INITRD) $(call kenv,3) $(MODDIR)/svmgpu.ko $(DESTDIR_UAPI)
	@[ -n "$(KERNEL_MAP)" ] || [ $(KALLSYMS_MAP) -nt $(call kenv,1) ] || \
		[ $(KALLSYMS_MAP).failed -nt $(call kenv,1) ] || \
		$(BOOT_ENV) LOGDIR=$(BUILD)/logs/kallsyms-$(KERNEL) BOOT_TIMEOUT=300 \
		bash scripts/kallsyms-map.sh $(KALLSYMS_MAP)

BOOT_ENV = QEMU=$(QEMU) KERNEL_IMAGE=$(call kenv,1) INITRD=$(INITRD) \
	KERNEL_FLAVOR=$(KERNEL) ACCEL=$(ACCEL) IOMMU=$(IOMMU) MEM=$(MEM) SMP=$(SMP) \
	MACHINE=$(MACHINE) NUMA=$(NUMA) LOCAL_MEM=$(LOCAL_MEM) QEMU_EXTRA='$(QEMU_EXTRA)' GUEST_APPEND='$(GUEST_APPEND)' LOGDIR=$(LOGDIR) \
	BOOT_TIMEOUT=$(BOOT_TIMEOUT) TEST_TIMEOUT=$(TEST_TIMEOUT) TESTS=$(TESTS) SHARE='$(SHARE)' \
	SYSTEM_MAP=$(SYSTEM_MAP)
# the guest kernel's symbols for qemu-hang.txt: the debug kernel's build
# tree has System.map; Debian's package ships a one-line stub beside
# vmlinuz, so for it one boot reads /proc/kallsyms (scripts/kallsyms-map.sh)
# into the kernel's cache directory
KERNEL_MAP = $(wildcard $(call kenv,2)/System.map)
KALLSYMS_MAP = $(dir $(call kenv,1))System.map-kallsyms
SYSTEM_MAP = $(or $(KERNEL_MAP),$(wildcard $(KALLSYMS_MAP)))
BOOT = $(BOOT_ENV) bash scripts/boot.sh

# Building against the library from outside the tree: pkg-config finds
# svmgpu.pc in the install tree, and the sysroot points its -I and -L there.
# A program built so runs in the guest unchanged: the image holds that tree.
PKG_ENV = PKG_CONFIG_PATH=$(DESTDIR_UAPI)/usr/lib/$(shell gcc -print-multiarch)/pkgconfig \
	PKG_CONFIG_SYSROOT_DIR=$(DESTDIR_UAPI)

# eval "$(make -s dev-env)": the same for your own shell
dev-env: userspace
	@echo "export $(PKG_ENV)"

host-cmd: export SVMGPU_HOST_CMD = $(HOST_CMD)
host-cmd:
	@if [ -n "$$SVMGPU_HOST_CMD" ]; then \
		[ -n '$(SHARE)' ] || { echo "HOST_CMD needs SHARE=DIR to run in" >&2; exit 2; }; \
		cd '$(SHARE)' && $(PKG_ENV) bash -c "$$SVMGPU_HOST_CMD"; fi

run: image
	@$(MAKE) -s host-cmd
	@$(BOOT) shell

EXEC_LOGDIR = $(BUILD)/logs/exec-$(KERNEL)
exec-args: export EXEC_CMD = $(CMD)
exec-args:
	@[ -n "$$EXEC_CMD" ] || { echo "exec: CMD='...' is missing, e.g. make exec CMD='svmgpu-info'" >&2; exit 2; }

exec: exec-args image
	@$(MAKE) -s host-cmd
	@mkdir -p $(EXEC_LOGDIR) && flock $(EXEC_LOGDIR)/.lock \
		$(MAKE) -s exec-unlocked LOGDIR=$(EXEC_LOGDIR)

exec-unlocked: export EXEC_CMD = $(CMD)
exec-unlocked:
	@$(BOOT) exec
	@rc=$$(sed -n 's/^SVMGPU-DONE \([0-9]*\).*/\1/p' $(LOGDIR)/results.log | tail -n 1); \
	if [ -z "$$rc" ]; then echo "exec: the guest never finished the command; see $(LOGDIR)" >&2; exit 125; fi; \
	echo "exec: exit status $$rc"; exit $$rc

demo: image
	@$(LOG_LOCK) $(MAKE) -s demo-unlocked

demo-unlocked:
	@$(BOOT) demo
	@grep -v '^SVMGPU-' $(LOGDIR)/results.log || { echo "demo: no output; see $(LOGDIR)" >&2; exit 1; }
	@grep -q '^SVMGPU-DONE 0' $(LOGDIR)/results.log || { echo "demo: failed; see $(LOGDIR)" >&2; exit 1; }

# One boot of the in-guest suite with the current KERNEL/IOMMU; TAP on stdout.
guest-test: image
	@$(LOG_LOCK) $(MAKE) -s guest-test-unlocked

guest-test-unlocked:
	@$(BOOT) check
	@python3 scripts/guest-report.py $(LOGDIR) "guest[$(KERNEL)$(if $(filter 1,$(IOMMU)),+iommu)]"

# svm_failsweep's four groups of scenarios for FAILSWEEP_SECONDS each on the
# debug kernel with the IOMMU (make check runs them for 24 s each, seed 1):
# judged as the suite (kernel log, the unload's kmemleak scan).
FAILSWEEP_SECONDS ?= 600
FAILSWEEP_SEED ?= $(shell date +%s)
failsweep:
	@echo "failsweep: seed $(FAILSWEEP_SEED), $(FAILSWEEP_SECONDS) s per group"
	@$(MAKE) -s guest-test KERNEL=debug IOMMU=1 TESTS=svm_failsweep \
		LOGDIR=$(BUILD)/logs/failsweep TEST_TIMEOUT=$$(( 4 * $(FAILSWEEP_SECONDS) + 600 )) \
		BOOT_TIMEOUT=$$(( 4 * $(FAILSWEEP_SECONDS) + 1800 )) \
		GUEST_APPEND='svmgpu.failsweep_seconds=$(FAILSWEEP_SECONDS) svmgpu.failsweep_seed=$(FAILSWEEP_SEED) $(GUEST_APPEND)'

# Three devices in one guest (docs/testing.md, "Several devices"): the
# machine's own, and two more in PCIe hotplug slots (native hotplug: QEMU's
# ACPI hotplug of root ports off), which svm_unplug powers off.
MULTI_EXTRA := -global ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off \
	$(foreach i,1 2,-device pcie-root-port,id=svmgpu-rp$(i),chassis=$(i),slot=$(i) \
	-device svmgpu,bus=svmgpu-rp$(i),local-mem-size=64M)

# (no prerequisite: guest-test builds the image; checking it twice cost a
# minute a stage under load)
# svm_multi sleeps through six stalled faults (~110 s on Debian's kernel):
# 180 s a program there (300 s on the debug kernel, as elsewhere) unless
# TEST_TIMEOUT says otherwise.
guest-test-multi:
	@$(MAKE) -s guest-test QEMU_EXTRA="$(MULTI_EXTRA) $(QEMU_EXTRA)" \
		$(if $(filter command line environment,$(origin TEST_TIMEOUT)),,\
		TEST_TIMEOUT=$(if $(filter debug,$(KERNEL)),300,180)) \
		LOGDIR=$(BUILD)/logs/$(KERNEL)$(if $(filter 1,$(IOMMU)),-iommu)-multi

host-test: userspace
	@meson test -C $(MESON_BUILD) --no-rebuild --print-errorlogs >/dev/null 2>&1 || true
	@python3 scripts/meson-tap.py $(MESON_BUILD)

# tests/manifest.txt from the built test programs: after adding, renaming
# or removing a test (host-test's test_manifest fails until then)
test-manifest: userspace
	@set -o pipefail; ninja -C $(MESON_BUILD) test-manifest | grep -v -e '^ninja: ' -e '^\[[0-9]'

# docs/tutorial.md's marked commands, run (the guest ones in one boot) and
# their output compared with the tutorial's; TAP (scripts/tutorial-test.py)
tutorial-test: image
	@python3 scripts/tutorial-test.py docs/tutorial.md $(KERNEL)

# libsvmgpu0, libsvmgpu-dev, svmgpu-tools and svmgpu-dkms with
# dpkg-buildpackage on a copy of the tree, then lintian: scripts/build-deb.sh.
DEB_OUT := $(BUILD)/deb
.PHONY: deb deb-test deb-test-unlocked deb-image-unlocked
deb: deps
	@mkdir -p $(DEB_OUT) && flock $(DEB_OUT)/.lock bash scripts/build-deb.sh $(DEB_OUT)

# The packages in a guest on Debian's kernel (make check's deb stage): make
# deb, svmgpu.ko built by DKMS from svmgpu-dkms's installed source, an image
# whose library and tools are the packages' (images/deb-image.sh), DEB_TESTS
# in it.  TAP.
DEB_TESTS ?= drm_basic,lib_api,lib_tools
DEB_INITRD := $(BUILD)/initramfs-debian-deb.cpio.gz
DEB_LOGDIR := $(BUILD)/logs/deb
deb-test:
	@mkdir -p $(DEB_LOGDIR) && flock $(DEB_LOGDIR)/.lock $(MAKE) -s deb-test-unlocked \
		KERNEL=debian IOMMU=0 INITRD=$(DEB_INITRD) LOGDIR=$(DEB_LOGDIR) TESTS=$(DEB_TESTS)

deb-image-unlocked: qemu kernel userspace
	@bash images/deb-image.sh $(DEB_INITRD) $(DEB_OUT) $(call kenv,2) $(call kenv,3) $(DESTDIR_UAPI)

deb-test-unlocked:
	@set -o pipefail; if $(MAKE) -s deb 2>&1 | sed 's/^/# /'; then \
		echo "ok - make deb: $$(ls $(DEB_OUT)/*.deb | wc -l) packages, lintian clean" > $(LOGDIR)/pre.tap; \
	else echo "not ok - make deb failed"; exit 1; fi
	@$(BUILD_LOCK) $(MAKE) -s deb-image-unlocked >> $(LOGDIR)/pre.tap || { cat $(LOGDIR)/pre.tap; exit 1; }
	@cat $(LOGDIR)/pre.tap
	@$(BOOT) check
	@python3 scripts/guest-report.py $(LOGDIR) "deb[debian]" > $(LOGDIR)/report.tap || true
	@grep -v '^SVMGPU-COUNTS' $(LOGDIR)/report.tap
	@read -r p f s < <(sed -n 's/^SVMGPU-COUNTS //p' $(LOGDIR)/report.tap); \
		echo "SVMGPU-COUNTS $$(( $${p:-0} + $$(grep -c '^ok' $(LOGDIR)/pre.tap) )) $${f:-1} $${s:-0}"; \
		[ "$${f:-1}" -eq 0 ]

check:
	@bash scripts/check.sh

# BENCH=quick|full; results in build/bench (table.txt, results.json/.csv, *.png)
BENCH ?= full
BENCH_MEM ?= 4G
bench: image
	@mkdir -p $(BUILD)/logs/bench && flock $(BUILD)/logs/bench/.lock \
		$(MAKE) -s bench-unlocked LOGDIR=$(BUILD)/logs/bench MEM=$(BENCH_MEM)

bench-unlocked:
	@$(BOOT_ENV) BENCH=$(BENCH) BENCH_OUT=$(BUILD)/bench \
		HOST_MEMCPY=$(MESON_BUILD)/bench/host-memcpy bash scripts/bench.sh

fuzz:
	@bash qemu-device/tests/fuzz/run-fuzz.sh $(FUZZ_SECONDS)
	@bash qemu-device/tests/fuzz/run-fuzz.sh $(FUZZ_SECONDS) isa-diff

# QEMU built again with clang, libFuzzer and ASan/UBSan (cached in
# $(SVMGPU_CACHE)/qemu-fuzz-build); corpus and crashes in .../fuzz-qemu.
fuzz-qemu:
	@$(BUILD_LOCK) $(MAKE) -s qemu
	@bash qemu-device/fuzz-qemu/run.sh $(FUZZ_SECONDS)

# A long svmgpu-torture run in one boot, judged like the suite (TAP, kernel
# log free of warnings).  TORTURE_SECONDS=1800 by default; KERNEL=debug works.
TORTURE_SECONDS ?= 1800
torture: image
	@mkdir -p $(BUILD)/logs/torture && flock $(BUILD)/logs/torture/.lock \
		$(MAKE) -s torture-unlocked LOGDIR=$(BUILD)/logs/torture \
		BOOT_TIMEOUT=$$(( $(TORTURE_SECONDS) + 900 ))

# The guest's "svmgpu-torture: progress:" lines (one a minute) are shown as
# they arrive in results.log.
torture-unlocked:
	@echo "torture: $(TORTURE_SECONDS) s of svmgpu-torture on $(KERNEL); progress every 60 s"
	@: > $(LOGDIR)/results.log; tail -n +1 -F $(LOGDIR)/results.log 2>/dev/null > >(grep --line-buffered -o \
		'svmgpu-torture: \(progress\|passed\|DIVERGED\).*' | sed -u 's/^svmgpu-torture: /torture: /') & \
	tp=$$!; $(BOOT_ENV) TORTURE_SECONDS=$(TORTURE_SECONDS) bash scripts/boot.sh torture; \
	rc=$$?; sleep 1; kill $$tp; exit $$rc
	@set -o pipefail; python3 scripts/guest-report.py $(LOGDIR) "torture[$(KERNEL)]" | tee $(LOGDIR)/report.tap
	@! grep -q '^not ok' $(LOGDIR)/report.tap

clean:
	rm -rf $(BUILD)

# Also drop the caches (QEMU tree, kernels): the next build is cold.
distclean: clean
	rm -rf $(SVMGPU_CACHE)

# svmgpu-torture and svmgpu-fuzz for STRESS_SECONDS while stress-ng, swap on
# zram, KSM, THP, compaction and NUMA balancing over STRESS_NUMA nodes work
# the memory manager (images/stress.sh); judged like torture.
STRESS_SECONDS ?= 1800
STRESS_NUMA ?= 2
stress: image
	@mkdir -p $(BUILD)/logs/stress && flock $(BUILD)/logs/stress/.lock \
		$(MAKE) -s stress-unlocked LOGDIR=$(BUILD)/logs/stress NUMA=$(STRESS_NUMA) \
		BOOT_TIMEOUT=$$(( $(STRESS_SECONDS) * 2 + 900 ))

stress-unlocked:
	@$(BOOT_ENV) STRESS_SECONDS=$(STRESS_SECONDS) bash scripts/boot.sh stress
	@set -o pipefail; python3 scripts/guest-report.py $(LOGDIR) "stress[$(KERNEL)$(if $(filter 1,$(IOMMU)),+iommu)]" | tee $(LOGDIR)/report.tap
	@grep -q '^# SVMGPU-PROGRAM stress' $(LOGDIR)/results.log || \
		echo "not ok - stress[$(KERNEL)]: the stress program never ran" | tee -a $(LOGDIR)/report.tap
	@! grep -q '^not ok' $(LOGDIR)/report.tap

# svmgpu-fuzz in one boot: FUZZ_OPS operations (stopping after FUZZ_LIMIT
# seconds at most), seed FUZZ_SEED (empty: picked and printed by the guest),
# FUZZ_ARGS extra options (e.g. '--threads 2 --procs 2 --unbind').
FUZZ_OPS ?= 1000000
FUZZ_LIMIT ?= 10800
FUZZ_SEED ?=
FUZZ_ARGS ?=
syscall-fuzz: image
	@mkdir -p $(BUILD)/logs/syscall-fuzz && flock $(BUILD)/logs/syscall-fuzz/.lock \
		$(MAKE) -s syscall-fuzz-unlocked LOGDIR=$(BUILD)/logs/syscall-fuzz \
		BOOT_TIMEOUT=$$(( $(FUZZ_LIMIT) + 900 ))

syscall-fuzz-unlocked:
	@$(BOOT_ENV) FUZZ_OPS=$(FUZZ_OPS) FUZZ_LIMIT=$(FUZZ_LIMIT) FUZZ_SEED=$(FUZZ_SEED) \
		FUZZ_ARGS='$(FUZZ_ARGS)' bash scripts/boot.sh fuzz
	@set -o pipefail; python3 scripts/guest-report.py $(LOGDIR) "syscall-fuzz[$(KERNEL)$(if $(filter 1,$(IOMMU)),+iommu)]" | tee $(LOGDIR)/report.tap
	@grep -q '^# SVMGPU-PROGRAM syscall_fuzz' $(LOGDIR)/results.log || \
		echo "not ok - syscall-fuzz[$(KERNEL)]: svmgpu-fuzz never ran" | tee -a $(LOGDIR)/report.tap
	@! grep -q '^not ok' $(LOGDIR)/report.tap
