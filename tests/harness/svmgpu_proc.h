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
 * Is the task of /proc directory @task (/proc/PID or /proc/self/task/TID)
 * in one of the states @states ("D", "SD") inside system call @nr?
 */
static inline int sg_asleep_in(const char *task, long nr, const char *states)
{
	char buf[512], *p;

	if (!sg_proc_read(task, "stat", buf, sizeof(buf)))
		return 0;
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ' || !p[2] || !strchr(states, p[2]))
		return 0;
	if (!sg_proc_read(task, "syscall", buf, sizeof(buf)))
		return 0;
	return strtol(buf, NULL, 10) == nr;
}

#endif /* SVMGPU_PROC_H */
