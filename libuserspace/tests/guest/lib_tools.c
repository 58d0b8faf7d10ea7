// SPDX-License-Identifier: MIT
/*
 * lib_tools: the installed tools and examples run on the device and say
 * what they should: svmgpu-info, svmgpu-identify, svmgpu-as, svmgpu-run,
 * svmgpu-reg, svmgpu-torture, svmgpu-fuzz, svmgpu-demo (also --devmem) and the three
 * examples; and the device half of the tools' conventions (the host test
 * test_tools.sh checks the rest): -d by index, render node path and PCI
 * address, --json of real data (parsed with json-c, values checked).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include "lib_guest.h"
#include "svmgpu.h"
#include "svmgpu_test.h"

#define EXAMPLES	"/usr/libexec/svmgpu/examples/"

/* Run @cmd with sh, capture stdout+stderr into a malloc'd string, return the exit status. */
static int run(const char *cmd, char **out)
{
	char buf[4096];
	size_t len = 0, n;
	FILE *p;
	int status;

	*out = calloc(1, 1);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	while ((n = fread(buf, 1, sizeof(buf), p)) > 0) {
		*out = realloc(*out, len + n + 1);
		memcpy(*out + len, buf, n);
		len += n;
		(*out)[len] = '\0';
	}
	status = pclose(p);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The command's stdout only (stderr dropped) parsed as JSON; NULL if it does not parse. */
static struct json_object *run_json(const char *cmd, int *rc)
{
	char full[1024], *o;
	struct json_object *j;

	snprintf(full, sizeof(full), "%s 2>/dev/null", cmd);
	*rc = run(full, &o);
	j = json_tokener_parse(o);
	if (!j)
		fprintf(stderr, "# %s: not JSON:\n%s\n", cmd, o);
	free(o);
	return j;
}

/* j.a.b... (object keys) or NULL */
static struct json_object *jget(struct json_object *j, const char *k1, const char *k2)
{
	struct json_object *v = NULL;

	if (!j || !json_object_object_get_ex(j, k1, &v))
		return NULL;
	if (k2 && !json_object_object_get_ex(v, k2, &v))
		return NULL;
	return v;
}

static const char *jstr(struct json_object *j, const char *k1, const char *k2)
{
	struct json_object *v = jget(j, k1, k2);

	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
}

/* the length of a JSON array, 0 for anything else (NULL too) */
static size_t jlen(struct json_object *a)
{
	return json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;
}

#define RUN_OK(cmd, must_contain) do { \
	char *o_; \
	int rc_ = run(cmd " 2>&1", &o_); \
	if (rc_ != 0 || !strstr(o_, must_contain)) \
		TH_LOG("%s: exit %d, output:\n%s", cmd, rc_, o_); \
	EXPECT_EQ(rc_, 0); \
	EXPECT_TRUE(strstr(o_, must_contain) != NULL); \
	free(o_); \
} while (0)

FIXTURE(tools) {
	int present;
};

FIXTURE_SETUP(tools)
{
	if (svmgpu_device_list(NULL, 0) <= 0)
		SKIP(return, "no svmgpu device");
	if (access("/usr/bin/svmgpu-as", X_OK))
		SKIP(return, "tools not installed in /usr/bin");
}

FIXTURE_TEARDOWN(tools)
{
}

TEST_F(tools, help_everywhere)
{
	RUN_OK("svmgpu-as --help", "usage: svmgpu-as");
	RUN_OK("svmgpu-run --help", "usage: svmgpu-run");
	RUN_OK("svmgpu-reg --help", "usage: svmgpu-reg");
	RUN_OK("svmgpu-info --help", "usage: svmgpu-info");
	RUN_OK("svmgpu-identify --help", "usage: svmgpu-identify");
	RUN_OK("svmgpu-demo --help", "usage: svmgpu-demo");
	RUN_OK("svmgpu-torture --help", "usage: svmgpu-torture");
	RUN_OK("svmgpu-fuzz --help", "usage: svmgpu-fuzz");
	RUN_OK("svmgpu-info --version", "svmgpu-info (svmgpu) ");
}

/* The first device as an index, its render node and its PCI address. */
static void first_device(char node[64], char pci[32])
{
	struct svmgpu_device_desc d;

	memset(&d, 0, sizeof(d));
	if (svmgpu_device_list(&d, 1) < 1)
		d.render_node[0] = '\0';
	snprintf(node, 64, "%s", d.render_node);
	snprintf(pci, 32, "%04x:%02x:%02x.%u", d.pci_domain, d.pci_bus, d.pci_dev, d.pci_func);
}

/*
 * -d INDEX, -d PATH and -d PCI name the same device in every tool.  Fifteen
 * tool runs: 28 s on the debug kernel at load 10, past the default 30 s
 * timeout at load 14.
 */
TEST_TIMEOUT(90)
TEST_F(tools, device_selection)
{
	const char *sel[3];
	char node[64], pci[32], cmd[256], want[96], *o;
	int i, rc;

	first_device(node, pci);
	ASSERT_TRUE(node[0] != '\0');
	sel[0] = "0";
	sel[1] = node;
	sel[2] = pci;
	for (i = 0; i < 3; i++) {
		snprintf(cmd, sizeof(cmd), "svmgpu-info -d %s 2>&1", sel[i]);
		snprintf(want, sizeof(want), "device 0: %s\n", node);
		EXPECT_EQ(run(cmd, &o), 0);
		EXPECT_TRUE(strstr(o, want) != NULL);
		EXPECT_TRUE(strstr(o, pci) != NULL);
		if (!strstr(o, want))
			TH_LOG("%s:\n%s", cmd, o);
		free(o);
		snprintf(cmd, sizeof(cmd), "svmgpu-identify -d %s 2>&1", sel[i]);
		snprintf(want, sizeof(want), "%s: driver svmgpu ", node);
		EXPECT_EQ(run(cmd, &o), 0);
		EXPECT_TRUE(strstr(o, want) != NULL);
		EXPECT_TRUE(strstr(o, "  id register  0x474d5653 (svmgpu)\n") != NULL);
		free(o);
		snprintf(cmd, sizeof(cmd), "svmgpu-run -d %s -k vecadd -b 64:f32seq -b 64:f32seq "
			 "-b 64 -a 16 -w 16 -p 2:f32 2>&1", sel[i]);
		EXPECT_EQ(run(cmd, &o), 0);
		EXPECT_TRUE(strstr(o, " 30\n") != NULL);
		free(o);
		snprintf(cmd, sizeof(cmd), "svmgpu-reg -d %s read ID 2>&1", sel[i]);
		rc = run(cmd, &o);
		/* a bound BAR may not be mappable (CONFIG_IO_STRICT_DEVMEM): exit 3, said so */
		if (rc == 0)
			EXPECT_TRUE(strstr(o, "0x474d5653") != NULL);
		else
			EXPECT_TRUE(rc == 3 && strstr(o, "svmgpu-reg: cannot map BAR0: ") == o);
		free(o);
	}
	/* a device that is not there: exit 3 and the same message everywhere */
	EXPECT_EQ(run("svmgpu-info -d 9 2>&1", &o), 3);
	EXPECT_STREQ(o, "svmgpu-info: no svmgpu device 9: No such device\n");
	free(o);
	EXPECT_EQ(run("svmgpu-demo -d 0000:00:1f.7 2>&1", &o), 3);
	EXPECT_STREQ(o, "svmgpu-demo: no svmgpu device 0000:00:1f.7: No such device\n");
	free(o);
	EXPECT_EQ(run("svmgpu-run -d /dev/null -k vecadd 2>&1", &o), 3);
	EXPECT_STREQ(o, "svmgpu-run: no svmgpu device /dev/null: No such device\n");
	free(o);
	EXPECT_EQ(run("svmgpu-torture -d 9 -n 1 2>&1", &o), 3);
	EXPECT_STREQ(o, "svmgpu-torture: no svmgpu device 9: No such device\n");
	free(o);
}

TEST_F(tools, info_and_identify_json)
{
	struct json_object *j, *d;
	char node[64], pci[32];
	int rc;

	first_device(node, pci);
	j = run_json("svmgpu-info --json", &rc);
	ASSERT_NOT_NULL(j);
	EXPECT_EQ(rc, 0);
	d = json_object_array_get_idx(jget(j, "devices", NULL), 0);
	ASSERT_NOT_NULL(d);
	EXPECT_STREQ(jstr(d, "node", NULL), node);
	EXPECT_STREQ(jstr(d, "pci", "slot"), pci);
	EXPECT_STREQ(jstr(d, "pci", "driver"), "svmgpu");
	EXPECT_STREQ(jstr(d, "drm", "driver"), "svmgpu");
	EXPECT_STREQ(jstr(d, "drm", "hw_id"), "0x474d5653");
	EXPECT_TRUE(json_object_get_int(jget(d, "drm", "queues")) >= 1);
	/* BAR0 or, on a strict kernel with the driver bound, debugfs */
	EXPECT_TRUE(jget(d, "counters", NULL) != NULL);
	EXPECT_TRUE(jget(d, "counters", "faults") != NULL ||
		    jget(d, "counters", "fault_records") != NULL);
	json_object_put(j);

	j = run_json("svmgpu-identify --json", &rc);
	ASSERT_NOT_NULL(j);
	EXPECT_EQ(rc, 0);
	d = json_object_array_get_idx(j, 0);
	EXPECT_STREQ(jstr(d, "node", NULL), node);
	EXPECT_STREQ(jstr(d, "driver", NULL), "svmgpu");
	EXPECT_STREQ(jstr(d, "id_register", NULL), "0x474d5653");
	EXPECT_TRUE(json_object_get_boolean(jget(d, "id_ok", NULL)));
	json_object_put(j);
}

/*
 * svmgpu-info shows the scheduler's per-queue counters (debugfs
 * svmgpu_sched): this process's queue, held on the device by a WAIT, is
 * listed running on a hardware queue with its priority and one bind; once
 * the word is written and the queue destroyed it is gone.
 */
TEST_F(tools, info_shows_queue_scheduling)
{
	struct json_object *j, *qs, *mine = NULL;
	struct svmgpu_device *dev;
	struct svmgpu_context *ctx;
	struct svmgpu_queue *q;
	uint64_t *word = calloc(1, 8), seq;
	struct svmgpu_cmd c;
	size_t i;
	int rc, id;

	if (access("/sys/kernel/debug/dri", F_OK))
		SKIP(return, "no debugfs");
	ASSERT_NOT_NULL(word);
	ASSERT_EQ(svmgpu_device_open(0, &dev), 0);
	ASSERT_EQ(svmgpu_context_create(dev, &ctx), 0);
	ASSERT_EQ(svmgpu_queue_create_priority(ctx, 0, SVMGPU_PRIORITY_LOW, &q), 0);
	ASSERT_EQ(svmgpu_cmd_wait(&c, word, SVMGPU_WAIT_EQ, 1, ~0ull, 0, 0), 0);
	ASSERT_EQ(svmgpu_queue_submit(q, &c, 1, &seq), 0);
	id = svmgpu_queue_id(q);
	RUN_OK("svmgpu-info -d 0", "  scheduler    timeslicing, timeslice ");
	j = run_json("svmgpu-info --json -d 0", &rc);
	EXPECT_EQ(rc, 0);
	qs = jget(json_object_array_get_idx(jget(j, "devices", NULL), 0), "scheduler", "queues");
	for (i = 0; i < jlen(qs); i++)
		if (json_object_get_int(jget(json_object_array_get_idx(qs, i), "queue", NULL)) == id)
			mine = json_object_array_get_idx(qs, i);
	ASSERT_NOT_NULL(mine);
	EXPECT_STREQ(jstr(mine, "priority", NULL), "low");
	EXPECT_STREQ(jstr(mine, "state", NULL), "running");
	EXPECT_GE(json_object_get_int(jget(mine, "hw_queue", NULL)), 0);
	EXPECT_EQ(json_object_get_int(jget(mine, "binds", NULL)), 1);
	EXPECT_EQ(json_object_get_int(jget(mine, "completed", NULL)), 0);
	EXPECT_EQ(json_object_get_int(jget(mine, "resets", NULL)), 0);
	json_object_put(j);
	__atomic_store_n(word, 1, __ATOMIC_SEQ_CST);
	ASSERT_EQ(svmgpu_queue_wait(q, seq, 30000000000ull, NULL), 0);
	ASSERT_EQ(svmgpu_queue_destroy(q), 0);
	j = run_json("svmgpu-info --json -d 0", &rc);
	qs = jget(json_object_array_get_idx(jget(j, "devices", NULL), 0), "scheduler", "queues");
	for (i = 0; i < jlen(qs); i++)
		EXPECT_NE(json_object_get_int(jget(json_object_array_get_idx(qs, i), "queue", NULL)),
			  id);
	json_object_put(j);
	svmgpu_context_destroy(ctx);
	svmgpu_device_close(dev);
	free(word);
}

/* devices[0].device_memory.@key as a number (0 when missing) */
static unsigned long long dmv(struct json_object *j, const char *key)
{
	struct json_object *d = json_object_array_get_idx(jget(j, "devices", NULL), 0);

	return json_object_get_uint64(jget(jget(d, "device_memory", NULL), key, NULL));
}

/*
 * devices[0].counters.@key: "hw_link_read_bytes" ... from debugfs
 * svmgpu_device, "link read bytes" ... when svmgpu-info could map BAR0
 * (counters_source "bar0": kernels without CONFIG_IO_STRICT_DEVMEM).
 */
static struct json_object *ctr(struct json_object *j, const char *key)
{
	struct json_object *d = json_object_array_get_idx(jget(j, "devices", NULL), 0);
	char bar0[64];

	if (strcmp(jstr(d, "counters_source", NULL), "bar0"))
		return jget(jget(d, "counters", NULL), key, NULL);
	snprintf(bar0, sizeof(bar0), "%s", key + 3);	/* without "hw_" */
	for (char *c = bar0; *c; c++)
		*c = *c == '_' ? ' ' : *c;
	return jget(jget(d, "counters", NULL), bar0, NULL);
}

static unsigned long long ctv(struct json_object *j, const char *key)
{
	return json_object_get_uint64(ctr(j, key));
}

/*
 * svmgpu-info shows device-local memory (debugfs svmgpu_devmem and
 * svmgpu_dax) and the link/local byte counters: every field is there, a
 * 4 MiB PREFETCH to the device and back moves to_device/to_system by
 * exactly 1024 pages and 4 MiB, and a 1 MiB device COPY from the
 * device-resident pages to system memory reads at least 1 MiB locally and
 * writes at least 1 MiB over the link.
 */
TEST_TIMEOUT(120)
TEST_F(tools, info_shows_device_memory)
{
	static const char *const fields[] = {
		"size", "capacity", "used", "to_device_pages", "to_system_pages",
		"to_device_bytes", "to_system_bytes", "evicted_pages", "lru_evictions",
		"lru_evicted_pages", "cpu_faults", "fault_migrations", "fault_to_device_pages",
		"fault_to_system_pages", "fault_no_room",
	};
	static const char *const bytes[] = {
		"hw_link_read_bytes", "hw_link_write_bytes", "hw_local_read_bytes",
		"hw_local_write_bytes",
	};
	const size_t size = 4 << 20;
	struct json_object *j0, *j1, *j2, *j3, *dm;
	struct svmgpu_device *dev;
	struct svmgpu_context *ctx;
	struct svmgpu_queue *q;
	struct svmgpu_cmd c;
	uint8_t *buf, *dst;
	uint64_t pages = 0;
	const char *type;
	int rc;

	if (access("/sys/kernel/debug/dri", F_OK))
		SKIP(return, "no debugfs");
	buf = aligned_alloc(2 << 20, size);
	dst = aligned_alloc(2 << 20, 1 << 20);
	ASSERT_NOT_NULL(buf);
	ASSERT_NOT_NULL(dst);
	memset(buf, 0xa5, size);
	memset(dst, 0, 1 << 20);
	ASSERT_EQ(svmgpu_device_open(0, &dev), 0);
	ASSERT_EQ(svmgpu_context_create(dev, &ctx), 0);
	ASSERT_EQ(svmgpu_queue_create(ctx, 0, &q), 0);

	j0 = run_json("svmgpu-info --json -d 0", &rc);
	EXPECT_EQ(rc, 0);
	dm = jget(json_object_array_get_idx(jget(j0, "devices", NULL), 0), "device_memory", NULL);
	ASSERT_NOT_NULL(dm);
	type = jstr(dm, "type", NULL);
	if (!strcmp(type, "none"))
		SKIP(goto out, "no device-local memory");
	EXPECT_TRUE(!strcmp(type, "coherent") || !strcmp(type, "private"));
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if (!jget(dm, fields[i], NULL))
			TH_LOG("no device_memory.%s", fields[i]);
		EXPECT_TRUE(jget(dm, fields[i], NULL) != NULL);
	}
	for (size_t i = 0; i < sizeof(bytes) / sizeof(bytes[0]); i++) {
		if (!ctr(j0, bytes[i]))
			TH_LOG("no counters.%s", bytes[i]);
		EXPECT_TRUE(ctr(j0, bytes[i]) != NULL);
	}
	EXPECT_TRUE(jget(jget(dm, "dax", NULL), "size", NULL) != NULL);
	EXPECT_TRUE(jget(jget(dm, "dax", NULL), "buffers", NULL) != NULL);
	EXPECT_GT(dmv(j0, "size"), 0);
	EXPECT_LE(dmv(j0, "capacity"), dmv(j0, "size"));
	EXPECT_EQ(dmv(j0, "to_device_bytes"), dmv(j0, "to_device_pages") * 4096);

	ASSERT_EQ(svmgpu_device_prefetch(dev, buf, size, SVMGPU_PREFETCH_DEVICE, &pages), 0);
	EXPECT_EQ(pages, size / 4096);
	j1 = run_json("svmgpu-info --json -d 0", &rc);
	EXPECT_EQ(rc, 0);
	EXPECT_EQ(dmv(j1, "to_device_pages") - dmv(j0, "to_device_pages"), size / 4096);
	EXPECT_EQ(dmv(j1, "to_device_bytes") - dmv(j0, "to_device_bytes"), size);
	EXPECT_GE(dmv(j1, "used"), size);

	/* 1 MiB of the device-resident pages copied to system memory */
	ASSERT_EQ(svmgpu_cmd_copy(&c, dst, buf, 1 << 20, 0), 0);
	ASSERT_EQ(svmgpu_queue_run(q, &c, 1, 30000000000ull, NULL), 0);
	EXPECT_EQ(dst[0], 0xa5);
	EXPECT_EQ(dst[(1 << 20) - 1], 0xa5);
	j2 = run_json("svmgpu-info --json -d 0", &rc);
	EXPECT_GE(ctv(j2, "hw_local_read_bytes") - ctv(j1, "hw_local_read_bytes"), 1 << 20);
	EXPECT_GE(ctv(j2, "hw_link_write_bytes") - ctv(j1, "hw_link_write_bytes"), 1 << 20);

	ASSERT_EQ(svmgpu_device_prefetch(dev, buf, size, SVMGPU_PREFETCH_SYSTEM, &pages), 0);
	EXPECT_EQ(pages, size / 4096);
	j3 = run_json("svmgpu-info --json -d 0", &rc);
	EXPECT_EQ(dmv(j3, "to_system_pages") - dmv(j2, "to_system_pages"), size / 4096);
	EXPECT_EQ(dmv(j3, "to_system_bytes") - dmv(j2, "to_system_bytes"), size);
	for (size_t i = 0; i < size; i++)
		if (buf[i] != 0xa5) {
			TH_LOG("byte %zu", i);
			EXPECT_EQ(buf[i], 0xa5);
			break;
		}
	json_object_put(j1);
	json_object_put(j2);
	json_object_put(j3);

	{
		static const char *const lines[] = {
			"\n  device mem   coherent, ", "\n  device mem   private, ",
			"\n  migration    to device ", "\n  eviction     ",
			"\n  migr. faults ", "\n  data bytes   over the link ",
		};
		char *o;

		EXPECT_EQ(run("svmgpu-info -d 0 2>&1", &o), 0);
		EXPECT_TRUE(strstr(o, lines[0]) || strstr(o, lines[1]));
		for (size_t i = 2; i < sizeof(lines) / sizeof(lines[0]); i++) {
			if (!strstr(o, lines[i]))
				TH_LOG("no '%s' in:\n%s", lines[i] + 1, o);
			EXPECT_TRUE(strstr(o, lines[i]) != NULL);
		}
		free(o);
	}
out:
	json_object_put(j0);
	svmgpu_queue_destroy(q);
	svmgpu_context_destroy(ctx);
	svmgpu_device_close(dev);
	free(buf);
	free(dst);
}

/*
 * --watch describes every device, then re-prints all their counters: from
 * BAR0, or debugfs when the kernel refuses to map a bound BAR; with
 * neither it is an error, not a silent no-op.
 */
TEST_TIMEOUT(60)
TEST_F(tools, info_watch)
{
	char node[64], pci[32], dir[64], *o, *p;
	int rc, rounds = 0, ndev = svmgpu_device_list(NULL, 0);
	struct json_object *j;
	FILE *f;

	first_device(node, pci);
	rc = run("svmgpu-info --watch 1 --count 3 2>&1", &o);
	for (p = o; (p = strstr(p, "  counters     ")); p++)
		rounds++;
	if (strstr(o, "  counters     faults ")) {
		/* BAR0 mapped; each round shows every device */
		EXPECT_EQ(rc, 0);
		EXPECT_EQ(rounds, 3 * ndev);
	} else if (svmgpu_device_debugfs_dir(node, dir, sizeof(dir)) == 0) {
		EXPECT_EQ(rc, 0);
		EXPECT_EQ(rounds, 3 * ndev);
		EXPECT_TRUE(strstr(o, "  counters     (from /sys/kernel/debug/dri/") != NULL);
	} else {
		EXPECT_EQ(rc, 1);
		EXPECT_TRUE(strstr(o, "svmgpu-info: --watch: no counters to read for device 0") != NULL);
	}
	if (rc == 0) {
		/* every round names the device again */
		EXPECT_TRUE(strstr(strstr(o, "device 0: ") + 1, "device 0: ") != NULL);
	} else {
		TH_LOG("%s", o);
	}
	free(o);
	if (rc)
		return;
	/* JSON: one object per round, one per line */
	rc = run("svmgpu-info --json --watch 1 --count 2 2>/dev/null > /tmp/watch.json", &o);
	free(o);
	EXPECT_EQ(rc, 0);
	f = fopen("/tmp/watch.json", "r");
	ASSERT_NOT_NULL(f);
	for (rounds = 0; rounds < 3; rounds++) {
		char line[65536];

		if (!fgets(line, sizeof(line), f))
			break;
		j = json_tokener_parse(line);
		ASSERT_NOT_NULL(j);
		EXPECT_EQ(json_object_get_int(jget(j, "round", NULL)), rounds + 1);
		EXPECT_TRUE(jget(json_object_array_get_idx(jget(j, "devices", NULL), 0),
				 "counters", NULL) != NULL);
		json_object_put(j);
	}
	fclose(f);
	EXPECT_EQ(rounds, 2);
}

TEST_F(tools, run_json_buffers)
{
	struct json_object *j, *v;
	int rc, i;

	j = run_json("svmgpu-run --json -k vecadd -b 64:f32seq -b 64:f32seq -b 64 -a 16 -w 16 "
		     "-p 2:f32 -p 0:hex64:2", &rc);
	ASSERT_NOT_NULL(j);
	EXPECT_EQ(rc, 0);
	EXPECT_TRUE(json_object_get_boolean(jget(j, "ok", NULL)));
	EXPECT_EQ(json_object_get_int(jget(j, "args", NULL)), 4);
	v = jget(json_object_array_get_idx(jget(j, "buffers", NULL), 0), "values", NULL);
	ASSERT_EQ(json_object_array_length(v), 16);
	for (i = 0; i < 16; i++)
		EXPECT_EQ(json_object_get_double(json_object_array_get_idx(v, i)), 2.0 * i);
	v = jget(json_object_array_get_idx(jget(j, "buffers", NULL), 1), "values", NULL);
	ASSERT_EQ(json_object_array_length(v), 2);
	/* f32 0.0 and 1.0 in one u64: 0x3f80000000000000 */
	EXPECT_STREQ(json_object_get_string(json_object_array_get_idx(v, 0)), "0x3f80000000000000");
	json_object_put(j);

	/* a fault: exit 1, the error in the JSON */
	j = run_json("printf 'S2R r1, ARGS\\nLD64 r2, [r1+0]\\nST64 [r2+0], r1\\nEXIT\\n' > /tmp/fj.s;"
		     " svmgpu-run --json /tmp/fj.s -a 0x10000", &rc);
	ASSERT_NOT_NULL(j);
	EXPECT_EQ(rc, 1);
	EXPECT_FALSE(json_object_get_boolean(jget(j, "ok", NULL)));
	EXPECT_STREQ(jstr(j, "error", "va"), "0x10000");
	EXPECT_STREQ(jstr(j, "error", "access"), "write");
	json_object_put(j);
	/* units: a 64M buffer */
	RUN_OK("svmgpu-run -k vecadd -b 4M:f32seq -b 4M:f32seq -b 4M -a 1M -n 1M -w 256 -p 2:f32:4",
	       "[   0] 0 2 4 6\n");
}

TEST_F(tools, info)
{
	RUN_OK("svmgpu-info", "driver       svmgpu");
	RUN_OK("svmgpu-info", "MSI-X        ");
	RUN_OK("svmgpu-info", "faults");
}

TEST_F(tools, assembler_round_trip_and_errors)
{
	char *o;

	RUN_OK("svmgpu-as -k vecadd > /tmp/va.s && svmgpu-as /tmp/va.s -o /tmp/va.bin && "
	       "svmgpu-as -d /tmp/va.bin", "FADD r7, r7, r9");
	EXPECT_EQ(run("printf 'NOP\\nMOV r40, r1\\n' > /tmp/bad.s; svmgpu-as /tmp/bad.s 2>&1", &o), 1);
	EXPECT_TRUE(strstr(o, "/tmp/bad.s:2:5: register 'r40' out of range (r0..r31)") != NULL);
	free(o);
}

TEST_F(tools, run_vecadd_and_write_output)
{
	float out[1024];
	FILE *f;
	int i;

	RUN_OK("svmgpu-run -k vecadd -b 4K:f32seq -b 4K:f32seq -b 4K -a 1024 -n 1024 -w 256 "
	       "-o 2:/tmp/vecadd.out -p 2:f32:4", "buffer 2 (f32):");
	f = fopen("/tmp/vecadd.out", "rb");
	ASSERT_NOT_NULL(f);
	ASSERT_EQ(fread(out, 4, 1024, f), 1024);
	fclose(f);
	for (i = 0; i < 1024; i++)
		ASSERT_EQ(out[i], 2.0f * i);
	/* from a binary, with an assembly file */
	RUN_OK("svmgpu-as -k vecadd > /tmp/va2.s && svmgpu-as /tmp/va2.s -o /tmp/va2.bin && "
	       "svmgpu-run /tmp/va2.bin -b 64:f32seq -b 64:f32seq -b 64 -a 16 -w 16 -p 2:f32",
	       " 30\n");
}

TEST_F(tools, run_reports_a_fault)
{
	char *o;

	EXPECT_EQ(run("printf 'S2R r1, ARGS\\nLD64 r2, [r1+0]\\nST64 [r2+0], r1\\nEXIT\\n' > /tmp/f.s;"
		      " svmgpu-run /tmp/f.s -a 0x10000 2>&1", &o), 1);
	EXPECT_TRUE(strstr(o, "fault cancelled at 0x10000 (write access") != NULL);
	if (!strstr(o, "fault cancelled"))
		TH_LOG("%s", o);
	free(o);
}

TEST_F(tools, reg_refuses_writes_while_bound)
{
	struct json_object *j, *r;
	char *o;
	int rc;

	EXPECT_EQ(run("svmgpu-reg write CONTROL 0 2>&1", &o), 1);
	EXPECT_TRUE(strstr(o, "refusing to write") != NULL);
	free(o);
	RUN_OK("svmgpu-reg list", "Q<n>_ERROR_VA");
	/* --json list: needs no device, per-queue registers with their stride */
	j = run_json("svmgpu-reg --json list", &rc);
	EXPECT_EQ(rc, 0);
	EXPECT_TRUE(jget(j, "device", NULL) == NULL);
	r = jget(j, "registers", NULL);
	ASSERT_TRUE(jlen(r) > 1);
	EXPECT_STREQ(jstr(json_object_array_get_idx(r, 0), "name", NULL), "ID");
	EXPECT_STREQ(jstr(json_object_array_get_idx(r, 0), "access", NULL), "RO");
	EXPECT_STREQ(jstr(json_object_array_get_idx(r, jlen(r) - 1), "stride", NULL), "0x80");
	json_object_put(j);
}

/* The value of register @name in `svmgpu-reg --json inject`, or -1. */
static long long inject_reg(const char *name)
{
	struct json_object *j, *r;
	long long v = -1;
	size_t i;
	int rc;

	j = run_json("svmgpu-reg --json inject", &rc);
	r = jget(j, "registers", NULL);
	for (i = 0; rc == 0 && i < jlen(r); i++)
		if (!strcmp(jstr(json_object_array_get_idx(r, i), "name", NULL), name))
			v = strtoll(jstr(json_object_array_get_idx(r, i), "value", NULL), NULL, 16);
	json_object_put(j);
	return v;
}

/*
 * svmgpu-reg inject on a live device, through the driver's debugfs
 * svmgpu_inject: a dropped interrupt is injected, counted and consumed, the
 * command whose interrupt it was still completes (the watchdog polls); the
 * delays the driver's file does not take are refused, naming the way.
 */
TEST_TIMEOUT(60)
TEST_F(tools, reg_inject_through_the_driver)
{
	long long before;
	char *o;

	if (access("/sys/kernel/debug/dri", F_OK))
		SKIP(return, "no debugfs");
	before = inject_reg("CNT_INJECTED");
	ASSERT_GE(before, 0);
	EXPECT_EQ(inject_reg("INJ_DROP_IRQS"), 0);
	/* Only what the driver's file shows. */
	EXPECT_EQ(inject_reg("INJ_IRQ_DELAY_US"), -1);
	RUN_OK("svmgpu-reg inject drop_irqs 1", "INJ_DROP_IRQS            0x0204  0x00000001");
	RUN_OK("svmgpu-run -k vecadd -b 4K:f32seq -b 4K:f32seq -b 4K -a 1024 -n 1024 -w 256 "
	       "-p 2:f32:4", "buffer 2 (f32):");
	EXPECT_EQ(inject_reg("INJ_DROP_IRQS"), 0);
	EXPECT_EQ(inject_reg("CNT_INJECTED"), before + 1);
	EXPECT_EQ(run("svmgpu-reg inject irq_delay_us 100 2>&1", &o), 1);
	EXPECT_TRUE(strstr(o, "svmgpu-reg: irq_delay_us: the svmgpu driver's debugfs "
			   "svmgpu_inject does not take it; unbind the driver (svmgpu-reg then "
			   "writes INJ_IRQ_DELAY_US) or start QEMU with "
			   "-device svmgpu,x-inject-irq-delay-us=100") == o);
	free(o);
}

/* Bring-up without the driver: unbind, read and write registers, rebind. */
TEST_TIMEOUT(60)
TEST_F(tools, reg_without_the_driver)
{
	struct svmgpu_device_desc d;
	struct json_object *j, *r;
	char slot[32], *o;
	int i, n, n0, rc;

	/* the first device: svmgpu-reg's default while every function is bound */
	n0 = svmgpu_device_list(&d, 1);
	ASSERT_GE(n0, 1);
	snprintf(slot, sizeof(slot), "%04x:%02x:%02x.%u", d.pci_domain, d.pci_bus, d.pci_dev,
		 d.pci_func);
	ASSERT_EQ(sysfs_write("/sys/bus/pci/drivers/svmgpu/unbind", slot), 0);
	RUN_OK("svmgpu-reg read ID VERSION Q0_STATUS", "0x474d5653");
	RUN_OK("svmgpu-reg dump", "CNT_FAULTS");
	RUN_OK("svmgpu-reg write INTR_MASK 0x5", "0x00000005");
	RUN_OK("svmgpu-reg read INTR_MASK", "0x00000005");
	/* an offset is the register there: 32 bits, INTR_MASK after it kept */
	RUN_OK("svmgpu-reg write 0x50 0", "INTR_STATUS");
	RUN_OK("svmgpu-reg read INTR_MASK", "0x00000005");
	EXPECT_EQ(run("svmgpu-reg write 0 5 2>&1", &o), 1);
	EXPECT_TRUE(strstr(o, "ID is read-only") != NULL);
	free(o);
	RUN_OK("svmgpu-reg write 0x54 0", "0x00000000");
	EXPECT_EQ(run("svmgpu-reg read NO_SUCH_REG 2>&1", &o), 1);
	EXPECT_TRUE(strstr(o, "unknown register 'NO_SUCH_REG'") != NULL);
	free(o);
	EXPECT_EQ(run("svmgpu-reg write STATUS 1 2>&1", &o), 1);
	EXPECT_TRUE(strstr(o, "STATUS is read-only") != NULL);
	free(o);
	/* inject through BAR0: every INJ_ register, the delays too */
	RUN_OK("svmgpu-reg inject inval-delay-us 250", "INJ_INVAL_DELAY_US       0x0224  0x000000fa");
	RUN_OK("svmgpu-reg inject inval_delay_us 0", "INJ_INVAL_DELAY_US       0x0224  0x00000000");
	RUN_OK("svmgpu-reg inject", "CNT_INJECTED             0x0218  0x");
	/*
	 * --json: the registers read, in order, as "0x..." strings; an unknown one
	 * is left out.  No ASSERT before the driver is bound again.
	 */
	j = run_json("svmgpu-reg --json read ID INTR_MASK", &rc);
	EXPECT_EQ(rc, 0);
	EXPECT_STREQ(jstr(j, "device", NULL), slot);
	r = jget(j, "registers", NULL);
	EXPECT_EQ(jlen(r), 2);
	if (jlen(r) == 2) {
		EXPECT_STREQ(jstr(json_object_array_get_idx(r, 0), "name", NULL), "ID");
		EXPECT_STREQ(jstr(json_object_array_get_idx(r, 0), "offset", NULL), "0x0");
		EXPECT_EQ(json_object_get_int(jget(json_object_array_get_idx(r, 0), "width",
						   NULL)), 32);
		EXPECT_STREQ(jstr(json_object_array_get_idx(r, 0), "value", NULL), "0x474d5653");
		EXPECT_STREQ(jstr(json_object_array_get_idx(r, 1), "name", NULL), "INTR_MASK");
		EXPECT_STREQ(jstr(json_object_array_get_idx(r, 1), "offset", NULL), "0x54");
		EXPECT_STREQ(jstr(json_object_array_get_idx(r, 1), "value", NULL), "0x0");
	}
	json_object_put(j);
	j = run_json("svmgpu-reg --json read NO_SUCH_REG ID", &rc);
	EXPECT_EQ(rc, 1);
	r = jget(j, "registers", NULL);
	EXPECT_EQ(jlen(r), 1);
	if (jlen(r) == 1) {
		EXPECT_STREQ(jstr(json_object_array_get_idx(r, 0), "name", NULL), "ID");
	}
	json_object_put(j);
	ASSERT_EQ(sysfs_write("/sys/bus/pci/drivers/svmgpu/bind", slot), 0);
	for (i = 0, n = 0; i < 50 && n < n0; i++) {
		n = svmgpu_device_list(NULL, 0);
		if (n < n0)
			usleep(100000);
	}
	ASSERT_EQ(n, n0);
}

TEST_TIMEOUT(120)
TEST_F(tools, torture_short_run)
{
	struct json_object *j;
	int rc;

	RUN_OK("svmgpu-torture --seed 99 --ops 100 --threads 2 --procs 1", "passed (seed 99)");
	/* --progress: how far the run is */
	RUN_OK("svmgpu-torture --seed 7 --time 3 --threads 1 --procs 0 --progress 1",
	       " of 3 s (");
	RUN_OK("svmgpu-torture --seed 7 --time 3 --threads 1 --procs 0 --progress 1",
	       "operations by 1 worker(s) of this process\nsvmgpu-torture: progress: ");
	/*
	 * 256 operations, not 1k: with 1024 the case reached its 120 s on the
	 * debug kernel at load 10 (the other runs are 300 operations and two
	 * 3 s runs); the k suffix is checked by test_cli and test_tools.
	 */
	j = run_json("svmgpu-torture --json --seed 0x10 --ops 256 --threads 1 --procs 0", &rc);
	ASSERT_NOT_NULL(j);
	EXPECT_EQ(rc, 0);
	EXPECT_EQ(json_object_get_uint64(jget(j, "seed", NULL)), 16);
	EXPECT_EQ(json_object_get_uint64(jget(j, "ops_per_worker", NULL)), 256);
	EXPECT_STREQ(jstr(j, "result", NULL), "passed");
	json_object_put(j);
}

TEST_TIMEOUT(120)
TEST_F(tools, fuzz_short_run_json)
{
	struct json_object *j;
	int rc;

	j = run_json("svmgpu-fuzz --json --seed 0x5eed --ops 300 --threads 1 --hang 60", &rc);
	ASSERT_NOT_NULL(j);
	EXPECT_EQ(rc, 0);
	EXPECT_STREQ(jstr(j, "seed", NULL), "0x5eed");
	EXPECT_GE(json_object_get_uint64(jget(j, "operations", NULL)), 300);
	EXPECT_GE(json_object_get_uint64(jget(j, "ioctls", NULL)), 1);
	EXPECT_TRUE(json_object_get_boolean(jget(j, "passed", NULL)));
	json_object_put(j);
}

TEST_TIMEOUT(300)
TEST_F(tools, demo)
{
	struct json_object *j, *r;
	char *o;
	int rc, i;

	RUN_OK("svmgpu-demo", "all results verified against the CPU");
	/* -q: the verdict line alone */
	EXPECT_EQ(run("svmgpu-demo -q 2>&1", &o), 0);
	EXPECT_STREQ(o, "svmgpu-demo: all results verified against the CPU\n");
	free(o);
	j = run_json("svmgpu-demo --json -d 0", &rc);
	ASSERT_NOT_NULL(j);
	EXPECT_EQ(rc, 0);
	r = jget(j, "results", NULL);
	ASSERT_EQ(json_object_array_length(r), 9);
	for (i = 0; i < 9; i++) {
		struct json_object *k = json_object_array_get_idx(r, i);

		EXPECT_TRUE(json_object_get_boolean(jget(k, "matches_cpu", NULL)));
		EXPECT_GE(json_object_get_uint64(jget(k, "items", NULL)), 1);
	}
	EXPECT_STREQ(jstr(json_object_array_get_idx(r, 0), "kernel", NULL), "vecadd");
	EXPECT_EQ(json_object_get_int(jget(j, "failed", NULL)), 0);
	json_object_put(j);
}

/*
 * svmgpu-demo --devmem: vecadd over three 4 MiB arrays (and its argument
 * page) on system memory, after a PREFETCH and with demand migration: each
 * result matches the CPU; on system memory the device moves the 12 MiB over
 * the link and nothing locally, after the PREFETCH it works locally (12 MiB)
 * with almost nothing over the link, and demand migration moves the 3072
 * pages to the device during the first run.
 */
TEST_TIMEOUT(120)
TEST_F(tools, demo_devmem)
{
	static const char *const placement[] = { "system", "prefetch", "demand" };
	struct json_object *j, *r;
	int rc;

	if (access("/sys/kernel/debug/dri", F_OK))
		SKIP(return, "no debugfs");
	/* JSON only: one run of the demo (lib_tools is slow on the debug kernel) */
	j = run_json("svmgpu-demo -m --json", &rc);
	ASSERT_NOT_NULL(j);
	EXPECT_EQ(rc, 0);
	EXPECT_STREQ(jstr(j, "mode", NULL), "devmem");
	r = jget(j, "results", NULL);
	ASSERT_EQ(jlen(r), 3);
	for (int i = 0; i < 3; i++) {
		struct json_object *k = json_object_array_get_idx(r, i);

		EXPECT_STREQ(jstr(k, "placement", NULL), placement[i]);
		EXPECT_STREQ(jstr(k, "kernel", NULL), "vecadd");
		EXPECT_EQ(json_object_get_uint64(jget(k, "items", NULL)), 1 << 20);
		EXPECT_TRUE(json_object_get_boolean(jget(k, "matches_cpu", NULL)));
		EXPECT_GT(json_object_get_uint64(jget(k, "time_ns", NULL)), 0);
	}
#define V(i, key) json_object_get_uint64(jget(json_object_array_get_idx(r, i), key, NULL))
	EXPECT_GE(V(0, "link_bytes"), 12 << 20);
	EXPECT_EQ(V(0, "local_bytes"), 0);
	EXPECT_EQ(V(0, "pages_to_device"), 0);
	EXPECT_EQ(V(0, "prefetch_ns"), 0);
	EXPECT_GE(V(1, "local_bytes"), 12 << 20);
	EXPECT_LT(V(1, "link_bytes"), 1 << 20);
	EXPECT_EQ(V(1, "pages_to_device"), 3 * 1024 + 1);
	EXPECT_GT(V(1, "prefetch_ns"), 0);
	EXPECT_GE(V(2, "local_bytes"), 12 << 20);
	EXPECT_GE(V(2, "pages_to_device"), 3 * 1024);
#undef V
	EXPECT_EQ(json_object_get_int(jget(j, "failed", NULL)), 0);
	json_object_put(j);
}

TEST_F(tools, examples)
{
	RUN_OK(EXAMPLES "example_hello_svm", "incremented 1000 malloc'd integers");
	RUN_OK(EXAMPLES "example_pointer_chase", "agrees with the CPU");
	RUN_OK(EXAMPLES "example_asm_kernel", "lengths match the CPU");
}

TEST_HARNESS_MAIN
