/* SPDX-License-Identifier: GPL-2.0 */
/*
 * svmgpu migration copies by the device's COPY engine (svmgpu_blit.c).
 */
#ifndef SVMGPU_BLIT_H
#define SVMGPU_BLIT_H

#include <linux/seq_file.h>
#include <linux/types.h>

struct svmgpu_device;
struct svmgpu_blit;

/* Pages one svmgpu_blit_copy() takes at most (one 2 MiB window half). */
#define SVMGPU_BLIT_PAGES	512

struct svmgpu_blit *svmgpu_blit_create(struct svmgpu_device *sdev);
void svmgpu_blit_destroy(struct svmgpu_blit *blit);
void svmgpu_blit_release(struct svmgpu_blit *blit);
int svmgpu_blit_copy(struct svmgpu_blit *blit, const unsigned long *src,
		     unsigned long *dst, unsigned long npages, bool to_dev, bool urgent);
bool svmgpu_blit_starves(struct svmgpu_blit *blit, u32 i, u32 prio, u32 engines);
void svmgpu_blit_show(struct svmgpu_blit *blit, struct seq_file *m);

/* svmgpu_devmem.c: the device's copy queue, NULL without one. */
struct svmgpu_blit *svmgpu_devmem_blit(struct svmgpu_device *sdev);

#endif
