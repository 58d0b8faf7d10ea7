/* SPDX-License-Identifier: MIT */
/*
 * lib_guest.h - helpers the library's in-guest tests share.
 */
#ifndef LIB_GUEST_H
#define LIB_GUEST_H

#include <errno.h>
#include <stdio.h>

/* Write @val to the sysfs or debugfs file @path: 0 or -errno. */
static inline int sysfs_write(const char *path, const char *val)
{
	FILE *f = fopen(path, "w");
	int ok;

	if (!f)
		return -errno;
	ok = fputs(val, f) >= 0;
	return fclose(f) == 0 && ok ? 0 : -EIO;
}

#endif /* LIB_GUEST_H */
