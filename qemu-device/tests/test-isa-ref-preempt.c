/*
 * svmgpu core: test-isa-preempt.c (every test of test-isa.c with PREEMPT
 * and RESUME after every step) on the reference interpreter.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#define PQ_ENGINE SVMGPU_ENGINE_REFERENCE
#include "test-isa-preempt.c"
