/* The layout shared by the BPF program (styxy_bind.bpf.c), its control program (styxy-bpf.c)
 * and styxy/store/bpfmaps.py, which writes the maps from the same data as the compiled cache.
 * Every integer is host-endian except the addresses, which are in network order as the kernel
 * keeps them. Keep the Python struct formats in step with these. */
#ifndef STYXY_BPF_H
#define STYXY_BPF_H

#define STYXY_MAX_RANGES 256   /* ranges map entries (a document has a few dozen rows) */
#define STYXY_MAX_LEASES 4096  /* leases map entries */
#define STYXY_MAX_ADDRS 4      /* interface addresses per family, besides loopback and wildcard */
#define STYXY_MAX_SCAN 64      /* candidates tried per bind, as the preload library's 64 */
#define STYXY_NAME_LEN 64      /* as the compiled cache's range name field */
#define STYXY_NO_RANGE 0xFFFFFFFFu
#define STYXY_FLAG_SINGLE 1u

/* Outcomes of a watched bind, in the ring buffer's events and the stats map. */
#define STYXY_MOVED 1        /* port rewritten */
#define STYXY_KEPT_SINGLE 2  /* busy, single-instance service: left to fail */
#define STYXY_KEPT_FULL 3    /* busy, no free port in the range: left to fail */

/* Index of the stats map's counters. */
#define STYXY_STAT_WATCHED 0 /* stream binds of a port >= 1024 the program looked at */
#define STYXY_STAT_BUSY 1    /* of those, busy */
#define STYXY_STAT_MOVED 2
#define STYXY_STAT_KEPT 3
#define STYXY_STAT_DROPPED 4 /* events the ring buffer had no room for (nobody drained it) */
#define STYXY_STATS 5

/* One row of the document's ranges, the cache's 72-byte entry. */
struct styxy_range {
    char name[STYXY_NAME_LEN];
    __u16 start;
    __u16 end;
    __u32 flags;
};

/* Entry 0 of the settings map. */
struct styxy_config {
    __u32 range_count;
    __u32 default_range;  /* `dev`, for a busy port outside every range; STYXY_NO_RANGE if none */
    __u32 hold_ms;        /* a port handed out this recently is skipped (bound, not yet listening) */
    __u32 addr4_count;
    __u32 addr4[STYXY_MAX_ADDRS];
    __u32 addr6_count;
    __u32 addr6[STYXY_MAX_ADDRS][4];
    __u64 generation;     /* the compiled cache's generation these maps were written from */
};

/* A move, in the ring buffer and in the moves map (keyed by the given port). */
struct styxy_move {
    __u64 boot_ns;   /* CLOCK_BOOTTIME of the bind */
    __u32 pid;       /* thread group id (the process) */
    __u32 uid;
    __u32 requested;
    __u32 given;     /* 0 when kept */
    __u32 range;     /* index into the ranges map */
    __u32 outcome;   /* STYXY_MOVED, STYXY_KEPT_* */
    char comm[16];
};

/* The recent map: a port handed out a moment ago, and to whom. */
struct styxy_recent {
    __u64 boot_ns;
    __u32 pid;
    __u32 requested;
};

/* The twins map's key: a process asking again for a port it was moved from. */
struct styxy_twin {
    __u32 pid;
    __u32 requested;
};

#endif
