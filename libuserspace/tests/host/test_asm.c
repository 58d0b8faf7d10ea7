// SPDX-License-Identifier: MIT
/*
 * Assembler host tests: every instruction's encoding, disassembly round
 * trips (ready kernels, random words), labels, pseudo-instructions,
 * expressions, .equ, .struct, .word/.dword, macros, and every error
 * message with its line and column.
 */
#include <errno.h>
#include <locale.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
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
	{ "FFMA r1, r2, r3", E(SVMGPU_OP_FFMA, 1, 2, 3, 0) },
	{ "FFMA r1, r2, 2.5f", E(SVMGPU_OP_FFMA, 1, 2, IMM, 0x40200000) },
	{ "DFMA r31, r0, r7", E(SVMGPU_OP_DFMA, 31, 0, 7, 0) },
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

/* Every error message, with the line and column it must be reported at. */
static const struct {
	const char *src;
	unsigned int line, column;
	const char *message;
} errors[] = {
	{ "NOP\nFOO r1\n", 2, 1, "unknown instruction 'FOO'" },
	{ "ADD r1, r2\n", 1, 5, "ADD takes operands 'rD, rA, rB|imm', got 2 operands" },
	{ "IF\nENDIF\n", 1, 1, "IF takes operands 'rA', got 0 operands" },
	{ "NOP r1\n", 1, 5, "NOP takes no operands" },
	{ "ADD x1, r2, r3\n", 1, 5, "expected a register, got 'x1'" },
	{ "ADD r1, r2x, r3\n", 1, 9, "expected a register, got 'r2x'" },
	{ "  MOV r32, r1\n", 1, 7, "register 'r32' out of range (r0..r31)" },
	{ "MOVI r1, #zz\n", 1, 11, "undefined symbol 'zz'" },
	{ "MOVI r1, 12ab\n", 1, 10, "bad number '12ab'" },
	{ "MOVI r1, 0x\n", 1, 10, "bad number '0x'" },
	{ "MOVI r1, 0x0x10\n", 1, 10, "bad number '0x0x10'" },
	{ ".word 0X0x1f\n", 1, 7, "bad number '0X0x1f'" },
	{ "MOVI r1, 0b0b11\n", 1, 10, "bad number '0b0b11'" },
	{ "MOVI r1, 0b12\n", 1, 10, "bad number '0b12'" },
	{ "MOVI r1, #0x100000000\n", 1, 10, "immediate '#0x100000000' does not fit in 32 bits" },
	{ "MOVI r1, #-2147483649\n", 1, 10, "immediate '#-2147483649' does not fit in 32 bits" },
	{ "LI r1, 0x10000000000000000\n", 1, 8, "number '0x10000000000000000' out of range" },
	{ "MOVI r1, 1.0d\n", 1, 10, "f64 literal '1.0d' needs LI or .word" },
	{ "S2R r1, FOO\n", 1, 9, "unknown special register 'FOO'" },
	{ "LD32 r1, r2\n", 1, 10, "bad memory operand 'r2', expected [rN+offset]" },
	{ "LD32 r1, [r2+]\n", 1, 14, "bad memory operand '[r2+]', expected [rN+offset]" },
	{ "LD32 r1, [r2*4]\n", 1, 13, "bad memory operand '[r2*4]', expected [rN+offset]" },
	{ "LD32 r1, [r2+0x100000000]\n", 1, 13, "offset in '[r2+0x100000000]' does not fit in 32 bits" },
	{ "ATOM32 r1, [r2], r3, FOO\n", 1, 22, "unknown atomic op 'FOO'" },
	{ "ATOM32 r1, [r2+4], r3, ADD\n", 1, 12, "atomics take no offset: '[r2+4]'" },
	{ "ATOM32 r1, [r2], r3, CMPXCHG\n", 1, 22,
	  "CMPXCHG needs a compare register: ATOM32 rD, [rA], rB, rC, CMPXCHG" },
	{ "a: NOP\n  a: NOP\n", 2, 3, "duplicate label 'a' (first defined at line 1)" },
	{ "JMP nowhere\n", 1, 5, "undefined label 'nowhere'" },
	{ "r1: NOP\n", 1, 1, "bad label name 'r1'" },
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa: NOP\n", 1, 1,
	  "label 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' is longer than 63 characters" },
	{ "ELSE\n", 1, 1, "ELSE without IF" },
	{ "LOOP\n ELSE\nENDLOOP\n", 2, 2, "ELSE without IF" },
	{ "IF r1\nELSE\nELSE\nENDIF\n", 3, 1, "second ELSE for the IF of line 1" },
	{ "ENDIF\n", 1, 1, "ENDIF without IF" },
	{ "LOOP\nENDIF\n", 2, 1, "ENDIF closes the LOOP of line 1" },
	{ "ENDLOOP\n", 1, 1, "ENDLOOP without LOOP" },
	{ "IF r1\nENDLOOP\n", 2, 1, "ENDLOOP closes the IF of line 1" },
	{ "IF r1\nBREAK r1\nENDIF\n", 2, 1, "BREAK outside a LOOP" },
	{ "NOP\n  IF r1\nNOP\n", 2, 3, "IF is never closed by ENDIF" },
	{ "LOOP\n", 1, 1, "LOOP is never closed by ENDLOOP" },
	{ "IF r1\nIF r1\nIF r1\nIF r1\nIF r1\nIF r1\nIF r1\nIF r1\n"
	  "IF r1\nIF r1\nIF r1\nIF r1\nIF r1\nIF r1\nIF r1\nIF r1\nLOOP\n", 17, 1,
	  "IF/LOOP nested deeper than 16" },
	{ "IF r1\nJMP out\nENDIF\nout: EXIT\n", 2, 5, "JMP to 'out' leaves or enters an IF/LOOP region" },
	{ "JMP in\nIF r1\nin: NOP\nENDIF\n", 1, 5, "JMP to 'in' leaves or enters an IF/LOOP region" },
	{ "; only a comment\n\n", 0, 0, "empty program: no instructions" },
	{ ".word 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17\n", 1, 61,
	  "too many operands (at most 16)" },
	{ "ADD r1, , r3\n", 1, 8, "empty operand" },
	/* expressions */
	{ "MOVI r1, (1 + 2\n", 1, 10, "missing ')'" },
	{ "MOVI r1, 1 +\n", 1, 13, "expected a value" },
	{ "MOVI r1, 4 / (2 - 2)\n", 1, 12, "division by zero" },
	{ "MOVI r1, 4 % 0\n", 1, 12, "division by zero" },
	{ "MOVI r1, 1 << 64\n", 1, 12, "shift count 64 out of range (0..63)" },
	{ "MOVI r1, 1 2\n", 1, 12, "unexpected '2' after an expression" },
	{ "MOVI r1, $1\n", 1, 10, "unexpected '$' in an expression" },
	/* .equ */
	{ ".equ N\n", 1, 1, ".equ takes 'NAME, value', got 1 operand" },
	{ ".equ 9x, 1\n", 1, 6, "bad symbol name '9x'" },
	{ ".equ a.b, 1\n", 1, 6, "bad symbol name 'a.b'" },
	{ ".equ N, 1\n.equ  N, 2\n", 2, 7, "'N' is already defined at line 1" },
	{ ".equ r5, 1\n", 1, 6, "'r5' is reserved and cannot be a symbol" },
	{ ".equ ADD, 1\n", 1, 6, "'ADD' is reserved and cannot be a symbol" },
	/* .struct */
	{ ".field a, 8\n", 1, 1, ".field outside a .struct" },
	{ ".struct s\n.field a\n.ends\n", 2, 1, ".field takes 'NAME, size[, align]', got 1 operand" },
	{ ".struct s\n.field a, 0\n.ends\n", 2, 11, "field size 0 is not in 1..2147483647" },
	{ ".struct s\n.field a, 8, 3\n.ends\n", 2, 14, "alignment 3 is not a power of two up to 4096" },
	{ ".struct s\n.field a, 8\n.field a, 4\n.ends\n", 3, 8, "'s.a' is already defined at line 2" },
	{ ".struct s\n.struct t\n.ends\n", 2, 1, ".struct inside .struct s" },
	{ ".struct s\nNOP\n.ends\n", 2, 1, "'NOP' inside .struct s (only .field and .ends)" },
	{ ".struct s\nx: .field a, 8\n.ends\n", 2, 1, "label 'x' inside .struct s" },
	{ ".ends\n", 1, 1, ".ends without .struct" },
	{ ".struct s\n.field a, 8\n", 1, 9, ".struct s is never closed by .ends" },
	{ ".struct s\n.field a, 8\n.ends\nMOVI r1, s\n", 4, 10, "'s' is a .struct; its size is sizeof(s)" },
	{ ".equ N, 1\nMOVI r1, sizeof(N)\n", 2, 17, "sizeof needs a .struct or a field, got 'N'" },
	{ "MOVI r1, sizeof s\n", 2 - 1, 17, "expected '(' after sizeof" },
	/* .word, .dword */
	{ ".word\n", 1, 1, ".word needs at least one value" },
	{ ".dword 1\n", 1, 1, ".dword takes 'low32, high32', got 1 operand" },
	{ ".dword 1, 0x100000000\n", 1, 11, "immediate '0x100000000' does not fit in 32 bits" },
	/* macros */
	{ ".macro m a\nADD \\a, \\a, 1\n.endm\nm r1, r2\n", 4, 1, "macro 'm' takes 1 argument, got 2" },
	{ ".macro m\nADD \\b, r1, 1\n.endm\nNOP\nm\n", 2, 5,
	  "macro 'm' has no parameter '\\b' (in macro 'm' used at line 5)" },
	{ ".macro m a\n  MOV \\a, r1\n.endm\nm r77\n", 2, 7,
	  "register 'r77' out of range (r0..r31) (in macro 'm' used at line 4)" },
	{ ".macro m\nm\n.endm\nm\n", 2, 1,
	  "macros nested deeper than 16 (does 'm' use itself?) (in macro 'm' used at line 4)" },
	{ ".macro m\nNOP\n", 1, 1, ".macro m is never closed by .endm" },
	{ ".macro m\n.macro n\n.endm\n", 2, 1, ".macro inside .macro m" },
	{ ".macro m\nl\\@: .macro n\n.endm\nm\n", 2, 5,
	  ".macro inside the expansion of macro m (in macro 'm' used at line 4)" },
	{ ".endm\n", 1, 1, ".endm without .macro" },
	{ ".macro ADD\n.endm\n", 1, 8, "macro 'ADD' is already an instruction or a macro" },
	{ ".macro\n", 1, 1, ".macro needs a name" },
	{ ".macro m 1a\n.endm\n", 1, 10, "bad parameter name '1a'" },
	{ ".include \"x.s\"\n", 1, 1, "unknown directive '.include'" },
};

/* The bounded ones, with inputs built at run time. */
TEST(hostile_sources_are_bounded)
{
	struct svmgpu_program *p = (void *)1;
	struct svmgpu_asm_error err;
	size_t n = 1 << 20, i, len;
	char *src = malloc(n + 64), *at;

	ASSERT_NOT_NULL(src);
	/* a million unary operators: a diagnostic, not a stack overflow */
	len = (size_t)sprintf(src, "LI r1, ");
	memset(src + len, '~', n);
	strcpy(src + len + n, "1\n");
	EXPECT_EQ(svmgpu_program_assemble(src, &p, &err), -EINVAL);
	EXPECT_TRUE(p == NULL);
	EXPECT_STREQ(err.message, "line 1, column 137: expression nested deeper than 128");
	/* and as many parentheses */
	memset(src + len, '(', n);
	EXPECT_EQ(svmgpu_program_assemble(src, &p, &err), -EINVAL);
	EXPECT_STREQ(err.message, "line 1, column 137: expression nested deeper than 128");
	/* 128 operators are fine, 129 are not */
	len = (size_t)sprintf(src, "LI r1, ");
	memset(src + len, '~', 128);
	strcpy(src + len + 128, "1\n");
	ASSERT_EQ(svmgpu_program_assemble(src, &p, &err), 0);
	svmgpu_program_destroy(p);
	memset(src + len, '~', 129);
	strcpy(src + len + 129, "1\n");
	EXPECT_EQ(svmgpu_program_assemble(src, &p, &err), -EINVAL);

	/* 16 macros each using the one before 16 times: 16^15 lines, refused */
	at = src;
	at += sprintf(at, ".macro m0\nNOP\n.endm\n");
	for (i = 1; i < 16; i++)
		at += sprintf(at, ".macro m%zu\nm%zu\nm%zu\nm%zu\nm%zu\nm%zu\nm%zu\nm%zu\nm%zu\n"
			      "m%zu\nm%zu\nm%zu\nm%zu\nm%zu\nm%zu\nm%zu\nm%zu\n.endm\n", i,
			      i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1,
			      i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
	sprintf(at, "m15\n");
	EXPECT_EQ(svmgpu_program_assemble(src, &p, &err), -EINVAL);
	EXPECT_STREQ(err.message, "line 274, column 1: macro 'm15' expands to more than 1048576 lines");
	/* reported too when the long use is the last line of every macro around it */
	sprintf(at, ".macro w\nm14\n.endm\nw\n");
	EXPECT_EQ(svmgpu_program_assemble(src, &p, &err), -EINVAL);
	EXPECT_STREQ(err.message, "line 277, column 1: macro 'w' expands to more than 1048576 lines");

	/*
	 * Few lines, but each passes its parameter on 16 times: 100 bytes
	 * would be 16^6 x 100 (1.6 GB) at m0.  Refused at 16 MiB in all.
	 */
	at = src;
	at += sprintf(at, ".macro m0 p\nNOP ; \\p\n.endm\n");
	for (i = 1; i < 7; i++)
		at += sprintf(at, ".macro m%zu p\nm%zu \\p\\p\\p\\p\\p\\p\\p\\p\\p\\p\\p\\p"
			      "\\p\\p\\p\\p\n.endm\n", i, i - 1);
	at += sprintf(at, "m6 ");
	memset(at, 'a', 100);
	strcpy(at + 100, "\n");
	EXPECT_EQ(svmgpu_program_assemble(src, &p, &err), -EINVAL);
	EXPECT_STREQ(err.message, "line 22, column 1: macro 'm6' expands to more than 16777216 bytes");

	/*
	 * A macro defined by an expansion once grew the macro table under the
	 * expansion reading it (the eighth macro fills it).
	 */
	at = src;
	for (i = 0; i < 7; i++)
		at += sprintf(at, ".macro t%zu\nNOP\n.endm\n", i);
	sprintf(at, ".macro outer\nl\\@: .macro inner\nNOP\n.endm\nouter\nNOP\n");
	EXPECT_EQ(svmgpu_program_assemble(src, &p, &err), -EINVAL);
	EXPECT_STREQ(err.message, "line 23, column 5: .macro inside the expansion of macro outer "
		     "(in macro 'outer' used at line 26)");
	free(src);
}

TEST(every_error_message)
{
	size_t i;

	for (i = 0; i < sizeof(errors) / sizeof(errors[0]); i++) {
		struct svmgpu_program *p = (void *)1;
		struct svmgpu_asm_error err;
		char want[200];
		int ret = svmgpu_program_assemble(errors[i].src, &p, &err);

		if (errors[i].line)
			snprintf(want, sizeof(want), "line %u, column %u: %s", errors[i].line,
				 errors[i].column, errors[i].message);
		else
			snprintf(want, sizeof(want), "%s", errors[i].message);
		if (ret != -EINVAL || strcmp(err.message, want))
			TH_LOG("case %zu: ret %d message '%s', want '%s'", i, ret, err.message, want);
		ASSERT_EQ(ret, -EINVAL);
		ASSERT_TRUE(p == NULL);
		ASSERT_STREQ(err.message, want);
		ASSERT_EQ(err.line, errors[i].line);
		ASSERT_EQ(err.column, errors[i].column);
	}
}

/* Every erroneous line of a source is reported, in order; the rest is parsed. */
TEST(all_errors_of_a_source)
{
	static const char src[] =
		"FOO\n"				/* 1 */
		"  ADD r1, r2\n"		/* 2 */
		"NOP\n"				/* 3 */
		"MOV r40, r1\n"			/* 4 */
		".equ N, 1 /\n"			/* 5 */
		"JMP nowhere\n"			/* 6 */
		"  IF r1\n";			/* 7, never closed */
	static const struct { unsigned int line, column; } want[] = {
		{ 1, 1 }, { 2, 7 }, { 4, 5 }, { 5, 12 }, { 6, 5 }, { 7, 3 },
	};
	struct svmgpu_asm_error d[8], one[2];
	struct svmgpu_program *p = (void *)1;
	size_t count = 99, i;

	ASSERT_EQ(svmgpu_program_assemble_diag(src, &p, d, 8, &count), -EINVAL);
	ASSERT_TRUE(p == NULL);
	ASSERT_EQ(count, 6);
	for (i = 0; i < count; i++) {
		TH_LOG("%s", d[i].message);
		EXPECT_EQ(d[i].line, want[i].line);
		EXPECT_EQ(d[i].column, want[i].column);
	}
	EXPECT_STREQ(d[3].message, "line 5, column 12: expected a value");
	EXPECT_EQ(d[6].line, 0);	/* untouched beyond count */
	/* less room than errors: the first ones, and the full count */
	memset(one, 0x55, sizeof(one));
	ASSERT_EQ(svmgpu_program_assemble_diag(src, &p, one, 1, &count), -EINVAL);
	EXPECT_EQ(count, 6);
	EXPECT_STREQ(one[0].message, "line 1, column 1: unknown instruction 'FOO'");
	EXPECT_EQ(one[1].line, 0x55555555u);
	/* no room at all, and no count */
	ASSERT_EQ(svmgpu_program_assemble_diag(src, &p, NULL, 0, NULL), -EINVAL);
	/* a clean source: 0, count 0 */
	ASSERT_EQ(svmgpu_program_assemble_diag("EXIT\n", &p, d, 8, &count), 0);
	EXPECT_EQ(count, 0);
	svmgpu_program_destroy(p);
	/* bad arguments */
	EXPECT_EQ(svmgpu_program_assemble_diag(NULL, &p, d, 8, &count), -EINVAL);
	EXPECT_EQ(svmgpu_program_assemble_diag("EXIT\n", NULL, d, 8, &count), -EINVAL);
	EXPECT_EQ(svmgpu_program_assemble_diag("EXIT\n", &p, NULL, 8, &count), -EINVAL);
	/* a count whose bytes wrap: refused, nothing written (d kept) */
	d[0].line = 0x55555555u;
	EXPECT_EQ(svmgpu_program_assemble_diag("EXIT\n", &p, d, SIZE_MAX, &count), -EINVAL);
	EXPECT_EQ(svmgpu_program_assemble_diag("EXIT\n", &p, d, SIZE_MAX / sizeof(d[0]) + 2,
					       &count), -EINVAL);
	EXPECT_EQ(d[0].line, 0x55555555u);
}

/* Assemble @src, expect exactly @n words equal to @want. */
static void expect_words(const char *src, const uint64_t *want, size_t n)
{
	struct svmgpu_asm_error err;
	struct svmgpu_program *p;
	size_t i;
	int ret = svmgpu_program_assemble(src, &p, &err);

	if (ret)
		TH_LOG("%s", err.message);
	ASSERT_EQ(ret, 0);
	ASSERT_EQ(svmgpu_program_length(p), n);
	for (i = 0; i < n; i++) {
		if (svmgpu_program_code(p)[i] != want[i])
			TH_LOG("word %zu: 0x%016llx, want 0x%016llx", i,
			       (unsigned long long)svmgpu_program_code(p)[i], (unsigned long long)want[i]);
		EXPECT_EQ(svmgpu_program_code(p)[i], want[i]);
	}
	svmgpu_program_destroy(p);
}

TEST(expressions_and_equ)
{
	static const char src[] =
		".equ N, 4\n"
		".equ MASK, (1 << 12) - 1\n"
		"MOVI r1, N * 2 + 3\n"		/* precedence: 11 */
		"MOVI r2, (N + 1) * 2\n"
		"MOVI r3, -N\n"
		"MOVI r4, ~0\n"
		"AND r5, r6, MASK\n"
		"MOVI r7, 0x10 | 0b11 ^ 1 & 3\n"	/* 0x10 | (3 ^ (1 & 3)) = 0x12 */
		"MOVI r8, -7 / 2\n"		/* signed, truncating: -3 */
		"MOVI r9, -7 % 2\n"		/* -1 */
		"MOVI r10, 0xffffffff >> 28\n"
		"MOVI r11, -1.5f\n"
		"MOVI r12, 010\n"		/* decimal, not octal */
		"LD64 r13, [r2 + N * 8]\n"
		"LD64 r14, [r2 - N]\n"
		"LD64 r15, [r2+-N]\n"
		"LI r16, 1 << 40\n";
	const uint64_t want[] = {
		E(SVMGPU_OP_MOVI, 1, 0, 0, 11), E(SVMGPU_OP_MOVI, 2, 0, 0, 10),
		E(SVMGPU_OP_MOVI, 3, 0, 0, -4), E(SVMGPU_OP_MOVI, 4, 0, 0, -1),
		E(SVMGPU_OP_AND, 5, 6, IMM, 4095), E(SVMGPU_OP_MOVI, 7, 0, 0, 0x12),
		E(SVMGPU_OP_MOVI, 8, 0, 0, -3), E(SVMGPU_OP_MOVI, 9, 0, 0, -1),
		E(SVMGPU_OP_MOVI, 10, 0, 0, 15), E(SVMGPU_OP_MOVI, 11, 0, 0, (int32_t)0xbfc00000),
		E(SVMGPU_OP_MOVI, 12, 0, 0, 10), E(SVMGPU_OP_LD64, 13, 2, 0, 32),
		E(SVMGPU_OP_LD64, 14, 2, 0, -4), E(SVMGPU_OP_LD64, 15, 2, 0, -4),
		E(SVMGPU_OP_MOVI, 16, 0, 0, 0), E(SVMGPU_OP_MOVHI, 16, 0, 0, 0x100),
	};

	expect_words(src, want, sizeof(want) / sizeof(want[0]));
}

/*
 * A program in a comma-decimal locale (setlocale(LC_ALL, "") under
 * LANG=de_DE.UTF-8): float literals and the ready kernels that hold them
 * still assemble, to the same bits.  The locale is compiled for the test
 * with localedef (Debian's locales, make deps) in a directory of its own.
 */
TEST(float_literals_ignore_the_locale)
{
	char dir[] = "/tmp/svmgpu-locale-XXXXXX", cmd[256];
	const uint64_t want[] = { E(SVMGPU_OP_MOVI, 11, 0, 0, (int32_t)0xbfc00000) };
	struct svmgpu_program *p;
	char *end;
	int k;

	ASSERT_NOT_NULL(mkdtemp(dir));
	snprintf(cmd, sizeof(cmd),
		 "localedef -i de_DE -f UTF-8 %s/de_DE.UTF-8 >/dev/null 2>&1", dir);
	if (system(cmd)) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		system(cmd);
		SKIP(return, "localedef cannot make de_DE.UTF-8 (Debian's locales)");
	}
	ASSERT_EQ(setenv("LOCPATH", dir, 1), 0);
	ASSERT_NOT_NULL(setlocale(LC_ALL, "de_DE.UTF-8"));
	/* the locale is what it should be: strtod() stops at the '.' */
	EXPECT_EQ(strtod("0.5", &end), 0.0);
	EXPECT_EQ(*end, '.');
	expect_words("MOVI r11, -1.5f\n", want, 1);
	for (k = 0; k < SVMGPU_KERNEL_COUNT; k++) {
		EXPECT_EQ(svmgpu_kernel_program(k, &p), 0);
		if (!svmgpu_kernel_program(k, &p))
			svmgpu_program_destroy(p);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	EXPECT_EQ(system(cmd), 0);
}

/* .struct offsets are C's: the argument blocks of svmgpu.h, by name. */
TEST(struct_fields_match_c_layout)
{
	static const char src[] =
		".struct sgemm\n"
		"  .field a, 8\n"
		"  .field b, 8\n"
		"  .field c, 8\n"
		"  .field m, 8\n"
		"  .field n, 8\n"
		"  .field k, 8\n"
		".ends\n"
		".struct mixed\n"
		"  .field tag, 1\n"
		"  .field v, 8\n"		/* natural alignment: 8 */
		"  .field w, 2\n"
		"  .field blob, 12\n"		/* alignment 4 */
		"  .field page, 8, 4096\n"
		".ends\n"
		"LD64 r1, [r2+sgemm.b]\n"
		"LD32 r1, [r2+sgemm.k]\n"
		"MOVI r1, sizeof(sgemm)\n"
		"MOVI r1, sizeof(sgemm.k)\n"
		"MOVI r1, mixed.v\n"
		"MOVI r1, mixed.w\n"
		"MOVI r1, mixed.blob\n"
		"MOVI r1, mixed.page\n"
		"MOVI r1, sizeof(mixed)\n";
	struct mixed { uint8_t tag; uint64_t v; uint16_t w; uint32_t blob[3];
		       uint64_t page __attribute__((aligned(4096))); };
	const uint64_t want[] = {
		E(SVMGPU_OP_LD64, 1, 2, 0, offsetof(struct svmgpu_sgemm_args, b)),
		E(SVMGPU_OP_LD32, 1, 2, 0, offsetof(struct svmgpu_sgemm_args, k)),
		E(SVMGPU_OP_MOVI, 1, 0, 0, sizeof(struct svmgpu_sgemm_args)),
		E(SVMGPU_OP_MOVI, 1, 0, 0, 8),
		E(SVMGPU_OP_MOVI, 1, 0, 0, offsetof(struct mixed, v)),
		E(SVMGPU_OP_MOVI, 1, 0, 0, offsetof(struct mixed, w)),
		E(SVMGPU_OP_MOVI, 1, 0, 0, offsetof(struct mixed, blob)),
		E(SVMGPU_OP_MOVI, 1, 0, 0, offsetof(struct mixed, page)),
		E(SVMGPU_OP_MOVI, 1, 0, 0, sizeof(struct mixed)),
	};

	expect_words(src, want, sizeof(want) / sizeof(want[0]));
}

TEST(word_and_dword)
{
	static const char src[] =
		".equ X, 7\n"
		"top: .word 0x0123456789abcdef, -1, X + 1\n"
		".word 1.0d\n"
		".dword 0x11223344, -2\n"
		"after: JMP top\n";
	const uint64_t want[] = {
		0x0123456789abcdefull, ~0ull, 8, 0x3ff0000000000000ull, 0xfffffffe11223344ull,
		E(SVMGPU_OP_JMP, 0, 0, 0, -5),
	};
	struct svmgpu_program *p;

	expect_words(src, want, sizeof(want) / sizeof(want[0]));
	ASSERT_EQ(svmgpu_program_assemble(src, &p, NULL), 0);
	EXPECT_EQ(svmgpu_program_symbol(p, "after"), 5);
	svmgpu_program_destroy(p);
}

TEST(macros_with_parameters)
{
	static const char src[] =
		".macro addi rd, imm\n"
		"  ADD \\rd, \\rd, \\imm\n"
		".endm\n"
		".macro spin reg\n"		/* a local label per use: \@ */
		"  LOOP\n"
		"    BREAK \\reg\n"
		"    addi \\reg, -1\n"		/* a macro using a macro */
		"  ENDLOOP\n"
		"  JMP over\\@\n"
		"over\\@:\n"
		".endm\n"
		"addi r1, 5\n"
		"spin r2\n"
		"spin r3\n"
		"EXIT\n";
	const uint64_t want[] = {
		E(SVMGPU_OP_ADD, 1, 1, IMM, 5),
		E(SVMGPU_OP_LOOP, 0, 0, 0, 0), E(SVMGPU_OP_BREAK, 0, 2, 0, 0),
		E(SVMGPU_OP_ADD, 2, 2, IMM, -1), E(SVMGPU_OP_ENDLOOP, 0, 0, 0, 0),
		E(SVMGPU_OP_JMP, 0, 0, 0, 1),
		E(SVMGPU_OP_LOOP, 0, 0, 0, 0), E(SVMGPU_OP_BREAK, 0, 3, 0, 0),
		E(SVMGPU_OP_ADD, 3, 3, IMM, -1), E(SVMGPU_OP_ENDLOOP, 0, 0, 0, 0),
		E(SVMGPU_OP_JMP, 0, 0, 0, 1),
		E(SVMGPU_OP_EXIT, 0, 0, 0, 0),
	};

	expect_words(src, want, sizeof(want) / sizeof(want[0]));
}

/* Disassemble @n words as a program, assemble the text: the same words. */
static void round_trip(const uint64_t *words, size_t n, const char *what)
{
	struct svmgpu_asm_error err;
	struct svmgpu_program *p, *q;
	char *text;
	size_t i;
	int ret;

	ASSERT_EQ(svmgpu_program_create(words, n, &p), 0);
	ASSERT_EQ(svmgpu_program_disassemble(p, &text), 0);
	ret = svmgpu_program_assemble(text, &q, &err);
	if (ret)
		TH_LOG("%s: %s", what, err.message);
	ASSERT_EQ(ret, 0);
	ASSERT_EQ(svmgpu_program_length(q), n);
	for (i = 0; i < n; i++) {
		if (svmgpu_program_code(q)[i] != words[i])
			TH_LOG("%s word %zu: 0x%016llx -> 0x%016llx", what, i,
			       (unsigned long long)words[i], (unsigned long long)svmgpu_program_code(q)[i]);
		ASSERT_EQ(svmgpu_program_code(q)[i], words[i]);
	}
	svmgpu_program_destroy(q);
	svmgpu_program_destroy(p);
	free(text);
}

/* Every ready kernel's disassembly assembles back; no word is a .word. */
TEST(ready_kernels_disassemble_and_reassemble)
{
	int k;

	for (k = 0; k < SVMGPU_KERNEL_COUNT; k++) {
		struct svmgpu_program *p;
		char *text;

		ASSERT_EQ(svmgpu_kernel_program(k, &p), 0);
		round_trip(svmgpu_program_code(p), svmgpu_program_length(p), svmgpu_kernel_name(k));
		ASSERT_EQ(svmgpu_program_disassemble(p, &text), 0);
		EXPECT_TRUE(strstr(text, ".word") == NULL);
		free(text);
		svmgpu_program_destroy(p);
	}
}

/* xorshift64*: reproducible random words. */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

/*
 * Random words, in programs of 64 words: fully random 64-bit words (mostly
 * unknown opcodes); words of a known opcode with random 8-bit register
 * fields and 32-bit immediate (mostly illegal registers or ignored fields
 * set); and well-formed words (registers < 32 or RB_IMM, small or random
 * 32-bit immediates), control instructions included, so that IF/ELSE/
 * ENDIF/LOOP/BREAK/ENDLOOP appear balanced and unbalanced.  Each program's
 * disassembly assembles back to exactly its words.
 */
TEST(random_words_round_trip)
{
	static const uint8_t opcodes[] = {
		0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x10, 0x11, 0x12,
		0x13, 0x14, 0x20, 0x25, 0x2d, 0x37, 0x40, 0x49, 0x4b, 0x50, 0x5d, 0x60, 0x63,
		0x66, 0x68, 0x6b, 0x70, 0x71,
	};
	uint64_t seed = 0x5eed, counts[4] = { 0, 0, 0, 0 }, words[64];
	unsigned int prog, i;

	for (prog = 0; prog < 600; prog++) {
		for (i = 0; i < 64; i++) {
			uint64_t w = rnd(&seed);
			uint8_t op = opcodes[w % sizeof(opcodes)];

			if (prog % 3 == 1) {
				w = (w & ~0xffull) | op;
			} else if (prog % 3 == 2) {
				uint8_t rb = (w >> 40) & 1 ? IMM : (w >> 24) & 31;
				int32_t imm = (w >> 41) & 1 ? (int32_t)(w >> 32) :
					      (int32_t)((w >> 32) & 0x61f);

				if (op <= SVMGPU_OP_ENDLOOP && op != SVMGPU_OP_JMP)
					w = E(op, 0, op == SVMGPU_OP_IF || op == SVMGPU_OP_BREAK ?
					      (w >> 16) & 31 : 0, 0, 0);
				else
					w = E(op, (w >> 8) & 31, (w >> 16) & 31, rb, imm);
			}
			words[i] = w;
		}
		round_trip(words, 64, "random");
		for (i = 0; i < 64; i++) {
			char text[160];
			int ret = svmgpu_insn_disassemble(words[i], text, sizeof(text));

			counts[ret < 0 ? 0 : strncmp(text, ".word", 5) ? 2 : 1]++;
			if (ret >= 0 && SVMGPU_ISA_OP(words[i]) <= SVMGPU_OP_ENDLOOP &&
			    strncmp(text, ".word", 5))
				counts[3]++;
		}
	}
	TH_LOG("undecodable %llu, ignored fields set %llu, instructions %llu (control %llu)",
	       (unsigned long long)counts[0], (unsigned long long)counts[1],
	       (unsigned long long)counts[2], (unsigned long long)counts[3]);
	/* every kind was exercised */
	EXPECT_GT(counts[0], 1000);
	EXPECT_GT(counts[1], 1000);
	EXPECT_GT(counts[2], 1000);
	EXPECT_GT(counts[3], 1000);
}

/* Control words outside their regions become .word lines, in context. */
TEST(unbalanced_control_words_disassemble_as_words)
{
	static const uint64_t words[] = {
		E(SVMGPU_OP_ENDIF, 0, 0, 0, 0),		/* no IF: .word */
		E(SVMGPU_OP_IF, 0, 1, 0, 0),		/* closed below: IF */
		E(SVMGPU_OP_ELSE, 0, 0, 0, 0),
		E(SVMGPU_OP_BREAK, 0, 2, 0, 0),		/* no LOOP: .word */
		E(SVMGPU_OP_ENDIF, 0, 0, 0, 0),
		E(SVMGPU_OP_LOOP, 0, 0, 0, 0),		/* never closed: .word */
		E(SVMGPU_OP_IF, 0, 3, 0, 0),		/* never closed: .word */
		E(SVMGPU_OP_ELSE, 0, 0, 0, 0),		/* its IF is a .word: .word */
		E(SVMGPU_OP_EXIT, 0, 0, 0, 0),
	};
	static const char *const want[] = {
		".word 0x0000000000000006 ; ENDIF (unbalanced)", "IF r1", "ELSE",
		".word 0x0000000000020008 ; BREAK r2 (unbalanced)", "ENDIF",
		".word 0x0000000000000007 ; LOOP (unbalanced)",
		".word 0x0000000000030004 ; IF r3 (unbalanced)",
		".word 0x0000000000000005 ; ELSE (unbalanced)", "EXIT",
	};
	struct svmgpu_program *p;
	char *text, *line;
	size_t i;

	round_trip(words, sizeof(words) / sizeof(words[0]), "unbalanced");
	ASSERT_EQ(svmgpu_program_create(words, sizeof(words) / sizeof(words[0]), &p), 0);
	ASSERT_EQ(svmgpu_program_disassemble(p, &text), 0);
	line = text;
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		char expect[160];

		snprintf(expect, sizeof(expect), "    %-44s ; %6zx: %016llx\n", want[i], i * 8,
			 (unsigned long long)words[i]);
		ASSERT_TRUE(strncmp(line, expect, strlen(expect)) == 0);
		line += strlen(expect);
	}
	EXPECT_EQ(*line, '\0');
	free(text);
	EXPECT_EQ(svmgpu_program_disassemble(p, NULL), -EINVAL);
	EXPECT_EQ(svmgpu_program_disassemble(NULL, &text), -EINVAL);
	svmgpu_program_destroy(p);
}

TEST(disassembly_of_ignored_fields_is_a_commented_word)
{
	char text[128];

	/* NOP with rd = 5: decodable, but "NOP" would assemble to 0x0 */
	EXPECT_GT(svmgpu_insn_disassemble(E(SVMGPU_OP_NOP, 5, 0, 0, 0), text, sizeof(text)), 0);
	EXPECT_STREQ(text, ".word 0x0000000000000500 ; NOP");
	/* MOV from a register with a non-zero immediate */
	EXPECT_GT(svmgpu_insn_disassemble(E(SVMGPU_OP_MOV, 1, 0, 2, 9), text, sizeof(text)), 0);
	EXPECT_STREQ(text, ".word 0x0000000902000114 ; MOV r1, r2");
	/* a register field >= 32 that the instruction uses is illegal: plain .word */
	EXPECT_EQ(svmgpu_insn_disassemble(E(SVMGPU_OP_ADD, 40, 1, 2, 0), text, sizeof(text)), -EINVAL);
	EXPECT_STREQ(text, ".word 0x0000000002012820");
	/* the length is snprintf's, also when truncated */
	EXPECT_EQ(svmgpu_insn_disassemble(E(SVMGPU_OP_EXIT, 0, 0, 0, 0), text, 3), 4);
	EXPECT_STREQ(text, "EX");
}

/* Rejected arguments of assemble_diag leave *prog NULL, whichever is bad. */
TEST(assemble_diag_rejects_with_prog_null)
{
	struct svmgpu_program *p = (struct svmgpu_program *)&p;
	struct svmgpu_asm_error d;
	size_t n = 7;

	EXPECT_EQ(svmgpu_program_assemble_diag(NULL, &p, &d, 1, &n), -EINVAL);
	EXPECT_NULL(p);
	EXPECT_EQ(n, 0);
	p = (struct svmgpu_program *)&p;
	EXPECT_EQ(svmgpu_program_assemble_diag("EXIT\n", &p, NULL, 1, &n), -EINVAL);
	EXPECT_NULL(p);
	EXPECT_EQ(svmgpu_program_assemble_diag("EXIT\n", NULL, &d, 1, &n), -EINVAL);
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
	EXPECT_EQ(svmgpu_program_create(NULL, 1, &p), -EINVAL);
	EXPECT_EQ(svmgpu_program_create(insns, 2, NULL), -EINVAL);
	EXPECT_EQ(svmgpu_program_create(insns, SIZE_MAX / 8 + 1, &p), -EINVAL);
	EXPECT_EQ(svmgpu_program_symbol(NULL, "x"), -EINVAL);
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
