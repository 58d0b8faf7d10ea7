/* SPDX-License-Identifier: MIT */
/*
 * svmgpu-identify: print what the svmgpu driver read from each device.
 *
 * For each svmgpu render node (or the one -d selects) prints the DRM
 * driver name and version and the identity registers the driver read,
 * straight from the DRM_IOCTL_SVMGPU_GET_INFO ioctl (no libsvmgpu in the
 * way: a bring-up check of the driver itself).
 * Exit status: 0 every device answered, 1 one did not, 2 bad command line,
 * 3 no svmgpu device.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <xf86drm.h>

#include <svmgpu/svmgpu_hw.h>
#include <svmgpu_drm.h>

#include "cli.h"
#include "svmgpu.h"

#define MAX_DEVICES 64	/* as the library lists */

/*
 * Print what the driver of @node says about it: CLI_EXIT_OK, CLI_EXIT_FAIL
 * (it did not answer) or CLI_EXIT_DEVICE (not an svmgpu render node: the
 * library checks the DRM major before it opens anything, so that a path to
 * another device, a watchdog say, is never opened, and the driver's name
 * before any svmgpu ioctl).
 */
static int identify(const char *node, struct json_object *jarr)
{
	struct drm_svmgpu_get_info info = { 0 };
	struct svmgpu_device *dev;
	drmVersionPtr ver;
	int fd, ret;

	ret = svmgpu_device_open_path(node, &dev);
	if (ret) {
		fprintf(stderr, "svmgpu-identify: no svmgpu device %s: %s\n", node,
			strerror(-ret));
		return ret == -ENODEV || ret == -ENOENT || ret == -ENOTDIR ?
		       CLI_EXIT_DEVICE : CLI_EXIT_FAIL;
	}
	ret = CLI_EXIT_FAIL;
	fd = svmgpu_device_fd(dev);
	ver = drmGetVersion(fd);
	if (!ver) {
		fprintf(stderr, "svmgpu-identify: %s: drmGetVersion failed\n", node);
		goto out;
	}
	if (drmIoctl(fd, DRM_IOCTL_SVMGPU_GET_INFO, &info)) {
		fprintf(stderr, "svmgpu-identify: %s: GET_INFO: %s\n", node, strerror(errno));
		drmFreeVersion(ver);
		goto out;
	}
	if (jarr) {
		struct json_object *o = json_object_new_object();
		char buf[32];

		json_object_object_add(o, "node", json_object_new_string(node));
		json_object_object_add(o, "driver", json_object_new_string(ver->name));
		snprintf(buf, sizeof(buf), "%d.%d.%d", ver->version_major, ver->version_minor,
			 ver->version_patchlevel);
		json_object_object_add(o, "driver_version", json_object_new_string(buf));
		json_object_object_add(o, "driver_desc", json_object_new_string(ver->desc));
		snprintf(buf, sizeof(buf), "%04x:%04x", info.pci_vendor, info.pci_device);
		json_object_object_add(o, "pci_id", json_object_new_string(buf));
		json_object_object_add(o, "id_register", cli_json_hex(info.hw_id));
		json_object_object_add(o, "id_ok", json_object_new_boolean(info.hw_id == SVMGPU_ID_MAGIC));
		snprintf(buf, sizeof(buf), "%u.%u", info.hw_version >> 16, info.hw_version & 0xffff);
		json_object_object_add(o, "hw_version", json_object_new_string(buf));
		json_object_array_add(jarr, o);
	} else {
		printf("%s: driver %s %d.%d.%d (%s)\n", node, ver->name,
		       ver->version_major, ver->version_minor, ver->version_patchlevel,
		       ver->desc);
		printf("  pci id       %04x:%04x\n", info.pci_vendor, info.pci_device);
		printf("  id register  0x%08x (%s)\n", info.hw_id,
		       info.hw_id == SVMGPU_ID_MAGIC ? "svmgpu" : "unexpected");
		printf("  hw version   %u.%u\n", info.hw_version >> 16,
		       info.hw_version & 0xffff);
	}
	drmFreeVersion(ver);
	ret = CLI_EXIT_OK;
out:
	svmgpu_device_close(dev);
	return ret;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: svmgpu-identify [-d DEVICE] [--json]\n"
		"Print what the svmgpu driver read from each device (or the one -d\n"
		"selects): DRM driver name and version, PCI ID, ID register, hardware\n"
		"version, straight from the driver's GET_INFO ioctl.\n"
		"  -d, --device DEVICE  index, render node path or PCI address (default: all)\n"
		"      --json           print the devices as JSON\n"
		"  -h, --help           this text\n"
		"      --version        print the version\n"
		"Exit status: 0 every device answered, 1 a device did not answer,\n"
		"2 bad command line, 3 no svmgpu device (or not the selected one).\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "device", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, CLI_OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, CLI_OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	struct svmgpu_device_desc descs[MAX_DEVICES];
	struct json_object *jarr = NULL;
	struct cli_device sel;
	char node[SVMGPU_PATH_MAX];
	int c, n, i, json = 0, selected = 0, failed = 0;

	cli_init(argv, "svmgpu-identify");
	while ((c = getopt_long(argc, argv, "d:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd': cli_opt_device("--device", optarg, &sel); selected = 1; break;
		case CLI_OPT_JSON: json = 1; break;
		case 'h': usage(stdout); return CLI_EXIT_OK;
		case CLI_OPT_VERSION: cli_version();
		default: cli_bad_option();
		}
	}
	if (optind != argc)
		cli_usage_error("unexpected argument '%s'", argv[optind]);
	if (json)
		jarr = json_object_new_array();
	if (selected) {
		n = cli_device_node(&sel, node, sizeof(node));
		if (n) {
			fprintf(stderr, "svmgpu-identify: no svmgpu device %s: %s\n",
				cli_device_str(&sel), strerror(-n));
			return CLI_EXIT_DEVICE;
		}
		n = identify(node, jarr);
		if (n == CLI_EXIT_DEVICE)
			return n;
		failed = n != CLI_EXIT_OK;
	} else {
		n = svmgpu_device_list(descs, MAX_DEVICES);
		if (n <= 0) {
			fprintf(stderr, "svmgpu-identify: no svmgpu device found%s%s\n",
				n < 0 ? ": " : "", n < 0 ? strerror(-n) : "");
			return CLI_EXIT_DEVICE;
		}
		for (i = 0; i < n && i < MAX_DEVICES; i++)
			failed |= identify(descs[i].render_node, jarr) != 0;
	}
	if (jarr && cli_json_print(jarr))
		failed = 1;
	return failed ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
