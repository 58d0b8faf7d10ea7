// SPDX-License-Identifier: MIT
/*
 * Assembler host tests: every instruction's encoding, disassembly round
 * trips, labels and pseudo-instructions, and every error message.
 */
#include <errno.h>
#include <string.h>

#include "svmgpu.h"
#include "svmgpu_test.h"

#define E SVMGPU_ISA_ENCODE
#define EXPECT_NULL(p) EXPECT_TRUE((p) == NULL)
#define IMM SVMGPU_ISA_RB_IMM

static const struct {
	const char *src;
	uint64_t insn;
} encodings[] = {
	{ "NOP", E(SVMGPU_OP_NOP, 0, 0, 0, 0) },
	{ "EXIT", E(SVMGPU_OP_EXIT, 0, 0, 0, 0) },
	{ "BAR", E(SVMGPU_OP_BAR, 0, 0, 0, 0) },
	{ "JMP #-3", E(SVMGPU_OP_JMP, 0, 0, 0, -3) },
	{ "MOVI r1, #-5", E(SVMGPU_OP_MOVI, 1, 0, 0, -5) },
	{ "MOVI r1, 0xffffffff", E(SVMGPU_OP_MOVI, 1, 0, 0, -1) },
	{ "MOVHI r31, #0x12345678", E(SVMGPU_OP_MOVHI, 31, 0, 0, 0x12345678) },
	{ "S2R r2, GLOBAL_ID", E(SVMGPU_OP_S2R, 2, 0, 0, SVMGPU_SR_GLOBAL_ID) },
	{ "s2r r2, sr_args", E(SVMGPU_OP_S2R, 2, 0, 0, SVMGPU_SR_ARGS) },
	{ "S2R r0, QUEUE", E(SVMGPU_OP_S2R, 0, 0, 0, SVMGPU_SR_QUEUE) },
	{ "SEL r1, r2, r3, r4", E(SVMGPU_OP_SEL, 1, 2, 3, 4) },
	{ "MOV r1, r2", E(SVMGPU_OP_MOV, 1, 0, 2, 0) },
	{ "MOV r1, #7", E(SVMGPU_OP_MOV, 1, 0, IMM, 7) },
	{ "ADD r1, r2, r3", E(SVMGPU_OP_ADD, 1, 2, 3, 0) },
	{ "ADD r1, r2, #-1", E(SVMGPU_OP_ADD, 1, 2, IMM, -1) },
	{ "ADD r1, r2, 100", E(SVMGPU_OP_ADD, 1, 2, IMM, 100) },
	{ "SUB r1, r2, r3", E(SVMGPU_OP_SUB, 1, 2, 3, 0) },
	{ "MUL r1, r2, r3", E(SVMGPU_OP_MUL, 1, 2, 3, 0) },
	{ "MULHU r1, r2, r3", E(SVMGPU_OP_MULHU, 1, 2, 3, 0) },
	{ "DIVU r1, r2, r3", E(SVMGPU_OP_DIVU, 1, 2, 3, 0) },
	{ "DIVS r1, r2, r3", E(SVMGPU_OP_DIVS, 1, 2, 3, 0) },
	{ "REMU r1, r2, r3", E(SVMGPU_OP_REMU, 1, 2, 3, 0) },
	{ "REMS r1, r2, r3", E(SVMGPU_OP_REMS, 1, 2, 3, 0) },
	{ "AND r1, r2, #0b1010", E(SVMGPU_OP_AND, 1, 2, IMM, 10) },
	{ "OR r1, r2, r3", E(SVMGPU_OP_OR, 1, 2, 3, 0) },
	{ "XOR r1, r2, r3", E(SVMGPU_OP_XOR, 1, 2, 3, 0) },
	{ "SHL r1, r2, #2", E(SVMGPU_OP_SHL, 1, 2, IMM, 2) },
	{ "SHR r1, r2, r3", E(SVMGPU_OP_SHR, 1, 2, 3, 0) },
	{ "SAR r1, r2, r3", E(SVMGPU_OP_SAR, 1, 2, 3, 0) },
	{ "MINU r1, r2, r3", E(SVMGPU_OP_MINU, 1, 2, 3, 0) },
	{ "MAXU r1, r2, r3", E(SVMGPU_OP_MAXU, 1, 2, 3, 0) },
	{ "MINS r1, r2, r3", E(SVMGPU_OP_MINS, 1, 2, 3, 0) },
	{ "MAXS r1, r2, r3", E(SVMGPU_OP_MAXS, 1, 2, 3, 0) },
	{ "SEQ r1, r2, r3", E(SVMGPU_OP_SEQ, 1, 2, 3, 0) },
	{ "SNE r1, r2, r3", E(SVMGPU_OP_SNE, 1, 2, 3, 0) },
	{ "SLTU r1, r2, r3", E(SVMGPU_OP_SLTU, 1, 2, 3, 0) },
	{ "SLTS r1, r2, r3", E(SVMGPU_OP_SLTS, 1, 2, 3, 0) },
	{ "SLEU r1, r2, r3", E(SVMGPU_OP_SLEU, 1, 2, 3, 0) },
	{ "SLES r1, r2, r3", E(SVMGPU_OP_SLES, 1, 2, 3, 0) },
	{ "FADD r1, r2, r3", E(SVMGPU_OP_FADD, 1, 2, 3, 0) },
	{ "FADD r1, r2, #1.0f", E(SVMGPU_OP_FADD, 1, 2, IMM, 0x3f800000) },
	{ "FMUL r1, r2, -2.5f", E(SVMGPU_OP_FMUL, 1, 2, IMM, (int32_t)0xc0200000) },
	{ "FSUB r1, r2, r3", E(SVMGPU_OP_FSUB, 1, 2, 3, 0) },
	{ "FMUL r1, r2, r3", E(SVMGPU_OP_FMUL, 1, 2, 3, 0) },
	{ "FDIV r1, r2, r3", E(SVMGPU_OP_FDIV, 1, 2, 3, 0) },
	{ "FMIN r1, r2, r3", E(SVMGPU_OP_FMIN, 1, 2, 3, 0) },
	{ "FMAX r1, r2, r3", E(SVMGPU_OP_FMAX, 1, 2, 3, 0) },
	{ "FSLT r1, r2, r3", E(SVMGPU_OP_FSLT, 1, 2, 3, 0) },
	{ "FSEQ r1, r2, r3", E(SVMGPU_OP_FSEQ, 1, 2, 3, 0) },
	{ "FSLE r1, r2, r3", E(SVMGPU_OP_FSLE, 1, 2, 3, 0) },
	{ "FSQRT r1, r2", E(SVMGPU_OP_FSQRT, 1, 2, 0, 0) },
	{ "I2F r1, r2", E(SVMGPU_OP_I2F, 1, 2, 0, 0) },
	{ "F2I r1, r2", E(SVMGPU_OP_F2I, 1, 2, 0, 0) },
	{ "DADD r1, r2, r3", E(SVMGPU_OP_DADD, 1, 2, 3, 0) },
	{ "DSUB r1, r2, r3", E(SVMGPU_OP_DSUB, 1, 2, 3, 0) },
	{ "DMUL r1, r2, r3", E(SVMGPU_OP_DMUL, 1, 2, 3, 0) },
	{ "DDIV r1, r2, r3", E(SVMGPU_OP_DDIV, 1, 2, 3, 0) },
	{ "DMIN r1, r2, r3", E(SVMGPU_OP_DMIN, 1, 2, 3, 0) },
	{ "DMAX r1, r2, r3", E(SVMGPU_OP_DMAX, 1, 2, 3, 0) },
	{ "DSLT r1, r2, r3", E(SVMGPU_OP_DSLT, 1, 2, 3, 0) },
	{ "DSEQ r1, r2, r3", E(SVMGPU_OP_DSEQ, 1, 2, 3, 0) },
	{ "DSLE r1, r2, r3", E(SVMGPU_OP_DSLE, 1, 2, 3, 0) },
	{ "DSQRT r1, r2", E(SVMGPU_OP_DSQRT, 1, 2, 0, 0) },
	{ "I2D r1, r2", E(SVMGPU_OP_I2D, 1, 2, 0, 0) },
	{ "D2I r1, r2", E(SVMGPU_OP_D2I, 1, 2, 0, 0) },
	{ "F2D r1, r2", E(SVMGPU_OP_F2D, 1, 2, 0, 0) },
	{ "D2F r1, r2", E(SVMGPU_OP_D2F, 1, 2, 0, 0) },
	{ "LD8 r1, [r2+1]", E(SVMGPU_OP_LD8, 1, 2, 0, 1) },
	{ "LD16 r1, [r2-2]", E(SVMGPU_OP_LD16, 1, 2, 0, -2) },
	{ "LD32 r1, [ r2 + 0x10 ]", E(SVMGPU_OP_LD32, 1, 2, 0, 16) },
	{ "LD64 r1, [r2]", E(SVMGPU_OP_LD64, 1, 2, 0, 0) },
	{ "LDS8 r1, [r2+3]", E(SVMGPU_OP_LDS8, 1, 2, 0, 3) },
	{ "LDS16 r1, [r2+4]", E(SVMGPU_OP_LDS16, 1, 2, 0, 4) },
	{ "LDS32 r1, [r2+8]", E(SVMGPU_OP_LDS32, 1, 2, 0, 8) },
	{ "ST8 [r2+1], r3", E(SVMGPU_OP_ST8, 0, 2, 3, 1) },
	{ "ST16 [r2+2], r3", E(SVMGPU_OP_ST16, 0, 2, 3, 2) },
	{ "ST32 [r2-4], r3", E(SVMGPU_OP_ST32, 0, 2, 3, -4) },
	{ "ST64 [r2], r3", E(SVMGPU_OP_ST64, 0, 2, 3, 0) },
	{ "ATOM32 r1, [r2], r3, ADD", E(SVMGPU_OP_ATOM32, 1, 2, 3, SVMGPU_ISA_ATOM_IMM(SVMGPU_ATOMIC_ADD, 0)) },
	{ "ATOM64 r1, [r2], r3, r4, CMPXCHG",
	  E(SVMGPU_OP_ATOM64, 1, 2, 3, SVMGPU_ISA_ATOM_IMM(SVMGPU_ATOMIC_CMPXCHG, 4)) },
	{ "ATOM32 r1, [r2], r3, xchg", E(SVMGPU_OP_ATOM32, 1, 2, 3, SVMGPU_ISA_ATOM_IMM(SVMGPU_ATOMIC_XCHG, 0)) },
	{ "ATOM32 r1, [r2], r3, UMIN", E(SVMGPU_OP_ATOM32, 1, 2, 3, SVMGPU_ISA_ATOM_IMM(SVMGPU_ATOMIC_UMIN, 0)) },
	{ "ATOM32 r1, [r2], r3, UMAX", E(SVMGPU_OP_ATOM32, 1, 2, 3, SVMGPU_ISA_ATOM_IMM(SVMGPU_ATOMIC_UMAX, 0)) },
	{ "ATOM64 r1, [r2], r3, SMIN", E(SVMGPU_OP_ATOM64, 1, 2, 3, SVMGPU_ISA_ATOM_IMM(SVMGPU_ATOMIC_SMIN, 0)) },
	{ "ATOM64 r1, [r2], r3, SMAX", E(SVMGPU_OP_ATOM64, 1, 2, 3, SVMGPU_ISA_ATOM_IMM(SVMGPU_ATOMIC_SMAX, 0)) },
};

/* Assemble one line, expect exactly one instruction. */
static int asm1(const char *src, uint64_t *insn, struct svmgpu_asm_error *err)
{
	struct svmgpu_program *p;
	int ret = svmgpu_program_assemble(src, &p, err);

	if (ret)
		return ret;
	if (svmgpu_program_length(p) != 1)
		ret = -E2BIG;
	else
		*insn = svmgpu_program_code(p)[0];
	svmgpu_program_destroy(p);
	return ret;
}

TEST(every_instruction_encodes)
{
	struct svmgpu_asm_error err;
	size_t i;

	for (i = 0; i < sizeof(encodings) / sizeof(encodings[0]); i++) {
		uint64_t insn = 0;
		int ret = asm1(encodings[i].src, &insn, &err);

		if (ret)
			TH_LOG("'%s': %d %s", encodings[i].src, ret, err.message);
		ASSERT_EQ(ret, 0);
		if (insn != encodings[i].insn)
			TH_LOG("'%s': 0x%016llx, want 0x%016llx", encodings[i].src,
			       (unsigned long long)insn, (unsigned long long)encodings[i].insn);
		ASSERT_EQ(insn, encodings[i].insn);
	}
}

TEST(every_opcode_is_covered)
{
	/* every opcode of enum svmgpu_isa_opcode appears in the table above */
	static const uint8_t all[] = {
		0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09,
		0x10, 0x11, 0x12, 0x13, 0x14,
		0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b,
		0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37,
		0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x4b,
		0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x5b,
		0x5c, 0x5d, 0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x68, 0x69, 0x6a,
		0x6b, 0x70, 0x71,
	};
	size_t i, j;

	for (i = 0; i < sizeof(all); i++) {
		int found = all[i] >= SVMGPU_OP_IF && all[i] <= SVMGPU_OP_ENDLOOP;	/* block test */

		for (j = 0; j < sizeof(encodings) / sizeof(encodings[0]); j++)
			found |= SVMGPU_ISA_OP(encodings[j].insn) == all[i];
		if (!found)
			TH_LOG("opcode 0x%02x not tested", all[i]);
		EXPECT_TRUE(found);
	}
}

TEST(structured_control_encodes)
{
	static const char src[] =
		"  LOOP\n"
		"    BREAK r3\n"
		"    IF r4\n"
		"      NOP\n"
		"    ELSE\n"
		"      NOP\n"
		"    ENDIF\n"
		"  ENDLOOP\n"
		"  EXIT\n";
	static const uint64_t want[] = {
		E(SVMGPU_OP_LOOP, 0, 0, 0, 0), E(SVMGPU_OP_BREAK, 0, 3, 0, 0),
		E(SVMGPU_OP_IF, 0, 4, 0, 0), E(SVMGPU_OP_NOP, 0, 0, 0, 0),
		E(SVMGPU_OP_ELSE, 0, 0, 0, 0), E(SVMGPU_OP_NOP, 0, 0, 0, 0),
		E(SVMGPU_OP_ENDIF, 0, 0, 0, 0), E(SVMGPU_OP_ENDLOOP, 0, 0, 0, 0),
		E(SVMGPU_OP_EXIT, 0, 0, 0, 0),
	};
	struct svmgpu_program *p;
	size_t i;

	ASSERT_EQ(svmgpu_program_assemble(src, &p, NULL), 0);
	ASSERT_EQ(svmgpu_program_length(p), sizeof(want) / sizeof(want[0]));
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		EXPECT_EQ(svmgpu_program_code(p)[i], want[i]);
	EXPECT_EQ((uintptr_t)svmgpu_program_code(p) % 8, 0);
	svmgpu_program_destroy(p);
}

TEST(labels_and_jumps)
{
	static const char src[] =
		"start:  NOP           ; a comment\n"
		"        JMP end       // another\n"
		"mid:\n"
		"        JMP start\n"
		"end: done: EXIT\n";
	struct svmgpu_program *p;
	const uint64_t *c;

	ASSERT_EQ(svmgpu_program_assemble(src, &p, NULL), 0);
	ASSERT_EQ(svmgpu_program_length(p), 4);
	c = svmgpu_program_code(p);
	EXPECT_EQ(c[1], E(SVMGPU_OP_JMP, 0, 0, 0, 2));
	EXPECT_EQ(c[2], E(SVMGPU_OP_JMP, 0, 0, 0, -2));
	EXPECT_EQ(svmgpu_program_symbol(p, "start"), 0);
	EXPECT_EQ(svmgpu_program_symbol(p, "mid"), 2);
	EXPECT_EQ(svmgpu_program_symbol(p, "end"), 3);
	EXPECT_EQ(svmgpu_program_symbol(p, "done"), 3);
	EXPECT_EQ(svmgpu_program_symbol(p, "nope"), -ENOENT);
	svmgpu_program_destroy(p);
}

TEST(li_pseudo_instruction)
{
	struct svmgpu_program *p;
	const uint64_t *c;

	ASSERT_EQ(svmgpu_program_assemble("LI r1, 5\nLI r2, 0x123456789abcdef0\nLI r3, -1\n"
					  "LI r4, 1.0d\nLI r5, 0x80000000\n", &p, NULL), 0);
	c = svmgpu_program_code(p);
	ASSERT_EQ(svmgpu_program_length(p), 8);
	EXPECT_EQ(c[0], E(SVMGPU_OP_MOVI, 1, 0, 0, 5));
	EXPECT_EQ(c[1], E(SVMGPU_OP_MOVI, 2, 0, 0, (int32_t)0x9abcdef0));
	EXPECT_EQ(c[2], E(SVMGPU_OP_MOVHI, 2, 0, 0, 0x12345678));
	EXPECT_EQ(c[3], E(SVMGPU_OP_MOVI, 3, 0, 0, -1));
	EXPECT_EQ(c[4], E(SVMGPU_OP_MOVI, 4, 0, 0, 0));
	EXPECT_EQ(c[5], E(SVMGPU_OP_MOVHI, 4, 0, 0, 0x3ff00000));
	/* 0x80000000 sign-extends as a MOVI, so it needs a MOVHI of 0 */
	EXPECT_EQ(c[6], E(SVMGPU_OP_MOVI, 5, 0, 0, (int32_t)0x80000000));
	EXPECT_EQ(c[7], E(SVMGPU_OP_MOVHI, 5, 0, 0, 0));
	svmgpu_program_destroy(p);
	ASSERT_EQ(svmgpu_program_assemble("LI r5, 0x80000000\n", &p, NULL), 0);
	EXPECT_EQ(svmgpu_program_length(p), 2);
	svmgpu_program_destroy(p);
}

TEST(disassembly_round_trips)
{
	size_t i;

	for (i = 0; i < sizeof(encodings) / sizeof(encodings[0]); i++) {
		char text[96];
		uint64_t again = 0;
		int ret = svmgpu_insn_disassemble(encodings[i].insn, text, sizeof(text));

		ASSERT_GT(ret, 0);
		ret = asm1(text, &again, NULL);
		if (ret || again != encodings[i].insn)
			TH_LOG("'%s' -> '%s' does not round-trip", encodings[i].src, text);
		ASSERT_EQ(ret, 0);
		ASSERT_EQ(again, encodings[i].insn);
	}
}

TEST(disassemble_rejects_unknown)
{
	char text[64];

	EXPECT_EQ(svmgpu_insn_disassemble(0xfe, text, sizeof(text)), -EINVAL);
	EXPECT_STREQ(text, ".word 0x00000000000000fe");
	EXPECT_EQ(svmgpu_insn_disassemble(E(SVMGPU_OP_S2R, 1, 0, 0, 99), text, sizeof(text)), -EINVAL);
	EXPECT_EQ(svmgpu_insn_disassemble(E(SVMGPU_OP_ATOM32, 1, 2, 3, 0x900), text, sizeof(text)),
		  -EINVAL);
}

TEST(ready_kernels_assemble)
{
	int k;

	for (k = 0; k < SVMGPU_KERNEL_COUNT; k++) {
		struct svmgpu_program *p;
		struct svmgpu_asm_error err;
		int ret = svmgpu_program_assemble(svmgpu_kernel_source(k), &p, &err);

		if (ret)
			TH_LOG("%s: %s", svmgpu_kernel_name(k), err.message);
		ASSERT_EQ(ret, 0);
		ASSERT_EQ(svmgpu_program_destroy(p), 0);
		ASSERT_EQ(svmgpu_kernel_program(k, &p), 0);
		svmgpu_program_destroy(p);
	}
	EXPECT_NULL(svmgpu_kernel_source(SVMGPU_KERNEL_COUNT));
	EXPECT_EQ(svmgpu_kernel_program(SVMGPU_KERNEL_COUNT, NULL), -EINVAL);
}

/* Every error message, with the line it must be reported on. */
static const struct {
	const char *src;
	unsigned int line;
	const char *message;
} errors[] = {
	{ "NOP\nFOO r1\n", 2, "line 2: unknown instruction 'FOO'" },
	{ "ADD r1, r2\n", 1, "line 1: ADD takes operands 'rD, rA, rB|imm', got 2 operands" },
	{ "IF\nENDIF\n", 1, "line 1: IF takes operands 'rA', got 0 operands" },
	{ "NOP r1\n", 1, "line 1: NOP takes no operands" },
	{ "ADD x1, r2, r3\n", 1, "line 1: expected a register, got 'x1'" },
	{ "ADD r1, r2x, r3\n", 1, "line 1: expected a register, got 'r2x'" },
	{ "MOV r32, r1\n", 1, "line 1: register 'r32' out of range (r0..r31)" },
	{ "MOVI r1, #zz\n", 1, "line 1: bad number '#zz'" },
	{ "MOVI r1, #0x100000000\n", 1, "line 1: immediate '#0x100000000' does not fit in 32 bits" },
	{ "MOVI r1, #-2147483649\n", 1, "line 1: immediate '#-2147483649' does not fit in 32 bits" },
	{ "LI r1, 0x10000000000000000\n", 1, "line 1: number '0x10000000000000000' out of range" },
	{ "MOVI r1, 1.0d\n", 1, "line 1: f64 literal '1.0d' needs LI" },
	{ "S2R r1, FOO\n", 1, "line 1: unknown special register 'FOO'" },
	{ "LD32 r1, r2\n", 1, "line 1: bad memory operand 'r2', expected [rN+offset]" },
	{ "LD32 r1, [r2+]\n", 1, "line 1: bad memory operand '[r2+]', expected [rN+offset]" },
	{ "LD32 r1, [r2+0x100000000]\n", 1, "line 1: offset in '[r2+0x100000000]' does not fit in 32 bits" },
	{ "ATOM32 r1, [r2], r3, FOO\n", 1, "line 1: unknown atomic op 'FOO'" },
	{ "ATOM32 r1, [r2+4], r3, ADD\n", 1, "line 1: atomics take no offset: '[r2+4]'" },
	{ "ATOM32 r1, [r2], r3, CMPXCHG\n", 1,
	  "line 1: CMPXCHG needs a compare register: ATOM32 rD, [rA], rB, rC, CMPXCHG" },
	{ "a: NOP\na: NOP\n", 2, "line 2: duplicate label 'a'" },
	{ "JMP nowhere\n", 1, "line 1: undefined label 'nowhere'" },
	{ "r1: NOP\n", 1, "line 1: bad label name 'r1'" },
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa: NOP\n", 1,
	  "line 1: label 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' is longer than 63 characters" },
	{ "ELSE\n", 1, "line 1: ELSE without IF" },
	{ "LOOP\nELSE\nENDLOOP\n", 2, "line 2: ELSE without IF" },
	{ "IF r1\nELSE\nELSE\nENDIF\n", 3, "line 3: second ELSE for the IF of line 1" },
	{ "ENDIF\n", 1, "line 1: ENDIF without IF" },
	{ "LOOP\nENDIF\n", 2, "line 2: ENDIF closes the LOOP of line 1" },
	{ "ENDLOOP\n", 1, "line 1: ENDLOOP without LOOP" },
	{ "IF r1\nENDLOOP\n", 2, "line 2: ENDLOOP closes the IF of line 1" },
	{ "IF r1\nBREAK r1\nENDIF\n", 2, "line 2: BREAK outside a LOOP" },
	{ "NOP\nIF r1\nNOP\n", 2, "line 2: IF is never closed by ENDIF" },
	{ "LOOP\n", 1, "line 1: LOOP is never closed by ENDLOOP" },
	{ "IF r1\nIF r1\nIF r1\nIF r1\nIF r1\nIF r1\nIF r1\nIF r1\n"
	  "IF r1\nIF r1\nIF r1\nIF r1\nIF r1\nIF r1\nIF r1\nIF r1\nLOOP\n", 17,
	  "line 17: IF/LOOP nested deeper than 16" },
	{ "IF r1\nJMP out\nENDIF\nout: EXIT\n", 2, "line 2: JMP to 'out' leaves or enters an IF/LOOP region" },
	{ "JMP in\nIF r1\nin: NOP\nENDIF\n", 1, "line 1: JMP to 'in' leaves or enters an IF/LOOP region" },
	{ "; only a comment\n\n", 0, "empty program: no instructions" },
	{ "ADD r1, r2, r3, r4, r5, r6, r7\n", 1, "line 1: too many operands" },
	{ "ADD r1, , r3\n", 1, "line 1: empty operand" },
};

TEST(every_error_message)
{
	size_t i;

	for (i = 0; i < sizeof(errors) / sizeof(errors[0]); i++) {
		struct svmgpu_program *p = (void *)1;
		struct svmgpu_asm_error err;
		int ret = svmgpu_program_assemble(errors[i].src, &p, &err);

		if (ret != -EINVAL || strcmp(err.message, errors[i].message))
			TH_LOG("case %zu: ret %d message '%s', want '%s'", i, ret, err.message,
			       errors[i].message);
		ASSERT_EQ(ret, -EINVAL);
		ASSERT_TRUE(p == NULL);
		ASSERT_STREQ(err.message, errors[i].message);
		ASSERT_EQ(err.line, errors[i].line);
	}
}

TEST(error_without_error_struct)
{
	struct svmgpu_program *p;

	EXPECT_EQ(svmgpu_program_assemble("BOGUS\n", &p, NULL), -EINVAL);
	EXPECT_EQ(svmgpu_program_assemble(NULL, &p, NULL), -EINVAL);
	EXPECT_EQ(svmgpu_program_assemble("NOP", NULL, NULL), -EINVAL);
}

TEST(program_create_and_accessors)
{
	static const uint64_t insns[] = { E(SVMGPU_OP_NOP, 0, 0, 0, 0), E(SVMGPU_OP_EXIT, 0, 0, 0, 0) };
	struct svmgpu_program *p;

	ASSERT_EQ(svmgpu_program_create(insns, 2, &p), 0);
	EXPECT_EQ(svmgpu_program_length(p), 2);
	EXPECT_EQ(memcmp(svmgpu_program_code(p), insns, sizeof(insns)), 0);
	EXPECT_EQ(svmgpu_program_symbol(p, "x"), -ENOENT);
	EXPECT_EQ(svmgpu_program_destroy(p), 0);
	EXPECT_EQ(svmgpu_program_create(insns, 0, &p), -EINVAL);
	EXPECT_EQ(svmgpu_program_destroy(NULL), -EINVAL);
	EXPECT_TRUE(svmgpu_program_code(NULL) == NULL);
	EXPECT_EQ(svmgpu_program_length(NULL), 0);
}

TEST(no_trailing_newline_and_crlf)
{
	struct svmgpu_program *p;

	ASSERT_EQ(svmgpu_program_assemble("NOP\r\nEXIT", &p, NULL), 0);
	EXPECT_EQ(svmgpu_program_length(p), 2);
	svmgpu_program_destroy(p);
}

TEST_HARNESS_MAIN
