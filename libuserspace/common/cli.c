// SPDX-License-Identifier: MIT
/*
 * cli: the command-line conventions of the svmgpu tools (cli.h).
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "svmgpu.h"

#ifndef SVMGPU_PROJECT_VERSION
#error "SVMGPU_PROJECT_VERSION comes from meson's project version"
#endif

#define MAX_DEVICES	64

static const char *tool_name = "svmgpu";

/*
 * At exit, as gnulib's close_stdout(): output that could not be written
 * (a full disk, /dev/full, a closed pipe's EIO) fails the tool with exit 1
 * and a message, whatever main() returned.
 */
static void cli_close_stdout(void)
{
	int err = fflush(stdout) ? errno : ferror(stdout) ? EIO : 0;

	if (!err)
		return;
	fprintf(stderr, "%s: write error: %s\n", tool_name, strerror(err));
	_exit(CLI_EXIT_FAIL);
}

void cli_init(char **argv, const char *tool)
{
	tool_name = tool;
	if (argv && argv[0])
		argv[0] = (char *)tool;
	atexit(cli_close_stdout);
}

const char *cli_tool(void)
{
	return tool_name;
}

void cli_version(void)
{
	printf("%s (svmgpu) %s\n", tool_name, SVMGPU_PROJECT_VERSION);
	exit(CLI_EXIT_OK);
}

static void hint(void)
{
	fprintf(stderr, "Try '%s --help' for more information.\n", tool_name);
}

void cli_usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", tool_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	hint();
	exit(CLI_EXIT_USAGE);
}

void cli_bad_option(void)
{
	hint();
	exit(CLI_EXIT_USAGE);
}

int cli_parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0, digit;
	unsigned int base = 10, shift = 0;
	const char *p = s;

	if (!s || !*s)
		return -EINVAL;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	}
	if (!isxdigit((unsigned char)*p) || (base == 10 && !isdigit((unsigned char)*p)))
		return -EINVAL;
	for (; *p; p++) {
		if (isdigit((unsigned char)*p))
			digit = (uint64_t)(*p - '0');
		else if (base == 16 && isxdigit((unsigned char)*p))
			digit = (uint64_t)(tolower((unsigned char)*p) - 'a' + 10);
		else
			break;
		if (v > (UINT64_MAX - digit) / base)
			return -ERANGE;
		v = v * base + digit;
	}
	switch (*p) {
	case '\0': break;
	case 'k': case 'K': shift = 10; p++; break;
	case 'm': case 'M': shift = 20; p++; break;
	case 'g': case 'G': shift = 30; p++; break;
	case 't': case 'T': shift = 40; p++; break;
	default: return -EINVAL;
	}
	if (*p)
		return -EINVAL;
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*out = v << shift;
	return 0;
}

uint64_t cli_opt_u64(const char *opt, const char *arg, uint64_t min, uint64_t max)
{
	uint64_t v;
	int ret = cli_parse_u64(arg, &v);

	if (ret == -ERANGE)
		cli_usage_error("%s: '%s' is too large", opt, arg);
	if (ret)
		cli_usage_error("%s: '%s' is not a number (digits or 0x hex, with an optional "
				"k/M/G/T unit)", opt, arg);
	if (v < min || v > max)
		cli_usage_error("%s: %s is out of range (%llu..%llu)", opt, arg,
				(unsigned long long)min, (unsigned long long)max);
	return v;
}

unsigned int cli_opt_uint(const char *opt, const char *arg, unsigned int min, unsigned int max)
{
	return (unsigned int)cli_opt_u64(opt, arg, min, max);
}

/* DDDD:BB:DD.F or BB:DD.F, lower-case hex out. */
static int parse_pci(const char *s, char *out, size_t len)
{
	unsigned int dom = 0, bus, dev, fn;
	char tail;

	/* digits and separators only: %x takes a sign and leading spaces */
	if (strspn(s, "0123456789abcdefABCDEF:.") != strlen(s))
		return -EINVAL;
	if (sscanf(s, "%4x:%2x:%2x.%1u%c", &dom, &bus, &dev, &fn, &tail) != 4 &&
	    (dom = 0, sscanf(s, "%2x:%2x.%1u%c", &bus, &dev, &fn, &tail) != 3))
		return -EINVAL;
	if (dev > 31 || fn > 7 || !isxdigit((unsigned char)s[0]))
		return -EINVAL;
	snprintf(out, len, "%04x:%02x:%02x.%u", dom, bus, dev, fn);
	return 0;
}

int cli_parse_device(const char *arg, struct cli_device *dev)
{
	uint64_t v;

	memset(dev, 0, sizeof(*dev));
	if (!arg || !*arg)
		return -EINVAL;
	if (arg[0] == '/') {
		if (strlen(arg) >= sizeof(dev->name))
			return -EINVAL;
		dev->kind = CLI_DEV_PATH;
		snprintf(dev->name, sizeof(dev->name), "%s", arg);
		return 0;
	}
	if (strchr(arg, ':')) {
		dev->kind = CLI_DEV_PCI;
		return parse_pci(arg, dev->name, sizeof(dev->name));
	}
	if (cli_parse_u64(arg, &v) || v >= MAX_DEVICES || strpbrk(arg, "kKmMgGtT"))
		return -EINVAL;
	dev->kind = CLI_DEV_INDEX;
	dev->index = (unsigned int)v;
	return 0;
}

void cli_opt_device(const char *opt, const char *arg, struct cli_device *dev)
{
	if (cli_parse_device(arg, dev))
		cli_usage_error("%s: '%s' is not a device index (0..%d), render node path "
				"(/dev/dri/renderD128) or PCI address (0000:00:04.0)", opt, arg,
				MAX_DEVICES - 1);
}

const char *cli_device_str(const struct cli_device *dev)
{
	static char buf[16];

	if (dev->kind != CLI_DEV_INDEX)
		return dev->name;
	snprintf(buf, sizeof(buf), "%u", dev->index);
	return buf;
}

int cli_node_pci(const char *node, char *pci, size_t len)
{
	char path[128], link[PATH_MAX];
	const char *base = strrchr(node, '/');
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/class/drm/%s/device", base ? base + 1 : node);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return -errno;
	link[n] = '\0';
	base = strrchr(link, '/');
	snprintf(pci, len, "%s", base ? base + 1 : link);
	return 0;
}

int cli_device_node(const struct cli_device *dev, char *node, size_t len)
{
	struct svmgpu_device_desc descs[MAX_DEVICES];
	char slot[32];
	int n, i;

	if (dev->kind == CLI_DEV_PATH) {
		snprintf(node, len, "%s", dev->name);
		return 0;
	}
	n = svmgpu_device_list(descs, MAX_DEVICES);
	if (n < 0)
		return n;
	for (i = 0; i < n && i < MAX_DEVICES; i++) {
		snprintf(slot, sizeof(slot), "%04x:%02x:%02x.%u", descs[i].pci_domain,
			 descs[i].pci_bus, descs[i].pci_dev, descs[i].pci_func);
		if ((dev->kind == CLI_DEV_INDEX && (unsigned int)i == dev->index) ||
		    (dev->kind == CLI_DEV_PCI && !strcmp(slot, dev->name))) {
			snprintf(node, len, "%s", descs[i].render_node);
			return 0;
		}
	}
	return -ENODEV;
}

int cli_device_open(const struct cli_device *sel, struct svmgpu_device **dev)
{
	char node[SVMGPU_PATH_MAX];
	int ret = cli_device_node(sel, node, sizeof(node));

	return ret ? ret : svmgpu_device_open_path(node, dev);
}

struct json_object *cli_json_u64(uint64_t v)
{
	return json_object_new_uint64(v);
}

struct json_object *cli_json_hex(uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "0x%llx", (unsigned long long)v);
	return json_object_new_string(buf);
}

int cli_json_print(struct json_object *obj)
{
	const char *s = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PRETTY |
						       JSON_C_TO_STRING_SPACED |
						       JSON_C_TO_STRING_NOSLASHESCAPE);
	int ret = s && puts(s) >= 0 && fflush(stdout) == 0 ? 0 : -EIO;

	json_object_put(obj);
	return ret;
}
