// SPDX-License-Identifier: MIT
/*
 * svmgpu-reg: read and write svmgpu BAR0 registers by name through
 * libpciaccess, for bring-up with or without the driver bound.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pciaccess.h>
#include <svmgpu/svmgpu_hw.h>

#include "cli.h"
#include "regs.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: svmgpu-reg [options] list\n"
		"       svmgpu-reg [options] dump\n"
		"       svmgpu-reg [options] read REG...\n"
		"       svmgpu-reg [options] write REG VALUE\n"
		"       svmgpu-reg [options] inject [FAILURE [VALUE]]\n"
		"Read and write svmgpu BAR0 registers (docs/hw-spec.md) through libpciaccess.\n"
		"REG is a name (STATUS, CNT_FAULTS, Q0_STATUS, ...; see 'list') or a byte offset.\n"
		"VALUE is a number (decimal or 0x hex).\n"
		"inject injects a failure of hw-spec 15 into a live device (VALUE default 1):\n"
		"  hang_queues MASK, drop_irqs N, inval_refuse N, corrupt_compl N, fatal,\n"
		"  stall_fault_ring 0|1, enable_refuse N, irq_delay_us US, inval_delay_us US;\n"
		"through the driver's debugfs svmgpu_inject while svmgpu is bound (not the\n"
		"two delays), else through BAR0; then prints the INJ_ registers and\n"
		"CNT_INJECTED (without FAILURE only that).\n"
		"  -d, --device DEVICE       index (the N'th svmgpu PCI function, default 0),\n"
		"                            render node path or PCI address DDDD:BB:DD.F\n"
		"  -s, --slot DDDD:BB:DD.F   the same as -d DDDD:BB:DD.F\n"
		"  -i, --index N             the same as -d N\n"
		"  -f, --force               write even though a driver is bound\n"
		"      --json                print JSON: 'registers', an array of name, offset,\n"
		"                            width and value (list: access, stride of Q<n>_)\n"
		"  -h, --help                this text\n"
		"      --version             print the version\n"
		"Writing while the svmgpu driver is bound corrupts its state: refused unless\n"
		"--force.  Needs root (access to the BAR through sysfs).\n"
		"Exit status: 0 success, 1 an unknown or read-only register, or a refused\n"
		"write or injection, 2 bad command line, 3 no such device, BAR0 not\n"
		"mappable or no debugfs svmgpu_inject.\n");
}

static uint64_t rd(volatile uint8_t *bar, const struct reg_desc *r)
{
	if (r->width == 64)
		return *(volatile uint64_t *)(bar + r->offset);
	return *(volatile uint32_t *)(bar + r->offset);
}

/* --json: the registers printed, or NULL */
static struct json_object *jregs;

static struct json_object *jreg(const char *name, uint32_t offset, unsigned int width)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "name", json_object_new_string(name));
	json_object_object_add(o, "offset", cli_json_hex(offset));
	json_object_object_add(o, "width", json_object_new_int(width));
	json_object_array_add(jregs, o);
	return o;
}

static void print_value(const struct reg_desc *r, const char *name, uint64_t v)
{
	if (jregs)
		json_object_object_add(jreg(name, r->offset, r->width), "value", cli_json_hex(v));
	else if (r->width == 64)
		printf("%-24s 0x%04x  0x%016" PRIx64 "\n", name, r->offset, v);
	else
		printf("%-24s 0x%04x  0x%08" PRIx64 "\n", name, r->offset, v);
}

static void print(volatile uint8_t *bar, const struct reg_desc *r, const char *name)
{
	print_value(r, name, rd(bar, r));
}

/*
 * The failures of hw-spec 15, named as the driver's debugfs svmgpu_inject
 * names them, and their INJ_ registers.  CNT_INJECTED is "injected" there.
 */
static const struct injection {
	const char *name;
	const char *reg;
	int via_driver;		/* debugfs svmgpu_inject takes it */
} injections[] = {
	{ "hang_queues", "INJ_HANG_QUEUES", 1 },
	{ "drop_irqs", "INJ_DROP_IRQS", 1 },
	{ "inval_refuse", "INJ_INVAL_REFUSE", 1 },
	{ "corrupt_compl", "INJ_CORRUPT_COMPL", 1 },
	{ "fatal", "INJ_FATAL", 1 },
	{ "stall_fault_ring", "INJ_STALL_FAULT_RING", 1 },
	{ "enable_refuse", "INJ_ENABLE_REFUSE", 1 },
	{ "irq_delay_us", "INJ_IRQ_DELAY_US", 0 },
	{ "inval_delay_us", "INJ_INVAL_DELAY_US", 0 },
	{ "injected", "CNT_INJECTED", 1 },	/* read only */
};
#define NR_INJECTIONS	(sizeof(injections) / sizeof(injections[0]))

/* The injection named @arg ('-' taken for '_'), or NULL. */
static const struct injection *injection_find(const char *arg)
{
	char name[32];
	size_t i;

	snprintf(name, sizeof(name), "%s", arg);
	for (char *c = name; *c; c++)
		*c = *c == '-' ? '_' : *c;
	for (i = 0; i + 1 < NR_INJECTIONS; i++)
		if (!strcmp(name, injections[i].name))
			return &injections[i];
	return NULL;
}

/* The INJ_ registers and CNT_INJECTED, read through BAR0. */
static void inject_print_bar(volatile uint8_t *bar)
{
	struct reg_desc r;
	char name[40];
	size_t i;

	for (i = 0; i < NR_INJECTIONS; i++)
		if (!reg_lookup(injections[i].reg, &r, name, sizeof(name)))
			print(bar, &r, name);
}

/*
 * The driver's debugfs svmgpu_inject of PCI function @d:
 * /sys/kernel/debug/dri/<minor>/ of its card or render node.  Returns 0 or
 * -ENOENT.
 */
static int inject_debugfs(const struct pci_device *d, char *path, size_t len)
{
	char dir[96];
	struct dirent *e;
	int ret = -ENOENT;
	DIR *dp;

	snprintf(dir, sizeof(dir), "/sys/bus/pci/devices/%04x:%02x:%02x.%u/drm", d->domain, d->bus,
		 d->dev, d->func);
	dp = opendir(dir);
	if (!dp)
		return -ENOENT;
	while (ret && (e = readdir(dp))) {
		const char *num = !strncmp(e->d_name, "card", 4) ? e->d_name + 4 :
				  !strncmp(e->d_name, "renderD", 7) ? e->d_name + 7 : NULL;

		if (!num || !*num || strspn(num, "0123456789") != strlen(num))
			continue;
		snprintf(path, len, "/sys/kernel/debug/dri/%s/svmgpu_inject", num);
		if (!access(path, F_OK))
			ret = 0;
	}
	closedir(dp);
	return ret;
}

/*
 * inject through the bound svmgpu driver: write "NAME VALUE" to its debugfs
 * svmgpu_inject (when @inj), then print what the file shows.  Returns the
 * exit status.
 */
static int inject_via_driver(const struct pci_device *d, const struct injection *inj,
			     uint64_t v)
{
	char path[128], line[128], val[64];
	struct reg_desc r;
	uint64_t x;
	FILE *f;
	int fd;

	if (inj && !inj->via_driver) {
		/* The QEMU property: x-inject-irq-delay-us for irq_delay_us. */
		snprintf(val, sizeof(val), "%s", inj->name);
		for (char *c = val; *c; c++)
			*c = *c == '_' ? '-' : *c;
		fprintf(stderr, "svmgpu-reg: %s: the svmgpu driver's debugfs svmgpu_inject does not "
			"take it; unbind the driver (svmgpu-reg then writes %s) or start QEMU "
			"with -device svmgpu,x-inject-%s=%" PRIu64 "\n", inj->name, inj->reg, val, v);
		return 1;
	}
	if (inject_debugfs(d, path, sizeof(path))) {
		fprintf(stderr, "svmgpu-reg: no debugfs svmgpu_inject for %04x:%02x:%02x.%u "
			"(debugfs mounted on /sys/kernel/debug? root?)\n", d->domain, d->bus, d->dev,
			d->func);
		return CLI_EXIT_DEVICE;
	}
	if (inj) {
		int n = snprintf(line, sizeof(line), "%s %" PRIu64 "\n", inj->name, v);

		fd = open(path, O_WRONLY);
		if (fd < 0 || write(fd, line, n) != n) {
			fprintf(stderr, "svmgpu-reg: inject %s: %s: %s\n", inj->name, path,
				strerror(errno));
			if (fd >= 0)
				close(fd);
			return 1;
		}
		close(fd);
	}
	f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "svmgpu-reg: %s: %s\n", path, strerror(errno));
		return CLI_EXIT_DEVICE;
	}
	while (fgets(line, sizeof(line), f)) {
		char name[40];

		if (sscanf(line, "%39[a-z_]: %63s", name, val) != 2 || cli_parse_u64(val, &x))
			continue;
		for (size_t i = 0; i < NR_INJECTIONS; i++) {
			char rname[40];

			if (!strcmp(name, injections[i].name) &&
			    !reg_lookup(injections[i].reg, &r, rname, sizeof(rname)))
				print_value(&r, rname, x);
		}
	}
	/* -ENODEV: the device is held or wedged (hw_ready clear). */
	if (ferror(f)) {
		fprintf(stderr, "svmgpu-reg: %s: %s\n", path, strerror(errno));
		fclose(f);
		return CLI_EXIT_DEVICE;
	}
	fclose(f);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "slot", required_argument, NULL, 's' },
		{ "index", required_argument, NULL, 'i' },
		{ "force", no_argument, NULL, 'f' },
		{ "json", no_argument, NULL, CLI_OPT_JSON },
		{ "device", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, CLI_OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_device sel = { 0 };
	struct json_object *jroot = NULL, *o;
	const char *slot = NULL, *cmd;
	char pci[32], addr[32];
	unsigned int i, q, nq;
	uint64_t v = 0;
	int c, force = 0, write = 0, inject = 0, json = 0, ret = 0, err;
	const struct injection *inj = NULL;
	struct pci_device *d;
	char driver[64], name[40];
	void *map;
	volatile uint8_t *bar;

	cli_init(argv, "svmgpu-reg");
	while ((c = getopt_long(argc, argv, "d:s:i:fh", opts, NULL)) != -1) {
		switch (c) {
		case 'd': cli_opt_device("--device", optarg, &sel); break;
		case 's':
			cli_opt_device("--slot", optarg, &sel);
			if (sel.kind != CLI_DEV_PCI)
				cli_usage_error("--slot: '%s' is not a PCI address (DDDD:BB:DD.F)", optarg);
			break;
		case 'i':
			sel.kind = CLI_DEV_INDEX;
			sel.index = cli_opt_uint("--index", optarg, 0, 63);
			break;
		case 'f': force = 1; break;
		case CLI_OPT_JSON: json = 1; break;
		case 'h': usage(stdout); return CLI_EXIT_OK;
		case CLI_OPT_VERSION: cli_version();
		default: cli_bad_option();
		}
	}
	if (optind >= argc)
		cli_usage_error("a command is missing: list, dump, read, write or inject");
	cmd = argv[optind++];
	if (json) {
		jroot = json_object_new_object();
		jregs = json_object_new_array();
		json_object_object_add(jroot, "registers", jregs);
	}
	if (!strcmp(cmd, "list") && json) {
		for (i = 0; i < nr_global_regs; i++) {
			o = jreg(global_regs[i].name, global_regs[i].offset, global_regs[i].width);
			json_object_object_add(o, "access",
					       json_object_new_string(reg_access_name(&global_regs[i])));
		}
		for (i = 0; i < nr_queue_regs; i++) {
			snprintf(name, sizeof(name), "Q<n>_%s", queue_regs[i].name);
			o = jreg(name, SVMGPU_REG_QUEUE_BASE + queue_regs[i].offset, queue_regs[i].width);
			json_object_object_add(o, "stride", cli_json_hex(SVMGPU_REG_QUEUE_STRIDE));
			json_object_object_add(o, "access",
					       json_object_new_string(reg_access_name(&queue_regs[i])));
		}
		return cli_json_print(jroot) ? CLI_EXIT_FAIL : CLI_EXIT_OK;
	}
	if (!strcmp(cmd, "list")) {
		for (i = 0; i < nr_global_regs; i++)
			printf("%-24s 0x%04x  %2u-bit %s\n", global_regs[i].name, global_regs[i].offset,
			       global_regs[i].width, reg_access_name(&global_regs[i]));
		for (i = 0; i < nr_queue_regs; i++)
			printf("Q<n>_%-19s 0x%04x + n * 0x%x  %2u-bit %s\n", queue_regs[i].name,
			       SVMGPU_REG_QUEUE_BASE + queue_regs[i].offset, SVMGPU_REG_QUEUE_STRIDE,
			       queue_regs[i].width, reg_access_name(&queue_regs[i]));
		return CLI_EXIT_OK;
	}
	write = !strcmp(cmd, "write");
	inject = !strcmp(cmd, "inject");
	if (strcmp(cmd, "dump") && strcmp(cmd, "read") && !write && !inject)
		cli_usage_error("unknown command '%s'", cmd);
	if (write && argc - optind != 2)
		cli_usage_error("write takes REG VALUE");
	if (!strcmp(cmd, "read") && argc == optind)
		cli_usage_error("read takes one or more REG");
	if (!strcmp(cmd, "dump") && argc != optind)
		cli_usage_error("dump takes no argument");
	if (write && cli_parse_u64(argv[optind + 1], &v))
		cli_usage_error("VALUE: '%s' is not a number (decimal or 0x hex)", argv[optind + 1]);
	if (inject) {
		if (argc - optind > 2)
			cli_usage_error("inject takes [FAILURE [VALUE]]");
		if (argc - optind >= 1 && !(inj = injection_find(argv[optind])))
			cli_usage_error("unknown failure '%s' (hang_queues, drop_irqs, inval_refuse, "
					"corrupt_compl, fatal, stall_fault_ring, enable_refuse, "
					"irq_delay_us, inval_delay_us)", argv[optind]);
		v = 1;
		if (argc - optind == 2 && cli_parse_u64(argv[optind + 1], &v))
			cli_usage_error("VALUE: '%s' is not a number (decimal or 0x hex)",
					argv[optind + 1]);
		if (v > UINT32_MAX)
			cli_usage_error("VALUE: %s does not fit the 32-bit %s", argv[optind + 1],
					inj->reg);
		write = inj != NULL;
	}
	if (sel.kind == CLI_DEV_PATH) {
		err = cli_node_pci(sel.name, pci, sizeof(pci));
		if (err) {
			fprintf(stderr, "svmgpu-reg: no svmgpu device %s: %s\n", sel.name,
				strerror(-err));
			return CLI_EXIT_DEVICE;
		}
		slot = pci;
	} else if (sel.kind == CLI_DEV_PCI) {
		slot = sel.name;
	}
	err = pci_system_init();
	if (err) {
		fprintf(stderr, "svmgpu-reg: pci_system_init: %s\n", strerror(err));
		return CLI_EXIT_DEVICE;
	}
	d = svmgpu_pci_find(slot, slot ? 0 : sel.index);
	if (!d) {
		fprintf(stderr, "svmgpu-reg: no svmgpu device %s: %s\n",
			sel.kind == CLI_DEV_PATH ? sel.name : slot ? slot : cli_device_str(&sel),
			strerror(ENODEV));
		pci_system_cleanup();
		return CLI_EXIT_DEVICE;
	}
	/* For --json: pci_system_cleanup() frees @d. */
	snprintf(addr, sizeof(addr), "%04x:%02x:%02x.%u", d->domain, d->bus, d->dev, d->func);
	svmgpu_pci_driver(d, driver, sizeof(driver));
	if (inject && !strcmp(driver, "svmgpu")) {
		ret = inject_via_driver(d, inj, v);
		pci_system_cleanup();
		goto out;
	}
	if (write && driver[0] && !force) {
		fprintf(stderr, "svmgpu-reg: driver '%s' is bound to %04x:%02x:%02x.%u; "
			"refusing to write (use --force)\n", driver, d->domain, d->bus, d->dev, d->func);
		pci_system_cleanup();
		return 1;
	}
	if (!driver[0])
		pci_device_enable(d);	/* memory decoding for bring-up without a driver */
	err = pci_device_map_range(d, d->regions[SVMGPU_BAR_REGS].base_addr, SVMGPU_BAR_REGS_SIZE,
				   write ? PCI_DEV_MAP_FLAG_WRITABLE : 0, &map);
	if (err) {
		fprintf(stderr, "svmgpu-reg: cannot map BAR0: %s\n", strerror(err));
		if (driver[0] && err == EINVAL)
			fprintf(stderr, "svmgpu-reg: the kernel refuses to map a BAR that driver '%s' "
				"holds (CONFIG_IO_STRICT_DEVMEM); unbind the driver or boot with "
				"iomem=relaxed\n", driver);
		pci_system_cleanup();
		return CLI_EXIT_DEVICE;
	}
	bar = map;
	if (!strcmp(cmd, "dump")) {
		for (i = 0; i < nr_global_regs; i++)
			print(bar, &global_regs[i], global_regs[i].name);
		nq = *(volatile uint32_t *)(bar + SVMGPU_REG_NUM_QUEUES);
		for (q = 0; q < nq && q < SVMGPU_MAX_QUEUES; q++)
			for (i = 0; i < nr_queue_regs; i++) {
				struct reg_desc r = queue_regs[i];

				r.offset = SVMGPU_REG_Q(q, r.offset);
				snprintf(name, sizeof(name), "Q%u_%s", q, queue_regs[i].name);
				print(bar, &r, name);
			}
	} else if (inject) {
		struct reg_desc r;

		if (inj && !reg_lookup(inj->reg, &r, name, sizeof(name)))
			*(volatile uint32_t *)(bar + r.offset) = (uint32_t)v;
		inject_print_bar(bar);
	} else if (!write) {
		for (; optind < argc; optind++) {
			struct reg_desc r;

			if (reg_lookup(argv[optind], &r, name, sizeof(name))) {
				fprintf(stderr, "svmgpu-reg: unknown register '%s'\n", argv[optind]);
				ret = 1;
				continue;
			}
			print(bar, &r, name);
		}
	} else {
		struct reg_desc r;

		if (reg_lookup(argv[optind], &r, name, sizeof(name))) {
			fprintf(stderr, "svmgpu-reg: unknown register '%s'\n", argv[optind]);
			ret = 1;
		} else if (!reg_writable(&r)) {
			fprintf(stderr, "svmgpu-reg: %s is read-only\n", name);
			ret = 1;
		} else if (r.width == 64) {
			*(volatile uint64_t *)(bar + r.offset) = v;
		} else if (v > UINT32_MAX) {
			fprintf(stderr, "svmgpu-reg: %s is 32 bits wide\n", name);
			ret = 1;
		} else {
			*(volatile uint32_t *)(bar + r.offset) = (uint32_t)v;
		}
		if (!ret)
			print(bar, &r, name);
	}
	pci_device_unmap_range(d, map, SVMGPU_BAR_REGS_SIZE);
	pci_system_cleanup();
out:
	if (jroot) {
		json_object_object_add(jroot, "device", json_object_new_string(addr));
		if (cli_json_print(jroot))
			ret = CLI_EXIT_FAIL;
	}
	return ret;
}
