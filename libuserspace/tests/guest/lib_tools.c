// SPDX-License-Identifier: MIT
/*
 * lib_tools: the installed tools and examples run on the device and say
 * what they should: svmgpu-info, svmgpu-as, svmgpu-run, svmgpu-reg,
 * svmgpu-torture, svmgpu-demo and the three examples.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

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
	RUN_OK("svmgpu-demo --help", "usage: svmgpu-demo");
	RUN_OK("svmgpu-torture --help", "usage: svmgpu-torture");
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
	       "svmgpu-as -d /tmp/va.bin", "FADD r7, r7, r8");
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
	char *o;

	EXPECT_EQ(run("svmgpu-reg write CONTROL 0 2>&1", &o), 1);
	EXPECT_TRUE(strstr(o, "refusing to write") != NULL);
	free(o);
	RUN_OK("svmgpu-reg list", "Q<n>_ERROR_VA");
}

/* Bring-up without the driver: unbind, read and write registers, rebind. */
static int sysfs_write(const char *path, const char *val)
{
	FILE *f = fopen(path, "w");
	int ok;

	if (!f)
		return -errno;
	ok = fputs(val, f) >= 0;
	return fclose(f) == 0 && ok ? 0 : -EIO;
}

TEST_TIMEOUT(60)
TEST_F(tools, reg_without_the_driver)
{
	struct svmgpu_device_desc d;
	char slot[32], *o;
	int i, n;

	ASSERT_EQ(svmgpu_device_list(&d, 1), 1);
	snprintf(slot, sizeof(slot), "%04x:%02x:%02x.%u", d.pci_domain, d.pci_bus, d.pci_dev,
		 d.pci_func);
	ASSERT_EQ(sysfs_write("/sys/bus/pci/drivers/svmgpu/unbind", slot), 0);
	RUN_OK("svmgpu-reg read ID VERSION Q0_STATUS", "0x474d5653");
	RUN_OK("svmgpu-reg dump", "CNT_FAULTS");
	RUN_OK("svmgpu-reg write INTR_MASK 0x5", "0x00000005");
	RUN_OK("svmgpu-reg read INTR_MASK", "0x00000005");
	RUN_OK("svmgpu-reg write 0x54 0", "0x00000000");
	EXPECT_EQ(run("svmgpu-reg read NO_SUCH_REG 2>&1", &o), 1);
	EXPECT_TRUE(strstr(o, "unknown register 'NO_SUCH_REG'") != NULL);
	free(o);
	EXPECT_EQ(run("svmgpu-reg write STATUS 1 2>&1", &o), 1);
	EXPECT_TRUE(strstr(o, "STATUS is read-only") != NULL);
	free(o);
	ASSERT_EQ(sysfs_write("/sys/bus/pci/drivers/svmgpu/bind", slot), 0);
	for (i = 0, n = 0; i < 50 && n <= 0; i++) {
		n = svmgpu_device_list(NULL, 0);
		if (n <= 0)
			usleep(100000);
	}
	ASSERT_EQ(n, 1);
}

TEST_TIMEOUT(120)
TEST_F(tools, torture_short_run)
{
	RUN_OK("svmgpu-torture --seed 99 --ops 100 --threads 2 --procs 1", "passed (seed 99)");
}

TEST_TIMEOUT(300)
TEST_F(tools, demo)
{
	RUN_OK("svmgpu-demo", "all results verified against the CPU");
}

TEST_F(tools, examples)
{
	RUN_OK(EXAMPLES "example_hello_svm", "incremented 1000 malloc'd integers");
	RUN_OK(EXAMPLES "example_pointer_chase", "agrees with the CPU");
	RUN_OK(EXAMPLES "example_asm_kernel", "lengths match the CPU");
}

TEST_HARNESS_MAIN
