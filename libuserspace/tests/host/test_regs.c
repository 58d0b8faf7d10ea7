// SPDX-License-Identifier: MIT
/*
 * svmgpu-reg's register lookup (common/regs.c): names and byte offsets
 * give the register's own width and access, so a write by offset touches
 * that register alone.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <svmgpu/svmgpu_hw.h>

#include "regs.h"
#include "svmgpu_test.h"

static struct reg_desc look(const char *s, char *name, int *ret)
{
	struct reg_desc r = { 0 };

	*ret = reg_lookup(s, &r, name, 64);
	return r;
}

TEST(names)
{
	struct reg_desc r;
	char name[64];
	int ret;

	r = look("status", name, &ret);
	ASSERT_EQ(ret, 0);
	EXPECT_EQ(r.offset, SVMGPU_REG_STATUS);
	EXPECT_EQ(r.writable, 0);
	EXPECT_STREQ(name, "STATUS");
	r = look("SVMGPU_REG_CTX_TABLE_BASE", name, &ret);
	ASSERT_EQ(ret, 0);
	EXPECT_EQ(r.width, 64);
	r = look("q3_error_va", name, &ret);
	ASSERT_EQ(ret, 0);
	EXPECT_EQ(r.offset, SVMGPU_REG_Q(3, SVMGPU_Q_ERROR_VA));
	EXPECT_STREQ(name, "Q3_ERROR_VA");
	look("FROB", name, &ret);
	EXPECT_EQ(ret, -ENOENT);
	look("Q99_BASE", name, &ret);
	EXPECT_EQ(ret, -ENOENT);
}

/* An offset is the register there: its name, width and access. */
TEST(offsets_are_the_registers_there)
{
	struct reg_desc r;
	char name[64];
	int ret;

	/* 0x50 is INTR_STATUS: a 64-bit write would zero INTR_MASK at 0x54 */
	r = look("0x50", name, &ret);
	ASSERT_EQ(ret, 0);
	EXPECT_EQ(r.offset, SVMGPU_REG_INTR_STATUS);
	EXPECT_EQ(r.width, 32);
	EXPECT_EQ(r.writable, 1);
	EXPECT_STREQ(name, "INTR_STATUS");
	r = look("0", name, &ret);
	ASSERT_EQ(ret, 0);
	EXPECT_EQ(r.writable, 0);
	EXPECT_STREQ(name, "ID");
	r = look("0x60", name, &ret);
	ASSERT_EQ(ret, 0);
	EXPECT_EQ(r.width, 64);
	EXPECT_STREQ(name, "CTX_TABLE_BASE");
	r = look("0x1050", name, &ret);
	ASSERT_EQ(ret, 0);
	EXPECT_EQ(r.width, 32);
	EXPECT_STREQ(name, "Q0_PRIORITY");
	r = look("0x1088", name, &ret);
	ASSERT_EQ(ret, 0);
	EXPECT_EQ(r.offset, SVMGPU_REG_Q(1, SVMGPU_Q_SIZE));
	EXPECT_STREQ(name, "Q1_SIZE");
}

/*
 * Offsets are 0x hex or decimal, as every number of the tools: 0100 is
 * 100 (0x64), not octal 0x40 (a write to another register); anything but
 * digits after the prefix is no offset.
 */
TEST(offsets_are_hex_or_decimal_never_octal)
{
	struct reg_desc r;
	char name[64];
	int ret;

	r = look("0100", name, &ret);
	ASSERT_EQ(ret, 0);
	EXPECT_EQ(r.offset, 100);
	r = look("080", name, &ret);
	ASSERT_EQ(ret, 0);
	EXPECT_EQ(r.offset, 80);
	r = look("0X50", name, &ret);
	ASSERT_EQ(ret, 0);
	EXPECT_EQ(r.offset, SVMGPU_REG_INTR_STATUS);
	look("0x", name, &ret);
	EXPECT_EQ(ret, -ENOENT);
	look("0x-50", name, &ret);
	EXPECT_EQ(ret, -ENOENT);
	look("0x 50", name, &ret);
	EXPECT_EQ(ret, -ENOENT);
	look("0x50g", name, &ret);
	EXPECT_EQ(ret, -ENOENT);
	look("99999999999999999999999", name, &ret);
	EXPECT_EQ(ret, -ENOENT);
}

/* Anything else (a 64-bit register's high half, reserved space) is 32 bits. */
TEST(other_offsets_are_32_bit_words)
{
	struct reg_desc r;
	char name[64];
	int ret;

	r = look("0x64", name, &ret);
	ASSERT_EQ(ret, 0);
	EXPECT_EQ(r.width, 32);
	EXPECT_EQ(r.writable, 1);
	EXPECT_STREQ(name, "0x0064");
	r = look("0xff8", name, &ret);
	ASSERT_EQ(ret, 0);
	EXPECT_EQ(r.width, 32);
	look("0x2", name, &ret);
	EXPECT_EQ(ret, -ENOENT);
	look("0x10000", name, &ret);
	EXPECT_EQ(ret, -ENOENT);
	look("0x50k", name, &ret);
	EXPECT_EQ(ret, -ENOENT);
}

TEST_HARNESS_MAIN
