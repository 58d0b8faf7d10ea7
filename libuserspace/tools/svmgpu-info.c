// SPDX-License-Identifier: MIT
/*
 * svmgpu-info: what each svmgpu device is and what it is doing: PCI
 * location, IDs, BARs, MSI-X, link, bound driver, DRM node, capabilities
 * the device reports, and its live counters (from BAR0, or the driver's
 * debugfs file when the kernel refuses to map a bound BAR).
 *
 * With --watch every device is described first, then the counters of
 * all of them are printed again every SECS seconds.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pciaccess.h>

#include "cli.h"
#include "regs.h"
#include "svmgpu.h"

#define PCI_CAP_PTR		0x34
#define PCI_CAP_ID_EXP		0x10
#define PCI_CAP_ID_MSIX		0x11
#define MAX_DEVICES		64	/* as the library lists */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: svmgpu-info [-d DEVICE] [-w SECS [-c N]] [--json]\n"
		"Describe every svmgpu device (or the one -d selects): PCI location, IDs,\n"
		"BARs, MSI-X, link, bound driver, DRM render node, capabilities, live\n"
		"counters and the scheduler's queues (priority, state, hardware queue, binds,\n"
		"preemptions, resumes, resets, time on a hardware queue; debugfs, root),\n"
		"device-local memory (type, size, use, DAX pool) and its migration and\n"
		"eviction counters (debugfs, root).\n"
		"  -d, --device DEVICE  index, render node path or PCI address (default: all)\n"
		"  -w, --watch SECS     then print the counters of every device again every\n"
		"                       SECS seconds (1..86400)\n"
		"  -c, --count N        with --watch, stop after N rounds in all\n"
		"      --json           print JSON (with --watch: one object per round, one\n"
		"                       per line)\n"
		"  -h, --help           this text\n"
		"      --version        print the version\n"
		"Counters come from BAR0 (root, driver unbound or iomem=relaxed) or else from\n"
		"the driver's debugfs file (root, debugfs mounted); without either they are\n"
		"left out, and --watch is an error.\n"
		"Exit status: 0 success, 1 a device could not be queried or --watch has no\n"
		"counters to read, 2 bad command line, 3 no svmgpu device.\n");
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

static void print_pci(struct pci_device *d, struct json_object *j)
{
	struct json_object *bars = j ? json_object_new_array() : NULL;
	uint16_t ctrl = 0, lnk = 0;
	char driver[64], buf[32];
	int i, cap;

	if (j) {
		snprintf(buf, sizeof(buf), "%04x:%02x:%02x.%u", d->domain, d->bus, d->dev, d->func);
		json_object_object_add(j, "slot", json_object_new_string(buf));
		json_object_object_add(j, "vendor_id", cli_json_hex(d->vendor_id));
		json_object_object_add(j, "device_id", cli_json_hex(d->device_id));
		json_object_object_add(j, "revision", json_object_new_int(d->revision));
		json_object_object_add(j, "class", cli_json_hex(d->device_class));
		json_object_object_add(j, "bars", bars);
	} else {
		printf("  pci          %04x:%02x:%02x.%u  %04x:%04x rev %02x class %06x\n", d->domain,
		       d->bus, d->dev, d->func, d->vendor_id, d->device_id, d->revision,
		       d->device_class);
	}
	for (i = 0; i < 6; i++) {
		if (!d->regions[i].size)
			continue;
		if (j) {
			struct json_object *b = json_object_new_object();

			json_object_object_add(b, "index", json_object_new_int(i));
			json_object_object_add(b, "base", cli_json_hex(d->regions[i].base_addr));
			json_object_object_add(b, "size", cli_json_u64(d->regions[i].size));
			json_object_object_add(b, "is_64", json_object_new_boolean(d->regions[i].is_64));
			json_object_object_add(b, "prefetchable",
					       json_object_new_boolean(d->regions[i].is_prefetchable));
			json_object_array_add(bars, b);
			continue;
		}
		printf("  BAR%d         0x%016" PRIx64 "  %" PRIu64 " KiB%s%s\n", i,
		       (uint64_t)d->regions[i].base_addr, (uint64_t)d->regions[i].size / 1024,
		       d->regions[i].is_64 ? ", 64-bit" : "",
		       d->regions[i].is_prefetchable ? ", prefetchable" : "");
	}
	cap = find_cap(d, PCI_CAP_ID_MSIX);
	if (cap >= 0 && !pci_device_cfg_read_u16(d, &ctrl, cap + 2)) {
		if (j) {
			struct json_object *m = json_object_new_object();

			json_object_object_add(m, "vectors", json_object_new_int((ctrl & 0x7ff) + 1));
			json_object_object_add(m, "enabled", json_object_new_boolean(ctrl & 0x8000));
			json_object_object_add(m, "masked", json_object_new_boolean(ctrl & 0x4000));
			json_object_object_add(j, "msix", m);
		} else {
			printf("  MSI-X        %u vectors, %s%s\n", (ctrl & 0x7ff) + 1,
			       ctrl & 0x8000 ? "enabled" : "disabled", ctrl & 0x4000 ? ", masked" : "");
		}
	} else if (j) {
		json_object_object_add(j, "msix", NULL);
	} else {
		printf("  MSI-X        none\n");
	}
	cap = find_cap(d, PCI_CAP_ID_EXP);
	if (cap >= 0 && !pci_device_cfg_read_u16(d, &lnk, cap + 0x12)) {
		if (j) {
			struct json_object *l = json_object_new_object();

			json_object_object_add(l, "gen", json_object_new_int(lnk & 0xf));
			json_object_object_add(l, "width", json_object_new_int((lnk >> 4) & 0x3f));
			json_object_object_add(j, "link", l);
		} else {
			printf("  link         PCIe gen %u x%u\n", lnk & 0xf, (lnk >> 4) & 0x3f);
		}
	}
	svmgpu_pci_driver(d, driver, sizeof(driver));
	if (j)
		json_object_object_add(j, "driver", driver[0] ? json_object_new_string(driver) : NULL);
	else
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
	/* data bytes over the link (system memory) and in device-local memory */
	{ "link read bytes", SVMGPU_REG_CNT_LINK_READ_BYTES },
	{ "link write bytes", SVMGPU_REG_CNT_LINK_WRITE_BYTES },
	{ "local read bytes", SVMGPU_REG_CNT_LOCAL_READ_BYTES },
	{ "local write bytes", SVMGPU_REG_CNT_LOCAL_WRITE_BYTES },
	/* queue states saved (hw-spec §16) */
	{ "preemptions", SVMGPU_REG_CNT_PREEMPTIONS },
};

/* Where a device's counters come from. */
struct dev {
	int index;
	char node[SVMGPU_PATH_MAX];
	struct pci_device *pd;
	void *map;		/* BAR0, or NULL */
	char debugfs[96];	/* the driver's debugfs file, or "" */
	struct json_object *j;	/* the device's JSON object */
};

static void print_counters(volatile uint8_t *bar, struct json_object *j)
{
	struct json_object *c = j ? json_object_new_object() : NULL;
	unsigned int i;

	uint64_t local = *(volatile uint64_t *)(bar + SVMGPU_REG_LOCAL_MEM_SIZE);

	if (j)
		json_object_object_add(j, "local_mem_size", cli_json_u64(local));
	else
		printf("  local memory %" PRIu64 " MiB\n", local >> 20);
	if (!j)
		printf("  counters    ");
	for (i = 0; i < sizeof(counters) / sizeof(counters[0]); i++) {
		uint64_t v = *(volatile uint64_t *)(bar + counters[i].reg);

		if (j)
			json_object_object_add(c, counters[i].name, cli_json_u64(v));
		else
			printf("%s %s %" PRIu64, i ? "," : "", counters[i].name, v);
	}
	if (j) {
		json_object_object_add(j, "counters_source", json_object_new_string("bar0"));
		json_object_object_add(j, "counters", c);
	} else {
		printf("\n");
		printf("  data bytes   over the link %" PRIu64 " read, %" PRIu64 " written; in local "
		       "memory %" PRIu64 " read, %" PRIu64 " written\n",
		       *(volatile uint64_t *)(bar + SVMGPU_REG_CNT_LINK_READ_BYTES),
		       *(volatile uint64_t *)(bar + SVMGPU_REG_CNT_LINK_WRITE_BYTES),
		       *(volatile uint64_t *)(bar + SVMGPU_REG_CNT_LOCAL_READ_BYTES),
		       *(volatile uint64_t *)(bar + SVMGPU_REG_CNT_LOCAL_WRITE_BYTES));
	}
}

/*
 * With the driver bound, strict kernels refuse to map BAR0; the driver's
 * debugfs file has the same counters (svmgpu_device_debugfs_dir()).
 */
static int find_debugfs(const char *render_node, char *path, size_t len)
{
	char dir[64];

	if (svmgpu_device_debugfs_dir(render_node, dir, sizeof(dir)) ||
	    snprintf(path, len, "%s/svmgpu_device", dir) >= (int)len || access(path, R_OK)) {
		path[0] = '\0';
		return -1;
	}
	return 0;
}

/* "name: 123" lines become numbers, the others strings in "lines". */
static int print_debugfs(const char *path, struct json_object *j)
{
	struct json_object *c = NULL, *lines = NULL;
	char line[256], key[64];
	unsigned long long v;
	FILE *f = fopen(path, "r");

	if (!f) {
		fprintf(stderr, "svmgpu-info: %s: %s\n", path, strerror(errno));
		/* a --watch round must not repeat the last round's counters */
		if (j) {
			json_object_object_add(j, "counters_source", NULL);
			json_object_object_add(j, "counters", NULL);
		}
		return -1;
	}
	if (j) {
		c = json_object_new_object();
		lines = json_object_new_array();
	} else {
		printf("  counters     (from %s)\n", path);
	}
	while (fgets(line, sizeof(line), f)) {
		char tail;

		if (!j) {
			printf("    %s", line);
			continue;
		}
		line[strcspn(line, "\n")] = '\0';
		if (sscanf(line, "%63[a-z0-9_]: %llu%c", key, &v, &tail) == 2)
			json_object_object_add(c, key, cli_json_u64(v));
		else
			json_object_array_add(lines, json_object_new_string(line));
	}
	fclose(f);
	if (j) {
		json_object_object_add(c, "lines", lines);
		json_object_object_add(j, "counters_source", json_object_new_string(path));
		json_object_object_add(j, "counters", c);
	}
	return 0;
}

/* One device's counters; -1 when there is no source. */
static int device_counters(struct dev *d)
{
	if (d->map) {
		print_counters(d->map, d->j);
		return 0;
	}
	if (d->debugfs[0])
		return print_debugfs(d->debugfs, d->j);
	return -1;
}

/*
 * The scheduler's per-queue counters, from the driver's debugfs
 * svmgpu_sched beside @devfile (root): every queue of the device, its
 * priority, state, hardware queue, binds, preemptions, resumes, resets and
 * time bound to a hardware queue (its timeslice use).  Returns 0, or -1
 * when the file is not there (no root, no debugfs, no scheduler).
 */
static int print_sched(const char *devfile, struct json_object *j)
{
	struct json_object *o = NULL, *qs = NULL;
	char path[128], line[512], prio[16], state[16], save[8];
	unsigned long long last, done, hw_us, binds, pre, res, resets, v;
	unsigned int handle, ctx;
	const char *slash = strrchr(devfile, '/');
	int hwq, nq = 0;
	FILE *f;

	if (!slash)
		return -1;
	snprintf(path, sizeof(path), "%.*s/svmgpu_sched", (int)(slash - devfile), devfile);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (j) {
		o = json_object_new_object();
		qs = json_object_new_array();
	}
	while (fgets(line, sizeof(line), f)) {
		char key[40];

		if (sscanf(line, "queue %u: ctx %u prio %15s state %15s hwq %d last %llu "
			   "completed %llu hw_us %llu binds %llu preemptions %llu resumes %llu "
			   "resets %llu save %7s", &handle, &ctx, prio, state, &hwq, &last, &done,
			   &hw_us, &binds, &pre, &res, &resets, save) == 13) {
			if (j) {
				struct json_object *q = json_object_new_object();

				json_object_object_add(q, "queue", json_object_new_int((int)handle));
				json_object_object_add(q, "context", json_object_new_int((int)ctx));
				json_object_object_add(q, "priority", json_object_new_string(prio));
				json_object_object_add(q, "state", json_object_new_string(state));
				json_object_object_add(q, "hw_queue", json_object_new_int(hwq));
				json_object_object_add(q, "submitted", cli_json_u64(last));
				json_object_object_add(q, "completed", cli_json_u64(done));
				json_object_object_add(q, "hw_us", cli_json_u64(hw_us));
				json_object_object_add(q, "binds", cli_json_u64(binds));
				json_object_object_add(q, "preemptions", cli_json_u64(pre));
				json_object_object_add(q, "resumes", cli_json_u64(res));
				json_object_object_add(q, "resets", cli_json_u64(resets));
				json_object_array_add(qs, q);
			} else {
				if (!nq)
					printf("    %5s %5s %-6s %-10s %3s %10s %8s %7s %7s %6s %12s\n",
					       "queue", "ctx", "prio", "state", "hwq", "completed",
					       "binds", "preempt", "resumes", "resets", "hw time ms");
				printf("    %5u %5u %-6s %-10s %3d %10llu %8llu %7llu %7llu %6llu "
				       "%12.1f\n", handle, ctx, prio, state, hwq, done, binds, pre, res,
				       resets, hw_us / 1e3);
			}
			nq++;
		} else if (sscanf(line, "%39[a-z_]: %llu", key, &v) == 2) {
			if (j)
				json_object_object_add(o, key, cli_json_u64(v));
			else if (!strcmp(key, "enabled"))
				printf("  scheduler    %s", v ? "timeslicing" : "off (no CAPS.PREEMPT)");
			else if (!strcmp(key, "timeslice_ms"))
				printf(", timeslice %llu ms", v);
			else if (!strcmp(key, "preemptions"))
				printf(", %llu preemptions\n", v);
		}
	}
	fclose(f);
	if (j) {
		json_object_object_add(o, "queues", qs);
		json_object_object_add(j, "scheduler", o);
	} else if (!nq) {
		printf("    no queues\n");
	}
	return 0;
}

/*
 * Read the "name: value" lines of the driver's debugfs file @name beside
 * @devfile into @o (numbers; "type" as a string).  Returns 0, or -1 when
 * the file is not there.
 */
static int read_debugfs_kv(const char *devfile, const char *name, struct json_object *o)
{
	const char *slash = strrchr(devfile, '/');
	char path[128], line[256], key[40], str[24];
	unsigned long long v;
	FILE *f;

	if (!slash)
		return -1;
	snprintf(path, sizeof(path), "%.*s/%s", (int)(slash - devfile), devfile, name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%39[a-z0-9_]: %llu", key, &v) == 2)
			json_object_object_add(o, key, cli_json_u64(v));
		else if (sscanf(line, "%39[a-z0-9_]: %23s", key, str) == 2)
			json_object_object_add(o, key, json_object_new_string(str));
	}
	fclose(f);
	return 0;
}

static unsigned long long kv(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? (unsigned long long)json_object_get_uint64(v)
						     : 0;
}

/*
 * Device-local memory (issue 11), from the driver's debugfs svmgpu_devmem
 * and svmgpu_dax beside @devfile (root): its type (coherent: the CPU maps
 * device pages in place; private: CPU access migrates them back), size,
 * what the driver may use (devmem_limit_mb), use, the DAX pool, and the
 * migration counters.  Returns 0, or -1 when the files are not there.
 */
static int print_devmem(const char *devfile, struct json_object *j)
{
	struct json_object *o = json_object_new_object(), *dax = json_object_new_object();
	const char *type;
	struct json_object *t;

	if (read_debugfs_kv(devfile, "svmgpu_devmem", o)) {
		json_object_put(o);
		json_object_put(dax);
		return -1;
	}
	if (read_debugfs_kv(devfile, "svmgpu_dax", dax)) {
		json_object_put(dax);
		dax = NULL;
	}
	type = json_object_object_get_ex(o, "type", &t) ? json_object_get_string(t) : "none";
	if (j) {
		json_object_object_add(o, "dax", dax);
		json_object_object_add(j, "device_memory", o);
		return 0;
	}
	if (!strcmp(type, "none")) {
		printf("  device mem   none\n");
	} else {
		printf("  device mem   %s, %llu MiB (%llu MiB usable), %llu KiB used", type,
		       kv(o, "size") >> 20, kv(o, "capacity") >> 20, kv(o, "used") >> 10);
		if (dax)
			printf("; DAX pool %llu MiB, %llu KiB in %llu buffers", kv(dax, "size") >> 20,
			       kv(dax, "used") >> 10, kv(dax, "buffers"));
		printf("\n");
		printf("  migration    to device %llu pages (%llu bytes), to system %llu pages "
		       "(%llu bytes)\n", kv(o, "to_device_pages"), kv(o, "to_device_bytes"),
		       kv(o, "to_system_pages"), kv(o, "to_system_bytes"));
		printf("  eviction     %llu pages evicted, %llu by LRU in %llu evictions\n",
		       kv(o, "evicted_pages"), kv(o, "lru_evicted_pages"), kv(o, "lru_evictions"));
		printf("  migr. faults %llu device faults migrated (%llu pages to device, %llu to "
		       "system, %llu found no room), %llu CPU faults\n", kv(o, "fault_migrations"),
		       kv(o, "fault_to_device_pages"), kv(o, "fault_to_system_pages"),
		       kv(o, "fault_no_room"), kv(o, "cpu_faults"));
	}
	json_object_put(o);
	json_object_put(dax);
	return 0;
}

/*
 * The device's data bytes over the link and in local memory (hw-spec 5a),
 * from debugfs svmgpu_device (hw_link_* and hw_local_*), in text: the
 * counters dump has them too, this says what they mean.
 */
static void print_link_bytes(const char *devfile)
{
	struct json_object *o = json_object_new_object();

	if (!read_debugfs_kv(devfile, "svmgpu_device", o) &&
	    json_object_object_get_ex(o, "hw_link_read_bytes", NULL))
		printf("  data bytes   over the link %llu read, %llu written; in local memory "
		       "%llu read, %llu written\n", kv(o, "hw_link_read_bytes"),
		       kv(o, "hw_link_write_bytes"), kv(o, "hw_local_read_bytes"),
		       kv(o, "hw_local_write_bytes"));
	json_object_put(o);
}

/* Describe one device; returns 0, or -1 if the driver could not be queried. */
static int describe(struct dev *d, const struct svmgpu_device_desc *desc, int pci_ok)
{
	struct svmgpu_device_info info;
	struct svmgpu_device *dev;
	struct json_object *j = d->j, *o;
	char slot[32], buf[64];
	int ret;

	snprintf(slot, sizeof(slot), "%04x:%02x:%02x.%u", desc->pci_domain, desc->pci_bus,
		 desc->pci_dev, desc->pci_func);
	if (j) {
		json_object_object_add(j, "index", json_object_new_int(d->index));
		json_object_object_add(j, "node", json_object_new_string(d->node));
	} else {
		printf("device %d: %s\n", d->index, d->node);
	}
	if (pci_ok)
		d->pd = svmgpu_pci_find(slot, 0);
	if (d->pd) {
		o = j ? json_object_new_object() : NULL;
		if (j)
			json_object_object_add(j, "pci", o);
		print_pci(d->pd, o);
	} else if (j) {
		o = json_object_new_object();
		json_object_object_add(o, "slot", json_object_new_string(slot));
		json_object_object_add(o, "vendor_id", cli_json_hex(desc->vendor_id));
		json_object_object_add(o, "device_id", cli_json_hex(desc->device_id));
		json_object_object_add(j, "pci", o);
	} else {
		printf("  pci          %s %04x:%04x (libpciaccess unavailable)\n", slot,
		       desc->vendor_id, desc->device_id);
	}
	ret = svmgpu_device_open_path(d->node, &dev);
	if (!ret) {
		ret = svmgpu_device_get_info(dev, &info);
		svmgpu_device_close(dev);
	}
	if (ret) {
		fprintf(stderr, "svmgpu-info: device %d (%s): cannot query the driver: %s\n",
			d->index, d->node, strerror(-ret));
		if (!j)
			printf("  (cannot query the driver: %s)\n", strerror(-ret));
		return -1;
	}
	if (j) {
		o = json_object_new_object();
		json_object_object_add(o, "driver", json_object_new_string(info.driver_name));
		snprintf(buf, sizeof(buf), "%d.%d.%d", info.driver_major, info.driver_minor,
			 info.driver_patch);
		json_object_object_add(o, "driver_version", json_object_new_string(buf));
		snprintf(buf, sizeof(buf), "%u.%u", info.hw_version >> 16, info.hw_version & 0xffff);
		json_object_object_add(o, "hw_version", json_object_new_string(buf));
		json_object_object_add(o, "hw_id", cli_json_hex(info.hw_id));
		json_object_object_add(o, "queues", json_object_new_int((int)info.num_queues));
		json_object_object_add(o, "engines", json_object_new_int((int)info.num_engines));
		json_object_object_add(o, "tlb_sets", json_object_new_int((int)info.tlb_sets));
		json_object_object_add(o, "tlb_ways", json_object_new_int((int)info.tlb_ways));
		json_object_object_add(o, "fault_ring_entries",
				       json_object_new_int((int)info.fault_ring_entries));
		json_object_object_add(o, "caps", cli_json_hex(info.caps));
		json_object_object_add(o, "leaf_2m", json_object_new_boolean(info.caps & SVMGPU_CAPS_LEAF_2M));
		json_object_object_add(o, "leaf_1g", json_object_new_boolean(info.caps & SVMGPU_CAPS_LEAF_1G));
		json_object_object_add(o, "fp64", json_object_new_boolean(info.caps & SVMGPU_CAPS_FP64));
		json_object_object_add(o, "intx", json_object_new_boolean(info.caps & SVMGPU_CAPS_INTX));
		json_object_object_add(o, "local_mem",
				       json_object_new_boolean(info.caps & SVMGPU_CAPS_LOCAL_MEM));
		json_object_object_add(o, "preempt",
				       json_object_new_boolean(info.caps & SVMGPU_CAPS_PREEMPT));
		json_object_object_add(o, "fma", json_object_new_boolean(info.caps & SVMGPU_CAPS_FMA));
		json_object_object_add(o, "max_contexts", json_object_new_int((int)info.max_contexts));
		json_object_object_add(o, "max_ring_entries",
				       json_object_new_int((int)info.max_ring_entries));
		json_object_object_add(j, "drm", o);
	} else {
		printf("  drm          %s, driver %s %d.%d.%d\n", d->node, info.driver_name,
		       info.driver_major, info.driver_minor, info.driver_patch);
		printf("  hardware     svmgpu %u.%u (id 0x%08x), %u queues, %u engines\n",
		       info.hw_version >> 16, info.hw_version & 0xffff, info.hw_id, info.num_queues,
		       info.num_engines);
		printf("  mmu          TLB %u sets x %u ways, fault ring %u entries\n", info.tlb_sets,
		       info.tlb_ways, info.fault_ring_entries);
		printf("  caps         0x%x:%s%s%s%s%s%s%s\n", info.caps,
		       info.caps & SVMGPU_CAPS_LEAF_2M ? " 2M-pages" : "",
		       info.caps & SVMGPU_CAPS_LEAF_1G ? " 1G-pages" : "",
		       info.caps & SVMGPU_CAPS_FP64 ? " fp64" : "",
		       info.caps & SVMGPU_CAPS_INTX ? " intx" : "",
		       info.caps & SVMGPU_CAPS_LOCAL_MEM ? " local-mem" : "",
		       info.caps & SVMGPU_CAPS_PREEMPT ? " preempt" : "",
		       info.caps & SVMGPU_CAPS_FMA ? " fma" : "");
		printf("  limits       %u contexts, rings up to %u commands\n", info.max_contexts,
		       info.max_ring_entries);
	}
	if (d->pd && pci_device_map_range(d->pd, d->pd->regions[SVMGPU_BAR_REGS].base_addr,
					  SVMGPU_BAR_REGS_SIZE, 0, &d->map))
		d->map = NULL;
	if (!d->map)
		find_debugfs(d->node, d->debugfs, sizeof(d->debugfs));
	if (device_counters(d)) {
		if (j) {
			json_object_object_add(j, "counters_source", NULL);
			json_object_object_add(j, "counters", NULL);
		} else {
			printf("  counters     (BAR0 not mappable and no debugfs: run as root, "
			       "mount debugfs)\n");
		}
	}
	if (!d->debugfs[0])
		find_debugfs(d->node, d->debugfs, sizeof(d->debugfs));
	if (!d->debugfs[0] || print_devmem(d->debugfs, j)) {
		if (j)
			json_object_object_add(j, "device_memory", NULL);
		else
			printf("  device mem   (no debugfs svmgpu_devmem: run as root, mount "
			       "debugfs)\n");
	}
	if (!j && d->debugfs[0] && !d->map)
		print_link_bytes(d->debugfs);
	if (!d->debugfs[0] || print_sched(d->debugfs, j)) {
		if (j)
			json_object_object_add(j, "scheduler", NULL);
		else
			printf("  scheduler    (no debugfs svmgpu_sched: run as root, mount debugfs)\n");
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "device", required_argument, NULL, 'd' },
		{ "watch", required_argument, NULL, 'w' },
		{ "count", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, CLI_OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, CLI_OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	struct svmgpu_device_desc descs[MAX_DEVICES];
	struct dev devs[MAX_DEVICES];
	struct json_object *jroot = NULL, *jdevs = NULL;
	struct cli_device sel;
	char node[SVMGPU_PATH_MAX], buf[32];
	unsigned int watch = 0, count = 0, round;
	int c, n, i, ndev = 0, pci_ok, selected = 0, json = 0, failed = 0, ret;

	cli_init(argv, "svmgpu-info");
	while ((c = getopt_long(argc, argv, "d:w:c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd': cli_opt_device("--device", optarg, &sel); selected = 1; break;
		case 'w': watch = cli_opt_uint("--watch", optarg, 1, 86400); break;
		case 'c': count = cli_opt_uint("--count", optarg, 1, UINT32_MAX); break;
		case CLI_OPT_JSON: json = 1; break;
		case 'h': usage(stdout); return CLI_EXIT_OK;
		case CLI_OPT_VERSION: cli_version();
		default: cli_bad_option();
		}
	}
	if (optind != argc)
		cli_usage_error("unexpected argument '%s'", argv[optind]);
	if (count && !watch)
		cli_usage_error("--count needs --watch");
	if (selected) {
		ret = cli_device_node(&sel, node, sizeof(node));
		if (ret) {
			fprintf(stderr, "svmgpu-info: no svmgpu device %s: %s\n", cli_device_str(&sel),
				strerror(-ret));
			return CLI_EXIT_DEVICE;
		}
	}
	n = svmgpu_device_list(descs, MAX_DEVICES);
	if (n <= 0) {
		fprintf(stderr, "svmgpu-info: no svmgpu device found%s%s\n", n < 0 ? ": " : "",
			n < 0 ? strerror(-n) : "");
		return CLI_EXIT_DEVICE;
	}
	memset(devs, 0, sizeof(devs));
	if (json) {
		jroot = json_object_new_object();
		jdevs = json_object_new_array();
		snprintf(buf, sizeof(buf), "%d.%d", svmgpu_version_major(), svmgpu_version_minor());
		json_object_object_add(jroot, "library", json_object_new_string(buf));
		json_object_object_add(jroot, "devices", jdevs);
	} else {
		printf("libsvmgpu %d.%d\n", svmgpu_version_major(), svmgpu_version_minor());
	}
	pci_ok = pci_system_init() == 0;
	for (i = 0; i < n && i < MAX_DEVICES; i++) {
		struct dev *d = &devs[ndev];

		if (selected && strcmp(descs[i].render_node, node))
			continue;
		d->index = i;
		memcpy(d->node, descs[i].render_node, sizeof(d->node));
		d->node[sizeof(d->node) - 1] = '\0';
		if (json) {
			d->j = json_object_new_object();
			json_object_array_add(jdevs, d->j);
		}
		if (describe(d, &descs[i], pci_ok))
			failed = 1;
		ndev++;
	}
	if (selected && !ndev) {
		fprintf(stderr, "svmgpu-info: no svmgpu device %s: %s\n", cli_device_str(&sel),
			strerror(ENODEV));
		return CLI_EXIT_DEVICE;
	}
	if (watch) {
		for (i = 0; i < ndev; i++)
			if (!devs[i].map && !devs[i].debugfs[0]) {
				fprintf(stderr, "svmgpu-info: --watch: no counters to read for device %d "
					"(%s): BAR0 is not mappable and the driver's debugfs file is "
					"not there (run as root, mount debugfs)\n", devs[i].index,
					devs[i].node);
				failed = 1;
				watch = 0;
			}
	}
	if (json) {
		if (watch) {
			json_object_object_add(jroot, "round", json_object_new_int(1));
			puts(json_object_to_json_string_ext(jroot, JSON_C_TO_STRING_PLAIN));
		} else {
			/* cli_json_print() drops jroot whatever it returns. */
			if (cli_json_print(jroot))
				failed = 1;
			jroot = NULL;
		}
	}
	for (round = 1; watch && (!count || round < count); round++) {
		fflush(stdout);
		sleep(watch);
		for (i = 0; i < ndev; i++) {
			if (!json)
				printf("device %d: %s\n", devs[i].index, devs[i].node);
			if (device_counters(&devs[i]))
				failed = 1;
		}
		if (json) {
			json_object_object_add(jroot, "round", json_object_new_int((int)round + 1));
			puts(json_object_to_json_string_ext(jroot, JSON_C_TO_STRING_PLAIN));
		}
	}
	for (i = 0; i < ndev; i++)
		if (devs[i].map)
			pci_device_unmap_range(devs[i].pd, devs[i].map, SVMGPU_BAR_REGS_SIZE);
	if (jroot)
		json_object_put(jroot);
	if (pci_ok)
		pci_system_cleanup();
	return failed ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
