/*
 * LD_PRELOAD shim for qemu-fuzz-x86_64 (run.sh).
 *
 * generic-fuzz runs every input in a fork()ed child, which has none of
 * QEMU's other threads.  An interrupt delivered to the vCPU (an MSI from
 * the device, through the APIC) kicks the vCPU thread with pthread_kill():
 * glibc >= 2.34 answers EINVAL for a thread that did not survive fork()
 * (older ones ESRCH), and cpus_kick_thread() exits on anything but ESRCH,
 * which libFuzzer reports as a crash of every input that raises an
 * interrupt.  Report such a thread as gone (ESRCH), as QEMU expects.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>

int pthread_kill(pthread_t thread, int sig)
{
    static int (*real)(pthread_t, int);
    int err;

    if (!real) {
        real = (int (*)(pthread_t, int))dlsym(RTLD_NEXT, "pthread_kill");
    }
    err = real(thread, sig);
    return err == EINVAL && sig > 0 && sig < NSIG ? ESRCH : err;
}
