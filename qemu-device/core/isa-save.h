/*
 * svmgpu compute engines: a wave's control state to and from the save
 * area's layout (hw-spec §16.2), shared by isa.c and isa-fast.c.  The
 * area was checked by save.c before an import (sp <= 16, flags 0 or 1).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef SVMGPU_ISA_SAVE_H
#define SVMGPU_ISA_SAVE_H

#include "isa-common.h"

static inline void isa_wave_export(const IsaWave *w, struct svmgpu_save_wave *s)
{
    unsigned k;

    s->pc = w->pc;
    s->exec = w->exec;
    s->alive = w->alive;
    s->done = w->done;
    s->sp = w->sp;
    s->at_barrier = w->at_barrier;
    s->finished = w->finished;
    for (k = 0; k < w->sp && k < SVMGPU_ISA_MAX_NEST; k++) {
        s->stack[k].kind = w->stack[k].kind;
        s->stack[k].saved = w->stack[k].saved;
        s->stack[k].else_mask = w->stack[k].else_mask;
        s->stack[k].loop_pc = w->stack[k].loop_pc;
    }
}

static inline void isa_wave_import(IsaWave *w, const struct svmgpu_save_wave *s)
{
    unsigned k;

    memset(w, 0, sizeof(*w));
    w->pc = s->pc;
    w->exec = s->exec;
    w->alive = s->alive;
    w->done = s->done;
    w->sp = s->sp;
    w->at_barrier = s->at_barrier;
    w->finished = s->finished;
    for (k = 0; k < s->sp; k++) {
        w->stack[k].kind = s->stack[k].kind;
        w->stack[k].saved = s->stack[k].saved;
        w->stack[k].else_mask = s->stack[k].else_mask;
        w->stack[k].loop_pc = s->stack[k].loop_pc;
    }
}

#endif /* SVMGPU_ISA_SAVE_H */
