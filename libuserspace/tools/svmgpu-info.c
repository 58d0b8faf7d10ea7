// SPDX-License-Identifier: MIT
/*
 * svmgpu-info: what each svmgpu device is and what it is doing: PCI
 * location, IDs, BARs, MSI-X, link, bound driver, DRM node, capabilities
 * the device reports, and its live counters.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pciaccess.h>

#include "regs.h"
#include "svmgpu.h"

#define PCI_CAP_PTR		0x34
#define PCI_CAP_ID_EXP		0x10
#define PCI_CAP_ID_MSIX		0x11

static void usage(FILE *f)
{
	fprintf(f,
		"usage: svmgpu-info [-w SECS] [-c COUNT]\n"
		"Describe every svmgpu device: PCI location, IDs, BARs, MSI-X, link,\n"
		"bound driver, DRM render node, capabilities and live counters.\n"
		"  -w, --watch SECS   print the counters again every SECS seconds\n"
		"  -c, --count N      with --watch, stop after N rounds\n"
		"  -h, --help         this text\n"
		"Counters are read from BAR0 (root only); they are skipped otherwise.\n");
}

static int find_cap(struct pci_device *d, uint8_t id)
{
	uint8_t pos = 0, cid = 0;
	int guard = 48;

	if (pci_device_cfg_read_u8(d, &pos, PCI_CAP_PTR))
		return -1;
	while (pos && guard--) {
		if (pci_device_cfg_read_u8(d, &cid, pos))
			return -1;
		if (cid == id)
			return pos;
		if (pci_device_cfg_read_u8(d, &pos, pos + 1))
			return -1;
	}
	return -1;
}

static void print_pci(struct pci_device *d)
{
	uint16_t ctrl = 0, lnk = 0;
	char driver[64];
	int i, cap;

	printf("  pci          %04x:%02x:%02x.%u  %04x:%04x rev %02x class %06x\n", d->domain,
	       d->bus, d->dev, d->func, d->vendor_id, d->device_id, d->revision, d->device_class);
	for (i = 0; i < 6; i++)
		if (d->regions[i].size)
			printf("  BAR%d         0x%016" PRIx64 "  %" PRIu64 " KiB%s%s\n", i,
			       (uint64_t)d->regions[i].base_addr, (uint64_t)d->regions[i].size / 1024,
			       d->regions[i].is_64 ? ", 64-bit" : "",
			       d->regions[i].is_prefetchable ? ", prefetchable" : "");
	cap = find_cap(d, PCI_CAP_ID_MSIX);
	if (cap >= 0 && !pci_device_cfg_read_u16(d, &ctrl, cap + 2))
		printf("  MSI-X        %u vectors, %s%s\n", (ctrl & 0x7ff) + 1,
		       ctrl & 0x8000 ? "enabled" : "disabled", ctrl & 0x4000 ? ", masked" : "");
	else
		printf("  MSI-X        none\n");
	cap = find_cap(d, PCI_CAP_ID_EXP);
	if (cap >= 0 && !pci_device_cfg_read_u16(d, &lnk, cap + 0x12))
		printf("  link         PCIe gen %u x%u\n", lnk & 0xf, (lnk >> 4) & 0x3f);
	svmgpu_pci_driver(d, driver, sizeof(driver));
	printf("  driver       %s\n", driver[0] ? driver : "(none bound)");
}

static const struct {
	const char *name;
	uint32_t reg;
} counters[] = {
	{ "faults", SVMGPU_REG_CNT_FAULTS }, { "replays", SVMGPU_REG_CNT_REPLAYS },
	{ "cancels", SVMGPU_REG_CNT_CANCELS }, { "tlb invalidations", SVMGPU_REG_CNT_TLB_INVALIDATIONS },
	{ "tlb hits", SVMGPU_REG_CNT_TLB_HITS }, { "tlb misses", SVMGPU_REG_CNT_TLB_MISSES },
	{ "tlb evictions", SVMGPU_REG_CNT_TLB_EVICTIONS }, { "page walks", SVMGPU_REG_CNT_PAGE_WALKS },
	{ "commands", SVMGPU_REG_CNT_COMMANDS }, { "instructions", SVMGPU_REG_CNT_INSTRUCTIONS },
};

static void print_counters(volatile uint8_t *bar)
{
	unsigned int i;

	printf("  counters    ");
	for (i = 0; i < sizeof(counters) / sizeof(counters[0]); i++)
		printf("%s %s %" PRIu64, i ? "," : "", counters[i].name,
		       *(volatile uint64_t *)(bar + counters[i].reg));
	printf("\n");
}

/*
 * With the driver bound, strict kernels refuse to map BAR0; the driver's
 * debugfs file has the same counters: /sys/kernel/debug/dri/<minor>/.
 */
static int print_debugfs(const char *render_node)
{
	const char *p = strstr(render_node, "renderD");
	int minor = p ? atoi(p + 7) : -1, tries[2], i;
	char path[96], line[256];
	FILE *f = NULL;

	if (minor < 0)
		return -1;
	tries[0] = minor;
	tries[1] = minor - 128;
	for (i = 0; i < 2 && !f; i++) {
		snprintf(path, sizeof(path), "/sys/kernel/debug/dri/%d/svmgpu_device", tries[i]);
		f = fopen(path, "r");
	}
	if (!f)
		return -1;
	printf("  counters     (from %s)\n", path);
	while (fgets(line, sizeof(line), f))
		printf("    %s", line);
	fclose(f);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "watch", required_argument, NULL, 'w' },
		{ "count", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct svmgpu_device_desc descs[16];
	unsigned int watch = 0, count = 0;
	int c, n, i, pci_ok;

	while ((c = getopt_long(argc, argv, "w:c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'w': watch = (unsigned int)strtoul(optarg, NULL, 0); break;
		case 'c': count = (unsigned int)strtoul(optarg, NULL, 0); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	printf("libsvmgpu %d.%d\n", svmgpu_version_major(), svmgpu_version_minor());
	n = svmgpu_device_list(descs, 16);
	if (n < 0) {
		fprintf(stderr, "svmgpu-info: %s\n", strerror(-n));
		return 1;
	}
	if (n == 0) {
		printf("no svmgpu device found\n");
		return 1;
	}
	pci_ok = pci_system_init() == 0;
	for (i = 0; i < n && i < 16; i++) {
		struct svmgpu_device_info info;
		struct svmgpu_device *dev;
		struct pci_device *pd = NULL;
		char slot[32];
		void *map = NULL;
		int ret;

		snprintf(slot, sizeof(slot), "%04x:%02x:%02x.%u", descs[i].pci_domain, descs[i].pci_bus,
			 descs[i].pci_dev, descs[i].pci_func);
		printf("device %d: %s\n", i, descs[i].render_node);
		if (pci_ok)
			pd = svmgpu_pci_find(slot, 0);
		if (pd)
			print_pci(pd);
		else
			printf("  pci          %s %04x:%04x (libpciaccess unavailable)\n", slot,
			       descs[i].vendor_id, descs[i].device_id);
		ret = svmgpu_device_open_path(descs[i].render_node, &dev);
		if (!ret)
			ret = svmgpu_device_get_info(dev, &info);
		if (ret) {
			printf("  (cannot query the driver: %s)\n", strerror(-ret));
			continue;
		}
		printf("  drm          %s, driver %s %d.%d.%d\n", descs[i].render_node, info.driver_name,
		       info.driver_major, info.driver_minor, info.driver_patch);
		printf("  hardware     svmgpu %u.%u (id 0x%08x), %u queues, %u engines\n",
		       info.hw_version >> 16, info.hw_version & 0xffff, info.hw_id, info.num_queues,
		       info.num_engines);
		printf("  mmu          TLB %u sets x %u ways, fault ring %u entries\n", info.tlb_sets,
		       info.tlb_ways, info.fault_ring_entries);
		printf("  caps         0x%x:%s%s%s%s\n", info.caps,
		       info.caps & SVMGPU_CAPS_LEAF_2M ? " 2M-pages" : "",
		       info.caps & SVMGPU_CAPS_LEAF_1G ? " 1G-pages" : "",
		       info.caps & SVMGPU_CAPS_FP64 ? " fp64" : "",
		       info.caps & SVMGPU_CAPS_INTX ? " intx" : "");
		printf("  limits       %u contexts, rings up to %u commands\n", info.max_contexts,
		       info.max_ring_entries);
		svmgpu_device_close(dev);
		if (pd && !pci_device_map_range(pd, pd->regions[SVMGPU_BAR_REGS].base_addr,
						SVMGPU_BAR_REGS_SIZE, 0, &map)) {
			unsigned int round = 0;

			for (;;) {
				print_counters(map);
				if (!watch || (count && ++round >= count))
					break;
				fflush(stdout);
				sleep(watch);
			}
			pci_device_unmap_range(pd, map, SVMGPU_BAR_REGS_SIZE);
		} else if (print_debugfs(descs[i].render_node)) {
			printf("  counters     (BAR0 not mappable and no debugfs: run as root, "
			       "mount debugfs)\n");
		}
	}
	if (pci_ok)
		pci_system_cleanup();
	return 0;
}
