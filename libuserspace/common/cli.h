/* SPDX-License-Identifier: MIT */
/*
 * cli: the command-line conventions every svmgpu tool follows (not
 * installed; linked into the tools).  See /usr/share/man/man1/svmgpu-*.1
 * and docs/api.md "Tool conventions".
 *
 *  - --help prints the usage to stdout and exits 0; --version prints
 *    "TOOL (svmgpu) VERSION" and exits 0.
 *  - A bad command line (unknown option, missing or bad argument) prints
 *    "TOOL: what is wrong" and "Try 'TOOL --help' for more information."
 *    to stderr and exits CLI_EXIT_USAGE.
 *  - Numbers are strict: decimal or 0x hex, optionally followed by one
 *    binary unit k/K (2^10), m/M (2^20), g/G (2^30) or t/T (2^40); nothing
 *    else after them, no sign, no exponent, no overflow.
 *  - -d/--device selects a device by index (0, 1, ... in the order of
 *    svmgpu_device_list()), render node path (/dev/dri/renderD128) or PCI
 *    address (0000:00:04.0).
 *  - --json prints the tool's data as one JSON object on stdout (json-c).
 *
 * Unlike the library, these helpers print and exit: they are for tools.
 */
#ifndef SVMGPU_CLI_H
#define SVMGPU_CLI_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

struct svmgpu_device;

/* Exit status shared by every tool (documented in each man page). */
enum {
	CLI_EXIT_OK = 0,	/* the work was done and every check passed */
	CLI_EXIT_FAIL = 1,	/* the work ran and failed: a mismatch, fault, divergence */
	CLI_EXIT_USAGE = 2,	/* bad command line */
	CLI_EXIT_DEVICE = 3,	/* no such device, or it could not be opened or set up */
};

/* getopt_long() codes for the options every tool has (no short letter). */
enum {
	CLI_OPT_VERSION = 0x100,
	CLI_OPT_JSON,
};

/*
 * Remember the tool's name for messages; call first in main().  Sets
 * argv[0] to @tool too, so getopt's own messages ("svmgpu-demo:
 * unrecognized option '--frob'") name the tool however it was started.
 */
void cli_init(char **argv, const char *tool);
const char *cli_tool(void);

/* Print "TOOL (svmgpu) VERSION" to stdout and exit 0. */
void cli_version(void) __attribute__((noreturn));

/* Print "TOOL: <message>" and the --help hint to stderr, exit CLI_EXIT_USAGE. */
void cli_usage_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

/*
 * The getopt_long() `default:` case: getopt has already said what was
 * wrong ("unrecognized option", "requires an argument"); add the hint and
 * exit CLI_EXIT_USAGE.
 */
void cli_bad_option(void) __attribute__((noreturn));

/*
 * cli_parse_u64 - strict unsigned number with an optional binary unit
 * @s:   [in]  the text
 * @out: [out] the value
 *
 * Returns 0, -EINVAL when @s is not such a number (empty, sign, exponent,
 * fraction, junk after it, unknown unit) or -ERANGE when it overflows 64 bits.
 */
int cli_parse_u64(const char *s, uint64_t *out);

/*
 * cli_opt_u64 - an option's number in [@min, @max], or a usage error
 * @opt: the option as the user wrote it, for the message ("--ops")
 *
 * Messages: "TOOL: --ops: '1e6' is not a number (digits or 0x hex, with
 * an optional k/M/G/T unit)", "TOOL: --ops: 5 is out of range (1..64)".
 */
uint64_t cli_opt_u64(const char *opt, const char *arg, uint64_t min, uint64_t max);
unsigned int cli_opt_uint(const char *opt, const char *arg, unsigned int min, unsigned int max);

/* What -d/--device names. */
struct cli_device {
	enum { CLI_DEV_INDEX, CLI_DEV_PATH, CLI_DEV_PCI } kind;
	unsigned int index;	/* CLI_DEV_INDEX */
	char name[64];		/* CLI_DEV_PATH: the path; CLI_DEV_PCI: DDDD:BB:DD.F */
};

/*
 * cli_parse_device - an index, a path (starting with '/') or a PCI address
 * (DDDD:BB:DD.F or BB:DD.F, domain 0000 assumed)
 *
 * Returns 0 or -EINVAL.
 */
int cli_parse_device(const char *arg, struct cli_device *dev);

/* cli_parse_device() or a usage error naming @opt. */
void cli_opt_device(const char *opt, const char *arg, struct cli_device *dev);

/* Human-readable form for messages: "0", "/dev/dri/renderD128", "0000:00:04.0". */
const char *cli_device_str(const struct cli_device *dev);

/*
 * cli_device_node - the render node the selection names
 * @node: [out] "/dev/dri/renderD128"
 *
 * Returns 0, -ENODEV when there is no such svmgpu device, or -errno.
 */
int cli_device_node(const struct cli_device *dev, char *node, size_t len);

/*
 * cli_device_open - open the selected device through libsvmgpu
 *
 * Returns 0, -ENODEV when there is no such svmgpu device, or -errno.
 */
int cli_device_open(const struct cli_device *sel, struct svmgpu_device **dev);

/*
 * cli_device_pci - the PCI address of a render node, from sysfs
 * (/sys/class/drm/renderD128/device).  Returns 0 or -errno.
 */
int cli_node_pci(const char *node, char *pci, size_t len);

/* JSON: json-c objects, printed with cli_json_print(). */
struct json_object *cli_json_u64(uint64_t v);	/* exact: json-c's uint64 */
/* "0x..." string for addresses and register values (JSON numbers lose bits). */
struct json_object *cli_json_hex(uint64_t v);
/* Print @obj pretty to stdout with a newline, drop the reference. Returns 0 or -EIO. */
int cli_json_print(struct json_object *obj);

#endif
