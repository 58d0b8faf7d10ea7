// SPDX-License-Identifier: MIT
/*
 * svmgpu-reg: read and write svmgpu BAR0 registers by name through
 * libpciaccess, for bring-up with or without the driver bound.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
		"Read and write svmgpu BAR0 registers (docs/hw-spec.md) through libpciaccess.\n"
		"REG is a name (STATUS, CNT_FAULTS, Q0_STATUS, ...; see 'list') or a byte offset.\n"
		"VALUE is a number (decimal or 0x hex).\n"
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
		"write, 2 bad command line, 3 no such device or BAR0 not mappable.\n");
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

static void print(volatile uint8_t *bar, const struct reg_desc *r, const char *name)
{
	if (jregs)
		json_object_object_add(jreg(name, r->offset, r->width), "value",
				       cli_json_hex(rd(bar, r)));
	else if (r->width == 64)
		printf("%-24s 0x%04x  0x%016" PRIx64 "\n", name, r->offset, rd(bar, r));
	else
		printf("%-24s 0x%04x  0x%08" PRIx64 "\n", name, r->offset, rd(bar, r));
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
	char pci[32];
	unsigned int i, q, nq;
	uint64_t v = 0;
	int c, force = 0, write = 0, json = 0, ret = 0, err;
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
		cli_usage_error("a command is missing: list, dump, read or write");
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
					       json_object_new_string(global_regs[i].writable ? "RW" : "RO"));
		}
		for (i = 0; i < nr_queue_regs; i++) {
			snprintf(name, sizeof(name), "Q<n>_%s", queue_regs[i].name);
			o = jreg(name, SVMGPU_REG_QUEUE_BASE + queue_regs[i].offset, queue_regs[i].width);
			json_object_object_add(o, "stride", cli_json_hex(SVMGPU_REG_QUEUE_STRIDE));
			json_object_object_add(o, "access",
					       json_object_new_string(queue_regs[i].writable ? "RW" : "RO"));
		}
		return cli_json_print(jroot) ? CLI_EXIT_FAIL : CLI_EXIT_OK;
	}
	if (!strcmp(cmd, "list")) {
		for (i = 0; i < nr_global_regs; i++)
			printf("%-24s 0x%04x  %2u-bit %s\n", global_regs[i].name, global_regs[i].offset,
			       global_regs[i].width, global_regs[i].writable ? "RW" : "RO");
		for (i = 0; i < nr_queue_regs; i++)
			printf("Q<n>_%-19s 0x%04x + n * 0x%x  %2u-bit %s\n", queue_regs[i].name,
			       SVMGPU_REG_QUEUE_BASE + queue_regs[i].offset, SVMGPU_REG_QUEUE_STRIDE,
			       queue_regs[i].width, queue_regs[i].writable ? "RW" : "RO");
		return CLI_EXIT_OK;
	}
	write = !strcmp(cmd, "write");
	if (strcmp(cmd, "dump") && strcmp(cmd, "read") && !write)
		cli_usage_error("unknown command '%s'", cmd);
	if (write && argc - optind != 2)
		cli_usage_error("write takes REG VALUE");
	if (!strcmp(cmd, "read") && argc == optind)
		cli_usage_error("read takes one or more REG");
	if (!strcmp(cmd, "dump") && argc != optind)
		cli_usage_error("dump takes no argument");
	if (write && cli_parse_u64(argv[optind + 1], &v))
		cli_usage_error("VALUE: '%s' is not a number (decimal or 0x hex)", argv[optind + 1]);
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
	svmgpu_pci_driver(d, driver, sizeof(driver));
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
		} else if (!r.writable) {
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
	if (jroot) {
		snprintf(pci, sizeof(pci), "%04x:%02x:%02x.%u", d->domain, d->bus, d->dev, d->func);
		json_object_object_add(jroot, "device", json_object_new_string(pci));
		if (cli_json_print(jroot))
			ret = CLI_EXIT_FAIL;
	}
	return ret;
}
