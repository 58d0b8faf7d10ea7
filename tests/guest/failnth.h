/* SPDX-License-Identifier: MIT */
/*
 * The kernel's fault injection as svm_failnth and svm_failsweep use it
 * (Documentation/fault-injection/fault-injection.rst): failslab and
 * fail_page_alloc count every allocation that may fail (sleeping ones,
 * order 0, user pages), fail none by chance and print nothing, so that
 * /proc/thread-self/fail-nth fails exactly the n-th.  Include after
 * svmgpu_test.h and svmgpu_guest.h.
 */
#ifndef SVMGPU_FAILNTH_H
#define SVMGPU_FAILNTH_H

#define SG_FAILSLAB	"/sys/kernel/debug/failslab/"
#define SG_FAIL_PAGE	"/sys/kernel/debug/fail_page_alloc/"

/*
 * false without fail-nth, failslab or fail_page_alloc (the debug kernel
 * has them; Debian's does not); else sets the knobs above, each written
 * back when the test ends.
 */
static inline bool sg_fault_injection_setup(void)
{
	static const char *const knobs[][2] = {
		{ SG_FAILSLAB "ignore-gfp-wait", "N" },
		{ SG_FAILSLAB "verbose", "0" },
		{ SG_FAIL_PAGE "ignore-gfp-wait", "N" },
		{ SG_FAIL_PAGE "ignore-gfp-highmem", "N" },
		{ SG_FAIL_PAGE "min-order", "0" },
		{ SG_FAIL_PAGE "verbose", "0" },
	};
	unsigned int i;

	if (access("/proc/thread-self/fail-nth", F_OK) || access(SG_FAILSLAB, F_OK) ||
	    access(SG_FAIL_PAGE, F_OK))
		return false;
	for (i = 0; i < sizeof(knobs) / sizeof(knobs[0]); i++) {
		ASSERT_EQ(svmgpu_test_restore_file(knobs[i][0]), 0);
		ASSERT_EQ(sg_write_file(knobs[i][0], knobs[i][1]), 0);
	}
	return true;
}

#endif /* SVMGPU_FAILNTH_H */
