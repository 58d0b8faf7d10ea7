/* SPDX-License-Identifier: MIT */
/*
 * svmgpu_proc.h - what a test reads of another task in /proc, for the
 * driver's and the library's in-guest tests alike.
 */
#ifndef SVMGPU_PROC_H
#define SVMGPU_PROC_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Read @file of the /proc directory @task into @buf, NUL-ended: its length, or 0. */
static inline int sg_proc_read(const char *task, const char *file, char *buf, size_t size)
{
	char path[96];
	int f, len;

	snprintf(path, sizeof(path), "%s/%s", task, file);
	f = open(path, O_RDONLY);
	if (f < 0)
		return 0;
	len = read(f, buf, size - 1);
	close(f);
	if (len <= 0)
		return 0;
	buf[len] = 0;
	return len;
}

/*
 * The system call line of the task of /proc directory @task (/proc/PID or
 * /proc/self/task/TID), "nr arg1 arg2 ...", into @buf if the task is in
 * one of the states @states ("D", "SD"): its length, or 0.
 */
static inline int sg_asleep_syscall(const char *task, const char *states, char *buf,
				    size_t size)
{
	char *p;

	if (!sg_proc_read(task, "stat", buf, size))
		return 0;
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ' || !p[2] || !strchr(states, p[2]))
		return 0;
	return sg_proc_read(task, "syscall", buf, size);
}

/* Is that task in one of the states @states inside system call @nr? */
static inline int sg_asleep_in(const char *task, long nr, const char *states)
{
	char buf[512];

	return sg_asleep_syscall(task, states, buf, sizeof(buf)) &&
	       strtol(buf, NULL, 10) == nr;
}

/* ... inside an ioctl() of request @request (DRM_IOCTL_SVMGPU_WAIT)? */
static inline int sg_asleep_in_ioctl(const char *task, unsigned long request,
				     const char *states)
{
	char buf[512], *p;

	if (!sg_asleep_syscall(task, states, buf, sizeof(buf)) ||
	    strtol(buf, NULL, 10) != SYS_ioctl)
		return 0;
	/* "nr fd request ...", the arguments in hex */
	p = strchr(buf, ' ');
	p = p ? strchr(p + 1, ' ') : NULL;
	return p && strtoul(p + 1, NULL, 0) == request;
}

#endif /* SVMGPU_PROC_H */
