// SPDX-License-Identifier: MIT
/*
 * The svmgpu assembler and disassembler (docs/isa.md, syntax in
 * docs/api.md).
 *
 * Two passes over the source: the first collects labels (with the IF/LOOP
 * region they are defined in, so a JMP that would leave or enter a region
 * is rejected), the second encodes.  Both run the same line parser; only
 * the second emits.  Errors stop at the first one and carry its line.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

enum fmt {
	F_NONE,		/* NOP */
	F_JMP,		/* JMP label|imm */
	F_RA,		/* IF ra */
	F_RD_IMM,	/* MOVI rd, imm */
	F_S2R,		/* S2R rd, sreg */
	F_SEL,		/* SEL rd, ra, rb, rc */
	F_RD_B,		/* MOV rd, B */
	F_RD_RA_B,	/* ADD rd, ra, B */
	F_RD_RA,	/* FSQRT rd, ra */
	F_LOAD,		/* LD32 rd, [ra+imm] */
	F_STORE,	/* ST32 [ra+imm], rb */
	F_ATOM,		/* ATOM32 rd, [ra], rb[, rc], op */
	F_LI,		/* pseudo: LI rd, imm64 -> MOVI [+ MOVHI] */
};

struct opdesc {
	const char *name;
	uint8_t op;
	uint8_t fmt;
	int8_t block;	/* +1 opens a region, -1 closes, 0 none */
};

#define OP(n, f) { #n, SVMGPU_OP_##n, f, 0 }

static const struct opdesc ops[] = {
	OP(NOP, F_NONE), OP(EXIT, F_NONE), OP(BAR, F_NONE), OP(JMP, F_JMP),
	{ "IF", SVMGPU_OP_IF, F_RA, 1 }, { "ELSE", SVMGPU_OP_ELSE, F_NONE, 0 },
	{ "ENDIF", SVMGPU_OP_ENDIF, F_NONE, -1 }, { "LOOP", SVMGPU_OP_LOOP, F_NONE, 1 },
	OP(BREAK, F_RA), { "ENDLOOP", SVMGPU_OP_ENDLOOP, F_NONE, -1 },
	OP(MOVI, F_RD_IMM), OP(MOVHI, F_RD_IMM), OP(S2R, F_S2R), OP(SEL, F_SEL),
	OP(MOV, F_RD_B),
	OP(ADD, F_RD_RA_B), OP(SUB, F_RD_RA_B), OP(MUL, F_RD_RA_B), OP(MULHU, F_RD_RA_B),
	OP(DIVU, F_RD_RA_B), OP(DIVS, F_RD_RA_B), OP(REMU, F_RD_RA_B), OP(REMS, F_RD_RA_B),
	OP(AND, F_RD_RA_B), OP(OR, F_RD_RA_B), OP(XOR, F_RD_RA_B), OP(SHL, F_RD_RA_B),
	OP(SHR, F_RD_RA_B), OP(SAR, F_RD_RA_B), OP(MINU, F_RD_RA_B), OP(MAXU, F_RD_RA_B),
	OP(MINS, F_RD_RA_B), OP(MAXS, F_RD_RA_B), OP(SEQ, F_RD_RA_B), OP(SNE, F_RD_RA_B),
	OP(SLTU, F_RD_RA_B), OP(SLTS, F_RD_RA_B), OP(SLEU, F_RD_RA_B), OP(SLES, F_RD_RA_B),
	OP(FADD, F_RD_RA_B), OP(FSUB, F_RD_RA_B), OP(FMUL, F_RD_RA_B), OP(FDIV, F_RD_RA_B),
	OP(FMIN, F_RD_RA_B), OP(FMAX, F_RD_RA_B), OP(FSLT, F_RD_RA_B), OP(FSEQ, F_RD_RA_B),
	OP(FSLE, F_RD_RA_B), OP(FSQRT, F_RD_RA), OP(I2F, F_RD_RA), OP(F2I, F_RD_RA),
	OP(DADD, F_RD_RA_B), OP(DSUB, F_RD_RA_B), OP(DMUL, F_RD_RA_B), OP(DDIV, F_RD_RA_B),
	OP(DMIN, F_RD_RA_B), OP(DMAX, F_RD_RA_B), OP(DSLT, F_RD_RA_B), OP(DSEQ, F_RD_RA_B),
	OP(DSLE, F_RD_RA_B), OP(DSQRT, F_RD_RA), OP(I2D, F_RD_RA), OP(D2I, F_RD_RA),
	OP(F2D, F_RD_RA), OP(D2F, F_RD_RA),
	OP(LD8, F_LOAD), OP(LD16, F_LOAD), OP(LD32, F_LOAD), OP(LD64, F_LOAD),
	OP(LDS8, F_LOAD), OP(LDS16, F_LOAD), OP(LDS32, F_LOAD),
	OP(ST8, F_STORE), OP(ST16, F_STORE), OP(ST32, F_STORE), OP(ST64, F_STORE),
	OP(ATOM32, F_ATOM), OP(ATOM64, F_ATOM),
	{ "LI", 0, F_LI, 0 },
};

static const char *const sreg_names[SVMGPU_SR_NUM] = {
	"LANE_ID", "WG_ID_X", "WG_ID_Y", "WG_ID_Z", "WG_SIZE", "GRID_X", "GRID_Y",
	"GRID_Z", "GLOBAL_ID", "ARGS", "WAVE_ID", "QUEUE",
};

static const char *const atomic_names[SVMGPU_ATOMIC_NUM_OPS] = {
	"ADD", "XCHG", "CMPXCHG", "UMIN", "UMAX", "SMIN", "SMAX",
};

#define MAX_OPERANDS	6
#define MAX_LABEL	64

struct label {
	char name[MAX_LABEL];
	size_t index;
	unsigned int region;
};

struct block {
	uint8_t op;		/* SVMGPU_OP_IF or SVMGPU_OP_LOOP */
	bool has_else;
	unsigned int line;
	unsigned int region;
};

struct assembler {
	struct svmgpu_asm_error *err;
	unsigned int line;
	bool emit;
	uint64_t *code;
	size_t len, cap;
	struct label *labels;
	size_t nlabels, labels_cap;
	struct block blocks[SVMGPU_ISA_MAX_NEST];
	unsigned int depth;
	unsigned int next_region;
};

static __attribute__((format(printf, 2, 3)))
int asm_error(struct assembler *as, const char *fmt, ...)
{
	struct svmgpu_asm_error *e = as->err;
	va_list ap;
	int n;

	if (!e)
		return -EINVAL;
	memset(e, 0, sizeof(*e));
	e->line = as->line;
	n = as->line ? snprintf(e->message, sizeof(e->message), "line %u: ", as->line) : 0;
	va_start(ap, fmt);
	vsnprintf(e->message + n, sizeof(e->message) - n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static unsigned int cur_region(const struct assembler *as)
{
	return as->depth ? as->blocks[as->depth - 1].region : 0;
}

static int emit(struct assembler *as, uint64_t insn)
{
	if (as->emit) {
		if (as->len == as->cap) {
			size_t cap = as->cap ? as->cap * 2 : 64;
			uint64_t *c = realloc(as->code, cap * sizeof(*c));

			if (!c)
				return -ENOMEM;
			as->code = c;
			as->cap = cap;
		}
		as->code[as->len] = insn;
	}
	as->len++;
	return 0;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static bool is_ident(const char *s)
{
	if (!isalpha((unsigned char)*s) && *s != '_' && *s != '.')
		return false;
	for (s++; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '.')
			return false;
	return true;
}

static int parse_reg(struct assembler *as, const char *s, uint8_t *reg)
{
	char *end;
	unsigned long v;

	if ((s[0] != 'r' && s[0] != 'R') || !isdigit((unsigned char)s[1]))
		return asm_error(as, "expected a register, got '%s'", s);
	errno = 0;
	v = strtoul(s + 1, &end, 10);
	if (*end)
		return asm_error(as, "expected a register, got '%s'", s);
	if (errno || v >= SVMGPU_ISA_NUM_REGS)
		return asm_error(as, "register '%s' out of range (r0..r31)", s);
	*reg = (uint8_t)v;
	return 0;
}

static bool looks_like_reg(const char *s)
{
	return (s[0] == 'r' || s[0] == 'R') && isdigit((unsigned char)s[1]);
}

/*
 * A number: decimal, 0x hex, 0b binary, optionally negative, optionally
 * after '#'; or a float literal with suffix 'f' (f32 bit pattern) or 'd'
 * (f64 bit pattern, only where 64 bits fit).
 */
static int parse_number(struct assembler *as, const char *s, bool wide, int64_t *out)
{
	const char *p = s;
	size_t n;
	char *end;
	bool neg = false;

	if (*p == '#')
		p++;
	n = strlen(p);
	if (n == 0)
		return asm_error(as, "bad number '%s'", s);
	if (n > 1 && !(p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) &&
	    (p[n - 1] == 'f' || p[n - 1] == 'F' || p[n - 1] == 'd' || p[n - 1] == 'D')) {
		char buf[64];
		bool dbl = p[n - 1] == 'd' || p[n - 1] == 'D';
		double d;

		if (n >= sizeof(buf))
			return asm_error(as, "bad number '%s'", s);
		memcpy(buf, p, n - 1);
		buf[n - 1] = '\0';
		errno = 0;
		d = strtod(buf, &end);
		if (*end || end == buf || errno == EINVAL)
			return asm_error(as, "bad number '%s'", s);
		if (dbl) {
			if (!wide)
				return asm_error(as, "f64 literal '%s' needs LI", s);
			memcpy(out, &d, sizeof(d));
		} else {
			float f = (float)d;
			uint32_t bits;

			memcpy(&bits, &f, sizeof(bits));
			*out = (int64_t)bits;
		}
		return 0;
	}
	if (*p == '-') {
		neg = true;
		p++;
	} else if (*p == '+') {
		p++;
	}
	if (!isdigit((unsigned char)*p))
		return asm_error(as, "bad number '%s'", s);
	errno = 0;
	if (p[0] == '0' && (p[1] == 'b' || p[1] == 'B')) {
		uint64_t v = strtoull(p + 2, &end, 2);

		if (end == p + 2 || *end)
			return asm_error(as, "bad number '%s'", s);
		*out = (int64_t)v;
	} else {
		uint64_t v = strtoull(p, &end, 0);

		if (*end)
			return asm_error(as, "bad number '%s'", s);
		*out = (int64_t)v;
	}
	if (errno == ERANGE)
		return asm_error(as, "number '%s' out of range", s);
	if (neg) {
		if ((uint64_t)*out > (uint64_t)INT64_MAX + 1)
			return asm_error(as, "number '%s' out of range", s);
		*out = (int64_t)(0 - (uint64_t)*out);
	}
	if (!wide && (*out < INT32_MIN || *out > (int64_t)UINT32_MAX))
		return asm_error(as, "immediate '%s' does not fit in 32 bits", s);
	if (!wide && neg == false && *out > INT32_MAX)
		*out = (int32_t)(uint32_t)*out;	/* a 32-bit pattern such as 0xffffffff */
	return 0;
}

static int parse_imm32(struct assembler *as, const char *s, int32_t *imm)
{
	int64_t v;
	int ret = parse_number(as, s, false, &v);

	if (!ret)
		*imm = (int32_t)v;
	return ret;
}

/* Operand B: a register, or an immediate (rb = RB_IMM). */
static int parse_b(struct assembler *as, const char *s, uint8_t *rb, int32_t *imm)
{
	if (looks_like_reg(s)) {
		*imm = 0;
		return parse_reg(as, s, rb);
	}
	*rb = SVMGPU_ISA_RB_IMM;
	return parse_imm32(as, s, imm);
}

/* [ra], [ra+imm], [ra-imm] */
static int parse_mem(struct assembler *as, const char *s, uint8_t *ra, int32_t *imm, bool *has_off)
{
	char buf[96], *p, *off = NULL, sign = 0;
	size_t n = strlen(s);
	int ret;

	if (n < 3 || s[0] != '[' || s[n - 1] != ']' || n - 2 >= sizeof(buf))
		return asm_error(as, "bad memory operand '%s', expected [rN+offset]", s);
	memcpy(buf, s + 1, n - 2);
	buf[n - 2] = '\0';
	for (p = buf; *p; p++) {
		if (*p == '+' || *p == '-') {
			sign = *p;
			*p = '\0';
			off = p + 1;
			break;
		}
	}
	ret = parse_reg(as, trim(buf), ra);
	if (ret)
		return ret;
	*imm = 0;
	*has_off = false;
	if (off) {
		char num[96];
		int64_t v;

		off = trim(off);
		if (!*off)
			return asm_error(as, "bad memory operand '%s', expected [rN+offset]", s);
		snprintf(num, sizeof(num), "%s%s", sign == '-' ? "-" : "", off);
		if (*off == '#' || *off == '-' || *off == '+')
			return asm_error(as, "bad memory operand '%s', expected [rN+offset]", s);
		ret = parse_number(as, num, true, &v);
		if (ret)
			return ret;
		if (v < INT32_MIN || v > INT32_MAX)
			return asm_error(as, "offset in '%s' does not fit in 32 bits", s);
		*imm = (int32_t)v;
		*has_off = true;
	}
	return 0;
}

static int parse_sreg(struct assembler *as, const char *s, int32_t *imm)
{
	const char *name = s;
	size_t i;

	if (!strncasecmp(name, "SR_", 3))
		name += 3;
	for (i = 0; i < ARRAY_SIZE(sreg_names); i++) {
		if (!strcasecmp(name, sreg_names[i])) {
			*imm = (int32_t)i;
			return 0;
		}
	}
	return asm_error(as, "unknown special register '%s'", s);
}

static int parse_atomic_op(struct assembler *as, const char *s, unsigned int *op)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(atomic_names); i++) {
		if (!strcasecmp(s, atomic_names[i])) {
			*op = i;
			return 0;
		}
	}
	return asm_error(as, "unknown atomic op '%s'", s);
}

static const struct opdesc *find_op(const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(ops); i++)
		if (!strcasecmp(name, ops[i].name))
			return &ops[i];
	return NULL;
}

static struct label *find_label(struct assembler *as, const char *name)
{
	size_t i;

	for (i = 0; i < as->nlabels; i++)
		if (!strcmp(as->labels[i].name, name))
			return &as->labels[i];
	return NULL;
}

static int define_label(struct assembler *as, const char *name)
{
	struct label *l;

	if (!is_ident(name) || looks_like_reg(name))
		return asm_error(as, "bad label name '%s'", name);
	if (strlen(name) >= MAX_LABEL)
		return asm_error(as, "label '%s' is longer than %d characters", name, MAX_LABEL - 1);
	if (as->emit)
		return 0;	/* defined in the first pass */
	if (find_label(as, name))
		return asm_error(as, "duplicate label '%s'", name);
	if (as->nlabels == as->labels_cap) {
		size_t cap = as->labels_cap ? as->labels_cap * 2 : 16;
		struct label *n = realloc(as->labels, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		as->labels = n;
		as->labels_cap = cap;
	}
	l = &as->labels[as->nlabels++];
	snprintf(l->name, sizeof(l->name), "%s", name);
	l->index = as->len;
	l->region = cur_region(as);
	return 0;
}

/* Structured control: keep the IF/LOOP stack the device will keep. */
static int track_block(struct assembler *as, const struct opdesc *d)
{
	struct block *b;

	switch (d->op) {
	case SVMGPU_OP_IF:
	case SVMGPU_OP_LOOP:
		if (d->fmt == F_LI)
			break;
		if (as->depth == SVMGPU_ISA_MAX_NEST)
			return asm_error(as, "IF/LOOP nested deeper than %d", SVMGPU_ISA_MAX_NEST);
		b = &as->blocks[as->depth++];
		b->op = d->op;
		b->has_else = false;
		b->line = as->line;
		b->region = ++as->next_region;
		break;
	case SVMGPU_OP_ELSE:
		if (!as->depth || as->blocks[as->depth - 1].op != SVMGPU_OP_IF)
			return asm_error(as, "ELSE without IF");
		b = &as->blocks[as->depth - 1];
		if (b->has_else)
			return asm_error(as, "second ELSE for the IF of line %u", b->line);
		b->has_else = true;
		b->region = ++as->next_region;
		break;
	case SVMGPU_OP_ENDIF:
		if (!as->depth)
			return asm_error(as, "ENDIF without IF");
		b = &as->blocks[as->depth - 1];
		if (b->op != SVMGPU_OP_IF)
			return asm_error(as, "ENDIF closes the LOOP of line %u", b->line);
		as->depth--;
		break;
	case SVMGPU_OP_ENDLOOP:
		if (!as->depth)
			return asm_error(as, "ENDLOOP without LOOP");
		b = &as->blocks[as->depth - 1];
		if (b->op != SVMGPU_OP_LOOP)
			return asm_error(as, "ENDLOOP closes the IF of line %u", b->line);
		as->depth--;
		break;
	case SVMGPU_OP_BREAK: {
		unsigned int i;

		for (i = 0; i < as->depth; i++)
			if (as->blocks[i].op == SVMGPU_OP_LOOP)
				return 0;
		return asm_error(as, "BREAK outside a LOOP");
	}
	default:
		break;
	}
	return 0;
}

static const char *const fmt_usage[] = {
	[F_NONE] = "", [F_JMP] = "label", [F_RA] = "rA", [F_RD_IMM] = "rD, imm",
	[F_S2R] = "rD, sreg", [F_SEL] = "rD, rA, rB, rC", [F_RD_B] = "rD, rB|imm",
	[F_RD_RA_B] = "rD, rA, rB|imm", [F_RD_RA] = "rD, rA", [F_LOAD] = "rD, [rA+offset]",
	[F_STORE] = "[rA+offset], rB", [F_ATOM] = "rD, [rA], rB, [rC,] op",
	[F_LI] = "rD, imm64",
};

static const int fmt_nops[] = {
	[F_NONE] = 0, [F_JMP] = 1, [F_RA] = 1, [F_RD_IMM] = 2, [F_S2R] = 2, [F_SEL] = 4,
	[F_RD_B] = 2, [F_RD_RA_B] = 3, [F_RD_RA] = 2, [F_LOAD] = 2, [F_STORE] = 2,
	[F_ATOM] = -1, [F_LI] = 2,
};

static int encode(struct assembler *as, const struct opdesc *d, char **opv, int nops)
{
	uint8_t rd = 0, ra = 0, rb = 0, rc = 0;
	int32_t imm = 0;
	bool has_off;
	int ret;

	if (d->fmt == F_ATOM ? (nops != 4 && nops != 5) : nops != fmt_nops[d->fmt]) {
		if (d->fmt == F_NONE)
			return asm_error(as, "%s takes no operands", d->name);
		return asm_error(as, "%s takes operands '%s', got %d operand%s", d->name,
				 fmt_usage[d->fmt], nops, nops == 1 ? "" : "s");
	}
	switch (d->fmt) {
	case F_NONE:
		break;
	case F_JMP: {
		struct label *l;

		if (!is_ident(opv[0]) || looks_like_reg(opv[0])) {
			ret = parse_imm32(as, opv[0], &imm);
			if (ret)
				return ret;
			break;
		}
		if (!as->emit)
			break;	/* labels are resolved in the second pass */
		l = find_label(as, opv[0]);
		if (!l)
			return asm_error(as, "undefined label '%s'", opv[0]);
		if (l->region != cur_region(as))
			return asm_error(as, "JMP to '%s' leaves or enters an IF/LOOP region", opv[0]);
		imm = (int32_t)((int64_t)l->index - (int64_t)as->len);
		break;
	}
	case F_RA:
		ret = parse_reg(as, opv[0], &ra);
		if (ret)
			return ret;
		break;
	case F_RD_IMM:
		ret = parse_reg(as, opv[0], &rd);
		if (!ret)
			ret = parse_imm32(as, opv[1], &imm);
		if (ret)
			return ret;
		break;
	case F_S2R:
		ret = parse_reg(as, opv[0], &rd);
		if (!ret)
			ret = parse_sreg(as, opv[1], &imm);
		if (ret)
			return ret;
		break;
	case F_SEL:
		ret = parse_reg(as, opv[0], &rd);
		if (!ret)
			ret = parse_reg(as, opv[1], &ra);
		if (!ret)
			ret = parse_reg(as, opv[2], &rb);
		if (!ret)
			ret = parse_reg(as, opv[3], &rc);
		if (ret)
			return ret;
		imm = rc;
		break;
	case F_RD_B:
		ret = parse_reg(as, opv[0], &rd);
		if (!ret)
			ret = parse_b(as, opv[1], &rb, &imm);
		if (ret)
			return ret;
		break;
	case F_RD_RA_B:
		ret = parse_reg(as, opv[0], &rd);
		if (!ret)
			ret = parse_reg(as, opv[1], &ra);
		if (!ret)
			ret = parse_b(as, opv[2], &rb, &imm);
		if (ret)
			return ret;
		break;
	case F_RD_RA:
		ret = parse_reg(as, opv[0], &rd);
		if (!ret)
			ret = parse_reg(as, opv[1], &ra);
		if (ret)
			return ret;
		break;
	case F_LOAD:
		ret = parse_reg(as, opv[0], &rd);
		if (!ret)
			ret = parse_mem(as, opv[1], &ra, &imm, &has_off);
		if (ret)
			return ret;
		break;
	case F_STORE:
		ret = parse_mem(as, opv[0], &ra, &imm, &has_off);
		if (!ret)
			ret = parse_reg(as, opv[1], &rb);
		if (ret)
			return ret;
		break;
	case F_ATOM: {
		unsigned int aop = 0;

		ret = parse_reg(as, opv[0], &rd);
		if (!ret)
			ret = parse_mem(as, opv[1], &ra, &imm, &has_off);
		if (!ret && has_off)
			ret = asm_error(as, "atomics take no offset: '%s'", opv[1]);
		if (!ret)
			ret = parse_reg(as, opv[2], &rb);
		if (!ret && nops == 5)
			ret = parse_reg(as, opv[3], &rc);
		if (!ret)
			ret = parse_atomic_op(as, opv[nops - 1], &aop);
		if (ret)
			return ret;
		if (aop == SVMGPU_ATOMIC_CMPXCHG && nops != 5)
			return asm_error(as, "CMPXCHG needs a compare register: %s rD, [rA], rB, rC, CMPXCHG",
					 d->name);
		imm = SVMGPU_ISA_ATOM_IMM(aop, rc);
		break;
	}
	case F_LI: {
		int64_t v;

		ret = parse_reg(as, opv[0], &rd);
		if (!ret)
			ret = parse_number(as, opv[1], true, &v);
		if (ret)
			return ret;
		ret = emit(as, SVMGPU_ISA_ENCODE(SVMGPU_OP_MOVI, rd, 0, 0, (int32_t)(uint32_t)v));
		if (ret || (int64_t)(int32_t)(uint32_t)v == v)
			return ret;
		return emit(as, SVMGPU_ISA_ENCODE(SVMGPU_OP_MOVHI, rd, 0, 0,
						  (int32_t)(uint32_t)((uint64_t)v >> 32)));
	}
	}
	return emit(as, SVMGPU_ISA_ENCODE(d->op, rd, ra, rb, imm));
}

/* Split "a, [b+c], d" into operands at top-level commas. */
static int split_operands(struct assembler *as, char *s, char **opv, int *nops)
{
	int n = 0, depth = 0;
	char *start = s, *p;

	s = trim(s);
	if (!*s) {
		*nops = 0;
		return 0;
	}
	start = s;
	for (p = s;; p++) {
		if (*p == '[')
			depth++;
		else if (*p == ']')
			depth--;
		if ((*p == ',' && depth == 0) || *p == '\0') {
			bool end = *p == '\0';

			*p = '\0';
			if (n == MAX_OPERANDS)
				return asm_error(as, "too many operands");
			opv[n] = trim(start);
			if (!*opv[n])
				return asm_error(as, "empty operand");
			n++;
			if (end)
				break;
			start = p + 1;
		}
	}
	*nops = n;
	return 0;
}

static int assemble_line(struct assembler *as, char *line)
{
	char *opv[MAX_OPERANDS], *p, *mn;
	const struct opdesc *d;
	int nops = 0, ret;

	/* comments: ';' or '//' to the end of the line */
	for (p = line; *p; p++) {
		if (*p == ';' || (p[0] == '/' && p[1] == '/')) {
			*p = '\0';
			break;
		}
	}
	line = trim(line);
	/* labels: "name:" (several allowed) */
	for (;;) {
		char *colon = line, *q;

		while (*colon && (isalnum((unsigned char)*colon) || *colon == '_' || *colon == '.'))
			colon++;
		q = colon;
		while (isspace((unsigned char)*q))
			q++;
		if (*q != ':' || colon == line)
			break;
		*colon = '\0';
		ret = define_label(as, line);
		if (ret)
			return ret;
		line = trim(q + 1);
	}
	if (!*line)
		return 0;
	mn = line;
	for (p = line; *p && !isspace((unsigned char)*p); p++)
		;
	if (*p)
		*p++ = '\0';
	d = find_op(mn);
	if (!d)
		return asm_error(as, "unknown instruction '%s'", mn);
	ret = split_operands(as, p, opv, &nops);
	if (ret)
		return ret;
	ret = track_block(as, d);
	if (ret)
		return ret;
	return encode(as, d, opv, nops);
}

static int run_pass(struct assembler *as, const char *source)
{
	const char *s = source;
	char *buf = NULL;
	size_t cap = 0;
	int ret = 0;

	as->line = 0;
	as->len = 0;
	as->depth = 0;
	as->next_region = 0;
	while (*s || as->line == 0) {
		const char *nl = strchr(s, '\n');
		size_t n = nl ? (size_t)(nl - s) : strlen(s);

		as->line++;
		if (n + 1 > cap) {
			char *b = realloc(buf, n + 1);

			if (!b) {
				ret = -ENOMEM;
				break;
			}
			buf = b;
			cap = n + 1;
		}
		memcpy(buf, s, n);
		buf[n] = '\0';
		ret = assemble_line(as, buf);
		if (ret)
			break;
		s += n;
		if (*s == '\n')
			s++;
		if (!*s)
			break;
	}
	free(buf);
	if (ret)
		return ret;
	if (as->depth) {
		struct block *b = &as->blocks[as->depth - 1];

		as->line = b->line;
		return asm_error(as, "%s is never closed by %s", b->op == SVMGPU_OP_IF ? "IF" : "LOOP",
				 b->op == SVMGPU_OP_IF ? "ENDIF" : "ENDLOOP");
	}
	if (as->len == 0) {
		as->line = 0;
		return asm_error(as, "empty program: no instructions");
	}
	return 0;
}

SVMGPU_PUBLIC int svmgpu_program_assemble(const char *source, struct svmgpu_program **prog,
					  struct svmgpu_asm_error *err)
{
	struct assembler as = { .err = err };
	int ret;

	if (!source || !prog)
		return -EINVAL;
	*prog = NULL;
	if (err)
		memset(err, 0, sizeof(*err));
	ret = run_pass(&as, source);
	if (!ret) {
		as.emit = true;
		as.cap = as.len;
		as.code = aligned_alloc(SVMGPU_ISA_INSN_SIZE, as.cap * sizeof(uint64_t));
		ret = as.code ? run_pass(&as, source) : -ENOMEM;
	}
	if (!ret) {
		struct svmgpu_program *p = calloc(1, sizeof(*p));
		size_t i;

		if (!p) {
			ret = -ENOMEM;
			goto out;
		}
		p->code = as.code;
		p->len = as.len;
		p->nlabels = as.nlabels;
		p->labels = calloc(as.nlabels + 1, sizeof(char *));
		p->label_index = calloc(as.nlabels + 1, sizeof(size_t));
		if (!p->labels || !p->label_index) {
			as.code = NULL;
			svmgpu_program_destroy(p);
			ret = -ENOMEM;
			goto out;
		}
		for (i = 0; i < as.nlabels; i++) {
			p->labels[i] = strdup(as.labels[i].name);
			p->label_index[i] = as.labels[i].index;
			if (!p->labels[i]) {
				as.code = NULL;
				svmgpu_program_destroy(p);
				ret = -ENOMEM;
				goto out;
			}
		}
		as.code = NULL;
		*prog = p;
	}
out:
	free(as.code);
	free(as.labels);
	return ret;
}

SVMGPU_PUBLIC int svmgpu_program_create(const uint64_t *insns, size_t count, struct svmgpu_program **prog)
{
	struct svmgpu_program *p;

	if (!insns || !count || !prog || count > SIZE_MAX / 8)
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->code = aligned_alloc(SVMGPU_ISA_INSN_SIZE, count * sizeof(uint64_t));
	p->labels = calloc(1, sizeof(char *));
	p->label_index = calloc(1, sizeof(size_t));
	if (!p->code || !p->labels || !p->label_index) {
		svmgpu_program_destroy(p);
		return -ENOMEM;
	}
	memcpy(p->code, insns, count * sizeof(uint64_t));
	p->len = count;
	*prog = p;
	return 0;
}

SVMGPU_PUBLIC int svmgpu_program_destroy(struct svmgpu_program *prog)
{
	size_t i;

	if (!prog)
		return -EINVAL;
	if (prog->labels)
		for (i = 0; i < prog->nlabels; i++)
			free(prog->labels[i]);
	free(prog->labels);
	free(prog->label_index);
	free(prog->code);
	free(prog);
	return 0;
}

SVMGPU_PUBLIC const uint64_t *svmgpu_program_code(const struct svmgpu_program *prog)
{
	return prog ? prog->code : NULL;
}

SVMGPU_PUBLIC size_t svmgpu_program_length(const struct svmgpu_program *prog)
{
	return prog ? prog->len : 0;
}

SVMGPU_PUBLIC long svmgpu_program_symbol(const struct svmgpu_program *prog, const char *label)
{
	size_t i;

	if (!prog || !label)
		return -EINVAL;
	for (i = 0; i < prog->nlabels; i++)
		if (!strcmp(prog->labels[i], label))
			return (long)prog->label_index[i];
	return -ENOENT;
}

static const struct opdesc *find_opcode(uint8_t op)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(ops); i++)
		if (ops[i].fmt != F_LI && ops[i].op == op)
			return &ops[i];
	return NULL;
}

static void fmt_b(char *buf, size_t size, uint8_t rb, int32_t imm)
{
	if (rb == SVMGPU_ISA_RB_IMM)
		snprintf(buf, size, "#%" PRId32, imm);
	else
		snprintf(buf, size, "r%u", rb);
}

SVMGPU_PUBLIC int svmgpu_insn_disassemble(uint64_t insn, char *buf, size_t size)
{
	const struct opdesc *d = find_opcode(SVMGPU_ISA_OP(insn));
	uint8_t rd = SVMGPU_ISA_RD(insn), ra = SVMGPU_ISA_RA(insn), rb = SVMGPU_ISA_RB(insn);
	int32_t imm = SVMGPU_ISA_IMM(insn);
	char b[24];

	if (!buf && size)
		return -EINVAL;
	if (!d) {
		snprintf(buf, size, ".word 0x%016" PRIx64, insn);
		return -EINVAL;
	}
	switch (d->fmt) {
	case F_NONE:
		return snprintf(buf, size, "%s", d->name);
	case F_JMP:
		return snprintf(buf, size, "%s #%" PRId32, d->name, imm);
	case F_RA:
		return snprintf(buf, size, "%s r%u", d->name, ra);
	case F_RD_IMM:
		return snprintf(buf, size, "%s r%u, #%" PRId32, d->name, rd, imm);
	case F_S2R:
		if (imm >= 0 && imm < SVMGPU_SR_NUM)
			return snprintf(buf, size, "%s r%u, %s", d->name, rd, sreg_names[imm]);
		snprintf(buf, size, ".word 0x%016" PRIx64, insn);
		return -EINVAL;
	case F_SEL:
		return snprintf(buf, size, "%s r%u, r%u, r%u, r%u", d->name, rd, ra, rb,
				SVMGPU_ISA_IMM_RC(imm));
	case F_RD_B:
		fmt_b(b, sizeof(b), rb, imm);
		return snprintf(buf, size, "%s r%u, %s", d->name, rd, b);
	case F_RD_RA_B:
		fmt_b(b, sizeof(b), rb, imm);
		return snprintf(buf, size, "%s r%u, r%u, %s", d->name, rd, ra, b);
	case F_RD_RA:
		return snprintf(buf, size, "%s r%u, r%u", d->name, rd, ra);
	case F_LOAD:
		return snprintf(buf, size, "%s r%u, [r%u%+" PRId32 "]", d->name, rd, ra, imm);
	case F_STORE:
		return snprintf(buf, size, "%s [r%u%+" PRId32 "], r%u", d->name, ra, imm, rb);
	case F_ATOM: {
		uint8_t aop = SVMGPU_ISA_IMM_ATOMIC_OP(imm);

		if (aop >= SVMGPU_ATOMIC_NUM_OPS) {
			snprintf(buf, size, ".word 0x%016" PRIx64, insn);
			return -EINVAL;
		}
		return snprintf(buf, size, "%s r%u, [r%u], r%u, r%u, %s", d->name, rd, ra, rb,
				SVMGPU_ISA_IMM_RC(imm), atomic_names[aop]);
	}
	}
	return -EINVAL;
}
