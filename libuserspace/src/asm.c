// SPDX-License-Identifier: MIT
/*
 * The svmgpu assembler and disassembler (docs/isa.md, syntax in
 * docs/api.md).
 *
 * Two passes over the source: the first collects labels (with the IF/LOOP
 * region they are defined in, so a JMP that would leave or enter a region
 * is rejected), the second encodes and records diagnostics.  Both run the
 * same line parser, so both define the same .equ symbols, .struct fields
 * and macros in the same order.  A line with an error is skipped and the
 * next one parsed: every erroneous line of a source gets its diagnostic,
 * with line and column.
 */
#define _GNU_SOURCE	/* strtod_l() */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <locale.h>
#include <pthread.h>
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
	OP(FFMA, F_RD_RA_B),
	OP(DADD, F_RD_RA_B), OP(DSUB, F_RD_RA_B), OP(DMUL, F_RD_RA_B), OP(DDIV, F_RD_RA_B),
	OP(DMIN, F_RD_RA_B), OP(DMAX, F_RD_RA_B), OP(DSLT, F_RD_RA_B), OP(DSEQ, F_RD_RA_B),
	OP(DSLE, F_RD_RA_B), OP(DSQRT, F_RD_RA), OP(I2D, F_RD_RA), OP(D2I, F_RD_RA),
	OP(F2D, F_RD_RA), OP(D2F, F_RD_RA), OP(DFMA, F_RD_RA_B),
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

#define MAX_OPERANDS	16
#define MAX_NAME	64
#define MAX_PARAMS	8
#define MAX_MACRO_DEPTH	16
/* Lines, and bytes once substituted, all macro expansions of one pass may produce. */
#define MAX_MACRO_LINES	(1u << 20)
#define MAX_MACRO_BYTES	(16u << 20)
#define MAX_EXPR_DEPTH	128
#define MAX_ALIGN	4096

struct label {
	char name[MAX_NAME];
	size_t index;
	unsigned int region;
	unsigned int line;
	unsigned int seq;	/* definition order: the same in both passes */
};

enum sym_kind { SYM_EQU, SYM_STRUCT, SYM_FIELD };

/* .equ constants, .struct names (size) and their fields ("S.f": offset, size) */
struct symbol {
	char name[2 * MAX_NAME];
	int64_t value;
	int64_t size;
	int64_t align;
	enum sym_kind kind;
	unsigned int line, column;
};

struct macro_line {
	char *text;
	unsigned int line;
};

struct macro {
	char name[MAX_NAME];
	char params[MAX_PARAMS][MAX_NAME];
	int nparams;
	struct macro_line *body;
	size_t nbody, cap;
	unsigned int line, column;
};

struct block {
	uint8_t op;		/* SVMGPU_OP_IF or SVMGPU_OP_LOOP */
	bool has_else;
	unsigned int line, column;
	unsigned int region;
};

/*
 * The assembler's state for one pass.  The first pass (report false)
 * collects labels; the second (report true) encodes and records every
 * diagnostic.  Both see the same lines, so both define the same symbols,
 * macros and regions in the same order.
 */
struct assembler {
	struct svmgpu_asm_error *diags;
	size_t max_diags, ndiags;
	bool report;
	bool single;		/* one line, no structure checks (disassembler) */
	unsigned int line;
	unsigned int force_column;	/* if not 0: the column of the next diagnostic */
	const char *lbuf, *lend;	/* the line being parsed, for columns */
	const char *mname;	/* macro being expanded, NULL outside */
	unsigned int mline;	/* line of the outermost macro use */
	unsigned int mdepth;
	unsigned long expansions;
	unsigned long expanded_lines;
	size_t expanded_bytes;
	bool emit;
	uint64_t *code;
	size_t len, cap;
	struct label *labels;
	size_t nlabels, labels_cap;
	unsigned int label_seq;
	struct symbol *syms;
	size_t nsyms, syms_cap;
	long cur_struct;	/* index in syms of the open .struct, or -1 */
	struct macro *macros;
	size_t nmacros, macros_cap;
	long defining;		/* index in macros of the open .macro, or -1 */
	struct block blocks[SVMGPU_ISA_MAX_NEST];
	unsigned int depth;
	unsigned int next_region;
};

/* The 1-based column of @at in the current line, 0 if it is not in it. */
static unsigned int column_of(const struct assembler *as, const char *at)
{
	if (!as->lbuf || !at || at < as->lbuf || at > as->lend)
		return 0;
	return (unsigned int)(at - as->lbuf) + 1;
}

/*
 * Record a diagnostic at @at (a pointer into the current line, or NULL for
 * no column) in the second pass.  Always returns -EINVAL.
 */
static __attribute__((format(printf, 3, 4)))
int asm_error(struct assembler *as, const char *at, const char *fmt, ...)
{
	struct svmgpu_asm_error *e;
	va_list ap;
	size_t n = 0;

	if (!as->report)
		return -EINVAL;
	if (as->ndiags++ >= as->max_diags || !as->diags)
		return -EINVAL;
	e = &as->diags[as->ndiags - 1];
	memset(e, 0, sizeof(*e));
	e->line = as->line;
	if (as->line)
		e->column = as->force_column ? as->force_column : column_of(as, at);
	if (e->line && e->column)
		n = (size_t)snprintf(e->message, sizeof(e->message), "line %u, column %u: ",
				     e->line, e->column);
	else if (e->line)
		n = (size_t)snprintf(e->message, sizeof(e->message), "line %u: ", e->line);
	if (n < sizeof(e->message)) {
		va_start(ap, fmt);
		n += (size_t)vsnprintf(e->message + n, sizeof(e->message) - n, fmt, ap);
		va_end(ap);
	}
	if (as->mname && n < sizeof(e->message))
		snprintf(e->message + n, sizeof(e->message) - n, " (in macro '%s' used at line %u)",
			 as->mname, as->mline);
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
			uint64_t *c;

			if (as->single)
				return -E2BIG;
			c = realloc(as->code, cap * sizeof(*c));
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

static bool is_ident_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '.';
}

static bool is_ident(const char *s)
{
	if (!isalpha((unsigned char)*s) && *s != '_' && *s != '.')
		return false;
	for (s++; *s; s++)
		if (!is_ident_char(*s))
			return false;
	return true;
}

static bool looks_like_reg(const char *s)
{
	return (s[0] == 'r' || s[0] == 'R') && isdigit((unsigned char)s[1]);
}

static int parse_reg(struct assembler *as, const char *s, uint8_t *reg)
{
	char *end;
	unsigned long v;

	if (!looks_like_reg(s))
		return asm_error(as, s, "expected a register, got '%s'", s);
	errno = 0;
	v = strtoul(s + 1, &end, 10);
	if (*end)
		return asm_error(as, s, "expected a register, got '%s'", s);
	if (errno || v >= SVMGPU_ISA_NUM_REGS)
		return asm_error(as, s, "register '%s' out of range (r0..r31)", s);
	*reg = (uint8_t)v;
	return 0;
}

static struct symbol *find_symbol(struct assembler *as, const char *name)
{
	size_t i;

	for (i = 0; i < as->nsyms; i++)
		if (!strcmp(as->syms[i].name, name))
			return &as->syms[i];
	return NULL;
}

/* ------------------------------------------------------------------------
 * Expressions: integers (decimal, 0x, 0b), float literals (1.5f: f32 bits;
 * 1.5d: f64 bits), .equ names, STRUCT.FIELD offsets, sizeof(STRUCT) and
 * sizeof(STRUCT.FIELD); unary - + ~; binary * / % (signed), + -, << >>
 * (logical), &, ^, | with C precedence; parentheses.  64-bit, wrapping.
 */
struct expr {
	struct assembler *as;
	const char *p;
	bool wide;		/* f64 literals allowed */
	unsigned int depth;	/* unary operators and parentheses open */
};

static int ex_binary(struct expr *e, int minprec, int64_t *v);
static int ex_unary(struct expr *e, int64_t *v);

static void ex_skip(struct expr *e)
{
	while (isspace((unsigned char)*e->p))
		e->p++;
}

static locale_t asm_c_locale;
static pthread_mutex_t asm_c_locale_lock = PTHREAD_MUTEX_INITIALIZER;

/*
 * The "C" locale for float literals: strtod() follows the program's
 * LC_NUMERIC, so "0.2" would stop at the '.' under setlocale(LC_ALL, "")
 * in a comma-decimal locale.  (locale_t)0 if it cannot be made (ENOMEM),
 * tried again by the next call: one failure is not for the process's life.
 */
static locale_t c_locale(void)
{
	locale_t l = __atomic_load_n(&asm_c_locale, __ATOMIC_ACQUIRE);

	if (l)
		return l;
	pthread_mutex_lock(&asm_c_locale_lock);
	if (!asm_c_locale)
		__atomic_store_n(&asm_c_locale, newlocale(LC_ALL_MASK, "C", (locale_t)0),
				 __ATOMIC_RELEASE);
	l = asm_c_locale;
	pthread_mutex_unlock(&asm_c_locale_lock);
	return l;
}

/* *kind: 0 integer, 32 or 64 a float literal of that width */
static int ex_number(struct expr *e, int64_t *v, int *kind)
{
	const char *s = e->p, *q = s;
	bool hex = s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
	char tok[64], *end;
	size_t n;

	while (is_ident_char(*q) ||
	       (!hex && (*q == '+' || *q == '-') && (q[-1] == 'e' || q[-1] == 'E')))
		q++;
	n = (size_t)(q - s);
	e->p = q;
	*kind = 0;
	if (n >= sizeof(tok))
		return asm_error(e->as, s, "bad number '%.*s'", (int)n, s);
	memcpy(tok, s, n);
	tok[n] = '\0';
	errno = 0;
	if (hex || (tok[0] == '0' && (tok[1] == 'b' || tok[1] == 'B'))) {
		const char *digits = hex ? "0123456789abcdefABCDEF" : "01";
		uint64_t u;

		/*
		 * Digits only: strtoull() also takes a sign, spaces and a
		 * second "0x" (and glibc 2.38's a second "0b") after ours.
		 */
		if (!tok[2] || strspn(tok + 2, digits) != n - 2)
			return asm_error(e->as, s, "bad number '%s'", tok);
		u = strtoull(tok + 2, &end, hex ? 16 : 2);
		*v = (int64_t)u;
	} else if (strchr("fFdD", tok[n - 1])) {
		bool dbl = tok[n - 1] == 'd' || tok[n - 1] == 'D';
		double d;

		tok[n - 1] = '\0';
		if (!c_locale())
			return -ENOMEM;
		d = strtod_l(tok, &end, c_locale());
		if (*end || end == tok) {
			tok[n - 1] = s[n - 1];
			return asm_error(e->as, s, "bad number '%s'", tok);
		}
		tok[n - 1] = s[n - 1];
		*kind = dbl ? 64 : 32;
		if (dbl) {
			if (!e->wide)
				return asm_error(e->as, s, "f64 literal '%s' needs LI or .word", tok);
			memcpy(v, &d, sizeof(d));
		} else {
			float f = (float)d;
			uint32_t bits;

			memcpy(&bits, &f, sizeof(bits));
			*v = (int64_t)bits;
		}
		return 0;
	} else {
		uint64_t u = strtoull(tok, &end, 10);

		if (*end)
			return asm_error(e->as, s, "bad number '%s'", tok);
		*v = (int64_t)u;
	}
	if (errno == ERANGE)
		return asm_error(e->as, s, "number '%s' out of range", tok);
	return 0;
}

static int ex_name(struct expr *e, char *name, size_t size)
{
	const char *s = e->p;

	while (is_ident_char(*e->p))
		e->p++;
	if ((size_t)(e->p - s) >= size)
		return asm_error(e->as, s, "name '%.*s' is longer than %zu characters",
				 (int)(e->p - s), s, size - 1);
	memcpy(name, s, (size_t)(e->p - s));
	name[e->p - s] = '\0';
	return 0;
}

static int ex_symbol(struct expr *e, int64_t *v)
{
	const char *at = e->p;
	char name[2 * MAX_NAME];
	struct symbol *sym;
	int ret = ex_name(e, name, sizeof(name));

	if (ret)
		return ret;
	if (!strcmp(name, "sizeof")) {
		ex_skip(e);
		if (*e->p != '(')
			return asm_error(e->as, e->p, "expected '(' after sizeof");
		e->p++;
		ex_skip(e);
		at = e->p;
		ret = ex_name(e, name, sizeof(name));
		if (ret)
			return ret;
		sym = find_symbol(e->as, name);
		if (!sym || sym->kind == SYM_EQU)
			return asm_error(e->as, at, "sizeof needs a .struct or a field, got '%s'", name);
		ex_skip(e);
		if (*e->p != ')')
			return asm_error(e->as, e->p, "expected ')' after sizeof(%s", name);
		e->p++;
		*v = sym->size;
		return 0;
	}
	sym = find_symbol(e->as, name);
	if (!sym)
		return asm_error(e->as, at, "undefined symbol '%s'", name);
	if (sym->kind == SYM_STRUCT)
		return asm_error(e->as, at, "'%s' is a .struct; its size is sizeof(%s)", name, name);
	*v = sym->value;
	return 0;
}

/* A value, a unary operator and its operand, or a parenthesised expression. */
static int ex_operand(struct expr *e, int64_t *v)
{
	const char *at;
	int ret;

	ex_skip(e);
	at = e->p;
	switch (*e->p) {
	case '-':
	case '+':
	case '~':
		e->p++;
		ex_skip(e);
		if (*at == '-' && (isdigit((unsigned char)*e->p) ||
				   (*e->p == '.' && isdigit((unsigned char)e->p[1])))) {
			int kind;

			/* -1.5f is the float -1.5, not the integer negation of its bits */
			ret = ex_number(e, v, &kind);
			if (!ret && kind)
				*v ^= kind == 32 ? (int64_t)0x80000000 : INT64_MIN;
			else if (!ret)
				*v = (int64_t)(0 - (uint64_t)*v);
			return ret;
		}
		ret = ex_unary(e, v);
		if (!ret && *at == '-')
			*v = (int64_t)(0 - (uint64_t)*v);
		else if (!ret && *at == '~')
			*v = ~*v;
		return ret;
	case '(':
		e->p++;
		ret = ex_binary(e, 0, v);
		if (ret)
			return ret;
		ex_skip(e);
		if (*e->p != ')')
			return asm_error(e->as, *e->p ? e->p : at, "missing ')'");
		e->p++;
		return 0;
	case '\0':
		return asm_error(e->as, at, "expected a value");
	}
	if (isdigit((unsigned char)*at) || (*at == '.' && isdigit((unsigned char)at[1]))) {
		int kind;

		return ex_number(e, v, &kind);
	}
	if (isalpha((unsigned char)*at) || *at == '_' || *at == '.')
		return ex_symbol(e, v);
	return asm_error(e->as, at, "unexpected '%c' in an expression", *at);
}

/* The recursion is bounded: a line of a million '~' must not overflow the stack. */
static int ex_unary(struct expr *e, int64_t *v)
{
	int ret;

	/* the operand itself is one more call: MAX_EXPR_DEPTH operators nest */
	if (e->depth > MAX_EXPR_DEPTH)
		return asm_error(e->as, e->p, "expression nested deeper than %d", MAX_EXPR_DEPTH);
	e->depth++;
	ret = ex_operand(e, v);
	e->depth--;
	return ret;
}

static int ex_operator(const char *p, int *prec)
{
	static const struct { const char *op; int prec; } ops_tab[] = {
		{ "<<", 4 }, { ">>", 4 }, { "|", 1 }, { "^", 2 }, { "&", 3 },
		{ "+", 5 }, { "-", 5 }, { "*", 6 }, { "/", 6 }, { "%", 6 },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(ops_tab); i++) {
		size_t n = strlen(ops_tab[i].op);

		if (!strncmp(p, ops_tab[i].op, n)) {
			*prec = ops_tab[i].prec;
			return (int)n;
		}
	}
	return 0;
}

static int ex_binary(struct expr *e, int minprec, int64_t *v)
{
	int ret = ex_unary(e, v);

	while (!ret) {
		const char *at;
		int prec, n;
		int64_t r;
		uint64_t a;

		ex_skip(e);
		at = e->p;
		n = ex_operator(at, &prec);
		if (!n || prec < minprec)
			break;
		e->p += n;
		ret = ex_binary(e, prec + 1, &r);
		if (ret)
			break;
		a = (uint64_t)*v;
		switch (at[0]) {
		case '|': *v = (int64_t)(a | (uint64_t)r); break;
		case '^': *v = (int64_t)(a ^ (uint64_t)r); break;
		case '&': *v = (int64_t)(a & (uint64_t)r); break;
		case '+': *v = (int64_t)(a + (uint64_t)r); break;
		case '-': *v = (int64_t)(a - (uint64_t)r); break;
		case '*': *v = (int64_t)(a * (uint64_t)r); break;
		case '/':
		case '%':
			if (!r)
				return asm_error(e->as, at, "division by zero");
			if (*v == INT64_MIN && r == -1)
				*v = at[0] == '/' ? INT64_MIN : 0;
			else
				*v = at[0] == '/' ? *v / r : *v % r;
			break;
		default:	/* << >> */
			if (r < 0 || r > 63)
				return asm_error(e->as, at, "shift count %" PRId64 " out of range (0..63)", r);
			*v = (int64_t)(at[0] == '<' ? a << r : a >> r);
			break;
		}
	}
	return ret;
}

/* A whole operand as an expression (an optional leading '#'). */
static int parse_expr(struct assembler *as, const char *s, bool wide, int64_t *v)
{
	struct expr e = { as, s, wide };
	int ret;

	if (*e.p == '#')
		e.p++;
	ret = ex_binary(&e, 0, v);
	if (ret)
		return ret;
	ex_skip(&e);
	if (*e.p)
		return asm_error(as, e.p, "unexpected '%s' after an expression", e.p);
	return 0;
}

/* A 32-bit immediate: -2^31..2^32-1 (above 2^31-1: a 32-bit pattern). */
static int parse_imm32(struct assembler *as, const char *s, int32_t *imm)
{
	int64_t v;
	int ret = parse_expr(as, s, false, &v);

	if (ret)
		return ret;
	if (v < INT32_MIN || v > (int64_t)UINT32_MAX)
		return asm_error(as, s, "immediate '%s' does not fit in 32 bits", s);
	*imm = (int32_t)(uint32_t)v;
	return 0;
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

/* [rA], [rA+expr], [rA-expr] (parsed in place; @s is restored) */
static int parse_mem(struct assembler *as, char *s, uint8_t *ra, int32_t *imm, bool *has_off)
{
	size_t n = strlen(s);
	char *p, *q, *r, save;
	int64_t v;
	int ret;

	*imm = 0;
	*has_off = false;
	if (n < 3 || s[0] != '[' || s[n - 1] != ']')
		return asm_error(as, s, "bad memory operand '%s', expected [rN+offset]", s);
	for (p = s + 1; isspace((unsigned char)*p); p++)
		;
	for (q = p; isalnum((unsigned char)*q) || *q == '_'; q++)
		;
	save = *q;
	*q = '\0';
	ret = parse_reg(as, p, ra);
	*q = save;
	if (ret)
		return ret;
	for (r = q; isspace((unsigned char)*r); r++)
		;
	if (r == s + n - 1)
		return 0;
	if (*r != '+' && *r != '-')
		return asm_error(as, r, "bad memory operand '%s', expected [rN+offset]", s);
	for (p = r + 1; isspace((unsigned char)*p); p++)
		;
	if (p == s + n - 1)
		return asm_error(as, p, "bad memory operand '%s', expected [rN+offset]", s);
	s[n - 1] = '\0';
	ret = parse_expr(as, r, true, &v);
	s[n - 1] = ']';
	if (ret)
		return ret;
	if (v < INT32_MIN || v > INT32_MAX)
		return asm_error(as, r, "offset in '%s' does not fit in 32 bits", s);
	*imm = (int32_t)v;
	*has_off = true;
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
	return asm_error(as, s, "unknown special register '%s'", s);
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
	return asm_error(as, s, "unknown atomic op '%s'", s);
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
	unsigned int seq;

	if (!is_ident(name) || looks_like_reg(name))
		return asm_error(as, name, "bad label name '%s'", name);
	if (strlen(name) >= MAX_NAME)
		return asm_error(as, name, "label '%s' is longer than %d characters", name, MAX_NAME - 1);
	seq = as->label_seq++;
	l = find_label(as, name);
	if (as->emit) {
		/* defined in the first pass; a second definition has a later seq */
		if (l && l->seq != seq)
			return asm_error(as, name, "duplicate label '%s' (first defined at line %u)",
					 name, l->line);
		return 0;
	}
	if (l)
		return 0;
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
	l->line = as->line;
	l->seq = seq;
	return 0;
}

/* Structured control: keep the IF/LOOP stack the device will keep. */
static int track_block(struct assembler *as, const struct opdesc *d, const char *at)
{
	struct block *b;

	if (as->single || d->fmt == F_LI)
		return 0;
	switch (d->op) {
	case SVMGPU_OP_IF:
	case SVMGPU_OP_LOOP:
		if (as->depth == SVMGPU_ISA_MAX_NEST)
			return asm_error(as, at, "IF/LOOP nested deeper than %d", SVMGPU_ISA_MAX_NEST);
		b = &as->blocks[as->depth++];
		b->op = d->op;
		b->has_else = false;
		b->line = as->line;
		b->column = column_of(as, at);
		b->region = ++as->next_region;
		break;
	case SVMGPU_OP_ELSE:
		if (!as->depth || as->blocks[as->depth - 1].op != SVMGPU_OP_IF)
			return asm_error(as, at, "ELSE without IF");
		b = &as->blocks[as->depth - 1];
		if (b->has_else)
			return asm_error(as, at, "second ELSE for the IF of line %u", b->line);
		b->has_else = true;
		b->region = ++as->next_region;
		break;
	case SVMGPU_OP_ENDIF:
		if (!as->depth)
			return asm_error(as, at, "ENDIF without IF");
		b = &as->blocks[as->depth - 1];
		if (b->op != SVMGPU_OP_IF)
			return asm_error(as, at, "ENDIF closes the LOOP of line %u", b->line);
		as->depth--;
		break;
	case SVMGPU_OP_ENDLOOP:
		if (!as->depth)
			return asm_error(as, at, "ENDLOOP without LOOP");
		b = &as->blocks[as->depth - 1];
		if (b->op != SVMGPU_OP_LOOP)
			return asm_error(as, at, "ENDLOOP closes the IF of line %u", b->line);
		as->depth--;
		break;
	case SVMGPU_OP_BREAK: {
		unsigned int i;

		for (i = 0; i < as->depth; i++)
			if (as->blocks[i].op == SVMGPU_OP_LOOP)
				return 0;
		return asm_error(as, at, "BREAK outside a LOOP");
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

static int encode(struct assembler *as, const struct opdesc *d, const char *at, char **opv, int nops)
{
	uint8_t rd = 0, ra = 0, rb = 0, rc = 0;
	int32_t imm = 0;
	bool has_off;
	int ret;

	if (d->fmt == F_ATOM ? (nops != 4 && nops != 5) : nops != fmt_nops[d->fmt]) {
		const char *where = nops ? opv[0] : at;

		if (d->fmt == F_NONE)
			return asm_error(as, where, "%s takes no operands", d->name);
		return asm_error(as, where, "%s takes operands '%s', got %d operand%s", d->name,
				 fmt_usage[d->fmt], nops, nops == 1 ? "" : "s");
	}
	switch (d->fmt) {
	case F_NONE:
		break;
	case F_JMP: {
		struct label *l;

		if (!is_ident(opv[0]) || looks_like_reg(opv[0]) || find_symbol(as, opv[0])) {
			ret = parse_imm32(as, opv[0], &imm);
			if (ret)
				return ret;
			break;
		}
		if (!as->emit)
			break;	/* labels are resolved in the second pass */
		l = find_label(as, opv[0]);
		if (!l)
			return asm_error(as, opv[0], "undefined label '%s'", opv[0]);
		if (l->region != cur_region(as))
			return asm_error(as, opv[0], "JMP to '%s' leaves or enters an IF/LOOP region",
					 opv[0]);
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
			ret = asm_error(as, opv[1], "atomics take no offset: '%s'", opv[1]);
		if (!ret)
			ret = parse_reg(as, opv[2], &rb);
		if (!ret && nops == 5)
			ret = parse_reg(as, opv[3], &rc);
		if (!ret)
			ret = parse_atomic_op(as, opv[nops - 1], &aop);
		if (ret)
			return ret;
		if (aop == SVMGPU_ATOMIC_CMPXCHG && nops != 5)
			return asm_error(as, opv[nops - 1],
					 "CMPXCHG needs a compare register: %s rD, [rA], rB, rC, CMPXCHG",
					 d->name);
		imm = SVMGPU_ISA_ATOM_IMM(aop, rc);
		break;
	}
	case F_LI: {
		int64_t v;

		ret = parse_reg(as, opv[0], &rd);
		if (!ret)
			ret = parse_expr(as, opv[1], true, &v);
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

/* Split "a, [b+c], d" into operands at top-level commas, in place. */
static int split_operands(struct assembler *as, char *s, char **opv, int *nops)
{
	int n = 0, depth = 0;
	char *start, *p;

	s = trim(s);
	*nops = 0;
	if (!*s)
		return 0;
	start = s;
	for (p = s;; p++) {
		if (*p == '[' || *p == '(')
			depth++;
		else if (*p == ']' || *p == ')')
			depth--;
		if ((*p == ',' && depth == 0) || *p == '\0') {
			bool end = *p == '\0';

			*p = '\0';
			if (n == MAX_OPERANDS)
				return asm_error(as, start, "too many operands (at most %d)", MAX_OPERANDS);
			opv[n] = trim(start);
			if (!*opv[n])
				return asm_error(as, start, "empty operand");
			n++;
			if (end)
				break;
			start = p + 1;
		}
	}
	*nops = n;
	return 0;
}

static int add_symbol(struct assembler *as, const char *name, const char *at, enum sym_kind kind,
		      int64_t value, int64_t size)
{
	struct symbol *sym = find_symbol(as, name);

	if (sym)
		return asm_error(as, at, "'%s' is already defined at line %u", name, sym->line);
	if (find_op(name) || looks_like_reg(name) || !strcmp(name, "sizeof"))
		return asm_error(as, at, "'%s' is reserved and cannot be a symbol", name);
	if (as->nsyms == as->syms_cap) {
		size_t cap = as->syms_cap ? as->syms_cap * 2 : 16;
		struct symbol *n = realloc(as->syms, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		as->syms = n;
		as->syms_cap = cap;
	}
	sym = &as->syms[as->nsyms++];
	memset(sym, 0, sizeof(*sym));
	snprintf(sym->name, sizeof(sym->name), "%s", name);
	sym->kind = kind;
	sym->value = value;
	sym->size = size;
	sym->align = 1;
	sym->line = as->line;
	sym->column = column_of(as, at);
	return 0;
}

static int check_name(struct assembler *as, const char *name, const char *what)
{
	const char *p;

	for (p = name; *p; p++)
		if (*p == '.' || !is_ident_char(*p))
			break;
	if (!*name || *p || isdigit((unsigned char)*name))
		return asm_error(as, name, "bad %s name '%s'", what, name);
	if (strlen(name) >= MAX_NAME)
		return asm_error(as, name, "%s name '%s' is longer than %d characters", what, name,
				 MAX_NAME - 1);
	return 0;
}

static struct macro *find_macro(struct assembler *as, const char *name)
{
	size_t i;

	for (i = 0; i < as->nmacros; i++)
		if (!strcasecmp(as->macros[i].name, name))
			return &as->macros[i];
	return NULL;
}

/* .macro NAME [PARAM[, PARAM...]] */
static int define_macro(struct assembler *as, char *rest, const char *at)
{
	char *opv[MAX_OPERANDS], *name = rest, *p;
	struct macro *m;
	int n, i, ret;

	for (p = name; *p && !isspace((unsigned char)*p) && *p != ','; p++)
		;
	if (*p)
		*p++ = '\0';
	if (!*name)
		return asm_error(as, at, ".macro needs a name");
	ret = check_name(as, name, "macro");
	if (ret)
		return ret;
	if (find_op(name) || find_macro(as, name))
		return asm_error(as, name, "macro '%s' is already an instruction or a macro", name);
	ret = split_operands(as, p, opv, &n);
	if (ret)
		return ret;
	if (n > MAX_PARAMS)
		return asm_error(as, opv[MAX_PARAMS], "a macro takes at most %d parameters", MAX_PARAMS);
	for (i = 0; i < n; i++) {
		ret = check_name(as, opv[i], "parameter");
		if (ret)
			return ret;
	}
	if (as->nmacros == as->macros_cap) {
		size_t cap = as->macros_cap ? as->macros_cap * 2 : 8;
		struct macro *nm = realloc(as->macros, cap * sizeof(*nm));

		if (!nm)
			return -ENOMEM;
		as->macros = nm;
		as->macros_cap = cap;
	}
	m = &as->macros[as->nmacros];
	memset(m, 0, sizeof(*m));
	snprintf(m->name, sizeof(m->name), "%s", name);
	for (i = 0; i < n; i++)
		snprintf(m->params[i], sizeof(m->params[i]), "%s", opv[i]);
	m->nparams = n;
	m->line = as->line;
	m->column = column_of(as, at);
	as->defining = (long)as->nmacros++;
	return 0;
}

static int macro_append(struct assembler *as, const char *text)
{
	struct macro *m = &as->macros[as->defining];

	if (m->nbody == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 8;
		struct macro_line *b = realloc(m->body, cap * sizeof(*b));

		if (!b)
			return -ENOMEM;
		m->body = b;
		m->cap = cap;
	}
	m->body[m->nbody].text = strdup(text);
	if (!m->body[m->nbody].text)
		return -ENOMEM;
	m->body[m->nbody++].line = as->line;
	return 0;
}

static int process_line(struct assembler *as, char *line);

/*
 * Substitute \PARAM and \@ in one body line; NULL on error (*ret set), or
 * with *ret 0 once the pass's MAX_MACRO_BYTES are used up (a line whose
 * arguments hold its parameter many times grows geometrically with the
 * nesting: 8 levels of 16 uses turn 300 bytes into 32 GiB).
 */
static char *macro_subst(struct assembler *as, const struct macro *m, const char *text,
			 char **argv, unsigned long id, int *ret)
{
	size_t cap = strlen(text) + 64, n = 0;
	char *out = malloc(cap), *o;
	const char *p;

	*ret = -ENOMEM;
	if (!out)
		return NULL;
	for (p = text; *p;) {
		const char *add = p, *q;
		char num[24];
		size_t len = 1;
		int i;

		if (*p == '\\' && p[1] == '@') {
			snprintf(num, sizeof(num), "%lu", id);
			add = num;
			len = strlen(num);
			p += 2;
		} else if (*p == '\\') {
			for (q = p + 1; is_ident_char(*q) && *q != '.'; q++)
				;
			for (i = 0; i < m->nparams; i++)
				if ((size_t)(q - p - 1) == strlen(m->params[i]) &&
				    !strncmp(p + 1, m->params[i], (size_t)(q - p - 1)))
					break;
			if (i == m->nparams) {
				as->force_column = (unsigned int)(p - text) + 1;
				*ret = asm_error(as, NULL, "macro '%s' has no parameter '%.*s'", m->name,
						 (int)(q - p), p);
				as->force_column = 0;
				free(out);
				return NULL;
			}
			add = argv[i];
			len = strlen(add);
			p = q;
		} else {
			p++;
		}
		if (as->expanded_bytes + n + len > MAX_MACRO_BYTES) {
			as->expanded_bytes = MAX_MACRO_BYTES + 1;
			free(out);
			*ret = 0;
			return NULL;
		}
		if (n + len + 1 > cap) {
			cap = (n + len + 1) * 2;
			o = realloc(out, cap);
			if (!o) {
				free(out);
				return NULL;
			}
			out = o;
		}
		memcpy(out + n, add, len);
		n += len;
	}
	out[n] = '\0';
	as->expanded_bytes += n;
	*ret = 0;
	return out;
}

static int expand_macro(struct assembler *as, const struct macro *m, const char *at, char **argv,
			int nargs)
{
	const char *lbuf = as->lbuf, *lend = as->lend, *mname = as->mname;
	unsigned int line = as->line, mline = as->mline;
	unsigned long id = as->expansions++;
	size_t i;
	int ret = 0;

	if (nargs != m->nparams)
		return asm_error(as, at, "macro '%s' takes %d argument%s, got %d", m->name, m->nparams,
				 m->nparams == 1 ? "" : "s", nargs);
	if (as->mdepth == MAX_MACRO_DEPTH)
		return asm_error(as, at, "macros nested deeper than %d (does '%s' use itself?)",
				 MAX_MACRO_DEPTH, m->name);
	if (!as->mname)
		as->mline = as->line;
	as->mdepth++;
	for (i = 0; i < m->nbody && ret != -ENOMEM; i++) {
		char *text;

		/* No pass runs for ever: 16 levels of 16 uses are 16^16 lines. */
		if (++as->expanded_lines > MAX_MACRO_LINES ||
		    as->expanded_bytes > MAX_MACRO_BYTES)
			break;
		as->line = m->body[i].line;
		as->mname = m->name;
		as->lbuf = NULL;
		text = macro_subst(as, m, m->body[i].text, argv, id, &ret);
		if (text) {
			as->lbuf = text;
			as->lend = text + strlen(text);
			ret = process_line(as, text);
			free(text);
		}
	}
	as->mdepth--;
	as->lbuf = lbuf;
	as->lend = lend;
	as->line = line;
	as->mname = mname;
	as->mline = mline;
	/*
	 * Reported once, at the outermost use (an inner use that was its
	 * macro's last line leaves no line for an outer loop to stop at).
	 */
	if (as->expanded_lines > MAX_MACRO_LINES && !as->mdepth)
		return asm_error(as, at, "macro '%s' expands to more than %u lines", m->name,
				 MAX_MACRO_LINES);
	if (as->expanded_bytes > MAX_MACRO_BYTES && !as->mdepth)
		return asm_error(as, at, "macro '%s' expands to more than %u bytes", m->name,
				 MAX_MACRO_BYTES);
	return ret == -ENOMEM ? ret : 0;
}

static int directive(struct assembler *as, const char *mn, char **opv, int nops)
{
	struct symbol *st;
	int64_t v, size, align;
	int ret, i;

	if (!strcasecmp(mn, ".equ")) {
		if (nops != 2)
			return asm_error(as, mn, ".equ takes 'NAME, value', got %d operand%s", nops,
					 nops == 1 ? "" : "s");
		ret = check_name(as, opv[0], "symbol");
		if (!ret)
			ret = parse_expr(as, opv[1], true, &v);
		if (!ret)
			ret = add_symbol(as, opv[0], opv[0], SYM_EQU, v, 0);
		return ret;
	}
	if (!strcasecmp(mn, ".struct")) {
		if (nops != 1)
			return asm_error(as, mn, ".struct takes 'NAME', got %d operands", nops);
		if (as->cur_struct >= 0)
			return asm_error(as, mn, ".struct inside .struct %s",
					 as->syms[as->cur_struct].name);
		ret = check_name(as, opv[0], "structure");
		if (!ret)
			ret = add_symbol(as, opv[0], opv[0], SYM_STRUCT, 0, 0);
		if (!ret)
			as->cur_struct = (long)as->nsyms - 1;
		return ret;
	}
	if (!strcasecmp(mn, ".field")) {
		char name[2 * MAX_NAME];

		if (as->cur_struct < 0)
			return asm_error(as, mn, ".field outside a .struct");
		if (nops != 2 && nops != 3)
			return asm_error(as, mn, ".field takes 'NAME, size[, align]', got %d operand%s",
					 nops, nops == 1 ? "" : "s");
		ret = check_name(as, opv[0], "field");
		if (!ret)
			ret = parse_expr(as, opv[1], false, &size);
		if (ret)
			return ret;
		if (size <= 0 || size > INT32_MAX)
			return asm_error(as, opv[1], "field size %" PRId64 " is not in 1..%d", size,
					 INT32_MAX);
		/* default: natural alignment, the largest power of two dividing size, up to 8 */
		align = size & -size;
		if (align > 8)
			align = 8;
		if (nops == 3) {
			ret = parse_expr(as, opv[2], false, &align);
			if (ret)
				return ret;
			if (align <= 0 || align > MAX_ALIGN || (align & (align - 1)))
				return asm_error(as, opv[2], "alignment %" PRId64 " is not a power of two up to %d",
						 align, MAX_ALIGN);
		}
		st = &as->syms[as->cur_struct];
		v = (st->size + align - 1) & -align;
		if (v + size > INT32_MAX)
			return asm_error(as, opv[1], "structure %s is larger than %d bytes", st->name,
					 INT32_MAX);
		snprintf(name, sizeof(name), "%.63s.%.63s", st->name, opv[0]);
		ret = add_symbol(as, name, opv[0], SYM_FIELD, v, size);
		if (ret)
			return ret;
		st = &as->syms[as->cur_struct];
		st->size = v + size;
		if (align > st->align)
			st->align = align;
		return 0;
	}
	if (!strcasecmp(mn, ".ends")) {
		if (as->cur_struct < 0)
			return asm_error(as, mn, ".ends without .struct");
		if (nops)
			return asm_error(as, opv[0], ".ends takes no operands");
		st = &as->syms[as->cur_struct];
		st->size = (st->size + st->align - 1) & -st->align;
		as->cur_struct = -1;
		return 0;
	}
	if (!strcasecmp(mn, ".word")) {
		if (!nops)
			return asm_error(as, mn, ".word needs at least one value");
		for (i = 0; i < nops; i++) {
			ret = parse_expr(as, opv[i], true, &v);
			if (!ret)
				ret = emit(as, (uint64_t)v);
			if (ret)
				return ret;
		}
		return 0;
	}
	if (!strcasecmp(mn, ".dword")) {
		int32_t lo = 0, hi = 0;

		if (nops != 2)
			return asm_error(as, mn, ".dword takes 'low32, high32', got %d operand%s", nops,
					 nops == 1 ? "" : "s");
		ret = parse_imm32(as, opv[0], &lo);
		if (!ret)
			ret = parse_imm32(as, opv[1], &hi);
		if (!ret)
			ret = emit(as, (uint64_t)(uint32_t)lo | (uint64_t)(uint32_t)hi << 32);
		return ret;
	}
	if (!strcasecmp(mn, ".endm"))
		return asm_error(as, mn, ".endm without .macro");
	return asm_error(as, mn, "unknown directive '%s'", mn);
}

static void strip_comment(char *line)
{
	char *p;

	for (p = line; *p; p++) {
		if (*p == ';' || (p[0] == '/' && p[1] == '/')) {
			*p = '\0';
			break;
		}
	}
}

static int process_line(struct assembler *as, char *line)
{
	char *opv[MAX_OPERANDS], *p, *mn;
	const struct opdesc *d;
	const struct macro *m;
	int nops = 0, ret;

	strip_comment(line);
	if (as->defining >= 0) {
		char *t = trim(line);

		for (p = t; *p && !isspace((unsigned char)*p); p++)
			;
		if ((size_t)(p - t) == 5 && !strncasecmp(t, ".endm", 5)) {
			as->defining = -1;
			if (*trim(p))
				return asm_error(as, trim(p), ".endm takes no operands");
			return 0;
		}
		if ((size_t)(p - t) == 6 && !strncasecmp(t, ".macro", 6))
			return asm_error(as, t, ".macro inside .macro %s", as->macros[as->defining].name);
		return macro_append(as, line);	/* untrimmed: columns stay those of the source */
	}
	line = trim(line);
	/* labels: "name:" (several allowed) */
	for (;;) {
		char *colon = line, *q;

		while (is_ident_char(*colon))
			colon++;
		q = colon;
		while (isspace((unsigned char)*q))
			q++;
		if (*q != ':' || colon == line)
			break;
		*colon = '\0';
		if (as->cur_struct >= 0)
			return asm_error(as, line, "label '%s' inside .struct %s", line,
					 as->syms[as->cur_struct].name);
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
	if (!strcasecmp(mn, ".macro")) {
		if (as->cur_struct >= 0)
			return asm_error(as, mn, ".macro inside .struct %s", as->syms[as->cur_struct].name);
		/* Its expansion reads the macro table that a definition may move. */
		if (as->mdepth)
			return asm_error(as, mn, ".macro inside the expansion of macro %s", as->mname);
		return define_macro(as, trim(p), mn);
	}
	ret = split_operands(as, p, opv, &nops);
	if (ret)
		return ret;
	if (*mn == '.')
		return directive(as, mn, opv, nops);
	if (as->cur_struct >= 0)
		return asm_error(as, mn, "'%s' inside .struct %s (only .field and .ends)", mn,
				 as->syms[as->cur_struct].name);
	d = find_op(mn);
	if (d) {
		ret = track_block(as, d, mn);
		if (ret)
			return ret;
		return encode(as, d, mn, opv, nops);
	}
	m = as->single ? NULL : find_macro(as, mn);
	if (m)
		return expand_macro(as, m, mn, opv, nops);
	return asm_error(as, mn, "unknown instruction '%s'", mn);
}

static void free_pass(struct assembler *as)
{
	size_t i, j;

	for (i = 0; i < as->nmacros; i++) {
		for (j = 0; j < as->macros[i].nbody; j++)
			free(as->macros[i].body[j].text);
		free(as->macros[i].body);
	}
	free(as->macros);
	as->macros = NULL;
	as->nmacros = as->macros_cap = 0;
	free(as->syms);
	as->syms = NULL;
	as->nsyms = as->syms_cap = 0;
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
	as->label_seq = 0;
	as->expansions = 0;
	as->expanded_lines = 0;
	as->expanded_bytes = 0;
	as->cur_struct = -1;
	as->defining = -1;
	for (;;) {
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
		as->lbuf = buf;
		as->lend = buf + n;
		ret = process_line(as, buf);
		as->lbuf = NULL;
		if (ret == -ENOMEM || ret == -E2BIG)
			break;
		ret = 0;
		s += n;
		if (*s == '\n')
			s++;
		if (!*s)
			break;
	}
	free(buf);
	if (ret)
		return ret;
	if (as->defining >= 0) {
		as->line = as->macros[as->defining].line;
		as->force_column = as->macros[as->defining].column;
		asm_error(as, NULL, ".macro %s is never closed by .endm", as->macros[as->defining].name);
	}
	if (as->cur_struct >= 0) {
		as->line = as->syms[as->cur_struct].line;
		as->force_column = as->syms[as->cur_struct].column;
		asm_error(as, NULL, ".struct %s is never closed by .ends", as->syms[as->cur_struct].name);
	}
	as->force_column = 0;
	while (as->depth) {
		struct block *b = &as->blocks[--as->depth];

		as->line = b->line;
		as->force_column = b->column;
		asm_error(as, NULL, "%s is never closed by %s", b->op == SVMGPU_OP_IF ? "IF" : "LOOP",
			  b->op == SVMGPU_OP_IF ? "ENDIF" : "ENDLOOP");
		as->force_column = 0;
	}
	if (as->len == 0 && as->ndiags == 0) {
		as->line = 0;
		asm_error(as, NULL, "empty program: no instructions");
	}
	return 0;
}

SVMGPU_PUBLIC int svmgpu_program_assemble_diag(const char *source, struct svmgpu_program **prog,
					       struct svmgpu_asm_error *diags, size_t max_diags,
					       size_t *count)
{
	struct assembler as = { .diags = diags, .max_diags = diags ? max_diags : 0 };
	struct svmgpu_program *p = NULL;
	size_t i;
	int ret;

	if (count)
		*count = 0;
	if (prog)
		*prog = NULL;
	if (!source || !prog || (max_diags && !diags) ||
	    max_diags > SIZE_MAX / sizeof(*diags))
		return -EINVAL;
	if (diags)
		memset(diags, 0, max_diags * sizeof(*diags));
	/* first pass: labels; second pass: code and diagnostics */
	ret = run_pass(&as, source);
	free_pass(&as);
	if (!ret) {
		as.emit = true;
		as.report = true;
		as.cap = as.len ? as.len : 1;
		as.code = aligned_alloc(SVMGPU_ISA_INSN_SIZE, as.cap * sizeof(uint64_t));
		ret = as.code ? run_pass(&as, source) : -ENOMEM;
		free_pass(&as);
	}
	if (count)
		*count = as.ndiags;
	if (!ret && as.ndiags)
		ret = -EINVAL;
	if (ret)
		goto out;
	ret = -ENOMEM;
	p = calloc(1, sizeof(*p));
	if (!p)
		goto out;
	p->code = as.code;
	as.code = NULL;
	p->len = as.len;
	p->nlabels = as.nlabels;
	p->labels = calloc(as.nlabels + 1, sizeof(char *));
	p->label_index = calloc(as.nlabels + 1, sizeof(size_t));
	if (!p->labels || !p->label_index)
		goto out;
	for (i = 0; i < as.nlabels; i++) {
		p->labels[i] = strdup(as.labels[i].name);
		p->label_index[i] = as.labels[i].index;
		if (!p->labels[i])
			goto out;
	}
	*prog = p;
	p = NULL;
	ret = 0;
out:
	if (p)
		svmgpu_program_destroy(p);
	free(as.code);
	free(as.labels);
	return ret;
}

SVMGPU_PUBLIC int svmgpu_program_assemble(const char *source, struct svmgpu_program **prog,
					  struct svmgpu_asm_error *err)
{
	if (err)
		memset(err, 0, sizeof(*err));
	return svmgpu_program_assemble_diag(source, prog, err, err ? 1 : 0, NULL);
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

/* The instruction's text, or -EINVAL if its opcode or sreg/atomic op is unknown. */
static int disasm_text(uint64_t insn, char *buf, size_t size)
{
	const struct opdesc *d = find_opcode(SVMGPU_ISA_OP(insn));
	uint8_t rd = SVMGPU_ISA_RD(insn), ra = SVMGPU_ISA_RA(insn), rb = SVMGPU_ISA_RB(insn);
	int32_t imm = SVMGPU_ISA_IMM(insn);
	char b[24];

	if (!d)
		return -EINVAL;
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
		if (imm < 0 || imm >= SVMGPU_SR_NUM)
			return -EINVAL;
		return snprintf(buf, size, "%s r%u, %s", d->name, rd, sreg_names[imm]);
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

		if (aop >= SVMGPU_ATOMIC_NUM_OPS)
			return -EINVAL;
		return snprintf(buf, size, "%s r%u, [r%u], r%u, r%u, %s", d->name, rd, ra, rb,
				SVMGPU_ISA_IMM_RC(imm), atomic_names[aop]);
	}
	}
	return -EINVAL;
}

/* Assemble one line of disassembler output to exactly one word. */
static int assemble_one(const char *text, uint64_t *word)
{
	struct assembler as = { .emit = true, .single = true, .cur_struct = -1, .defining = -1 };
	uint64_t code[1];
	char buf[128];
	int ret;

	snprintf(buf, sizeof(buf), "%s", text);
	as.code = code;
	as.cap = 1;
	as.line = 1;
	as.lbuf = buf;
	as.lend = buf + strlen(buf);
	ret = process_line(&as, buf);
	if (ret || as.len != 1)
		return -EINVAL;
	*word = code[0];
	return 0;
}

SVMGPU_PUBLIC int svmgpu_insn_disassemble(uint64_t insn, char *buf, size_t size)
{
	char text[128];
	uint64_t word;

	if (!buf && size)
		return -EINVAL;
	/*
	 * The text must assemble back to the same word: an undecodable word
	 * (unknown opcode, register >= 32, unknown sreg or atomic op) is a
	 * ".word"; a decodable one with bits in fields its instruction ignores
	 * is a ".word" too, with its meaning as a comment.
	 */
	if (disasm_text(insn, text, sizeof(text)) < 0 || assemble_one(text, &word)) {
		snprintf(buf, size, ".word 0x%016" PRIx64, insn);
		return -EINVAL;
	}
	if (word != insn)
		return snprintf(buf, size, ".word 0x%016" PRIx64 " ; %s", insn, text);
	return snprintf(buf, size, "%s", text);
}

/*
 * Which words of @code cannot be written as their instruction where they
 * stand: a control instruction the assembler would reject there (ELSE,
 * ENDIF, ENDLOOP or BREAK with no matching open region, a 17th nesting
 * level, an IF or LOOP never closed).  Demoting one may unbalance another
 * (the ELSE of a demoted IF), so repeat until nothing changes.
 */
static void mark_unbalanced(const uint64_t *code, size_t n, const bool *decoded, bool *demoted)
{
	struct { size_t at; uint8_t op; bool has_else; } stack[SVMGPU_ISA_MAX_NEST];
	bool changed = true;

	while (changed) {
		unsigned int depth = 0, loops = 0, i;
		size_t w;

		changed = false;
		for (w = 0; w < n; w++) {
			uint8_t op = SVMGPU_ISA_OP(code[w]);
			bool ok = true;

			if (!decoded[w] || demoted[w])
				continue;
			switch (op) {
			case SVMGPU_OP_IF:
			case SVMGPU_OP_LOOP:
				ok = depth < SVMGPU_ISA_MAX_NEST;
				if (ok) {
					stack[depth].at = w;
					stack[depth].op = op;
					stack[depth++].has_else = false;
					loops += op == SVMGPU_OP_LOOP;
				}
				break;
			case SVMGPU_OP_ELSE:
				ok = depth && stack[depth - 1].op == SVMGPU_OP_IF && !stack[depth - 1].has_else;
				if (ok)
					stack[depth - 1].has_else = true;
				break;
			case SVMGPU_OP_ENDIF:
			case SVMGPU_OP_ENDLOOP:
				ok = depth && stack[depth - 1].op ==
					(op == SVMGPU_OP_ENDIF ? SVMGPU_OP_IF : SVMGPU_OP_LOOP);
				if (ok)
					loops -= stack[--depth].op == SVMGPU_OP_LOOP;
				break;
			case SVMGPU_OP_BREAK:
				ok = loops > 0;
				break;
			default:
				break;
			}
			if (!ok) {
				demoted[w] = true;
				changed = true;
			}
		}
		for (i = 0; i < depth; i++) {
			demoted[stack[i].at] = true;
			changed = true;
		}
	}
}

SVMGPU_PUBLIC int svmgpu_program_disassemble(const struct svmgpu_program *prog, char **text)
{
	size_t n, w, len = 0, cap;
	bool *decoded, *demoted;
	char *out = NULL;
	int ret = -ENOMEM;

	if (!prog || !text)
		return -EINVAL;
	*text = NULL;
	n = prog->len;
	decoded = calloc(n + 1, sizeof(bool));
	demoted = calloc(n + 1, sizeof(bool));
	cap = n * 96 + 1;
	out = malloc(cap);
	if (!decoded || !demoted || !out)
		goto out;
	for (w = 0; w < n; w++) {
		char t[128];

		decoded[w] = svmgpu_insn_disassemble(prog->code[w], t, sizeof(t)) >= 0 &&
			     strncmp(t, ".word", 5);
	}
	mark_unbalanced(prog->code, n, decoded, demoted);
	out[0] = '\0';
	for (w = 0; w < n; w++) {
		char t[128], line[192];
		int k;

		svmgpu_insn_disassemble(prog->code[w], t, sizeof(t));
		if (demoted[w])
			snprintf(line, sizeof(line), ".word 0x%016" PRIx64 " ; %s (unbalanced)",
				 prog->code[w], t);
		else
			snprintf(line, sizeof(line), "%s", t);
		k = snprintf(out + len, cap - len, "    %-44s ; %6zx: %016" PRIx64 "\n", line, w * 8,
			     prog->code[w]);
		if (k < 0 || (size_t)k >= cap - len) {
			char *o = realloc(out, cap * 2 + (size_t)(k > 0 ? k : 0));

			if (!o)
				goto out;
			out = o;
			cap = cap * 2 + (size_t)(k > 0 ? k : 0);
			w--;
			continue;
		}
		len += (size_t)k;
	}
	*text = out;
	out = NULL;
	ret = 0;
out:
	free(out);
	free(decoded);
	free(demoted);
	return ret;
}
