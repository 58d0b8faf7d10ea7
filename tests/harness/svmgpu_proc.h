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

/*
 * Is the task of /proc directory @task (/proc/PID or /proc/self/task/TID)
 * in one of the states @states ("D", "SD") inside system call @nr?
 */
static inline int sg_asleep_in(const char *task, long nr, const char *states)
{
	char path[96], buf[512], *p;
	int f, len;

	snprintf(path, sizeof(path), "%s/stat", task);
	f = open(path, O_RDONLY);
	if (f < 0)
		return 0;
	len = read(f, buf, sizeof(buf) - 1);
	close(f);
	if (len <= 0)
		return 0;
	buf[len] = 0;
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ' || !p[2] || !strchr(states, p[2]))
		return 0;
	snprintf(path, sizeof(path), "%s/syscall", task);
	f = open(path, O_RDONLY);
	if (f < 0)
		return 0;
	len = read(f, buf, sizeof(buf) - 1);
	close(f);
	if (len <= 0)
		return 0;
	buf[len] = 0;
	return strtol(buf, NULL, 10) == nr;
}

#endif /* SVMGPU_PROC_H */
