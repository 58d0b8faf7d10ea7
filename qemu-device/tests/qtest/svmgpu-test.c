/*
 * QTest for the svmgpu device (docs/hw-spec.md): identification, BARs,
 * MSI-X, a COPY through a page table, faults answered by REPLAY and by
 * CANCEL, TLB invalidation completion, reset (soft and FLR), device-local
 * memory (BAR4, aperture 1, peer-to-peer between two devices) and a few
 * guest errors that must not hurt QEMU.  Most tests run the device with
 * x-sync=on, so every register write runs (a bounded amount of) the work it
 * starts; "threaded" and "viommu-unmapped-iova" (and its variant with the
 * vIOMMU after the device on the command line) run its engine threads (the
 * latter under TCG with a halted CPU, behind intel-iommu with DMA
 * remapping on).  Interrupts always come from a bottom half: tests poll.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <sys/resource.h>
#include "libqtest.h"
#include "qapi/qmp/qdict.h"
#include "libqos/pci.h"
#include "libqos/pci-pc.h"
#include "libqos/malloc-pc.h"
#include "standard-headers/linux/pci_regs.h"
#include "svmgpu/svmgpu_hw.h"

#define DEVFN           QPCI_DEVFN(4, 0)
#define CTX_TABLE       0x4000000ull
#define FAULT_RING      0x4010000ull
#define RING0           0x4030000ull
#define COMPL0          0x4031000ull
#define MSI_TARGET      0x4032000ull    /* one u32 per vector */
#define INV_DONE        0x4033000ull
#define PT_POOL         0x4100000ull
#define DATA_POOL       0x5000000ull

typedef struct Dev {
    QTestState *qts;
    QGuestAllocator alloc;
    QPCIBus *bus;
    QPCIDevice *pdev;
    QPCIBar bar0;
    uint64_t bar0_size;
    uint64_t root;
    uint64_t next_pt;
    uint32_t tail;
    uint64_t seq;
} Dev;

static uint32_t rd32(Dev *d, uint64_t off)
{
    return qpci_io_readl(d->pdev, d->bar0, off);
}

static uint64_t rd64(Dev *d, uint64_t off)
{
    return qpci_io_readq(d->pdev, d->bar0, off);
}

static void wr32(Dev *d, uint64_t off, uint32_t v)
{
    qpci_io_writel(d->pdev, d->bar0, off, v);
}

static void wr64(Dev *d, uint64_t off, uint64_t v)
{
    qpci_io_writeq(d->pdev, d->bar0, off, v);
}

/* Point every MSI-X vector at a word in RAM and unmask it. */
static void msix_setup(Dev *d)
{
    unsigned v, n = SVMGPU_NUM_VECTORS(rd32(d, SVMGPU_REG_NUM_QUEUES));

    qpci_msix_enable(d->pdev);
    for (v = 0; v < n; v++) {
        uint64_t e = d->pdev->msix_table_off + v * PCI_MSIX_ENTRY_SIZE;

        qpci_io_writel(d->pdev, d->pdev->msix_table_bar,
                       e + PCI_MSIX_ENTRY_LOWER_ADDR, MSI_TARGET + v * 4);
        qpci_io_writel(d->pdev, d->pdev->msix_table_bar,
                       e + PCI_MSIX_ENTRY_UPPER_ADDR, 0);
        qpci_io_writel(d->pdev, d->pdev->msix_table_bar,
                       e + PCI_MSIX_ENTRY_DATA, 0x100 + v);
        qpci_io_writel(d->pdev, d->pdev->msix_table_bar,
                       e + PCI_MSIX_ENTRY_VECTOR_CTRL, 0);
    }
    qtest_memset(d->qts, MSI_TARGET, 0, 4 * n);
}

/*
 * True (and re-armed) if vector v fired since the last call.  MSI-X comes
 * from a bottom half: give the main loop a few round trips first.
 */
static bool msi_fired(Dev *d, unsigned v)
{
    uint32_t val = 0;
    int i;

    for (i = 0; i < 50; i++) {
        val = qtest_readl(d->qts, MSI_TARGET + v * 4);
        if (val == 0x100 + v) {
            break;
        }
        qpci_io_readl(d->pdev, d->bar0, SVMGPU_REG_STATUS);
    }
    qtest_writel(d->qts, MSI_TARGET + v * 4, 0);
    return val == 0x100 + v;
}

static void dev_start_full(Dev *d, const char *pre, const char *extra)
{
    memset(d, 0, sizeof(*d));
    d->qts = qtest_initf("-M q35 -nodefaults -m 256M %s "
                         "-device svmgpu,addr=04.0%s", pre,
                         extra ? extra : ",x-sync=on");
    pc_alloc_init(&d->alloc, d->qts, ALLOC_NO_FLAGS);
    d->bus = qpci_new_pc(d->qts, &d->alloc);
    d->pdev = qpci_device_find(d->bus, DEVFN);
    g_assert_nonnull(d->pdev);
    qpci_device_enable(d->pdev);
    d->bar0 = qpci_iomap(d->pdev, SVMGPU_BAR_REGS, &d->bar0_size);
    d->next_pt = PT_POOL;
}

static void dev_start(Dev *d, const char *extra)
{
    dev_start_full(d, "", extra);
}

static void dev_stop(Dev *d)
{
    if (d->pdev->msix_enabled) {
        qpci_msix_disable(d->pdev);
    }
    g_free(d->pdev);
    qpci_free_pc(d->bus);
    alloc_destroy(&d->alloc);
    qtest_quit(d->qts);
}

static uint64_t pt_alloc(Dev *d)
{
    uint64_t pa = d->next_pt;

    d->next_pt += 4096;
    qtest_memset(d->qts, pa, 0, 4096);
    return pa;
}

static void map4k(Dev *d, uint64_t va, uint64_t pa, uint64_t flags)
{
    uint64_t table = d->root;
    int lvl;

    for (lvl = 4; lvl > 1; lvl--) {
        uint64_t slot = table + SVMGPU_PT_INDEX(va, lvl) * 8;
        uint64_t pte = qtest_readq(d->qts, slot);

        if (!(pte & SVMGPU_PTE_VALID)) {
            pte = pt_alloc(d) | SVMGPU_PTE_VALID;
            qtest_writeq(d->qts, slot, pte);
        }
        table = pte & SVMGPU_PTE_ADDR_MASK;
    }
    qtest_writeq(d->qts, table + SVMGPU_PT_INDEX(va, 1) * 8,
                 pa | flags | SVMGPU_PTE_VALID);
}

/* Device enabled, context 0 bound to a fresh root, queue 0 enabled. */
static void dev_setup(Dev *d)
{
    d->root = pt_alloc(d);
    qtest_memset(d->qts, CTX_TABLE, 0, 4096);
    qtest_writeq(d->qts, CTX_TABLE, d->root);
    qtest_writel(d->qts, CTX_TABLE + 8, SVMGPU_CTX_VALID);
    wr64(d, SVMGPU_REG_CTX_TABLE_BASE, CTX_TABLE);
    wr32(d, SVMGPU_REG_CTX_TABLE_ENTRIES, 16);
    wr64(d, SVMGPU_REG_FAULT_RING_BASE, FAULT_RING);
    wr32(d, SVMGPU_REG_CONTROL, SVMGPU_CONTROL_ENABLE);
    wr32(d, SVMGPU_REG_CTX_ENABLE, 0);
    g_assert_cmphex(rd32(d, SVMGPU_REG_ERROR_STATUS), ==, 0);

    qtest_memset(d->qts, COMPL0, 0, 64);
    wr64(d, SVMGPU_REG_Q(0, SVMGPU_Q_BASE), RING0);
    wr32(d, SVMGPU_REG_Q(0, SVMGPU_Q_SIZE), 16);
    wr32(d, SVMGPU_REG_Q(0, SVMGPU_Q_CTX), 0);
    wr64(d, SVMGPU_REG_Q(0, SVMGPU_Q_COMPL_ADDR), COMPL0);
    wr32(d, SVMGPU_REG_Q(0, SVMGPU_Q_CONTROL), SVMGPU_Q_CONTROL_ENABLE);
    g_assert_cmphex(rd32(d, SVMGPU_REG_Q(0, SVMGPU_Q_STATUS)) &
                    SVMGPU_Q_STATUS_ERROR, ==, 0);
}

static uint64_t submit_copy(Dev *d, uint64_t dst, uint64_t src, uint64_t n)
{
    struct svmgpu_cmd c;

    memset(&c, 0, sizeof(c));
    c.hdr.opcode = SVMGPU_CMD_COPY;
    c.hdr.flags = SVMGPU_CMD_FLAG_IRQ;
    c.hdr.seq = ++d->seq;
    c.copy.dst = dst;
    c.copy.src = src;
    c.copy.size = n;
    qtest_memwrite(d->qts, RING0 + d->tail * 64ull, &c, sizeof(c));
    d->tail = (d->tail + 1) % 16;
    wr32(d, SVMGPU_REG_Q(0, SVMGPU_Q_TAIL), d->tail);
    return c.hdr.seq;
}

static void read_compl(Dev *d, struct svmgpu_completion *c)
{
    qtest_memread(d->qts, COMPL0, c, sizeof(*c));
}

static void test_identification(void)
{
    Dev d;

    dev_start(&d, NULL);
    g_assert_cmphex(qpci_config_readw(d.pdev, PCI_VENDOR_ID), ==,
                    SVMGPU_PCI_VENDOR_ID);
    g_assert_cmphex(qpci_config_readw(d.pdev, PCI_DEVICE_ID), ==,
                    SVMGPU_PCI_DEVICE_ID);
    g_assert_cmphex(qpci_config_readw(d.pdev, PCI_CLASS_DEVICE), ==,
                    SVMGPU_PCI_CLASS);
    g_assert_cmphex(rd32(&d, SVMGPU_REG_ID), ==, SVMGPU_ID_MAGIC);
    g_assert_cmphex(rd32(&d, SVMGPU_REG_VERSION), ==, SVMGPU_VERSION);
    g_assert_cmpuint(rd32(&d, SVMGPU_REG_NUM_QUEUES), ==, 8);
    g_assert_cmpuint(rd32(&d, SVMGPU_REG_NUM_CONTEXTS), ==,
                     SVMGPU_MAX_CONTEXTS);
    g_assert_cmpuint(rd32(&d, SVMGPU_REG_FAULT_RING_ENTRIES), ==, 256);
    g_assert_cmphex(rd32(&d, SVMGPU_REG_STATUS) & SVMGPU_STATUS_IDLE, ==,
                    SVMGPU_STATUS_IDLE);
    /* A 64-bit read of ID/VERSION returns both. */
    g_assert_cmphex(rd64(&d, SVMGPU_REG_ID), ==,
                    SVMGPU_ID_MAGIC | (uint64_t)SVMGPU_VERSION << 32);
    g_assert_nonnull(qpci_find_capability(d.pdev, PCI_CAP_ID_EXP, 0) ?
                     d.pdev : NULL);
    dev_stop(&d);
}

/* The QOM properties reach the registers and the MSI-X table. */
static void test_properties(void)
{
    Dev d;
    uint8_t cap;

    dev_start(&d, ",x-sync=on,queues=12,tlb-sets=16,tlb-ways=8,"
              "fault-ring-entries=64,engines=3");
    g_assert_cmpuint(rd32(&d, SVMGPU_REG_NUM_QUEUES), ==, 12);
    g_assert_cmpuint(rd32(&d, SVMGPU_REG_NUM_ENGINES), ==, 3);
    g_assert_cmpuint(rd32(&d, SVMGPU_REG_TLB_SETS), ==, 16);
    g_assert_cmpuint(rd32(&d, SVMGPU_REG_TLB_WAYS), ==, 8);
    g_assert_cmpuint(rd32(&d, SVMGPU_REG_FAULT_RING_ENTRIES), ==, 64);
    cap = qpci_find_capability(d.pdev, PCI_CAP_ID_MSIX, 0);
    g_assert_cmpuint((qpci_config_readw(d.pdev, cap + PCI_MSIX_FLAGS) &
                      PCI_MSIX_FLAGS_QSIZE) + 1, ==, SVMGPU_NUM_VECTORS(12));
    dev_stop(&d);
}

static void test_bars_and_msix(void)
{
    Dev d;
    uint64_t size2 = 0;
    uint8_t cap;

    dev_start(&d, NULL);
    g_assert_cmphex(d.bar0_size, ==, SVMGPU_BAR_REGS_SIZE);
    qpci_iomap(d.pdev, SVMGPU_BAR_MSIX, &size2);
    g_assert_cmphex(size2, >=, 4096);
    cap = qpci_find_capability(d.pdev, PCI_CAP_ID_MSIX, 0);
    g_assert_cmpuint(cap, !=, 0);
    g_assert_cmpuint((qpci_config_readw(d.pdev, cap + PCI_MSIX_FLAGS) &
                      PCI_MSIX_FLAGS_QSIZE) + 1, ==, SVMGPU_NUM_VECTORS(8));

    /* An error (CTX_ENABLE of an empty table) signals vector 0. */
    msix_setup(&d);
    wr32(&d, SVMGPU_REG_CTX_ENABLE, 3);
    g_assert_cmphex(rd32(&d, SVMGPU_REG_ERROR_STATUS), ==, SVMGPU_ERROR_CTX);
    g_assert_true(msi_fired(&d, SVMGPU_VEC_ERROR));
    g_assert_false(msi_fired(&d, SVMGPU_VEC_FAULT));
    /* The same error again while its bit is still set: no new interrupt. */
    wr32(&d, SVMGPU_REG_INTR_STATUS, ~0u);
    wr32(&d, SVMGPU_REG_CTX_ENABLE, 3);
    g_assert_false(msi_fired(&d, SVMGPU_VEC_ERROR));
    g_assert_cmphex(rd32(&d, SVMGPU_REG_INTR_STATUS), ==, 0);
    /* A masked cause does not signal; unmasking delivers it. */
    wr32(&d, SVMGPU_REG_ERROR_STATUS, ~0u);
    wr32(&d, SVMGPU_REG_INTR_MASK, SVMGPU_INTR_ERROR);
    wr32(&d, SVMGPU_REG_CTX_ENABLE, 3);
    g_assert_false(msi_fired(&d, SVMGPU_VEC_ERROR));
    wr32(&d, SVMGPU_REG_INTR_MASK, 0);
    g_assert_true(msi_fired(&d, SVMGPU_VEC_ERROR));
    dev_stop(&d);
}

static void do_copy_test(Dev *d);

static void test_copy(void)
{
    Dev d;

    dev_start(&d, NULL);
    do_copy_test(&d);
    dev_stop(&d);
}

/*
 * With a vIOMMU in the path (DMA remapping not enabled by a guest, so it
 * passes addresses through) device DMA must still reach RAM.
 */
static void test_viommu(void)
{
    Dev d;

    dev_start_full(&d, "-device intel-iommu", NULL);
    do_copy_test(&d);
    dev_stop(&d);
}

static void do_copy_test(Dev *d)
{
    struct svmgpu_completion c;
    uint8_t src[8192], dst[8192];
    unsigned i;
    uint64_t seq;

    msix_setup(d);
    dev_setup(d);
    /* VA 0x10000..0x12000 -> two scattered pages; dst 0x20800 straddles */
    map4k(d, 0x10000, DATA_POOL + 0x5000, 0);
    map4k(d, 0x11000, DATA_POOL + 0x2000, 0);
    map4k(d, 0x20000, DATA_POOL + 0x9000, SVMGPU_PTE_WRITABLE);
    map4k(d, 0x21000, DATA_POOL + 0x7000, SVMGPU_PTE_WRITABLE);
    map4k(d, 0x22000, DATA_POOL + 0xb000, SVMGPU_PTE_WRITABLE);
    for (i = 0; i < sizeof(src); i++) {
        src[i] = i * 13 + 1;
    }
    qtest_memwrite(d->qts, DATA_POOL + 0x5000, src, 4096);
    qtest_memwrite(d->qts, DATA_POOL + 0x2000, src + 4096, 4096);

    seq = submit_copy(d, 0x20800, 0x10000, 8192);
    read_compl(d, &c);
    g_assert_cmpuint(c.seq, ==, seq);
    g_assert_cmpuint(c.err_code, ==, 0);
    g_assert_cmpuint(c.head, ==, 1);
    g_assert_cmpuint(rd64(d, SVMGPU_REG_Q(0, SVMGPU_Q_COMPL_SEQ)), ==, seq);
    g_assert_cmpuint(rd32(d, SVMGPU_REG_Q(0, SVMGPU_Q_HEAD)), ==, 1);
    qtest_memread(d->qts, DATA_POOL + 0x9800, dst, 2048);
    qtest_memread(d->qts, DATA_POOL + 0x7000, dst + 2048, 4096);
    qtest_memread(d->qts, DATA_POOL + 0xb000, dst + 6144, 2048);
    g_assert_cmpint(memcmp(src, dst, sizeof(src)), ==, 0);
    g_assert_true(msi_fired(d, SVMGPU_VEC_QUEUE(0)));
    g_assert_cmpuint(rd64(d, SVMGPU_REG_CNT_TLB_MISSES), >=, 5);
    g_assert_cmpuint(rd64(d, SVMGPU_REG_CNT_COMMANDS), ==, 1);
}

static void read_fault(Dev *d, uint32_t idx, struct svmgpu_fault_record *f)
{
    qtest_memread(d->qts, FAULT_RING + (idx % 256) * 32ull, f, sizeof(*f));
}

static void test_fault_replay(void)
{
    Dev d;
    struct svmgpu_fault_record f;
    struct svmgpu_completion c;
    uint64_t seq;

    dev_start(&d, NULL);
    msix_setup(&d);
    dev_setup(&d);
    map4k(&d, 0x20000, DATA_POOL, SVMGPU_PTE_WRITABLE);
    seq = submit_copy(&d, 0x20000, 0x30010, 64);      /* src unmapped */
    g_assert_cmpuint(rd32(&d, SVMGPU_REG_FAULT_PUT), ==, 1);
    g_assert_true(msi_fired(&d, SVMGPU_VEC_FAULT));
    read_fault(&d, 0, &f);
    g_assert_cmphex(f.va, ==, 0x30010);
    g_assert_cmpuint(f.ctx, ==, 0);
    g_assert_cmpuint(f.queue, ==, 0);
    g_assert_cmpuint(f.access, ==, SVMGPU_ACCESS_READ);
    g_assert_cmpuint(f.reason, ==, SVMGPU_FAULT_NOT_PRESENT);
    g_assert_cmpuint(f.flags & SVMGPU_FAULT_RECORD_VALID, ==, 1);
    g_assert_cmphex(rd32(&d, SVMGPU_REG_Q(0, SVMGPU_Q_STATUS)) &
                    SVMGPU_Q_STATUS_FAULT_STALL, !=, 0);
    g_assert_cmphex(rd32(&d, SVMGPU_REG_STATUS) & SVMGPU_STATUS_FAULT_STALL,
                    !=, 0);
    read_compl(&d, &c);
    g_assert_cmpuint(c.seq, ==, 0);

    /* The driver maps the page, consumes the record and replays. */
    map4k(&d, 0x30000, DATA_POOL + 0x1000, 0);
    qtest_writeq(d.qts, DATA_POOL + 0x1010, 0x1122334455667788ull);
    wr32(&d, SVMGPU_REG_FAULT_GET, 1);
    wr64(&d, SVMGPU_REG_FAULT_REPLY, SVMGPU_FAULT_REPLY_REPLAY);
    read_compl(&d, &c);
    g_assert_cmpuint(c.seq, ==, seq);
    g_assert_cmpuint(c.err_code, ==, 0);
    g_assert_cmphex(qtest_readq(d.qts, DATA_POOL), ==, 0x1122334455667788ull);
    g_assert_cmpuint(rd32(&d, SVMGPU_REG_FAULT_PUT), ==, 1);
    g_assert_cmpuint(rd64(&d, SVMGPU_REG_CNT_REPLAYS), ==, 1);
    dev_stop(&d);
}

static void test_fault_cancel(void)
{
    Dev d;
    struct svmgpu_fault_record f;
    struct svmgpu_completion c;
    uint64_t seq;

    dev_start(&d, NULL);
    msix_setup(&d);
    dev_setup(&d);
    map4k(&d, 0x10000, DATA_POOL, 0);                  /* read-only */
    seq = submit_copy(&d, 0x10008, 0x10000, 8);         /* write faults */
    read_fault(&d, 0, &f);
    g_assert_cmpuint(f.access, ==, SVMGPU_ACCESS_WRITE);
    g_assert_cmpuint(f.reason, ==, SVMGPU_FAULT_WRITE_PROTECT);
    /* a stale seq is ignored */
    wr64(&d, SVMGPU_REG_FAULT_REPLY,
         SVMGPU_FAULT_REPLY_CANCEL_VAL(0, f.seq + 1));
    g_assert_cmphex(rd32(&d, SVMGPU_REG_Q(0, SVMGPU_Q_STATUS)) &
                    SVMGPU_Q_STATUS_FAULT_STALL, !=, 0);
    wr32(&d, SVMGPU_REG_FAULT_GET, 1);
    wr64(&d, SVMGPU_REG_FAULT_REPLY, SVMGPU_FAULT_REPLY_CANCEL_VAL(0, f.seq));
    read_compl(&d, &c);
    g_assert_cmpuint(c.seq, ==, seq);
    g_assert_cmpuint(c.err_seq, ==, seq);
    g_assert_cmpuint(c.err_code, ==, SVMGPU_ERR_FAULT_CANCELLED);
    g_assert_cmphex(c.err_va, ==, 0x10008);
    g_assert_cmpuint(SVMGPU_ERROR_INFO_ACCESS(c.err_info), ==,
                     SVMGPU_ACCESS_WRITE);
    g_assert_cmpuint(SVMGPU_ERROR_INFO_REASON(c.err_info), ==,
                     SVMGPU_FAULT_WRITE_PROTECT);
    g_assert_cmphex(rd32(&d, SVMGPU_REG_Q(0, SVMGPU_Q_STATUS)) &
                    SVMGPU_Q_STATUS_ERROR, !=, 0);
    g_assert_cmpuint(rd32(&d, SVMGPU_REG_Q(0, SVMGPU_Q_ERROR_CODE)), ==,
                     SVMGPU_ERR_FAULT_CANCELLED);
    g_assert_cmphex(rd64(&d, SVMGPU_REG_Q(0, SVMGPU_Q_ERROR_VA)), ==, 0x10008);
    g_assert_cmphex(rd32(&d, SVMGPU_REG_ERROR_STATUS) & SVMGPU_ERROR_QUEUE,
                    !=, 0);
    g_assert_true(msi_fired(&d, SVMGPU_VEC_QUEUE(0)));
    g_assert_true(msi_fired(&d, SVMGPU_VEC_ERROR));

    /* CLEAR_ERROR resumes with the next command. */
    wr32(&d, SVMGPU_REG_Q(0, SVMGPU_Q_CONTROL),
         SVMGPU_Q_CONTROL_ENABLE | SVMGPU_Q_CONTROL_CLEAR_ERROR);
    map4k(&d, 0x40000, DATA_POOL + 0x3000, SVMGPU_PTE_WRITABLE);
    seq = submit_copy(&d, 0x40000, 0x10000, 8);
    read_compl(&d, &c);
    g_assert_cmpuint(c.seq, ==, seq);
    g_assert_cmpuint(rd32(&d, SVMGPU_REG_Q(0, SVMGPU_Q_STATUS)) &
                     SVMGPU_Q_STATUS_ERROR, ==, 0);
    dev_stop(&d);
}

static void test_invalidation(void)
{
    Dev d;
    uint32_t seq;

    dev_start(&d, NULL);
    msix_setup(&d);
    dev_setup(&d);
    map4k(&d, 0x10000, DATA_POOL, 0);
    map4k(&d, 0x20000, DATA_POOL + 0x1000, SVMGPU_PTE_WRITABLE);
    qtest_writeq(d.qts, DATA_POOL, 1);
    qtest_writeq(d.qts, DATA_POOL + 0x2000, 2);
    submit_copy(&d, 0x20000, 0x10000, 8);
    g_assert_cmpuint(qtest_readq(d.qts, DATA_POOL + 0x1000), ==, 1);

    /* Re-point VA 0x10000; without invalidation the TLB keeps the old. */
    map4k(&d, 0x10000, DATA_POOL + 0x2000, 0);
    submit_copy(&d, 0x20000, 0x10000, 8);
    g_assert_cmpuint(qtest_readq(d.qts, DATA_POOL + 0x1000), ==, 1);

    wr64(&d, SVMGPU_REG_TLB_INV_DONE_ADDR, INV_DONE);
    wr32(&d, SVMGPU_REG_TLB_INV_CTX, 0);
    wr32(&d, SVMGPU_REG_TLB_INV_FLAGS, 0);
    wr64(&d, SVMGPU_REG_TLB_INV_START, 0x10000);
    wr64(&d, SVMGPU_REG_TLB_INV_SIZE, 0x1000);
    wr32(&d, SVMGPU_REG_TLB_INV_SUBMIT, 1);
    seq = rd32(&d, SVMGPU_REG_TLB_INV_REQ_SEQ);
    g_assert_cmpuint(seq, ==, 1);
    g_assert_cmpuint(rd32(&d, SVMGPU_REG_TLB_INV_DONE_SEQ), ==, seq);
    g_assert_cmpuint(qtest_readq(d.qts, INV_DONE), ==, seq);
    g_assert_true(msi_fired(&d, SVMGPU_VEC_INVAL));
    g_assert_cmpuint(rd64(&d, SVMGPU_REG_CNT_TLB_INVALIDATIONS), ==, 1);

    submit_copy(&d, 0x20000, 0x10000, 8);
    g_assert_cmpuint(qtest_readq(d.qts, DATA_POOL + 0x1000), ==, 2);
    dev_stop(&d);
}

/* After FLR or system reset the BARs are unassigned: map them again. */
static void dev_remap(Dev *d)
{
    qpci_device_enable(d->pdev);
    d->bar0 = qpci_iomap(d->pdev, SVMGPU_BAR_REGS, &d->bar0_size);
}

/*
 * Registers hold their reset values as soon as the reset returns; a step
 * begun before it may still be running (STATUS.RESET_PENDING) for a
 * bounded time, and then the device is idle.
 */
static void check_reset_state(Dev *d)
{
    int i;

    g_assert_cmphex(rd32(d, SVMGPU_REG_ID), ==, SVMGPU_ID_MAGIC);
    g_assert_cmphex(rd32(d, SVMGPU_REG_CONTROL), ==, 0);
    g_assert_cmphex(rd32(d, SVMGPU_REG_ERROR_STATUS), ==, 0);
    g_assert_cmphex(rd32(d, SVMGPU_REG_INTR_STATUS), ==, 0);
    g_assert_cmphex(rd64(d, SVMGPU_REG_CTX_TABLE_BASE), ==, 0);
    g_assert_cmphex(rd64(d, SVMGPU_REG_FAULT_RING_BASE), ==, 0);
    g_assert_cmphex(rd32(d, SVMGPU_REG_FAULT_PUT), ==, 0);
    g_assert_cmphex(rd32(d, SVMGPU_REG_TLB_INV_REQ_SEQ), ==, 0);
    g_assert_cmphex(rd64(d, SVMGPU_REG_CNT_TLB_MISSES), ==, 0);
    g_assert_cmphex(rd64(d, SVMGPU_REG_CNT_COMMANDS), ==, 0);
    g_assert_cmphex(rd32(d, SVMGPU_REG_Q(0, SVMGPU_Q_STATUS)) &
                    SVMGPU_Q_STATUS_ENABLED, ==, 0);
    g_assert_cmphex(rd64(d, SVMGPU_REG_Q(0, SVMGPU_Q_BASE)), ==, 0);
    g_assert_cmphex(rd32(d, SVMGPU_REG_Q(0, SVMGPU_Q_HEAD)), ==, 0);
    wr32(d, SVMGPU_REG_CTX_SELECT, 0);
    g_assert_cmphex(rd32(d, SVMGPU_REG_CTX_STATE), ==, 0);
    for (i = 0; i < 10000; i++) {
        if (!(rd32(d, SVMGPU_REG_STATUS) & SVMGPU_STATUS_RESET_PENDING)) {
            break;
        }
        g_usleep(1000);
    }
    g_assert_cmphex(rd32(d, SVMGPU_REG_STATUS), ==, SVMGPU_STATUS_IDLE);
    g_assert_cmphex(rd32(d, SVMGPU_REG_CNT_COMMANDS), ==, 0);
}

static void test_reset(void)
{
    Dev d;
    uint8_t exp;

    dev_start(&d, NULL);
    dev_setup(&d);
    submit_copy(&d, 0x20000, 0x30000, 8);   /* leaves a stalled fault */
    g_assert_cmpuint(rd32(&d, SVMGPU_REG_FAULT_PUT), ==, 1);
    wr32(&d, SVMGPU_REG_CONTROL, SVMGPU_CONTROL_RESET);
    check_reset_state(&d);

    /* FLR through the PCIe capability */
    dev_setup(&d);
    submit_copy(&d, 0x20000, 0x30000, 8);
    g_assert_cmpuint(rd32(&d, SVMGPU_REG_FAULT_PUT), ==, 1);
    exp = qpci_find_capability(d.pdev, PCI_CAP_ID_EXP, 0);
    g_assert_cmpuint(qpci_config_readl(d.pdev, exp + PCI_EXP_DEVCAP) &
                     PCI_EXP_DEVCAP_FLR, !=, 0);
    qpci_config_writew(d.pdev, exp + PCI_EXP_DEVCTL,
                       qpci_config_readw(d.pdev, exp + PCI_EXP_DEVCTL) |
                       PCI_EXP_DEVCTL_BCR_FLR);
    dev_remap(&d);
    check_reset_state(&d);

    /* system reset */
    dev_setup(&d);
    qobject_unref(qtest_qmp(d.qts, "{'execute': 'system_reset'}"));
    qtest_qmp_eventwait(d.qts, "RESET");
    dev_remap(&d);
    check_reset_state(&d);
    dev_stop(&d);
}

/* Guest errors become device state, not a dead QEMU. */
static void test_guest_errors(void)
{
    Dev d;
    struct svmgpu_completion c;
    struct svmgpu_cmd cmd;
    uint64_t off;

    dev_start(&d, NULL);
    dev_setup(&d);
    /* ring doorbell past the ring */
    wr32(&d, SVMGPU_REG_Q(0, SVMGPU_Q_TAIL), 1000);
    g_assert_cmpuint(rd32(&d, SVMGPU_REG_Q(0, SVMGPU_Q_ERROR_CODE)), ==,
                     SVMGPU_ERR_BAD_DOORBELL);
    wr32(&d, SVMGPU_REG_Q(0, SVMGPU_Q_CONTROL), 0);
    wr32(&d, SVMGPU_REG_Q(0, SVMGPU_Q_CONTROL), SVMGPU_Q_CONTROL_ENABLE);
    d.tail = 0;
    /* a bad opcode */
    memset(&cmd, 0, sizeof(cmd));
    cmd.hdr.opcode = 0x7f;
    cmd.hdr.seq = 77;
    qtest_memwrite(d.qts, RING0, &cmd, sizeof(cmd));
    wr32(&d, SVMGPU_REG_Q(0, SVMGPU_Q_TAIL), 1);
    read_compl(&d, &c);
    g_assert_cmpuint(c.err_seq, ==, 77);
    g_assert_cmpuint(c.err_code, ==, SVMGPU_ERR_BAD_OPCODE);
    /* page tables pointing outside RAM */
    qtest_writeq(d.qts, d.root, 0xfffffff000ull | SVMGPU_PTE_VALID);
    wr32(&d, SVMGPU_REG_Q(0, SVMGPU_Q_CONTROL),
         SVMGPU_Q_CONTROL_ENABLE | SVMGPU_Q_CONTROL_CLEAR_ERROR);
    d.tail = 1;
    submit_copy(&d, 0x1000, 0x2000, 8);
    g_assert_cmpuint(rd32(&d, SVMGPU_REG_FAULT_PUT), ==, 1);
    /* queue ring outside RAM */
    wr32(&d, SVMGPU_REG_CONTROL, SVMGPU_CONTROL_RESET);
    dev_setup(&d);
    wr32(&d, SVMGPU_REG_Q(1, SVMGPU_Q_SIZE), 4);
    wr64(&d, SVMGPU_REG_Q(1, SVMGPU_Q_BASE), 0xf00000000000ull);
    wr32(&d, SVMGPU_REG_Q(1, SVMGPU_Q_CONTROL), SVMGPU_Q_CONTROL_ENABLE);
    wr32(&d, SVMGPU_REG_Q(1, SVMGPU_Q_TAIL), 1);
    g_assert_cmpuint(rd32(&d, SVMGPU_REG_Q(1, SVMGPU_Q_ERROR_CODE)), ==,
                     SVMGPU_ERR_RING_DMA);
    /* every register, every value */
    for (off = 0; off < 0x2000; off += 4) {
        if (off == SVMGPU_REG_CONTROL) {
            continue;
        }
        wr32(&d, off, 0xffffffff);
        rd32(&d, off);
    }
    g_assert_cmphex(rd32(&d, SVMGPU_REG_ID), ==, SVMGPU_ID_MAGIC);
    dev_stop(&d);
}

/* Without bus mastering every DMA fails: the ring fetch is an error. */
static void test_no_bus_master(void)
{
    Dev d;
    uint16_t cmd;

    dev_start(&d, NULL);
    dev_setup(&d);
    cmd = qpci_config_readw(d.pdev, PCI_COMMAND);
    qpci_config_writew(d.pdev, PCI_COMMAND, cmd & ~PCI_COMMAND_MASTER);
    submit_copy(&d, 0x1000, 0x2000, 8);
    g_assert_cmpuint(rd32(&d, SVMGPU_REG_Q(0, SVMGPU_Q_ERROR_CODE)), ==,
                     SVMGPU_ERR_RING_DMA);
    g_assert_cmphex(rd32(&d, SVMGPU_REG_ERROR_STATUS) &
                    SVMGPU_ERROR_COMPLETION_DMA, !=, 0);
    dev_stop(&d);
}

/*
 * VT-d (intel-iommu) registers, from the VT-d specification; QEMU's own
 * definitions live in hw/i386/intel_iommu_internal.h, which is private.
 */
#define VTD_BASE            0xfed90000ull
#define VTD_GCMD            0x18
#define VTD_GSTS            0x1c
#define VTD_RTADDR          0x20
#define VTD_FSTS            0x34
#define VTD_FECTL           0x38
#define VTD_FEDATA          0x3c
#define VTD_FEADDR          0x40
#define VTD_GCMD_TE         (1u << 31)
#define VTD_GCMD_SRTP       (1u << 30)
#define VTD_FSTS_PPF        (1u << 1)
#define VTD_ROOT_TABLE      0x4040000ull

/* A 64 KiB firmware whose reset vector is "cli; hlt; jmp .-2". */
static char *halt_bios(void)
{
    static const uint8_t stop[] = { 0xfa, 0xf4, 0xeb, 0xfd };
    g_autofree uint8_t *img = g_malloc0(65536);
    char *path = NULL;
    int fd = g_file_open_tmp("svmgpu-bios-XXXXXX", &path, NULL);

    g_assert_cmpint(fd, >=, 0);
    memcpy(img + 65536 - 16, stop, sizeof(stop));
    g_assert_cmpint(write(fd, img, 65536), ==, 65536);
    close(fd);
    return path;
}

/*
 * Turn on DMA remapping with an empty root table: every DMA of every
 * device now faults, and VT-d reports each fault with an MSI to the CPU.
 */
static void vtd_block_all_dma(Dev *d)
{
    int i;

    qtest_memset(d->qts, VTD_ROOT_TABLE, 0, 4096);
    qtest_writeq(d->qts, VTD_BASE + VTD_RTADDR, VTD_ROOT_TABLE);
    qtest_writel(d->qts, VTD_BASE + VTD_GCMD, VTD_GCMD_SRTP);
    qtest_writel(d->qts, VTD_BASE + VTD_FEADDR, 0xfee00000);
    qtest_writel(d->qts, VTD_BASE + VTD_FEDATA, 0x40);
    qtest_writel(d->qts, VTD_BASE + VTD_FECTL, 0);      /* unmask */
    qtest_writel(d->qts, VTD_BASE + VTD_GCMD, VTD_GCMD_TE);
    for (i = 0; i < 1000; i++) {
        if (qtest_readl(d->qts, VTD_BASE + VTD_GSTS) & VTD_GCMD_TE) {
            return;
        }
        g_usleep(1000);
    }
    g_assert_not_reached();
}

/*
 * x-iommu-unmap-notify=on, DMA remapping on (our UNMAP notifier is
 * registered on the IOMMU region)
 * and off again (intel-iommu reports an unmap of everything, the region
 * leaves our address space and the notifier is unregistered), twice: the
 * device then works on untranslated addresses.  (The trace event
 * svmgpu_dma_unmapped shows the notifier called on each TE off.)
 */
static void test_viommu_remapping_off(void)
{
    Dev d;
    int round, i;

    dev_start_full(&d, "-device intel-iommu",
                   ",x-sync=on,x-iommu-unmap-notify=on");
    for (round = 0; round < 2; round++) {
        vtd_block_all_dma(&d);
        qtest_writel(d.qts, VTD_BASE + VTD_GCMD, 0);
        for (i = 0; i < 1000 &&
             (qtest_readl(d.qts, VTD_BASE + VTD_GSTS) & VTD_GCMD_TE); i++) {
            g_usleep(1000);
        }
        g_assert_cmphex(qtest_readl(d.qts, VTD_BASE + VTD_GSTS) &
                        VTD_GCMD_TE, ==, 0);
    }
    do_copy_test(&d);
    dev_stop(&d);
}

#define VTD_IVA             0xf0
#define VTD_IOTLB           0xf8
#define VTD_IOTLB_IVT       (1ull << 63)
#define VTD_IOTLB_DSI       (2ull << 60)
#define VTD_IOTLB_PSI       (3ull << 60)
#define VTD_DID             5ull

static void vtd_iotlb_invalidate(Dev *d, uint64_t how)
{
    int i;

    qtest_writeq(d->qts, VTD_BASE + VTD_IOTLB,
                 VTD_IOTLB_IVT | how | (VTD_DID << 32));
    for (i = 0; i < 1000 &&
         (qtest_readq(d->qts, VTD_BASE + VTD_IOTLB) & VTD_IOTLB_IVT); i++) {
        g_usleep(1000);
    }
    g_assert_cmphex(qtest_readq(d->qts, VTD_BASE + VTD_IOTLB) &
                    VTD_IOTLB_IVT, ==, 0);
}

/*
 * x-iommu-unmap-notify=on, DMA remapping on with a valid context entry for
 * the device (domain 5, an empty page table): a page-selective IOTLB
 * invalidation of 1 GiB at 0xc0000000, across intel-iommu's interrupt
 * window at 0xfee00000, reaches our UNMAP notifier, and so do a
 * domain-selective one and remapping off; QEMU goes on and the device
 * works.  A notifier per section of the IOMMU region (the window splits it
 * in two) made memory_region_notify_iommu_one() assert: a guest abort.
 */
static void test_viommu_unmap_notify_across_irq_window(void)
{
    uint64_t root = VTD_ROOT_TABLE, ctx = root + 0x1000, slpt = root + 0x2000;
    Dev d;
    int i;

    dev_start_full(&d, "-device intel-iommu",
                   ",x-sync=on,x-iommu-unmap-notify=on");
    qtest_memset(d.qts, root, 0, 3 * 4096);
    qtest_writeq(d.qts, root, ctx | 1);                 /* bus 0 present */
    qtest_writeq(d.qts, ctx + DEVFN * 16, slpt | 1);   /* present, 2nd level */
    qtest_writeq(d.qts, ctx + DEVFN * 16 + 8, 1 | (VTD_DID << 8)); /* 39-bit */
    qtest_writeq(d.qts, VTD_BASE + VTD_RTADDR, root);
    qtest_writel(d.qts, VTD_BASE + VTD_GCMD, VTD_GCMD_SRTP);
    qtest_writel(d.qts, VTD_BASE + VTD_GCMD, VTD_GCMD_TE);
    for (i = 0; i < 1000 &&
         !(qtest_readl(d.qts, VTD_BASE + VTD_GSTS) & VTD_GCMD_TE); i++) {
        g_usleep(1000);
    }
    g_assert_cmphex(qtest_readl(d.qts, VTD_BASE + VTD_GSTS) & VTD_GCMD_TE,
                    ==, VTD_GCMD_TE);
    qtest_writeq(d.qts, VTD_BASE + VTD_IVA, 0xc0000000ull | 18);
    vtd_iotlb_invalidate(&d, VTD_IOTLB_PSI);
    vtd_iotlb_invalidate(&d, VTD_IOTLB_DSI);
    qtest_writel(d.qts, VTD_BASE + VTD_GCMD, 0);
    for (i = 0; i < 1000 &&
         (qtest_readl(d.qts, VTD_BASE + VTD_GSTS) & VTD_GCMD_TE); i++) {
        g_usleep(1000);
    }
    do_copy_test(&d);
    dev_stop(&d);
}

static uint32_t wait_reg(Dev *d, uint64_t off, uint32_t mask)
{
    uint32_t v = 0;
    int i;

    for (i = 0; i < 10000; i++) {
        v = rd32(d, off);
        if (v & mask) {
            break;
        }
        g_usleep(1000);
    }
    return v;
}

/*
 * A driver that programs an IOVA it never mapped: the engine and control
 * threads' DMA is refused by the vIOMMU, which reports a DMAR fault and
 * raises its fault-event MSI from inside the translation.  That must be
 * done under the BQL (TCG asserts it), become a device error, and leave
 * QEMU running; resets racing with such steps must not deadlock.
 */
static void do_viommu_unmapped_iova(bool iommu_after)
{
    g_autofree char *bios = halt_bios();
    g_autofree char *pre = g_strdup_printf("-accel tcg -bios %s %s", bios,
                                           iommu_after ? "" :
                                           "-device intel-iommu");
    Dev d;
    int i;

    /* extra goes last on the command line: after our -device */
    dev_start_full(&d, pre, iommu_after ? ",engines=2 -device intel-iommu" :
                   ",engines=2");
    dev_setup(&d);
    vtd_block_all_dma(&d);

    /* engine thread: the ring fetch faults in the vIOMMU */
    submit_copy(&d, 0x1000, 0x2000, 8);
    g_assert_cmphex(wait_reg(&d, SVMGPU_REG_Q(0, SVMGPU_Q_STATUS),
                             SVMGPU_Q_STATUS_ERROR) & SVMGPU_Q_STATUS_ERROR,
                    !=, 0);
    g_assert_cmpuint(rd32(&d, SVMGPU_REG_Q(0, SVMGPU_Q_ERROR_CODE)), ==,
                     SVMGPU_ERR_RING_DMA);
    g_assert_cmphex(qtest_readl(d.qts, VTD_BASE + VTD_FSTS) & VTD_FSTS_PPF,
                    !=, 0);

    /* control thread: the invalidation completion write faults */
    wr64(&d, SVMGPU_REG_TLB_INV_DONE_ADDR, INV_DONE);
    wr32(&d, SVMGPU_REG_TLB_INV_CTX, 0);
    wr32(&d, SVMGPU_REG_TLB_INV_FLAGS, SVMGPU_TLB_INV_WHOLE_CONTEXT);
    wr32(&d, SVMGPU_REG_TLB_INV_SUBMIT, 1);
    g_assert_cmpuint(wait_reg(&d, SVMGPU_REG_TLB_INV_DONE_SEQ, 1), ==, 1);
    g_assert_cmphex(rd32(&d, SVMGPU_REG_ERROR_STATUS) &
                    SVMGPU_ERROR_COMPLETION_DMA, !=, 0);

    /* resets while engine steps are translating */
    for (i = 0; i < 20; i++) {
        wr32(&d, SVMGPU_REG_CONTROL, SVMGPU_CONTROL_RESET);
        wr32(&d, SVMGPU_REG_CONTROL, SVMGPU_CONTROL_ENABLE);
        wr64(&d, SVMGPU_REG_Q(0, SVMGPU_Q_BASE), RING0);
        wr32(&d, SVMGPU_REG_Q(0, SVMGPU_Q_SIZE), 16);
        wr64(&d, SVMGPU_REG_Q(0, SVMGPU_Q_COMPL_ADDR), COMPL0);
        wr32(&d, SVMGPU_REG_Q(0, SVMGPU_Q_CONTROL), SVMGPU_Q_CONTROL_ENABLE);
        wr32(&d, SVMGPU_REG_Q(0, SVMGPU_Q_TAIL), 1 + i % 8);
        if (i & 1) {
            /* re-enable a queue whose engine may be mid-step */
            wr32(&d, SVMGPU_REG_Q(0, SVMGPU_Q_CONTROL), 0);
            wr32(&d, SVMGPU_REG_Q(0, SVMGPU_Q_CONTROL),
                 SVMGPU_Q_CONTROL_ENABLE);
            wr32(&d, SVMGPU_REG_Q(0, SVMGPU_Q_TAIL), 1);
        }
    }
    wr32(&d, SVMGPU_REG_CONTROL, SVMGPU_CONTROL_RESET);
    check_reset_state(&d);
    dev_stop(&d);
    unlink(bios);
}

static void test_viommu_unmapped_iova(void)
{
    do_viommu_unmapped_iova(false);
}

/*
 * The same with intel-iommu after svmgpu on the command line: at our
 * realize it had not set itself up on the bus yet, so realize saw no
 * vIOMMU and the threads translated without the BQL; the fault report
 * aborted QEMU under TCG.
 */
static void test_viommu_after_device_unmapped_iova(void)
{
    do_viommu_unmapped_iova(true);
}

/* The real configuration: engine and control threads, MSI-X from a BH. */
static void test_threaded(void)
{
    Dev d;
    struct svmgpu_completion c;
    uint64_t seq = 0;
    unsigned i, k;

    dev_start(&d, ",engines=2");
    msix_setup(&d);
    dev_setup(&d);
    for (k = 0; k < 64; k++) {
        map4k(&d, 0x100000 + k * 4096ull, DATA_POOL + k * 4096ull, 0);
        map4k(&d, 0x200000 + k * 4096ull, DATA_POOL + 0x100000 + k * 4096ull,
              SVMGPU_PTE_WRITABLE);
    }
    qtest_memset(d.qts, DATA_POOL, 0x3c, 64 * 4096);
    for (k = 0; k < 8; k++) {
        seq = submit_copy(&d, 0x200000 + k * 0x8000, 0x100000 + k * 0x8000,
                          0x8000);
    }
    for (i = 0; i < 20000; i++) {
        read_compl(&d, &c);
        if (c.seq == seq) {
            break;
        }
        g_usleep(1000);
    }
    g_assert_cmpuint(c.seq, ==, seq);
    g_assert_cmpuint(c.err_code, ==, 0);
    g_assert_cmphex(qtest_readq(d.qts, DATA_POOL + 0x100000 + 64 * 4096 - 8),
                    ==, 0x3c3c3c3c3c3c3c3cull);
    /* the MSI-X write comes from a bottom half: let the main loop run */
    for (i = 0; i < 10000 && !msi_fired(&d, SVMGPU_VEC_QUEUE(0)); i++) {
        g_usleep(1000);
        rd32(&d, SVMGPU_REG_STATUS);
    }
    g_assert_cmpuint(i, <, 10000);
    /* a fault and a replay across threads */
    submit_copy(&d, 0x200000, 0x900000, 8);
    for (i = 0; i < 20000 && rd32(&d, SVMGPU_REG_FAULT_PUT) != 1; i++) {
        g_usleep(1000);
    }
    g_assert_cmpuint(rd32(&d, SVMGPU_REG_FAULT_PUT), ==, 1);
    map4k(&d, 0x900000, DATA_POOL, 0);
    wr32(&d, SVMGPU_REG_FAULT_GET, 1);
    wr64(&d, SVMGPU_REG_FAULT_REPLY, SVMGPU_FAULT_REPLY_REPLAY);
    for (i = 0; i < 20000; i++) {
        read_compl(&d, &c);
        if (c.seq == seq + 1) {
            break;
        }
        g_usleep(1000);
    }
    g_assert_cmpuint(c.seq, ==, seq + 1);
    /* reset with threads alive */
    wr32(&d, SVMGPU_REG_CONTROL, SVMGPU_CONTROL_RESET);
    check_reset_state(&d);
    dev_stop(&d);
}

/* Program MSI-X vector v: message address addr, data. */
static void msix_vector(Dev *d, unsigned v, uint64_t addr, uint32_t data)
{
    uint64_t e = d->pdev->msix_table_off + v * PCI_MSIX_ENTRY_SIZE;

    qpci_io_writel(d->pdev, d->pdev->msix_table_bar,
                   e + PCI_MSIX_ENTRY_LOWER_ADDR, (uint32_t)addr);
    qpci_io_writel(d->pdev, d->pdev->msix_table_bar,
                   e + PCI_MSIX_ENTRY_UPPER_ADDR, addr >> 32);
    qpci_io_writel(d->pdev, d->pdev->msix_table_bar,
                   e + PCI_MSIX_ENTRY_DATA, data);
}

/*
 * A buggy driver aims MSI-X at the device's own BAR0: vector 0 at
 * CTX_ENABLE (data: an id beyond the table, an error again), vector 2 at
 * CONTROL (data: RESET), vector 3 (queue 0) at queue 0's TAIL (data: past
 * the ring, a queue error again), then raises those events.  The messages
 * must be dropped by the re-entrancy guard: QEMU lives, the device keeps
 * working and is not reset by its own message.
 */
static void do_msix_into_bar0(const char *pre, const char *extra)
{
    struct svmgpu_completion c;
    Dev d;
    int i;

    dev_start_full(&d, pre, extra);
    msix_setup(&d);
    dev_setup(&d);
    msix_vector(&d, SVMGPU_VEC_ERROR, d.bar0.addr + SVMGPU_REG_CTX_ENABLE,
                0xfff);
    msix_vector(&d, SVMGPU_VEC_INVAL, d.bar0.addr + SVMGPU_REG_CONTROL,
                SVMGPU_CONTROL_RESET);
    msix_vector(&d, SVMGPU_VEC_QUEUE(0),
                d.bar0.addr + SVMGPU_REG_Q(0, SVMGPU_Q_TAIL), 1000);
    for (i = 0; i < 8; i++) {
        wr32(&d, SVMGPU_REG_CTX_ENABLE, 100 + i);       /* ERROR_CTX */
        wr32(&d, SVMGPU_REG_ERROR_STATUS, ~0u);
        wr32(&d, SVMGPU_REG_INTR_STATUS, ~0u);
    }
    wr32(&d, SVMGPU_REG_CTX_ENABLE, 100);
    wr32(&d, SVMGPU_REG_TLB_INV_FLAGS, SVMGPU_TLB_INV_ALL_CONTEXTS);
    wr32(&d, SVMGPU_REG_TLB_INV_SUBMIT, 1);
    g_assert_cmpuint(wait_reg(&d, SVMGPU_REG_TLB_INV_DONE_SEQ, 1), ==, 1);
    wr32(&d, SVMGPU_REG_Q(0, SVMGPU_Q_TAIL), 1000);     /* queue error */
    /* let the bottom half run (and try to deliver) a few times */
    for (i = 0; i < 20; i++) {
        rd32(&d, SVMGPU_REG_STATUS);
        g_usleep(1000);
    }
    g_assert_cmphex(rd32(&d, SVMGPU_REG_ID), ==, SVMGPU_ID_MAGIC);
    g_assert_cmphex(rd32(&d, SVMGPU_REG_CONTROL), ==, SVMGPU_CONTROL_ENABLE);
    g_assert_cmpuint(rd32(&d, SVMGPU_REG_Q(0, SVMGPU_Q_ERROR_CODE)), ==,
                     SVMGPU_ERR_BAD_DOORBELL);
    g_assert_cmpuint(rd32(&d, SVMGPU_REG_Q(0, SVMGPU_Q_ERROR_VA)), ==, 1000);
    g_assert_cmphex(rd32(&d, SVMGPU_REG_ERROR_STATUS), ==,
                    SVMGPU_ERROR_CTX | SVMGPU_ERROR_QUEUE);
    /* still a working device */
    msix_setup(&d);
    wr32(&d, SVMGPU_REG_Q(0, SVMGPU_Q_CONTROL), 0);
    wr32(&d, SVMGPU_REG_Q(0, SVMGPU_Q_CONTROL), SVMGPU_Q_CONTROL_ENABLE);
    d.tail = 0;
    map4k(&d, 0x10000, DATA_POOL, 0);
    map4k(&d, 0x20000, DATA_POOL + 0x1000, SVMGPU_PTE_WRITABLE);
    qtest_writeq(d.qts, DATA_POOL, 0x1122334455667788ull);
    submit_copy(&d, 0x20000, 0x10000, 8);
    for (i = 0; i < 10000; i++) {
        read_compl(&d, &c);
        if (c.seq == d.seq) {
            break;
        }
        g_usleep(1000);
    }
    g_assert_cmpuint(c.seq, ==, d.seq);
    g_assert_cmphex(c.status & SVMGPU_Q_STATUS_ERROR, ==, 0);
    g_assert_cmphex(qtest_readq(d.qts, DATA_POOL + 0x1000), ==,
                    0x1122334455667788ull);
    g_assert_true(msi_fired(&d, SVMGPU_VEC_QUEUE(0)));
    dev_stop(&d);
}

/* Once broke: behind intel-iommu BAR0 had no re-entrancy guard and the
 * MMIO handler delivered MSI-X itself: endless recursion, QEMU SIGSEGV. */
static void test_msix_into_bar0_viommu(void)
{
    do_msix_into_bar0("-device intel-iommu", NULL);
}

static void test_msix_into_bar0(void)
{
    do_msix_into_bar0("", NULL);
}

static void test_msix_into_bar0_viommu_threaded(void)
{
    do_msix_into_bar0("-device intel-iommu", ",engines=2");
}

/*
 * Every DMA the driver can aim — ring, completion record, fault ring,
 * page-table root, context table, invalidation completion — pointed at the
 * device's own BAR0 or its MSI-X BAR is just a failed DMA.
 */
static void do_dma_into_bars(const char *pre)
{
    struct svmgpu_cmd cmd;
    struct svmgpu_fault_record f;
    uint64_t bar0, bar2, ring2 = RING0 + 0x800;
    Dev d;

    dev_start_full(&d, pre, NULL);
    msix_setup(&d);
    dev_setup(&d);
    bar0 = d.bar0.addr;
    bar2 = d.pdev->msix_table_bar.addr;

    /* ring base in BAR0: the fetch fails */
    wr64(&d, SVMGPU_REG_Q(1, SVMGPU_Q_BASE), bar0 + 0x1000);
    wr32(&d, SVMGPU_REG_Q(1, SVMGPU_Q_SIZE), 4);
    wr32(&d, SVMGPU_REG_Q(1, SVMGPU_Q_CONTROL), SVMGPU_Q_CONTROL_ENABLE);
    wr32(&d, SVMGPU_REG_Q(1, SVMGPU_Q_TAIL), 1);
    g_assert_cmpuint(rd32(&d, SVMGPU_REG_Q(1, SVMGPU_Q_ERROR_CODE)), ==,
                     SVMGPU_ERR_RING_DMA);

    /* completion record in the MSI-X table: not written */
    memset(&cmd, 0, sizeof(cmd));
    cmd.hdr.opcode = SVMGPU_CMD_NOP;
    cmd.hdr.seq = 5;
    qtest_memwrite(d.qts, ring2, &cmd, sizeof(cmd));
    wr32(&d, SVMGPU_REG_ERROR_STATUS, ~0u);
    wr64(&d, SVMGPU_REG_Q(2, SVMGPU_Q_BASE), ring2);
    wr32(&d, SVMGPU_REG_Q(2, SVMGPU_Q_SIZE), 4);
    wr64(&d, SVMGPU_REG_Q(2, SVMGPU_Q_COMPL_ADDR), bar2);
    wr32(&d, SVMGPU_REG_Q(2, SVMGPU_Q_CONTROL), SVMGPU_Q_CONTROL_ENABLE);
    wr32(&d, SVMGPU_REG_Q(2, SVMGPU_Q_TAIL), 1);
    g_assert_cmpuint(rd64(&d, SVMGPU_REG_Q(2, SVMGPU_Q_COMPL_SEQ)), ==, 5);
    g_assert_cmphex(rd32(&d, SVMGPU_REG_ERROR_STATUS) &
                    SVMGPU_ERROR_COMPLETION_DMA, !=, 0);
    g_assert_cmphex(qpci_io_readl(d.pdev, d.pdev->msix_table_bar,
                                  PCI_MSIX_ENTRY_DATA), ==, 0x100);

    /* invalidation completion aimed at CONTROL: not written */
    wr32(&d, SVMGPU_REG_ERROR_STATUS, ~0u);
    wr64(&d, SVMGPU_REG_TLB_INV_DONE_ADDR, bar0 + SVMGPU_REG_CONTROL);
    wr32(&d, SVMGPU_REG_TLB_INV_FLAGS, SVMGPU_TLB_INV_ALL_CONTEXTS);
    wr32(&d, SVMGPU_REG_TLB_INV_SUBMIT, 1);
    g_assert_cmpuint(rd32(&d, SVMGPU_REG_TLB_INV_DONE_SEQ), ==, 1);
    g_assert_cmphex(rd32(&d, SVMGPU_REG_ERROR_STATUS) &
                    SVMGPU_ERROR_COMPLETION_DMA, !=, 0);
    g_assert_cmphex(rd32(&d, SVMGPU_REG_CONTROL), ==, SVMGPU_CONTROL_ENABLE);
    wr64(&d, SVMGPU_REG_TLB_INV_DONE_ADDR, 0);

    /* page-table root in the MSI-X BAR: the walk fails, a fault record */
    qtest_writeq(d.qts, CTX_TABLE + 32, bar2);
    qtest_writel(d.qts, CTX_TABLE + 40, SVMGPU_CTX_VALID);
    wr32(&d, SVMGPU_REG_CTX_ENABLE, 1);
    wr32(&d, SVMGPU_REG_Q(0, SVMGPU_Q_CONTROL), 0);
    wr32(&d, SVMGPU_REG_Q(0, SVMGPU_Q_CTX), 1);
    wr32(&d, SVMGPU_REG_Q(0, SVMGPU_Q_CONTROL), SVMGPU_Q_CONTROL_ENABLE);
    d.tail = 0;
    submit_copy(&d, 0x1000, 0x2000, 8);
    g_assert_cmpuint(rd32(&d, SVMGPU_REG_FAULT_PUT), ==, 1);
    qtest_memread(d.qts, FAULT_RING, &f, sizeof(f));
    g_assert_cmpuint(f.ctx, ==, 1);
    g_assert_cmpuint(f.reason, ==, SVMGPU_FAULT_WALK_DMA);

    /* fault ring in BAR0: the record write fails, the queue stalls */
    wr32(&d, SVMGPU_REG_ERROR_STATUS, ~0u);
    wr32(&d, SVMGPU_REG_FAULT_GET, 1);
    wr64(&d, SVMGPU_REG_FAULT_RING_BASE, bar0);
    wr64(&d, SVMGPU_REG_FAULT_REPLY, SVMGPU_FAULT_REPLY_REPLAY);
    g_assert_cmphex(rd32(&d, SVMGPU_REG_ERROR_STATUS) &
                    SVMGPU_ERROR_FAULT_RING_DMA, !=, 0);
    g_assert_cmpuint(rd32(&d, SVMGPU_REG_FAULT_PUT), ==, 1);
    g_assert_cmphex(rd32(&d, SVMGPU_REG_Q(0, SVMGPU_Q_STATUS)) &
                    SVMGPU_Q_STATUS_RING_FULL_STALL, !=, 0);

    /* context table in BAR0: CTX_ENABLE cannot read the entry */
    wr32(&d, SVMGPU_REG_ERROR_STATUS, ~0u);
    wr64(&d, SVMGPU_REG_CTX_TABLE_BASE, bar0);
    wr32(&d, SVMGPU_REG_CTX_ENABLE, 2);
    g_assert_cmphex(rd32(&d, SVMGPU_REG_ERROR_STATUS), ==, SVMGPU_ERROR_CTX);
    wr32(&d, SVMGPU_REG_CTX_SELECT, 2);
    g_assert_cmphex(rd32(&d, SVMGPU_REG_CTX_STATE), ==, 0);

    g_assert_cmphex(rd32(&d, SVMGPU_REG_ID), ==, SVMGPU_ID_MAGIC);
    g_assert_cmphex(rd32(&d, SVMGPU_REG_CONTROL), ==, SVMGPU_CONTROL_ENABLE);
    dev_stop(&d);
}

/* ---- device-local memory (docs/hw-spec.md §5a) ---- */

#define AP_LOCAL    (SVMGPU_APERTURE_LOCAL << SVMGPU_PTE_APERTURE_SHIFT)

static uint64_t submit_cmd(Dev *d, struct svmgpu_cmd *c)
{
    c->hdr.seq = ++d->seq;
    qtest_memwrite(d->qts, RING0 + d->tail * 64ull, c, sizeof(*c));
    d->tail = (d->tail + 1) % 16;
    wr32(d, SVMGPU_REG_Q(0, SVMGPU_Q_TAIL), d->tail);
    return c->hdr.seq;
}

static void assert_done(Dev *d, uint64_t seq)
{
    struct svmgpu_completion c;

    read_compl(d, &c);
    g_assert_cmpuint(c.seq, ==, seq);
    g_assert_cmpuint(c.err_code, ==, 0);
}

/*
 * BAR4: 64-bit prefetchable, 96 MiB rounded up to 128 MiB; what the CPU
 * writes through it a COPY reads (aperture 1) and the reverse; the tail
 * reads 0 and ignores writes; counters; a reset keeps the contents.
 */
static void test_local_mem(void)
{
    const uint64_t n = 8192;
    uint8_t src[8192], dst[8192];
    uint64_t size = 0, seq, i;
    uint32_t bar;
    QPCIBar bar4;
    Dev d;

    dev_start(&d, ",x-sync=on,local-mem-size=96M");
    g_assert_cmphex(rd32(&d, SVMGPU_REG_CAPS), ==, 0x7f);
    g_assert_cmphex(rd64(&d, SVMGPU_REG_LOCAL_MEM_SIZE), ==, 96ull << 20);
    bar = qpci_config_readl(d.pdev, PCI_BASE_ADDRESS_4);
    g_assert_cmphex(bar & (PCI_BASE_ADDRESS_SPACE |
                           PCI_BASE_ADDRESS_MEM_TYPE_MASK |
                           PCI_BASE_ADDRESS_MEM_PREFETCH), ==,
                    PCI_BASE_ADDRESS_SPACE_MEMORY |
                    PCI_BASE_ADDRESS_MEM_TYPE_64 |
                    PCI_BASE_ADDRESS_MEM_PREFETCH);
    bar4 = qpci_iomap(d.pdev, SVMGPU_BAR_LOCAL, &size);
    g_assert_cmphex(size, ==, 128ull << 20);
    msix_setup(&d);
    dev_setup(&d);

    /* zero at creation */
    g_assert_cmphex(qpci_io_readq(d.pdev, bar4, 0x1000), ==, 0);
    /* CPU -> local (BAR4) -> COPY -> system */
    for (i = 0; i < n; i++) {
        src[i] = i * 7 + 5;
    }
    qpci_memwrite(d.pdev, bar4, 0x100000, src, n);
    map4k(&d, 0x10000, 0x100000, AP_LOCAL);
    map4k(&d, 0x11000, 0x101000, AP_LOCAL);
    map4k(&d, 0x20000, DATA_POOL, SVMGPU_PTE_WRITABLE);
    map4k(&d, 0x21000, DATA_POOL + 0x3000, SVMGPU_PTE_WRITABLE);
    seq = submit_copy(&d, 0x20000, 0x10000, n);
    assert_done(&d, seq);
    qtest_memread(d.qts, DATA_POOL, dst, 4096);
    qtest_memread(d.qts, DATA_POOL + 0x3000, dst + 4096, 4096);
    g_assert_cmpint(memcmp(src, dst, n), ==, 0);
    g_assert_cmpuint(rd64(&d, SVMGPU_REG_CNT_LOCAL_READ_BYTES), ==, n);
    g_assert_cmpuint(rd64(&d, SVMGPU_REG_CNT_LINK_WRITE_BYTES), ==, n);
    g_assert_cmpuint(rd64(&d, SVMGPU_REG_CNT_LINK_READ_BYTES), ==, 0);
    g_assert_cmpuint(rd64(&d, SVMGPU_REG_CNT_LOCAL_WRITE_BYTES), ==, 0);

    /* system -> COPY -> local, read by the CPU through BAR4 (last page) */
    map4k(&d, 0x30000, (96ull << 20) - 4096, AP_LOCAL | SVMGPU_PTE_WRITABLE);
    seq = submit_copy(&d, 0x30000 + 8, 0x20000, 4000);
    assert_done(&d, seq);
    qpci_memread(d.pdev, bar4, (96ull << 20) - 4096 + 8, dst, 4000);
    g_assert_cmpint(memcmp(src, dst, 4000), ==, 0);
    g_assert_cmpuint(rd64(&d, SVMGPU_REG_CNT_LOCAL_WRITE_BYTES), ==, 4000);

    /* the BAR beyond 96 MiB: reads 0, writes ignored */
    qpci_io_writeq(d.pdev, bar4, 96ull << 20, 0x1122334455667788ull);
    g_assert_cmphex(qpci_io_readq(d.pdev, bar4, 96ull << 20), ==, 0);
    g_assert_cmphex(qpci_io_readq(d.pdev, bar4, (128ull << 20) - 8), ==, 0);

    /* a leaf past the end of local memory: BAD_PTE */
    map4k(&d, 0x40000, 96ull << 20, AP_LOCAL);
    seq = submit_copy(&d, 0x20000, 0x40000, 8);
    g_assert_cmpuint(rd32(&d, SVMGPU_REG_FAULT_PUT), ==, 1);
    {
        struct svmgpu_fault_record f;

        qtest_memread(d.qts, FAULT_RING, &f, sizeof(f));
        g_assert_cmpuint(f.reason, ==, SVMGPU_FAULT_BAD_PTE);
        g_assert_cmphex(f.va, ==, 0x40000);
    }

    /* CONTROL.RESET: counters 0, local memory kept */
    wr32(&d, SVMGPU_REG_CONTROL, SVMGPU_CONTROL_RESET);
    g_assert_cmpuint(rd64(&d, SVMGPU_REG_CNT_LOCAL_READ_BYTES), ==, 0);
    qpci_memread(d.pdev, bar4, 0x100000, dst, n);
    g_assert_cmpint(memcmp(src, dst, n), ==, 0);
    dev_stop(&d);
}

/* Without local-mem-size: no BAR4, CAPS bit 4 clear, size 0. */
static void test_local_mem_absent(void)
{
    Dev d;

    dev_start(&d, NULL);
    g_assert_cmphex(rd32(&d, SVMGPU_REG_CAPS), ==, 0x6f);
    g_assert_cmphex(rd64(&d, SVMGPU_REG_LOCAL_MEM_SIZE), ==, 0);
    qpci_config_writel(d.pdev, PCI_BASE_ADDRESS_4, 0xffffffff);
    g_assert_cmphex(qpci_config_readl(d.pdev, PCI_BASE_ADDRESS_4), ==, 0);
    dev_stop(&d);
}

/*
 * QEMU started with "-device svmgpu,@prop=@value" fails and says @msg on
 * stderr.
 */
static void expect_realize_error(const char *prop, const char *value,
                                 const char *msg)
{
    g_autofree char *cmd = g_strdup_printf(
        "%s -M q35 -nodefaults -display none -S -accel qtest "
        "-device svmgpu,%s=%s", g_getenv("QTEST_QEMU_BINARY"), prop, value);
    g_autofree char *out = NULL, *err = NULL;
    int status = 0;

    g_assert_true(g_spawn_command_line_sync(cmd, &out, &err, &status, NULL));
    g_assert_false(g_spawn_check_wait_status(status, NULL));
    g_assert_nonnull(strstr(err, msg));
}

/* Bad local-mem-size values fail device creation with a clear error. */
static void test_local_mem_bad_size(void)
{
    static const char *const bad[] = { "1M", "3M", "2097153", "65G" };
    unsigned i;

    for (i = 0; i < G_N_ELEMENTS(bad); i++) {
        expect_realize_error("local-mem-size", bad[i],
                             "svmgpu: local-mem-size must be 0 or "
                             "a multiple of 2 MiB up to 64 GiB");
    }
}

/*
 * The nice value of each thread of the QEMU this test started (the child
 * of this process: libqtest execs it from its shell) named @comm, in
 * @nice[] (at most @max); returns how many.
 */
static int qemu_thread_nice(const char *comm, int *nice, int max)
{
    g_autoptr(GDir) procs = g_dir_open("/proc", 0, NULL);
    const char *pid;
    int n = 0;

    g_assert_nonnull(procs);
    while ((pid = g_dir_read_name(procs))) {
        g_autofree char *stat = NULL, *tdir = NULL, *text = NULL;
        g_autoptr(GDir) tasks = NULL;
        const char *tid, *p;
        long ppid = 0;

        if (!g_ascii_isdigit(pid[0])) {
            continue;
        }
        stat = g_strdup_printf("/proc/%s/stat", pid);
        if (!g_file_get_contents(stat, &text, NULL, NULL) ||
            !(p = strrchr(text, ')')) ||
            sscanf(p + 2, "%*c %ld", &ppid) != 1 || ppid != getpid()) {
            continue;
        }
        tdir = g_strdup_printf("/proc/%s/task", pid);
        tasks = g_dir_open(tdir, 0, NULL);
        while (tasks && (tid = g_dir_read_name(tasks)) && n < max) {
            g_autofree char *cpath = g_strdup_printf("%s/%s/comm", tdir, tid);
            g_autofree char *spath = g_strdup_printf("%s/%s/stat", tdir, tid);
            g_autofree char *c = NULL, *st = NULL;
            long v;

            if (!g_file_get_contents(cpath, &c, NULL, NULL) ||
                strcmp(g_strchomp(c), comm) ||
                !g_file_get_contents(spath, &st, NULL, NULL) ||
                !(p = strrchr(st, ')')) ||
                /* after comm: state ... priority (16th), nice (17th) */
                sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
                       "%*u %*u %*d %*d %*d %ld", &v) != 1) {
                continue;
            }
            nice[n++] = v;
        }
    }
    return n;
}

/*
 * engine-nice: the engine threads run at that host nice value, the
 * control thread (TLB invalidations) at the process's; values outside
 * 0..19 fail device creation with a clear error.
 */
static void test_engine_nice(void)
{
    static const char *const bad[] = { "-1", "20" };
    int nice[8], n, i;
    Dev d;

    for (i = 0; i < (int)G_N_ELEMENTS(bad); i++) {
        expect_realize_error("engine-nice", bad[i],
                             "svmgpu: engine-nice must be 0..19");
    }

    /* 19: allowed without privilege whatever this process's nice value */
    dev_start_full(&d, "-name debug-threads=on", ",engines=3,engine-nice=19");
    /* named before they set their nice value: wait for all three */
    for (i = 0; i < 5000; i++) {
        int k, at = 0;

        n = qemu_thread_nice("svmgpu-engine", nice, G_N_ELEMENTS(nice));
        for (k = 0; k < n; k++) {
            at += nice[k] == 19;
        }
        if (n == 3 && at == 3) {
            break;
        }
        g_usleep(1000);
    }
    g_assert_cmpint(n, ==, 3);
    for (i = 0; i < n; i++) {
        g_assert_cmpint(nice[i], ==, 19);
    }
    g_assert_cmpint(qemu_thread_nice("svmgpu-ctl", nice, 1), ==, 1);
    g_assert_cmpint(nice[0], ==, getpriority(PRIO_PROCESS, 0));
    dev_stop(&d);
}

/*
 * Peer-to-peer: device A's aperture-0 DMA into device B's BAR4 (and into
 * its own) works as memory; into B's unbacked BAR4 tail it fails.
 */
static void test_local_mem_p2p(void)
{
    uint8_t src[4096], dst[4096];
    uint64_t size = 0, seq, i;
    QPCIDevice *b;
    QPCIBar bar4b, bar4a;
    Dev d;

    dev_start_full(&d, "-device svmgpu,addr=05.0,x-sync=on,"
                   "local-mem-size=24M", ",x-sync=on,local-mem-size=2M");
    b = qpci_device_find(d.bus, QPCI_DEVFN(5, 0));
    g_assert_nonnull(b);
    qpci_device_enable(b);
    bar4b = qpci_iomap(b, SVMGPU_BAR_LOCAL, &size);
    g_assert_cmphex(size, ==, 32ull << 20);
    bar4a = qpci_iomap(d.pdev, SVMGPU_BAR_LOCAL, &size);
    g_assert_cmphex(size, ==, 2ull << 20);
    msix_setup(&d);
    dev_setup(&d);
    for (i = 0; i < sizeof(src); i++) {
        src[i] = i * 3 + 1;
    }
    qpci_memwrite(b, bar4b, 0x5000, src, sizeof(src));

    /* A: B's local memory -> A's own BAR4, both by DMA address */
    map4k(&d, 0x10000, bar4b.addr + 0x5000, 0);
    map4k(&d, 0x20000, bar4a.addr + 0x1000, SVMGPU_PTE_WRITABLE);
    seq = submit_copy(&d, 0x20000, 0x10000, sizeof(src));
    assert_done(&d, seq);
    qpci_memread(d.pdev, bar4a, 0x1000, dst, sizeof(dst));
    g_assert_cmpint(memcmp(src, dst, sizeof(src)), ==, 0);
    g_assert_cmpuint(rd64(&d, SVMGPU_REG_CNT_LINK_READ_BYTES), ==, 4096);
    g_assert_cmpuint(rd64(&d, SVMGPU_REG_CNT_LINK_WRITE_BYTES), ==, 4096);

    /* B's BAR4 beyond its 24 MiB: MMIO, the DMA fails */
    map4k(&d, 0x30000, bar4b.addr + (24ull << 20), 0);
    seq = submit_copy(&d, 0x20000, 0x30000, 8);
    g_assert_cmpuint(rd32(&d, SVMGPU_REG_Q(0, SVMGPU_Q_ERROR_CODE)), ==,
                     SVMGPU_ERR_DMA);
    g_free(b);
    dev_stop(&d);
}

static void test_dma_into_bars(void)
{
    do_dma_into_bars("");
}

static void test_dma_into_bars_viommu(void)
{
    do_dma_into_bars("-device intel-iommu");
}

/*
 * Once broke: with the test-only synchronous mode, a doorbell for a
 * kernel that loops forever (budget 2^64-1) never returned: QEMU hung with
 * the BQL held.  Now a register write runs a bounded number of steps and
 * a bottom half the rest; the main loop, QMP and the registers stay live,
 * and a reset stops the kernel.
 */
static void do_sync_bounded(const char *extra)
{
    struct svmgpu_cmd c;
    uint64_t n1, n2;
    QDict *rsp;
    int i;

    Dev d;

    dev_start(&d, extra);
    dev_setup(&d);
    map4k(&d, 0x40000, DATA_POOL, 0);
    qtest_writeq(d.qts, DATA_POOL, SVMGPU_OP_JMP);      /* jmp . */
    memset(&c, 0, sizeof(c));
    c.hdr.opcode = SVMGPU_CMD_LAUNCH;
    c.hdr.seq = 1;
    c.launch.code_va = 0x40000;
    c.launch.grid_x = c.launch.grid_y = c.launch.grid_z = 1;
    c.launch.wg_size = 1;
    c.launch.budget = ~0ull;
    qtest_memwrite(d.qts, RING0, &c, sizeof(c));
    wr32(&d, SVMGPU_REG_Q(0, SVMGPU_Q_TAIL), 1);
    n1 = rd64(&d, SVMGPU_REG_CNT_INSTRUCTIONS);
    g_assert_cmpuint(n1, >, 0);
    g_assert_cmphex(rd32(&d, SVMGPU_REG_Q(0, SVMGPU_Q_STATUS)) &
                    SVMGPU_Q_STATUS_IDLE, ==, 0);
    rsp = qtest_qmp(d.qts, "{'execute': 'query-status'}");
    g_assert_true(qdict_haskey(rsp, "return"));
    qobject_unref(rsp);
    for (i = 0; i < 1000; i++) {
        n2 = rd64(&d, SVMGPU_REG_CNT_INSTRUCTIONS);
        if (n2 > n1) {
            break;
        }
        g_usleep(1000);
    }
    g_assert_cmpuint(n2, >, n1);        /* the bottom half keeps going */
    wr32(&d, SVMGPU_REG_CONTROL, SVMGPU_CONTROL_RESET);
    check_reset_state(&d);
    g_assert_cmpuint(rd64(&d, SVMGPU_REG_CNT_INSTRUCTIONS), ==, 0);
    dev_stop(&d);
}

static void test_sync_bounded(void)
{
    do_sync_bounded(NULL);
}

/* The same on the reference interpreter (x-engine, docs/compute-engine.md). */
static void test_sync_bounded_reference(void)
{
    do_sync_bounded(",x-sync=on,x-engine=reference");
}

/* Mask (or unmask) MSI-X vector v in the table. */
static void msix_mask(Dev *d, unsigned v, bool masked)
{
    qpci_io_writel(d->pdev, d->pdev->msix_table_bar,
                   d->pdev->msix_table_off + v * PCI_MSIX_ENTRY_SIZE +
                   PCI_MSIX_ENTRY_VECTOR_CTRL, masked);
}

static uint32_t msix_pba(Dev *d)
{
    return qpci_io_readl(d->pdev, d->pdev->msix_pba_bar, d->pdev->msix_pba_off);
}

/*
 * Once broke: CONTROL.RESET left a vector that was pending in the PBA
 * (masked when the event came) pending, so unmasking it after the reset
 * delivered an interrupt for an event of before the reset.
 */
static void test_reset_clears_pending_msix(void)
{
    Dev d;
    int i;

    dev_start(&d, NULL);
    msix_setup(&d);
    msix_mask(&d, SVMGPU_VEC_ERROR, true);
    wr32(&d, SVMGPU_REG_CTX_ENABLE, 3);                 /* an error */
    for (i = 0; i < 50 && !(msix_pba(&d) & 1); i++) {
        rd32(&d, SVMGPU_REG_STATUS);
    }
    g_assert_cmphex(msix_pba(&d) & 1, ==, 1);
    wr32(&d, SVMGPU_REG_CONTROL, SVMGPU_CONTROL_RESET);
    g_assert_cmphex(msix_pba(&d), ==, 0);
    msix_mask(&d, SVMGPU_VEC_ERROR, false);
    g_assert_false(msi_fired(&d, SVMGPU_VEC_ERROR));
    dev_stop(&d);
}

/*
 * q35's MMCONFIG window (the MCH's PCIEXBAR, which firmware would set):
 * config space as memory, where an MSI-X message can write it.
 */
#define MMCFG_BASE      0xb0000000ull
#define MCH_PCIEXBAR    0x60

static void mmcfg_enable(Dev *d)
{
    QPCIDevice *mch = qpci_device_find(d->bus, QPCI_DEVFN(0, 0));

    g_assert_nonnull(mch);
    qpci_config_writel(mch, MCH_PCIEXBAR + 4, 0);
    qpci_config_writel(mch, MCH_PCIEXBAR, MMCFG_BASE | 1);     /* 256 MiB */
    g_free(mch);
}

/* Address of config register @reg of bus:devfn in MMCONFIG. */
static uint64_t mmcfg(unsigned bus, unsigned devfn, unsigned reg)
{
    return MMCFG_BASE + ((uint64_t)bus << 20) + ((uint64_t)devfn << 12) + reg;
}

/*
 * A queue error raises the error vector and the queue's vector at once;
 * the error vector's message goes to the device's own Device Control
 * through MMCONFIG, with FLR set.  The reset it causes happens inside the
 * bottom half that delivers the vectors: QEMU lives, and the queue's
 * vector, taken before the reset, is not delivered after it (a reset
 * clears what is pending: no PBA bit once MSI-X is enabled again).
 */
static void test_msix_into_own_flr(void)
{
    uint8_t exp;
    Dev d;
    int i;

    dev_start(&d, NULL);
    msix_setup(&d);
    dev_setup(&d);
    mmcfg_enable(&d);
    exp = qpci_find_capability(d.pdev, PCI_CAP_ID_EXP, 0);
    msix_vector(&d, SVMGPU_VEC_ERROR, mmcfg(0, DEVFN, exp + PCI_EXP_DEVCTL),
                qpci_config_readw(d.pdev, exp + PCI_EXP_DEVCTL) |
                PCI_EXP_DEVCTL_BCR_FLR);
    wr32(&d, SVMGPU_REG_Q(0, SVMGPU_Q_TAIL), 1000);     /* queue error */
    for (i = 0; i < 20; i++) {
        qpci_config_readw(d.pdev, PCI_VENDOR_ID);       /* main loop turns */
        g_usleep(1000);
    }
    g_assert_cmphex(qpci_config_readw(d.pdev, PCI_VENDOR_ID), ==,
                    SVMGPU_PCI_VENDOR_ID);
    dev_remap(&d);
    check_reset_state(&d);
    qpci_msix_enable(d.pdev);
    g_assert_cmphex(msix_pba(&d), ==, 0);
    dev_stop(&d);
}

/*
 * Start QEMU with @args: a bridge at 00:05.0 and the device on its bus in
 * slot @slot, x-sync.  The bridge (whose BAR 0, when @bar0, is put at that
 * address, below the allocator's range) forwards bus 1 and the 32-bit MMIO
 * the device's BARs get; the device is found there (the bus number above
 * the devfn for config cycles), enabled, BAR 0 mapped.  Returns the bridge.
 */
static QPCIDevice *dev_start_behind_bridge(Dev *d, const char *args,
                                           unsigned slot, uint32_t bar0)
{
    QPCIDevice *br;

    memset(d, 0, sizeof(*d));
    d->qts = qtest_init(args);
    pc_alloc_init(&d->alloc, d->qts, ALLOC_NO_FLAGS);
    d->bus = qpci_new_pc(d->qts, &d->alloc);
    br = qpci_device_find(d->bus, QPCI_DEVFN(5, 0));
    g_assert_nonnull(br);
    if (bar0) {
        qpci_config_writel(br, PCI_BASE_ADDRESS_0, bar0);
        qpci_config_writel(br, PCI_BASE_ADDRESS_1, 0);
    }
    qpci_config_writeb(br, PCI_PRIMARY_BUS, 0);
    qpci_config_writeb(br, PCI_SECONDARY_BUS, 1);
    qpci_config_writeb(br, PCI_SUBORDINATE_BUS, 1);
    qpci_config_writew(br, PCI_MEMORY_BASE, 0xe000);
    qpci_config_writew(br, PCI_MEMORY_LIMIT, 0xfff0);
    qpci_config_writew(br, PCI_PREF_MEMORY_BASE, 0xe000);
    qpci_config_writew(br, PCI_PREF_MEMORY_LIMIT, 0xfff0);
    qpci_config_writel(br, PCI_PREF_BASE_UPPER32, 0);
    qpci_config_writel(br, PCI_PREF_LIMIT_UPPER32, 0);
    qpci_config_writew(br, PCI_COMMAND,
                       PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    d->pdev = qpci_device_find(d->bus, 1 << 8 | QPCI_DEVFN(slot, 0));
    g_assert_nonnull(d->pdev);
    qpci_device_enable(d->pdev);
    d->bar0 = qpci_iomap(d->pdev, SVMGPU_BAR_REGS, &d->bar0_size);
    d->next_pt = PT_POOL;
    return br;
}

/*
 * The device in a PCIe root port's hotplug slot; its error vector's
 * message goes to the root port's Slot Control through MMCONFIG: power
 * controller and power indicator off, which unplugs the device at once,
 * inside the bottom half that is delivering that vector and has the
 * queue's still to deliver.  QEMU must neither abort nor use the freed
 * device; the slot is empty afterwards.  (Found by review: the bottom half
 * went on to msix_notify() of an unrealized device, an assertion.)
 */
static void test_msix_unplugs_its_own_slot(void)
{
    QPCIDevice *rp;
    uint8_t exp;
    Dev d;
    int i;

    /* native PCIe hotplug, as `make guest-test-multi` boots (not ACPI's) */
    rp = dev_start_behind_bridge(&d, "-M q35 -nodefaults -m 256M -global "
                                 "ICH9-LPC.acpi-pci-hotplug-with-bridge-support"
                                 "=off -device pcie-root-port,id=rp,bus=pcie.0,"
                                 "addr=05.0,chassis=1,slot=1 "
                                 "-device svmgpu,bus=rp,addr=00.0,x-sync=on",
                                 0, 0);
    msix_setup(&d);
    dev_setup(&d);
    mmcfg_enable(&d);
    exp = qpci_find_capability(rp, PCI_CAP_ID_EXP, 0);
    g_assert_cmphex(qpci_config_readw(rp, exp + PCI_EXP_SLTSTA) &
                    PCI_EXP_SLTSTA_PDS, ==, PCI_EXP_SLTSTA_PDS);
    msix_vector(&d, SVMGPU_VEC_ERROR,
                mmcfg(0, QPCI_DEVFN(5, 0), exp + PCI_EXP_SLTCTL),
                PCI_EXP_SLTCTL_PWR_OFF | PCI_EXP_SLTCTL_PWR_IND_OFF);
    wr32(&d, SVMGPU_REG_Q(0, SVMGPU_Q_TAIL), 1000);     /* queue error */
    for (i = 0; i < 200; i++) {
        if (qpci_config_readw(d.pdev, PCI_VENDOR_ID) == 0xffff) {
            break;
        }
        g_usleep(1000);
    }
    g_assert_cmphex(qpci_config_readw(d.pdev, PCI_VENDOR_ID), ==, 0xffff);
    /* QEMU lives on, the main loop too (the deferred free ran) */
    for (i = 0; i < 20; i++) {
        g_assert_cmphex(qpci_config_readw(rp, PCI_VENDOR_ID), ==, 0x1b36);
        g_usleep(1000);
    }
    qobject_unref(qtest_qmp(d.qts, "{'execute': 'query-status'}"));
    g_free(rp);
    d.pdev->msix_enabled = false;
    dev_stop(&d);
}

/* SHPC registers (hw/pci/shpc.c), in a pci-bridge's BAR 0 */
#define SHPC_CMD_CODE           0x14
#define SHPC_STATE_DISABLED     0x3
#define SHPC_PWR_LED_OFF        (0x3 << 2)
#define SHPC_BAR_ADDR           0xd0000000u

/*
 * The device in slot 1 of a pci-bridge with an SHPC; MSI-X masked as a
 * whole while an error makes the error vector pending, its message aimed
 * at the SHPC's command register: disable slot 1, power LED off, which
 * unplugs the device at once.  The guest's config write that unmasks
 * MSI-X sends the pending message from inside the device's own config
 * write handler (msix_write_config()), which must not touch the device's
 * freed config space or core afterwards: run under ASan
 * (SVMGPU_QEMU_ASAN=1) that is a use after free without the fix.
 */
static void test_msix_unmask_unplugs_its_own_slot(void)
{
    QPCIDevice *br;
    uint8_t cap;
    Dev d;
    int i;

    br = dev_start_behind_bridge(&d, "-M q35 -nodefaults -m 256M "
                                 "-device pci-bridge,id=br,bus=pcie.0,"
                                 "addr=05.0,chassis_nr=1 "
                                 "-device svmgpu,bus=br,addr=01.0,x-sync=on",
                                 1, SHPC_BAR_ADDR);
    msix_setup(&d);
    dev_setup(&d);
    /* slot 1 (logical 1: device 1 of the bridge's bus) off */
    msix_vector(&d, SVMGPU_VEC_ERROR, SHPC_BAR_ADDR + SHPC_CMD_CODE,
                SHPC_STATE_DISABLED | SHPC_PWR_LED_OFF | 1 << 8);
    cap = qpci_find_capability(d.pdev, PCI_CAP_ID_MSIX, 0);
    qpci_config_writew(d.pdev, cap + PCI_MSIX_FLAGS,
                       PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
    wr32(&d, SVMGPU_REG_CTX_ENABLE, 3);                 /* an error */
    for (i = 0; i < 50 && !(msix_pba(&d) & 1); i++) {
        rd32(&d, SVMGPU_REG_STATUS);
    }
    g_assert_cmphex(msix_pba(&d) & 1, ==, 1);
    /* the unmask delivers the message, which unplugs the device */
    qpci_config_writew(d.pdev, cap + PCI_MSIX_FLAGS, PCI_MSIX_FLAGS_ENABLE);
    g_assert_cmphex(qpci_config_readw(d.pdev, PCI_VENDOR_ID), ==, 0xffff);
    for (i = 0; i < 20; i++) {
        g_assert_cmphex(qpci_config_readw(br, PCI_VENDOR_ID), ==, 0x1b36);
        g_usleep(1000);
    }
    qobject_unref(qtest_qmp(d.qts, "{'execute': 'query-status'}"));
    g_free(br);
    d.pdev->msix_enabled = false;
    dev_stop(&d);
}

/* Threads named svmgpu-engine and svmgpu-ctl of the QEMU under test. */
static int svmgpu_threads(void)
{
    int nice[16];

    return qemu_thread_nice("svmgpu-engine", nice, G_N_ELEMENTS(nice)) +
           qemu_thread_nice("svmgpu-ctl", nice, G_N_ELEMENTS(nice));
}

/*
 * How many RAM blocks of 6 MiB, the size given to local-mem-size below,
 * exist (one per device not yet finalized: unrealize clears a block's
 * name, finalize frees it).
 */
static int local_mem_blocks(QTestState *qts)
{
    g_autofree char *out = qtest_hmp(qts, "info ramblock");
    const char *p = out;
    int n = 0;

    while ((p = strstr(p, "0x0000000000600000 0x0000000000600000"))) {
        n++;
        p++;
    }
    return n;
}

/* Wait up to 10 s for @threads svmgpu threads and @blocks local memories. */
static void wait_devices(QTestState *qts, int threads, int blocks)
{
    int64_t end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;

    while (g_get_monotonic_time() < end) {
        if (svmgpu_threads() == threads && local_mem_blocks(qts) == blocks) {
            return;
        }
        g_usleep(1000);
    }
    g_assert_cmpint(svmgpu_threads(), ==, threads);
    g_assert_cmpint(local_mem_blocks(qts), ==, blocks);
}

static void unplug_gpu(QTestState *qts)
{
    QDict *rsp, *data;

    qtest_qmp_device_del_send(qts, "gpu");
    qobject_unref(qtest_qmp(qts, "{'execute': 'system_reset'}"));
    /* bounded: freed before DEVICE_DELETED, which would wait forever */
    wait_devices(qts, 0, 0);
    for (;;) {
        rsp = qtest_qmp_eventwait_ref(qts, "DEVICE_DELETED");
        data = qdict_get_qdict(rsp, "data");
        if (data && qdict_haskey(data, "device") &&
            !strcmp(qdict_get_str(data, "device"), "gpu")) {
            qobject_unref(rsp);
            break;
        }
        qobject_unref(rsp);
    }
}

/*
 * Hot-unplug behind intel-iommu with the engine threads alive, twice.
 * Their DMA translations take the BQL, so unrealize neither joins them
 * nor drops the BQL (another vCPU could unplug the device again or reach
 * its freed core meanwhile): it stops them, and the last to end has the
 * main loop join them, free the core and drop the device's last
 * reference.  Every thread ends and the device is finalized (its local
 * memory's RAM block freed); QEMU carries on.  With device-local memory:
 * BAR4's subregions once kept the device alive, DEVICE_DELETED never
 * came; the device plugs in again under the same id.
 */
static void test_unplug_viommu_threaded(void)
{
    QTestState *qts = qtest_init("-M q35 -nodefaults -m 256M "
                                 "-name debug-threads=on "
                                 "-device intel-iommu "
                                 "-device pcie-root-port,id=p1,chassis=1 "
                                 "-device svmgpu,bus=p1,id=gpu,engines=2,"
                                 "local-mem-size=6M");
    QDict *rsp;
    int i;

    wait_devices(qts, 3, 1);
    for (i = 0; i < 2; i++) {
        unplug_gpu(qts);
        /* plugged again under the same id: its RAM name is free */
        qtest_qmp_device_add(qts, "svmgpu", "gpu",
                             "{'bus': 'p1', 'engines': 2, "
                             "'local-mem-size': 6291456}");
        wait_devices(qts, 3, 1);
    }
    rsp = qtest_qmp(qts, "{'execute': 'query-status'}");
    g_assert_true(qdict_haskey(rsp, "return"));
    qobject_unref(rsp);
    qtest_quit(qts);
}

/*
 * A hot-plug whose realize fails after the device-local memory was set up
 * (engines=0: the core refuses it) gives its error and takes everything
 * back: the RAM block is freed (the device finalized) and the same device,
 * valid now, plugs in at once.  Before, the subregions kept the failed
 * device alive and its RAM name registered: QEMU aborted ("RAMBlock ...
 * already registered").
 */
static void test_realize_failure_frees_local_mem(void)
{
    QTestState *qts = qtest_init("-M q35 -nodefaults -m 256M "
                                 "-name debug-threads=on "
                                 "-device pcie-root-port,id=p1,chassis=1");
    QDict *rsp;

    rsp = qtest_qmp(qts, "{'execute': 'device_add', 'arguments': {"
                    "'driver': 'svmgpu', 'id': 'gpu', 'bus': 'p1', "
                    "'engines': 0, 'local-mem-size': 6291456}}");
    g_assert_true(qdict_haskey(rsp, "error"));
    g_assert_nonnull(strstr(qdict_get_str(qdict_get_qdict(rsp, "error"),
                                          "desc"), "engines must be 1..8"));
    qobject_unref(rsp);
    wait_devices(qts, 0, 0);
    qtest_qmp_device_add(qts, "svmgpu", "gpu",
                         "{'bus': 'p1', 'engines': 2, "
                         "'local-mem-size': 6291456}");
    wait_devices(qts, 3, 1);
    qtest_quit(qts);
}

/* ---- preemption (hw-spec §16) over MMIO ---- */

#define SAVE0           0x4200000ull    /* 72 KiB save area */
#define RING2           0x4034000ull
#define PDATA           0x4300000ull    /* data page, VA 0x10000 */

static struct svmgpu_cmd wait_cmd(uint64_t va, uint64_t value)
{
    struct svmgpu_cmd c;

    memset(&c, 0, sizeof(c));
    c.hdr.opcode = SVMGPU_CMD_WAIT;
    c.hdr.flags = SVMGPU_CMD_FLAG_IRQ;
    c.wait.va = va;
    c.wait.value = value;
    c.wait.mask = ~0ull;
    c.wait.cond = SVMGPU_WAIT_EQ;
    return c;
}

/* Queue 0 again, now with a save area and priority 2. */
static void queue0_with_save(Dev *d, uint64_t save)
{
    wr32(d, SVMGPU_REG_Q(0, SVMGPU_Q_CONTROL), 0);
    wr64(d, SVMGPU_REG_Q(0, SVMGPU_Q_SAVE_ADDR), save);
    wr32(d, SVMGPU_REG_Q(0, SVMGPU_Q_PRIORITY), 2);
    wr32(d, SVMGPU_REG_Q(0, SVMGPU_Q_CONTROL), SVMGPU_Q_CONTROL_ENABLE);
    g_assert_cmphex(rd64(d, SVMGPU_REG_Q(0, SVMGPU_Q_SAVE_ADDR)), ==, save);
    g_assert_cmpuint(rd32(d, SVMGPU_REG_Q(0, SVMGPU_Q_PRIORITY)), ==, 2);
}

/* Ring 0 on queue 2 from SAVE0, at @head. */
static void resume_on_2(Dev *d, uint32_t head)
{
    wr64(d, SVMGPU_REG_Q(2, SVMGPU_Q_BASE), RING0);
    wr32(d, SVMGPU_REG_Q(2, SVMGPU_Q_SIZE), 16);
    wr32(d, SVMGPU_REG_Q(2, SVMGPU_Q_CTX), 0);
    wr64(d, SVMGPU_REG_Q(2, SVMGPU_Q_COMPL_ADDR), COMPL0);
    wr64(d, SVMGPU_REG_Q(2, SVMGPU_Q_SAVE_ADDR), SAVE0);
    wr32(d, SVMGPU_REG_Q(2, SVMGPU_Q_START), head);
    wr32(d, SVMGPU_REG_Q(2, SVMGPU_Q_CONTROL),
         SVMGPU_Q_CONTROL_ENABLE | SVMGPU_Q_CONTROL_RESUME);
    g_assert_cmpuint(rd32(d, SVMGPU_REG_Q(2, SVMGPU_Q_HEAD)), ==, head);
    wr32(d, SVMGPU_REG_Q(2, SVMGPU_Q_TAIL), d->tail);
}

/*
 * A WAIT preempted (interrupt, counter, area in guest RAM) and resumed on
 * another queue, where the value it waits for completes it; a PREEMPT
 * without a save area is ignored with ERROR_STATUS.REG.
 */
static void do_preempt_resume(const char *extra)
{
    struct svmgpu_save_area a;
    struct svmgpu_cmd c;
    uint64_t seq;
    unsigned i;
    Dev d;

    dev_start(&d, extra);
    msix_setup(&d);
    dev_setup(&d);
    g_assert_cmphex(rd32(&d, SVMGPU_REG_CAPS) & SVMGPU_CAPS_PREEMPT, ==,
                    SVMGPU_CAPS_PREEMPT);
    map4k(&d, 0x10000, PDATA, SVMGPU_PTE_WRITABLE);
    qtest_memset(d.qts, PDATA, 0, 4096);
    wr32(&d, SVMGPU_REG_Q(0, SVMGPU_Q_CONTROL),
         SVMGPU_Q_CONTROL_ENABLE | SVMGPU_Q_CONTROL_PREEMPT);
    g_assert_cmphex(rd32(&d, SVMGPU_REG_ERROR_STATUS), ==, SVMGPU_ERROR_REG);
    wr32(&d, SVMGPU_REG_ERROR_STATUS, ~0u);
    queue0_with_save(&d, SAVE0);
    qtest_memset(d.qts, SAVE0, 0, SVMGPU_SAVE_AREA_SIZE);
    c = wait_cmd(0x10000, 42);
    seq = submit_cmd(&d, &c);
    g_assert_cmphex(wait_reg(&d, SVMGPU_REG_Q(0, SVMGPU_Q_STATUS),
                             SVMGPU_Q_STATUS_WAITING) &
                    SVMGPU_Q_STATUS_WAITING, !=, 0);
    msi_fired(&d, SVMGPU_VEC_QUEUE(0));
    wr32(&d, SVMGPU_REG_Q(0, SVMGPU_Q_CONTROL),
         SVMGPU_Q_CONTROL_ENABLE | SVMGPU_Q_CONTROL_PREEMPT);
    g_assert_cmphex(wait_reg(&d, SVMGPU_REG_Q(0, SVMGPU_Q_STATUS),
                             SVMGPU_Q_STATUS_PREEMPTED), ==,
                    SVMGPU_Q_STATUS_IDLE | SVMGPU_Q_STATUS_PREEMPTED);
    g_assert_true(msi_fired(&d, SVMGPU_VEC_QUEUE(0)));
    g_assert_cmpuint(rd64(&d, SVMGPU_REG_CNT_PREEMPTIONS), ==, 1);
    g_assert_cmpuint(rd32(&d, SVMGPU_REG_Q(0, SVMGPU_Q_HEAD)), ==, 0);
    qtest_memread(d.qts, SAVE0, &a, offsetof(struct svmgpu_save_area, waves));
    g_assert_cmphex(a.magic, ==, SVMGPU_SAVE_MAGIC);
    g_assert_cmpuint(a.kind, ==, SVMGPU_SAVE_COMMAND);
    g_assert_cmpuint(a.cmd.hdr.seq, ==, seq);
    g_assert_cmpuint(a.cmd.hdr.opcode, ==, SVMGPU_CMD_WAIT);
    g_assert_cmpuint(a.queue, ==, 0);

    qtest_writeq(d.qts, PDATA, 42);
    resume_on_2(&d, a.head);
    for (i = 0; i < 10000; i++) {
        struct svmgpu_completion cr;

        read_compl(&d, &cr);
        if (cr.seq == seq) {
            break;
        }
        g_usleep(1000);
    }
    assert_done(&d, seq);
    g_assert_true(msi_fired(&d, SVMGPU_VEC_QUEUE(2)));
    g_assert_cmpuint(rd64(&d, SVMGPU_REG_Q(2, SVMGPU_Q_COMPL_SEQ)), ==, seq);
    g_assert_cmphex(rd32(&d, SVMGPU_REG_ERROR_STATUS), ==, 0);
    dev_stop(&d);
}

static void test_preempt_resume(void)
{
    do_preempt_resume(NULL);
}

static void test_preempt_resume_threaded(void)
{
    do_preempt_resume(",x-sync=off");
}

/*
 * Save areas aimed at BAR0 and at the MSI-X table: the save is a failed
 * DMA (ERR_SAVE_AREA), the registers it would have hit are untouched; a
 * RESUME from BAR0 cannot read it and is refused the same way.
 */
static void test_preempt_save_into_bars(void)
{
    uint64_t bar0, targets[2];
    unsigned i;
    Dev d;

    dev_start(&d, NULL);
    msix_setup(&d);
    dev_setup(&d);
    bar0 = d.bar0.addr;
    targets[0] = bar0;
    targets[1] = d.pdev->msix_table_bar.addr & ~0xfffull;
    for (i = 0; i < 2; i++) {
        queue0_with_save(&d, targets[i]);
        wr32(&d, SVMGPU_REG_ERROR_STATUS, ~0u);
        wr32(&d, SVMGPU_REG_Q(0, SVMGPU_Q_CONTROL),
             SVMGPU_Q_CONTROL_ENABLE | SVMGPU_Q_CONTROL_PREEMPT);
        g_assert_cmphex(rd32(&d, SVMGPU_REG_Q(0, SVMGPU_Q_STATUS)), ==,
                        SVMGPU_Q_STATUS_IDLE | SVMGPU_Q_STATUS_ERROR);
        g_assert_cmpuint(rd32(&d, SVMGPU_REG_Q(0, SVMGPU_Q_ERROR_CODE)), ==,
                         SVMGPU_ERR_SAVE_AREA);
        g_assert_cmphex(rd64(&d, SVMGPU_REG_Q(0, SVMGPU_Q_ERROR_VA)), ==,
                        targets[i]);
        g_assert_cmphex(rd32(&d, SVMGPU_REG_ERROR_STATUS), ==,
                        SVMGPU_ERROR_QUEUE);
        g_assert_cmpuint(rd64(&d, SVMGPU_REG_CNT_PREEMPTIONS), ==, 0);
    }
    g_assert_cmphex(rd32(&d, SVMGPU_REG_ID), ==, SVMGPU_ID_MAGIC);
    g_assert_cmphex(rd64(&d, SVMGPU_REG_CTX_TABLE_BASE), ==, CTX_TABLE);
    g_assert_cmphex(qpci_io_readl(d.pdev, d.pdev->msix_table_bar,
                                  PCI_MSIX_ENTRY_DATA), ==, 0x100);
    /* RESUME from BAR0 */
    wr32(&d, SVMGPU_REG_ERROR_STATUS, ~0u);
    wr64(&d, SVMGPU_REG_Q(3, SVMGPU_Q_BASE), RING2);
    wr32(&d, SVMGPU_REG_Q(3, SVMGPU_Q_SIZE), 4);
    wr64(&d, SVMGPU_REG_Q(3, SVMGPU_Q_SAVE_ADDR), bar0);
    wr32(&d, SVMGPU_REG_Q(3, SVMGPU_Q_CONTROL),
         SVMGPU_Q_CONTROL_ENABLE | SVMGPU_Q_CONTROL_RESUME);
    g_assert_cmpuint(rd32(&d, SVMGPU_REG_Q(3, SVMGPU_Q_ERROR_CODE)), ==,
                     SVMGPU_ERR_SAVE_AREA);
    g_assert_cmphex(rd64(&d, SVMGPU_REG_Q(3, SVMGPU_Q_ERROR_VA)), ==, bar0);
    dev_stop(&d);
}

/* The three new x-inject-* properties are the registers' reset values. */
static void test_inject_properties(void)
{
    Dev d;

    dev_start(&d, ",x-sync=on,x-inject-irq-delay-us=7,"
              "x-inject-inval-delay-us=2000000,x-inject-stall-fault-ring=1");
    g_assert_cmpuint(rd32(&d, SVMGPU_REG_INJ_IRQ_DELAY_US), ==, 7);
    g_assert_cmpuint(rd32(&d, SVMGPU_REG_INJ_INVAL_DELAY_US), ==,
                     SVMGPU_INJ_DELAY_MAX_US);
    g_assert_cmpuint(rd32(&d, SVMGPU_REG_INJ_STALL_FAULT_RING), ==, 1);
    wr32(&d, SVMGPU_REG_INJ_IRQ_DELAY_US, 0);
    wr32(&d, SVMGPU_REG_CONTROL, SVMGPU_CONTROL_RESET);
    g_assert_cmpuint(rd32(&d, SVMGPU_REG_INJ_IRQ_DELAY_US), ==, 7);
    dev_stop(&d);
}

/*
 * x-inject-enable-refuse: the device does not enable from power-on, nor
 * after a register reset (which keeps the count), until the count is spent.
 */
static void test_inject_enable_refuse(void)
{
    Dev d;

    dev_start(&d, ",x-sync=on,x-inject-enable-refuse=2");
    g_assert_cmpuint(rd32(&d, SVMGPU_REG_INJ_ENABLE_REFUSE), ==, 2);
    wr32(&d, SVMGPU_REG_CONTROL, SVMGPU_CONTROL_ENABLE);
    g_assert_false(rd32(&d, SVMGPU_REG_STATUS) & SVMGPU_STATUS_ENABLED);
    wr32(&d, SVMGPU_REG_CONTROL, SVMGPU_CONTROL_RESET);
    g_assert_cmpuint(rd32(&d, SVMGPU_REG_INJ_ENABLE_REFUSE), ==, 1);
    wr32(&d, SVMGPU_REG_CONTROL, SVMGPU_CONTROL_ENABLE);
    g_assert_false(rd32(&d, SVMGPU_REG_STATUS) & SVMGPU_STATUS_ENABLED);
    g_assert_cmpuint(rd32(&d, SVMGPU_REG_CNT_INJECTED), ==, 1);
    wr32(&d, SVMGPU_REG_CONTROL, SVMGPU_CONTROL_RESET);
    wr32(&d, SVMGPU_REG_CONTROL, SVMGPU_CONTROL_ENABLE);
    g_assert_true(rd32(&d, SVMGPU_REG_STATUS) & SVMGPU_STATUS_ENABLED);
    dev_stop(&d);
}

/*
 * The INTx level (MSI-X off): PIRQ routing is off in a qtest machine, so
 * ICH9 takes PIRQ A-H to the I/O APIC's pins 16-23.  The bottom half sets
 * it: poll with register reads (a BAR0 write would schedule the bottom
 * half itself) while the engine thread works.
 */
static bool intx_level(Dev *d, bool want)
{
    bool up = false;
    int i, gsi;

    for (i = 0; i < 2000; i++) {
        up = false;
        for (gsi = 16; gsi < 24; gsi++) {
            up |= qtest_get_irq(d->qts, gsi);
        }
        if (up == want) {
            break;
        }
        rd32(d, SVMGPU_REG_STATUS);
        g_usleep(1000);
    }
    return up;
}

/*
 * INTx is a level: with MSI-X off, an interrupt message dropped by
 * INJ_DROP_IRQS (or sent late by INJ_IRQ_DELAY_US) raises it all the
 * same, at once; clearing INTR_STATUS lowers it (hw-spec §15).  The
 * command is a WAIT that memory (not a register write) releases, on the
 * engine threads: before, its dropped message left the level low until
 * some later BAR0 write.
 */
static void test_intx_with_dropped_and_late_messages(void)
{
    struct svmgpu_completion c;
    struct svmgpu_cmd w;
    Dev d;
    int late;

    for (late = 0; late < 2; late++) {
        dev_start(&d, "");
        qtest_irq_intercept_in(d.qts, "ioapic");
        dev_setup(&d);
        map4k(&d, 0x10000, DATA_POOL, SVMGPU_PTE_WRITABLE);
        qtest_writeq(d.qts, DATA_POOL, 0);
        if (late) {
            wr32(&d, SVMGPU_REG_INJ_IRQ_DELAY_US, 1000000);
        } else {
            wr32(&d, SVMGPU_REG_INJ_DROP_IRQS, 1);
        }
        w = wait_cmd(0x10000, 1);
        w.hdr.seq = ++d.seq;
        qtest_memwrite(d.qts, RING0, &w, sizeof(w));
        wr32(&d, SVMGPU_REG_Q(0, SVMGPU_Q_TAIL), 1);
        g_assert_false(intx_level(&d, false));
        qtest_writeq(d.qts, DATA_POOL, 1);
        g_assert_true(intx_level(&d, true));
        read_compl(&d, &c);
        g_assert_cmpuint(c.seq, ==, w.hdr.seq);
        g_assert_cmphex(rd32(&d, SVMGPU_REG_INTR_STATUS), ==,
                        SVMGPU_INTR_QUEUE(0));
        g_assert_cmpuint(rd64(&d, SVMGPU_REG_CNT_INJECTED), ==, 1);
        wr32(&d, SVMGPU_REG_INTR_STATUS, ~0u);
        g_assert_false(intx_level(&d, false));
        dev_stop(&d);
    }
}

/*
 * With MSI-X turned off, INTx follows INTR_STATUS at once (hw-spec §9):
 * a completion signalled by MSI-X leaves its status bit set, and clearing
 * MSI-X Enable raises INTx with no BAR0 access (a write would schedule
 * the bottom half that sets the level).  Before, it stayed low until the
 * next BAR0 write or device event.
 */
static void test_intx_follows_msix_disable(void)
{
    struct svmgpu_completion c;
    struct svmgpu_cmd w;
    Dev d;

    dev_start(&d, NULL);
    qtest_irq_intercept_in(d.qts, "ioapic");
    dev_setup(&d);
    msix_setup(&d);
    map4k(&d, 0x10000, DATA_POOL, SVMGPU_PTE_WRITABLE);
    qtest_writeq(d.qts, DATA_POOL, 1);
    w = wait_cmd(0x10000, 1);
    w.hdr.seq = ++d.seq;
    qtest_memwrite(d.qts, RING0, &w, sizeof(w));
    wr32(&d, SVMGPU_REG_Q(0, SVMGPU_Q_TAIL), 1);
    read_compl(&d, &c);
    g_assert_cmpuint(c.seq, ==, w.hdr.seq);
    g_assert_true(msi_fired(&d, SVMGPU_VEC_QUEUE(0)));
    g_assert_false(intx_level(&d, false));
    qpci_msix_disable(d.pdev);
    g_assert_true(intx_level(&d, true));
    wr32(&d, SVMGPU_REG_INTR_STATUS, ~0u);
    g_assert_false(intx_level(&d, false));
    dev_stop(&d);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qtest_add_func("/svmgpu/identification", test_identification);
    qtest_add_func("/svmgpu/properties", test_properties);
    qtest_add_func("/svmgpu/bars-and-msix", test_bars_and_msix);
    qtest_add_func("/svmgpu/copy", test_copy);
    qtest_add_func("/svmgpu/copy-viommu", test_viommu);
    qtest_add_func("/svmgpu/fault-replay", test_fault_replay);
    qtest_add_func("/svmgpu/fault-cancel", test_fault_cancel);
    qtest_add_func("/svmgpu/invalidation", test_invalidation);
    qtest_add_func("/svmgpu/reset", test_reset);
    qtest_add_func("/svmgpu/guest-errors", test_guest_errors);
    qtest_add_func("/svmgpu/no-bus-master", test_no_bus_master);
    qtest_add_func("/svmgpu/threaded", test_threaded);
    qtest_add_func("/svmgpu/viommu-unmapped-iova", test_viommu_unmapped_iova);
    qtest_add_func("/svmgpu/viommu-after-device-unmapped-iova",
                   test_viommu_after_device_unmapped_iova);
    qtest_add_func("/svmgpu/viommu-remapping-off", test_viommu_remapping_off);
    qtest_add_func("/svmgpu/viommu-unmap-notify-across-irq-window",
                   test_viommu_unmap_notify_across_irq_window);
    qtest_add_func("/svmgpu/msix-into-bar0", test_msix_into_bar0);
    qtest_add_func("/svmgpu/msix-into-bar0-viommu",
                   test_msix_into_bar0_viommu);
    qtest_add_func("/svmgpu/msix-into-bar0-viommu-threaded",
                   test_msix_into_bar0_viommu_threaded);
    qtest_add_func("/svmgpu/local-mem", test_local_mem);
    qtest_add_func("/svmgpu/local-mem-absent", test_local_mem_absent);
    qtest_add_func("/svmgpu/local-mem-bad-size", test_local_mem_bad_size);
    qtest_add_func("/svmgpu/engine-nice", test_engine_nice);
    qtest_add_func("/svmgpu/local-mem-p2p", test_local_mem_p2p);
    qtest_add_func("/svmgpu/dma-into-bars", test_dma_into_bars);
    qtest_add_func("/svmgpu/dma-into-bars-viommu", test_dma_into_bars_viommu);
    qtest_add_func("/svmgpu/x-sync-bounded", test_sync_bounded);
    qtest_add_func("/svmgpu/x-sync-bounded-reference",
                   test_sync_bounded_reference);
    qtest_add_func("/svmgpu/reset-clears-pending-msix",
                   test_reset_clears_pending_msix);
    qtest_add_func("/svmgpu/msix-into-own-flr", test_msix_into_own_flr);
    qtest_add_func("/svmgpu/msix-unplugs-its-own-slot",
                   test_msix_unplugs_its_own_slot);
    qtest_add_func("/svmgpu/msix-unmask-unplugs-its-own-slot",
                   test_msix_unmask_unplugs_its_own_slot);
    qtest_add_func("/svmgpu/unplug-viommu-threaded",
                   test_unplug_viommu_threaded);
    qtest_add_func("/svmgpu/realize-failure-frees-local-mem",
                   test_realize_failure_frees_local_mem);
    qtest_add_func("/svmgpu/preempt-resume", test_preempt_resume);
    qtest_add_func("/svmgpu/preempt-resume-threaded",
                   test_preempt_resume_threaded);
    qtest_add_func("/svmgpu/preempt-save-into-bars",
                   test_preempt_save_into_bars);
    qtest_add_func("/svmgpu/inject-properties", test_inject_properties);
    qtest_add_func("/svmgpu/inject-enable-refuse", test_inject_enable_refuse);
    qtest_add_func("/svmgpu/intx-with-dropped-and-late-messages",
                   test_intx_with_dropped_and_late_messages);
    qtest_add_func("/svmgpu/intx-follows-msix-disable",
                   test_intx_follows_msix_disable);
    return g_test_run();
}
