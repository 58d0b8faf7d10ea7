// SPDX-License-Identifier: MIT
/*
 * The tools' command-line helpers (common/cli.c): every number a tool
 * accepts and every one it must refuse, device selections, JSON numbers.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "cli.h"
#include "svmgpu_test.h"

static const struct {
	const char *s;
	uint64_t v;
} good[] = {
	{ "0", 0 }, { "1", 1 }, { "1000000", 1000000 }, { "007", 7 },
	{ "4k", 4096 }, { "4K", 4096 }, { "64M", 64ull << 20 }, { "64m", 64ull << 20 },
	{ "1G", 1ull << 30 }, { "2T", 2ull << 40 }, { "0x10", 16 }, { "0XfF", 255 },
	{ "0x10k", 16 << 10 }, { "18446744073709551615", UINT64_MAX },
	{ "0xffffffffffffffff", UINT64_MAX }, { "16777215T", 16777215ull << 40 },
};

static const struct {
	const char *s;
	int err;
} bad[] = {
	{ "", -EINVAL }, { "1e6", -EINVAL }, { "1E6", -EINVAL }, { "-1", -EINVAL },
	{ "+1", -EINVAL }, { " 1", -EINVAL }, { "1 ", -EINVAL }, { "12abc", -EINVAL },
	{ "1.5", -EINVAL }, { "0x", -EINVAL }, { "0xg", -EINVAL }, { "4KB", -EINVAL },
	{ "4kk", -EINVAL }, { "k", -EINVAL }, { "1P", -EINVAL }, { "ten", -EINVAL },
	{ "18446744073709551616", -ERANGE }, { "0x10000000000000000", -ERANGE },
	{ "16777216T", -ERANGE }, { "99999999999999999999999", -ERANGE },
};

TEST(numbers_accepted)
{
	unsigned int i;
	uint64_t v;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		v = 0xdead;
		EXPECT_EQ(cli_parse_u64(good[i].s, &v), 0);
		EXPECT_EQ(v, good[i].v);
	}
}

TEST(numbers_refused_and_output_untouched)
{
	unsigned int i;
	uint64_t v;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = 0xdead;
		EXPECT_EQ(cli_parse_u64(bad[i].s, &v), bad[i].err);
		EXPECT_EQ(v, 0xdead);
	}
	EXPECT_EQ(cli_parse_u64(NULL, &v), -EINVAL);
}

TEST(device_selections)
{
	struct cli_device d;

	ASSERT_EQ(cli_parse_device("0", &d), 0);
	EXPECT_EQ(d.kind, CLI_DEV_INDEX);
	EXPECT_EQ(d.index, 0);
	ASSERT_EQ(cli_parse_device("3", &d), 0);
	EXPECT_EQ(d.index, 3);
	EXPECT_STREQ(cli_device_str(&d), "3");
	ASSERT_EQ(cli_parse_device("/dev/dri/renderD129", &d), 0);
	EXPECT_EQ(d.kind, CLI_DEV_PATH);
	EXPECT_STREQ(d.name, "/dev/dri/renderD129");
	ASSERT_EQ(cli_parse_device("0000:00:04.0", &d), 0);
	EXPECT_EQ(d.kind, CLI_DEV_PCI);
	EXPECT_STREQ(d.name, "0000:00:04.0");
	ASSERT_EQ(cli_parse_device("0A:1f.7", &d), 0);
	EXPECT_STREQ(d.name, "0000:0a:1f.7");
	EXPECT_EQ(cli_parse_device("", &d), -EINVAL);
	EXPECT_EQ(cli_parse_device("-1", &d), -EINVAL);
	EXPECT_EQ(cli_parse_device("1k", &d), -EINVAL);
	EXPECT_EQ(cli_parse_device("64", &d), -EINVAL);
	EXPECT_EQ(cli_parse_device("renderD128", &d), -EINVAL);
	EXPECT_EQ(cli_parse_device("0000:00:20.0", &d), -EINVAL);
	EXPECT_EQ(cli_parse_device("0000:00:04.8", &d), -EINVAL);
	EXPECT_EQ(cli_parse_device("0000:00:04.0x", &d), -EINVAL);
}

TEST(json_numbers_are_exact)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "max", cli_json_u64(UINT64_MAX));
	json_object_object_add(o, "va", cli_json_hex(0x7f0000001000ull));
	EXPECT_STREQ(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
		     "{\"max\":18446744073709551615,\"va\":\"0x7f0000001000\"}");
	json_object_put(o);
}

TEST_HARNESS_MAIN
