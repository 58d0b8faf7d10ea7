// SPDX-License-Identifier: MIT
/*
 * svmgpu-reg's register lookup (common/regs.c): names and byte offsets
 * give the register's own width and access, so a write by offset touches
 * that register alone; and its table is docs/hw-spec.md's.
 */
#include <errno.h>
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
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
	EXPECT_EQ(r.access, REG_RO);
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
	EXPECT_EQ(r.access, REG_W1C);
	EXPECT_STREQ(name, "INTR_STATUS");
	r = look("0", name, &ret);
	ASSERT_EQ(ret, 0);
	EXPECT_EQ(r.access, REG_RO);
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
	EXPECT_EQ(r.access, REG_RW);
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

static const struct reg_desc *find_reg(const struct reg_desc *tab, unsigned int n,
				       const char *name)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (!strcmp(tab[i].name, name))
			return &tab[i];
	return NULL;
}

/*
 * One register as docs/hw-spec.md gives it, against the tools' table:
 * 1 if it matches, else 0 with the difference logged.
 */
static int spec_matches(const char *name, unsigned long off, unsigned int width,
			const char *access)
{
	int queue = !strncmp(name, "Q_", 2);
	const struct reg_desc *r = queue ? find_reg(queue_regs, nr_queue_regs, name + 2) :
					   find_reg(global_regs, nr_global_regs, name);

	if (!r) {
		TH_LOG("hw-spec's %s (0x%lx) is missing from common/regs.c", name, off);
		return 0;
	}
	if (r->offset != off || r->width != width || strcmp(reg_access_name(r), access)) {
		TH_LOG("%s: hw-spec 0x%lx %u-bit %s, common/regs.c 0x%x %u-bit %s", name, off,
		       width, access, r->offset, r->width, reg_access_name(r));
		return 0;
	}
	return 1;
}

/*
 * The tools' register table is the specification's: every row of
 * docs/hw-spec.md's register tables ("| 0x030 | `CONTROL` | 32 | RW |",
 * queue registers "Q_"), and every counter of its section 10 (64-bit, RO),
 * is in common/regs.c with that offset, width and access, and the table has
 * nothing else.  (The offsets themselves come from the layout header.)
 */
TEST(the_table_is_hw_specs)
{
	FILE *f = fopen(SVMGPU_HW_SPEC, "r");
	unsigned int rows = 0, queue_rows = 0, ok = 0;
	char line[4096], sect[8192] = "", *p = sect;
	regmatch_t m[5];
	regex_t row, cnt;
	int counters = 0;

	ASSERT_NE(f, NULL);
	ASSERT_EQ(regcomp(&row, "^\\| 0x([0-9a-f]+) \\| `([A-Z0-9_]+)` \\| (32|64) \\| "
			  "(RO|RW|WO|W1C) \\|", REG_EXTENDED), 0);
	ASSERT_EQ(regcomp(&cnt, "0x([0-9a-f]+) `([A-Z0-9_]+)`", REG_EXTENDED), 0);
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "## ", 3))
			counters = !strncmp(line, "## 10. Counters", 15);
		/* section 10's text, its lines joined: a name may follow on the next */
		if (counters && strlen(sect) + strlen(line) < sizeof(sect)) {
			line[strcspn(line, "\n")] = ' ';
			strcat(sect, line);
			continue;
		}
		if (!regexec(&row, line, 5, m, 0)) {
			line[m[2].rm_eo] = line[m[3].rm_eo] = line[m[4].rm_eo] = 0;
			ok += spec_matches(line + m[2].rm_so, strtoul(line + m[1].rm_so, NULL, 16),
					   atoi(line + m[3].rm_so), line + m[4].rm_so);
			if (!strncmp(line + m[2].rm_so, "Q_", 2))
				queue_rows++;
			else
				rows++;
		}
	}
	fclose(f);
	while (!regexec(&cnt, p, 3, m, 0)) {
		char name[64];

		p[m[2].rm_eo] = 0;
		snprintf(name, sizeof(name), "CNT_%s", p + m[2].rm_so);
		ok += spec_matches(name, strtoul(p + m[1].rm_so, NULL, 16), 64, "RO");
		rows++;
		p += m[2].rm_eo + 1;
	}
	regfree(&row);
	regfree(&cnt);
	EXPECT_EQ(ok, rows + queue_rows);
	EXPECT_EQ(rows, nr_global_regs);
	EXPECT_EQ(queue_rows, nr_queue_regs);
}

TEST_HARNESS_MAIN
