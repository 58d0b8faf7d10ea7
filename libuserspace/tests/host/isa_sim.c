// SPDX-License-Identifier: MIT
/*
 * Reference interpreter of the svmgpu ISA for host tests (see isa_sim.h).
 */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "isa_sim.h"

#define WAVE	SVMGPU_ISA_WAVE_SIZE

struct frame {
	bool loop;
	uint32_t saved;		/* mask at IF/LOOP */
	uint32_t else_mask;	/* IF: lanes for ELSE */
	uint64_t start;		/* LOOP: first instruction of the body */
};

struct wave {
	uint64_t pc;
	uint32_t lanes;		/* lanes that exist */
	uint32_t mask;		/* active */
	uint32_t exited;
	struct frame stack[SVMGPU_ISA_MAX_NEST];
	int depth;
	bool at_bar;
	bool done;
};

struct wg {
	const struct svmgpu_cmd_launch *l;
	uint32_t id[3];
	uint64_t linear;
	uint64_t (*r)[SVMGPU_ISA_NUM_REGS];	/* per lane */
	struct wave *waves;
	int nwaves;
	struct sim_result *res;
};

static float f32(uint64_t v)
{
	uint32_t b = (uint32_t)v;
	float f;

	memcpy(&f, &b, 4);
	return f;
}

static uint64_t from_f32(float f)
{
	uint32_t b;

	memcpy(&b, &f, 4);
	return b;
}

static double f64(uint64_t v)
{
	double d;

	memcpy(&d, &v, 8);
	return d;
}

static uint64_t from_f64(double d)
{
	uint64_t b;

	memcpy(&b, &d, 8);
	return b;
}

static int64_t sat_i64(double d)
{
	if (isnan(d))
		return 0;
	if (d >= 9223372036854775808.0)
		return INT64_MAX;
	if (d < -9223372036854775808.0)
		return INT64_MIN;
	return (int64_t)d;
}

static int fail(struct wg *g, uint32_t code, uint64_t va)
{
	g->res->error = code;
	g->res->err_va = va;
	return -1;
}

/* Scan forward from @pc (an IF or ELSE) to the matching ELSE/ENDIF. */
static int skip_block(struct wg *g, struct wave *w, bool stop_at_else)
{
	uint64_t pc = w->pc + 8;
	int nest = 0;

	for (;; pc += 8) {
		uint8_t op = SVMGPU_ISA_OP(*(const uint64_t *)(uintptr_t)pc);

		if (op == SVMGPU_OP_IF) {
			nest++;
		} else if (op == SVMGPU_OP_ENDIF) {
			if (!nest)
				break;
			nest--;
		} else if (op == SVMGPU_OP_ELSE && !nest && stop_at_else) {
			break;
		} else if (pc - w->pc > (1u << 24)) {
			return fail(g, SVMGPU_ERR_ILLEGAL_INSTRUCTION, w->pc);
		}
	}
	w->pc = pc;	/* the ELSE/ENDIF executes next */
	return 0;
}

static uint64_t sreg(struct wg *g, int lane, int32_t n, struct wave *w, bool *ok)
{
	const struct svmgpu_cmd_launch *l = g->l;

	*ok = true;
	switch (n) {
	case SVMGPU_SR_LANE_ID: return lane;
	case SVMGPU_SR_WG_ID_X: return g->id[0];
	case SVMGPU_SR_WG_ID_Y: return g->id[1];
	case SVMGPU_SR_WG_ID_Z: return g->id[2];
	case SVMGPU_SR_WG_SIZE: return l->wg_size;
	case SVMGPU_SR_GRID_X: return l->grid_x;
	case SVMGPU_SR_GRID_Y: return l->grid_y;
	case SVMGPU_SR_GRID_Z: return l->grid_z;
	case SVMGPU_SR_GLOBAL_ID: return g->linear * l->wg_size + lane;
	case SVMGPU_SR_ARGS: return l->args_va;
	case SVMGPU_SR_WAVE_ID: return (uint64_t)(w - g->waves);
	case SVMGPU_SR_QUEUE: return 0;
	}
	*ok = false;
	return 0;
}

static bool alu(uint8_t op, uint64_t a, uint64_t b, uint64_t *d)
{
	int64_t sa = (int64_t)a, sb = (int64_t)b;

	switch (op) {
	case SVMGPU_OP_ADD: *d = a + b; break;
	case SVMGPU_OP_SUB: *d = a - b; break;
	case SVMGPU_OP_MUL: *d = a * b; break;
	case SVMGPU_OP_MULHU: *d = (uint64_t)(((unsigned __int128)a * b) >> 64); break;
	case SVMGPU_OP_DIVU: *d = b ? a / b : UINT64_MAX; break;
	case SVMGPU_OP_DIVS:
		*d = !b ? UINT64_MAX : (sa == INT64_MIN && sb == -1) ? (uint64_t)INT64_MIN :
		     (uint64_t)(sa / sb);
		break;
	case SVMGPU_OP_REMU: *d = b ? a % b : a; break;
	case SVMGPU_OP_REMS:
		*d = !b ? a : (sa == INT64_MIN && sb == -1) ? 0 : (uint64_t)(sa % sb);
		break;
	case SVMGPU_OP_AND: *d = a & b; break;
	case SVMGPU_OP_OR: *d = a | b; break;
	case SVMGPU_OP_XOR: *d = a ^ b; break;
	case SVMGPU_OP_SHL: *d = a << (b & 63); break;
	case SVMGPU_OP_SHR: *d = a >> (b & 63); break;
	case SVMGPU_OP_SAR: *d = (uint64_t)(sa >> (b & 63)); break;
	case SVMGPU_OP_MINU: *d = a < b ? a : b; break;
	case SVMGPU_OP_MAXU: *d = a > b ? a : b; break;
	case SVMGPU_OP_MINS: *d = sa < sb ? a : b; break;
	case SVMGPU_OP_MAXS: *d = sa > sb ? a : b; break;
	case SVMGPU_OP_SEQ: *d = a == b; break;
	case SVMGPU_OP_SNE: *d = a != b; break;
	case SVMGPU_OP_SLTU: *d = a < b; break;
	case SVMGPU_OP_SLTS: *d = sa < sb; break;
	case SVMGPU_OP_SLEU: *d = a <= b; break;
	case SVMGPU_OP_SLES: *d = sa <= sb; break;
	case SVMGPU_OP_FADD: *d = from_f32(f32(a) + f32(b)); break;
	case SVMGPU_OP_FSUB: *d = from_f32(f32(a) - f32(b)); break;
	case SVMGPU_OP_FMUL: *d = from_f32(f32(a) * f32(b)); break;
	case SVMGPU_OP_FDIV: *d = from_f32(f32(a) / f32(b)); break;
	case SVMGPU_OP_FMIN: *d = from_f32(fminf(f32(a), f32(b))); break;
	case SVMGPU_OP_FMAX: *d = from_f32(fmaxf(f32(a), f32(b))); break;
	case SVMGPU_OP_FSLT: *d = f32(a) < f32(b); break;
	case SVMGPU_OP_FSEQ: *d = f32(a) == f32(b); break;
	case SVMGPU_OP_FSLE: *d = f32(a) <= f32(b); break;
	case SVMGPU_OP_FSQRT: *d = from_f32(sqrtf(f32(a))); break;
	case SVMGPU_OP_I2F: *d = from_f32((float)sa); break;
	case SVMGPU_OP_F2I: *d = (uint64_t)sat_i64(f32(a)); break;
	case SVMGPU_OP_DADD: *d = from_f64(f64(a) + f64(b)); break;
	case SVMGPU_OP_DSUB: *d = from_f64(f64(a) - f64(b)); break;
	case SVMGPU_OP_DMUL: *d = from_f64(f64(a) * f64(b)); break;
	case SVMGPU_OP_DDIV: *d = from_f64(f64(a) / f64(b)); break;
	case SVMGPU_OP_DMIN: *d = from_f64(fmin(f64(a), f64(b))); break;
	case SVMGPU_OP_DMAX: *d = from_f64(fmax(f64(a), f64(b))); break;
	case SVMGPU_OP_DSLT: *d = f64(a) < f64(b); break;
	case SVMGPU_OP_DSEQ: *d = f64(a) == f64(b); break;
	case SVMGPU_OP_DSLE: *d = f64(a) <= f64(b); break;
	case SVMGPU_OP_DSQRT: *d = from_f64(sqrt(f64(a))); break;
	case SVMGPU_OP_I2D: *d = from_f64((double)sa); break;
	case SVMGPU_OP_D2I: *d = (uint64_t)sat_i64(f64(a)); break;
	case SVMGPU_OP_F2D: *d = from_f64((double)f32(a)); break;
	case SVMGPU_OP_D2F: *d = from_f32((float)f64(a)); break;
	default: return false;
	}
	return true;
}

static int mem_size(uint8_t op)
{
	switch (op) {
	case SVMGPU_OP_LD8: case SVMGPU_OP_LDS8: case SVMGPU_OP_ST8: return 1;
	case SVMGPU_OP_LD16: case SVMGPU_OP_LDS16: case SVMGPU_OP_ST16: return 2;
	case SVMGPU_OP_LD32: case SVMGPU_OP_LDS32: case SVMGPU_OP_ST32: case SVMGPU_OP_ATOM32: return 4;
	default: return 8;
	}
}

static uint64_t atomic_apply(uint8_t op, uint64_t old, uint64_t v, uint64_t cmp, int size, bool *ok)
{
	*ok = true;
	switch (op) {
	case SVMGPU_ATOMIC_ADD: return old + v;
	case SVMGPU_ATOMIC_XCHG: return v;
	case SVMGPU_ATOMIC_CMPXCHG:
		if (size == 4)
			return (uint32_t)old == (uint32_t)cmp ? v : old;
		return old == cmp ? v : old;
	case SVMGPU_ATOMIC_UMIN: return old < v ? old : v;
	case SVMGPU_ATOMIC_UMAX: return old > v ? old : v;
	case SVMGPU_ATOMIC_SMIN:
		if (size == 4)
			return (int32_t)old < (int32_t)v ? old : v;
		return (int64_t)old < (int64_t)v ? old : v;
	case SVMGPU_ATOMIC_SMAX:
		if (size == 4)
			return (int32_t)old > (int32_t)v ? old : v;
		return (int64_t)old > (int64_t)v ? old : v;
	}
	*ok = false;
	return old;
}

/* Lanes leaving (exit/break) also leave every saved mask above @floor. */
static void drop_lanes(struct wave *w, uint32_t lanes, int floor)
{
	int i;

	for (i = w->depth - 1; i > floor; i--) {
		w->stack[i].saved &= ~lanes;
		w->stack[i].else_mask &= ~lanes;
	}
}

static int step(struct wg *g, struct wave *w)
{
	uint64_t insn, pc = w->pc;
	uint8_t op, rd, ra, rb;
	int32_t imm;
	uint32_t m = w->mask & ~w->exited;
	int lane0 = (int)(w - g->waves) * WAVE, i;
	bool ok;

	if (pc & 7 || pc >> SVMGPU_VA_BITS)
		return fail(g, SVMGPU_ERR_INVALID_VA, pc);
	insn = *(const uint64_t *)(uintptr_t)pc;
	op = SVMGPU_ISA_OP(insn);
	rd = SVMGPU_ISA_RD(insn);
	ra = SVMGPU_ISA_RA(insn);
	rb = SVMGPU_ISA_RB(insn);
	imm = SVMGPU_ISA_IMM(insn);
	g->res->instructions++;
	w->pc += 8;

#define R(lane, reg)	g->r[lane0 + (lane)][reg]
#define BVAL(lane)	(rb == SVMGPU_ISA_RB_IMM ? (uint64_t)(int64_t)imm : R(lane, rb))
#define FOR_LANES	for (i = 0; i < WAVE; i++) if (m & (1u << i))
#define CHECK_REG(x)	do { if ((x) >= SVMGPU_ISA_NUM_REGS) return fail(g, SVMGPU_ERR_ILLEGAL_INSTRUCTION, pc); } while (0)
#define CHECK_B()	do { if (rb != SVMGPU_ISA_RB_IMM) CHECK_REG(rb); } while (0)

	switch (op) {
	case SVMGPU_OP_NOP:
		return 0;
	case SVMGPU_OP_EXIT:
		w->exited |= m;
		drop_lanes(w, m, -1);
		w->mask = 0;
		if ((w->exited & w->lanes) == w->lanes)
			w->done = true;
		return 0;
	case SVMGPU_OP_BAR:
		w->at_bar = true;
		return 0;
	case SVMGPU_OP_JMP:
		w->pc = pc + (uint64_t)((int64_t)imm * 8);
		return 0;
	case SVMGPU_OP_IF: {
		uint32_t t = 0;

		CHECK_REG(ra);
		if (w->depth == SVMGPU_ISA_MAX_NEST)
			return fail(g, SVMGPU_ERR_ILLEGAL_INSTRUCTION, pc);
		FOR_LANES
			if (R(i, ra))
				t |= 1u << i;
		w->stack[w->depth++] = (struct frame){ false, w->mask, m & ~t, 0 };
		w->mask = t;
		if (!t) {
			w->pc = pc;
			return skip_block(g, w, true);
		}
		return 0;
	}
	case SVMGPU_OP_ELSE: {
		struct frame *f;

		if (!w->depth || w->stack[w->depth - 1].loop)
			return fail(g, SVMGPU_ERR_ILLEGAL_INSTRUCTION, pc);
		f = &w->stack[w->depth - 1];
		w->mask = f->else_mask & ~w->exited;
		f->else_mask = 0;
		if (!w->mask) {
			w->pc = pc;
			return skip_block(g, w, false);
		}
		return 0;
	}
	case SVMGPU_OP_ENDIF:
		if (!w->depth || w->stack[w->depth - 1].loop)
			return fail(g, SVMGPU_ERR_ILLEGAL_INSTRUCTION, pc);
		w->mask = w->stack[--w->depth].saved & ~w->exited;
		return 0;
	case SVMGPU_OP_LOOP:
		if (w->depth == SVMGPU_ISA_MAX_NEST)
			return fail(g, SVMGPU_ERR_ILLEGAL_INSTRUCTION, pc);
		w->stack[w->depth++] = (struct frame){ true, w->mask, 0, pc + 8 };
		return 0;
	case SVMGPU_OP_BREAK: {
		uint32_t b = 0;
		int loop;

		CHECK_REG(ra);
		for (loop = w->depth - 1; loop >= 0 && !w->stack[loop].loop; loop--)
			;
		if (loop < 0)
			return fail(g, SVMGPU_ERR_ILLEGAL_INSTRUCTION, pc);
		FOR_LANES
			if (R(i, ra))
				b |= 1u << i;
		w->mask &= ~b;
		drop_lanes(w, b, loop);
		return 0;
	}
	case SVMGPU_OP_ENDLOOP:
		if (!w->depth || !w->stack[w->depth - 1].loop)
			return fail(g, SVMGPU_ERR_ILLEGAL_INSTRUCTION, pc);
		if (m) {
			w->pc = w->stack[w->depth - 1].start;
			return 0;
		}
		w->mask = w->stack[--w->depth].saved & ~w->exited;
		return 0;
	case SVMGPU_OP_MOVI:
		CHECK_REG(rd);
		FOR_LANES
			R(i, rd) = (uint64_t)(int64_t)imm;
		return 0;
	case SVMGPU_OP_MOVHI:
		CHECK_REG(rd);
		FOR_LANES
			R(i, rd) = (R(i, rd) & 0xffffffffull) | ((uint64_t)(uint32_t)imm << 32);
		return 0;
	case SVMGPU_OP_S2R:
		CHECK_REG(rd);
		sreg(g, 0, imm, w, &ok);
		if (!ok)
			return fail(g, SVMGPU_ERR_ILLEGAL_INSTRUCTION, pc);
		FOR_LANES
			R(i, rd) = sreg(g, lane0 + i, imm, w, &ok);
		return 0;
	case SVMGPU_OP_SEL: {
		uint8_t rc = SVMGPU_ISA_IMM_RC(imm);

		CHECK_REG(rd); CHECK_REG(ra); CHECK_REG(rb); CHECK_REG(rc);
		FOR_LANES
			R(i, rd) = R(i, rc) ? R(i, ra) : R(i, rb);
		return 0;
	}
	case SVMGPU_OP_MOV:
		CHECK_REG(rd); CHECK_B();
		FOR_LANES
			R(i, rd) = BVAL(i);
		return 0;
	case SVMGPU_OP_LD8 ... SVMGPU_OP_LDS32:
	case SVMGPU_OP_ST8 ... SVMGPU_OP_ST64: {
		int size = mem_size(op);
		bool store = op >= SVMGPU_OP_ST8;

		if (op == 0x67)
			break;
		CHECK_REG(ra);
		CHECK_REG(store ? rb : rd);
		FOR_LANES {
			uint64_t a = R(i, ra) + (uint64_t)(int64_t)imm;
			void *p = (void *)(uintptr_t)a;

			if (a >> SVMGPU_VA_BITS)
				return fail(g, SVMGPU_ERR_INVALID_VA, a);
			if (a & (uint64_t)(size - 1))
				return fail(g, SVMGPU_ERR_MISALIGNED, a);
			if (store) {
				uint64_t v = R(i, rb);

				switch (size) {
				case 1: *(uint8_t *)p = (uint8_t)v; break;
				case 2: *(uint16_t *)p = (uint16_t)v; break;
				case 4: *(uint32_t *)p = (uint32_t)v; break;
				default: *(uint64_t *)p = v; break;
				}
				continue;
			}
			switch (op) {
			case SVMGPU_OP_LD8: R(i, rd) = *(uint8_t *)p; break;
			case SVMGPU_OP_LD16: R(i, rd) = *(uint16_t *)p; break;
			case SVMGPU_OP_LD32: R(i, rd) = *(uint32_t *)p; break;
			case SVMGPU_OP_LD64: R(i, rd) = *(uint64_t *)p; break;
			case SVMGPU_OP_LDS8: R(i, rd) = (uint64_t)(int64_t)*(int8_t *)p; break;
			case SVMGPU_OP_LDS16: R(i, rd) = (uint64_t)(int64_t)*(int16_t *)p; break;
			default: R(i, rd) = (uint64_t)(int64_t)*(int32_t *)p; break;
			}
		}
		return 0;
	}
	case SVMGPU_OP_ATOM32:
	case SVMGPU_OP_ATOM64: {
		int size = mem_size(op);
		uint8_t rc = SVMGPU_ISA_IMM_RC(imm), aop = SVMGPU_ISA_IMM_ATOMIC_OP(imm);

		CHECK_REG(rd); CHECK_REG(ra); CHECK_REG(rb); CHECK_REG(rc);
		if (aop >= SVMGPU_ATOMIC_NUM_OPS)
			return fail(g, SVMGPU_ERR_ILLEGAL_INSTRUCTION, pc);
		FOR_LANES {
			uint64_t a = R(i, ra), old, nv;

			if (a >> SVMGPU_VA_BITS)
				return fail(g, SVMGPU_ERR_INVALID_VA, a);
			if (a & (uint64_t)(size - 1))
				return fail(g, SVMGPU_ERR_MISALIGNED, a);
			old = size == 4 ? *(uint32_t *)(uintptr_t)a : *(uint64_t *)(uintptr_t)a;
			nv = atomic_apply(aop, old, R(i, rb), R(i, rc), size, &ok);
			if (size == 4)
				*(uint32_t *)(uintptr_t)a = (uint32_t)nv;
			else
				*(uint64_t *)(uintptr_t)a = nv;
			R(i, rd) = old;
		}
		return 0;
	}
	default: {
		uint64_t d;

		if (!alu(op, 0, 0, &d))
			break;
		CHECK_REG(rd); CHECK_REG(ra); CHECK_B();
		FOR_LANES {
			alu(op, R(i, ra), BVAL(i), &d);
			if ((op >= SVMGPU_OP_FADD && op <= SVMGPU_OP_F2I) || op == SVMGPU_OP_D2F)
				d &= 0xffffffffull;
			R(i, rd) = d;
		}
		return 0;
	}
	}
	return fail(g, SVMGPU_ERR_ILLEGAL_INSTRUCTION, pc);
}

static int run_wg(struct wg *g)
{
	const struct svmgpu_cmd_launch *l = g->l;
	int i, n = g->nwaves;

	memset(g->r, 0, sizeof(*g->r) * l->wg_size);
	for (i = 0; i < n; i++) {
		struct wave *w = &g->waves[i];
		uint32_t lanes = l->wg_size - (uint32_t)i * WAVE;

		memset(w, 0, sizeof(*w));
		w->pc = l->code_va;
		w->lanes = lanes >= WAVE ? 0xffffffffu : (1u << lanes) - 1;
		w->mask = w->lanes;
	}
	for (;;) {
		bool any = false, all_bar = true;

		for (i = 0; i < n; i++) {
			struct wave *w = &g->waves[i];

			if (w->done)
				continue;
			any = true;
			if (w->at_bar)
				continue;
			all_bar = false;
			if (g->res->instructions >= l->budget)
				return fail(g, SVMGPU_ERR_WATCHDOG, w->pc);
			if (step(g, w))
				return -1;
		}
		if (!any)
			return 0;
		if (all_bar)
			for (i = 0; i < n; i++)
				g->waves[i].at_bar = false;
	}
}

int sim_launch(const struct svmgpu_cmd_launch *cl, struct sim_result *res)
{
	struct svmgpu_cmd_launch l = *cl;
	struct wg g = { .l = &l, .res = res };
	uint64_t x, y, z;
	int ret = 0;

	memset(res, 0, sizeof(*res));
	if (!l.budget)
		l.budget = SVMGPU_DEFAULT_BUDGET;
	if (!l.grid_x || !l.grid_y || !l.grid_z || !l.wg_size ||
	    l.wg_size > SVMGPU_ISA_MAX_WG_SIZE || l.code_va & 7) {
		res->error = SVMGPU_ERR_BAD_COMMAND;
		return (int)res->error;
	}
	g.nwaves = (int)((l.wg_size + WAVE - 1) / WAVE);
	g.r = calloc(l.wg_size, sizeof(*g.r));
	g.waves = calloc((size_t)g.nwaves, sizeof(*g.waves));
	if (!g.r || !g.waves)
		abort();
	for (z = 0; z < l.grid_z && !ret; z++)
		for (y = 0; y < l.grid_y && !ret; y++)
			for (x = 0; x < l.grid_x && !ret; x++) {
				g.id[0] = (uint32_t)x;
				g.id[1] = (uint32_t)y;
				g.id[2] = (uint32_t)z;
				g.linear = x + y * l.grid_x + z * l.grid_x * l.grid_y;
				ret = run_wg(&g);
			}
	free(g.r);
	free(g.waves);
	return (int)res->error;
}
