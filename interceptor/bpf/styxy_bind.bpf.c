// SPDX-License-Identifier: GPL-2.0
/* Bind redirection in the kernel (SPEC section 16): a cgroup/bind4 and a cgroup/bind6 program
 * that run inside every bind() of every process in the cgroup, before the kernel checks for a
 * conflict, and rewrite the port of a stream socket whose port is busy to the first free port
 * of its range, as the preload library decides (SPEC section 8). CO-RE: the socket fields are
 * read through the running kernel's BTF, so one object runs on every kernel 5.8+ with BTF.
 *
 * The program always returns 1 (allow): the kernel's own check then runs on the port it chose,
 * so a bind it cannot help fails exactly as it would have. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "styxy_bpf.h"

#define AF_INET 2
#define AF_INET6 10
#define SOCK_STREAM 1
#define LOOPBACK4 0x0100007Fu /* 127.0.0.1 in network order on a little-endian host */

char LICENSE[] SEC("license") = "GPL";

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct styxy_config);
} settings SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, STYXY_MAX_RANGES);
    __type(key, __u32);
    __type(value, struct styxy_range);
} ranges SEC(".maps");

/* port -> holder pid of a live lease */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, STYXY_MAX_LEASES);
    __type(key, __u32);
    __type(value, __u32);
} leases SEC(".maps");

/* given port -> the move, until a transaction turns it into a lease and deletes it */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, STYXY_MAX_LEASES);
    __type(key, __u32);
    __type(value, struct styxy_move);
} moves SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 64 * 1024);
} events SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 1024);
    __type(key, __u32);
    __type(value, struct styxy_recent);
} recent SEC(".maps");

/* Ports whose stale `recent` entry one bind is replacing right now (see claim). A plain hash,
 * never evicted; not pinned, since only the program uses it. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 256);
    __type(key, __u32);
    __type(value, __u32);
} claiming SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 1024);
    __type(key, struct styxy_twin);
    __type(value, __u32);
} twins SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, STYXY_STATS);
    __type(key, __u32);
    __type(value, __u64);
} stats SEC(".maps");

/* What the kernel's conflict check looks at on the socket being bound. */
struct binder {
    __u32 reuseport;
    __u32 v6only;
    __u32 uid;
};

/* What the kernel's conflict check looks at on the socket being bound, packed into the flags
 * argument of port_held (a global function: the verifier checks it once, not per candidate). */
#define HELD_REUSEPORT 1u /* the socket has SO_REUSEPORT */
#define HELD_V6ONLY 2u    /* an IPv6 socket with IPV6_V6ONLY */
#define HELD_STRICT 4u    /* a candidate: any listener counts, never share with a stranger */

static __always_inline void count(__u32 index)
{
    __u64 *value = bpf_map_lookup_elem(&stats, &index);
    if (value)
        __sync_fetch_and_add(value, 1);
}

/* The socket's SO_REUSEPORT and V6ONLY bits and owner, read through BTF (CO-RE). */
static __always_inline int read_binder(struct bpf_sock *sk, __u32 *flags, __u32 *uid)
{
    struct tcp_sock *tp = bpf_skc_to_tcp_sock(sk);
    if (!tp)
        return 0;
    struct sock_common *common = &tp->inet_conn.icsk_inet.sk.__sk_common;
    *flags = 0;
    if (BPF_CORE_READ_BITFIELD(common, skc_reuseport))
        *flags |= HELD_REUSEPORT;
    if (BPF_CORE_READ_BITFIELD(common, skc_ipv6only))
        *flags |= HELD_V6ONLY;
    *uid = tp->inet_conn.icsk_inet.sk.sk_uid.val;
    return 1;
}

/* The kernel lets an SO_REUSEPORT socket join a listener of the same owner that has it too. */
static __always_inline int kernel_shares(__u32 flags, __u32 uid, struct bpf_sock *holder)
{
    if ((flags & HELD_STRICT) || !(flags & HELD_REUSEPORT))
        return 0;
    struct tcp_sock *tp = bpf_skc_to_tcp_sock(holder);
    if (!tp)
        return 0;
    struct sock_common *common = &tp->inet_conn.icsk_inet.sk.__sk_common;
    return BPF_CORE_READ_BITFIELD(common, skc_reuseport) &&
           tp->inet_conn.icsk_inet.sk.sk_uid.val == uid;
}

/* 1 when a TCP socket (a listener) answers on addr:port and the kernel would refuse the bind. */
static __always_inline int held4(struct bpf_sock_addr *ctx, __u32 addr, __u32 port, __u32 flags,
                                 __u32 uid)
{
    struct bpf_sock_tuple tuple = {};
    tuple.ipv4.daddr = addr;
    tuple.ipv4.dport = bpf_htons((__u16)port);
    struct bpf_sock *sk = bpf_sk_lookup_tcp(ctx, &tuple, sizeof tuple.ipv4, BPF_F_CURRENT_NETNS, 0);
    if (!sk)
        return 0;
    int shared = kernel_shares(flags, uid, sk);
    bpf_sk_release(sk);
    return !shared;
}

static __always_inline int held6(struct bpf_sock_addr *ctx, __u32 a0, __u32 a1, __u32 a2,
                                 __u32 a3, __u32 port, __u32 flags, __u32 uid)
{
    struct bpf_sock_tuple tuple = {};
    tuple.ipv6.daddr[0] = a0;
    tuple.ipv6.daddr[1] = a1;
    tuple.ipv6.daddr[2] = a2;
    tuple.ipv6.daddr[3] = a3;
    tuple.ipv6.dport = bpf_htons((__u16)port);
    struct bpf_sock *sk = bpf_sk_lookup_tcp(ctx, &tuple, sizeof tuple.ipv6, BPF_F_CURRENT_NETNS, 0);
    if (!sk)
        return 0;
    int shared = kernel_shares(flags, uid, sk);
    bpf_sk_release(sk);
    return !shared;
}

static __always_inline int held_any4(struct bpf_sock_addr *ctx, const struct styxy_config *cfg,
                                     __u32 port, __u32 flags, __u32 uid)
{
    if (held4(ctx, LOOPBACK4, port, flags, uid))
        return 1;
    for (__u32 i = 0; i < STYXY_MAX_ADDRS; i++) {
        if (i >= cfg->addr4_count)
            break;
        if (held4(ctx, cfg->addr4[i], port, flags, uid))
            return 1;
    }
    return 0;
}

/* A listener the kernel would count against binding `port` with this ctx's IPv4 address: on
 * that address (a lookup also finds wildcard holders), else on loopback and every interface
 * address. A global function: the verifier checks it once, not once per candidate. */
__noinline int port_held4(struct bpf_sock_addr *ctx, __u32 port, __u32 flags, __u32 uid)
{
    __u32 zero = 0;
    struct styxy_config *cfg = bpf_map_lookup_elem(&settings, &zero);
    if (!cfg)
        return 0;
    __u32 bind4 = ctx->user_ip4;
    if (bind4)
        return held4(ctx, bind4, port, flags, uid);
    return held_any4(ctx, cfg, port, flags, uid);
}

/* The same for an IPv6 socket: a v4-mapped address is an IPv4 bind; a wildcard dual-stack
 * socket meets IPv4 holders too, a V6ONLY or specific-address one does not. */
__noinline int port_held6(struct bpf_sock_addr *ctx, __u32 port, __u32 flags, __u32 uid)
{
    __u32 zero = 0;
    struct styxy_config *cfg = bpf_map_lookup_elem(&settings, &zero);
    if (!cfg)
        return 0;
    __u32 a0 = ctx->user_ip6[0], a1 = ctx->user_ip6[1], a2 = ctx->user_ip6[2],
          a3 = ctx->user_ip6[3];
    if (a0 == 0 && a1 == 0 && a2 == bpf_htonl(0xFFFF)) {
        if (a3)
            return held4(ctx, a3, port, flags, uid);
        return held_any4(ctx, cfg, port, flags, uid);
    }
    if (a0 | a1 | a2 | a3)
        return held6(ctx, a0, a1, a2, a3, port, flags, uid);
    if (!(flags & HELD_V6ONLY) && held_any4(ctx, cfg, port, flags, uid))
        return 1;
    if (held6(ctx, 0, 0, 0, bpf_htonl(1), port, flags, uid))
        return 1;
    for (__u32 i = 0; i < STYXY_MAX_ADDRS; i++) {
        if (i >= cfg->addr6_count)
            break;
        if (held6(ctx, cfg->addr6[i][0], cfg->addr6[i][1], cfg->addr6[i][2], cfg->addr6[i][3],
                  port, flags, uid))
            return 1;
    }
    return 0;
}

static __always_inline int port_held(struct bpf_sock_addr *ctx, int v6, __u32 port, __u32 flags,
                                     __u32 uid)
{
    return v6 ? port_held6(ctx, port, flags, uid) : port_held4(ctx, port, flags, uid);
}

/* The holder of a live lease on `port` is this process or one of its ancestors (`styxy run`,
 * a shell that ran `styxy allocate`, npm above node): then the lease is this program's own. */
static __always_inline int leased_to_other(__u32 port, __u32 me)
{
    __u32 *holder = bpf_map_lookup_elem(&leases, &port);
    if (!holder || *holder == me)
        return 0;
    __u32 pid = *holder;
    struct task_struct *task = bpf_get_current_task_btf();
    for (int depth = 0; depth < 16 && task; depth++) {
        if ((__u32)task->tgid == pid)
            return 0;
        if (task->tgid <= 1)
            break;
        task = task->real_parent;
    }
    return 1;
}

static __always_inline int find_range(__u32 port, __u32 count)
{
    for (__u32 i = 0; i < STYXY_MAX_RANGES; i++) {
        if (i >= count)
            break;
        __u32 key = i;
        struct styxy_range *r = bpf_map_lookup_elem(&ranges, &key);
        if (r && port >= r->start && port <= r->end)
            return (int)i;
    }
    return -1;
}

static __always_inline void report(__u32 pid, __u32 requested, __u32 given, __u32 range,
                                   __u32 outcome)
{
    struct styxy_move move = {};
    move.boot_ns = bpf_ktime_get_boot_ns();
    move.pid = pid;
    move.uid = (__u32)bpf_get_current_uid_gid();
    move.requested = requested;
    move.given = given;
    move.range = range;
    move.outcome = outcome;
    bpf_get_current_comm(move.comm, sizeof move.comm);
    /* No wake-up per bind: nobody waits on the ring. Every styxy commit drains it, and
     * `status` and `doctor` read it where it stands (styxy/store/bpfmaps.py). A full ring
     * (over a thousand events between two commits) drops the event, never the move. */
    if (bpf_ringbuf_output(&events, &move, sizeof move, BPF_RB_NO_WAKEUP) != 0)
        count(STYXY_STAT_DROPPED);
    if (outcome == STYXY_MOVED)
        bpf_map_update_elem(&moves, &given, &move, BPF_ANY);
}

/* A port handed out in the last hold_ms to another bind: bound, perhaps not yet listening, so
 * invisible to a lookup; skip it. The same process asking again for the same port may have it.
 * A stamp later than `now` was made on another CPU after this bind read the clock: fresh (the
 * unsigned difference would have wrapped and called it stale). */
static __always_inline int held_back(__u32 port, __u32 pid, __u32 requested, __u64 now,
                                     __u64 hold_ns)
{
    struct styxy_recent *r = bpf_map_lookup_elem(&recent, &port);
    if (!r || (r->boot_ns < now && now - r->boot_ns > hold_ns))
        return 0;
    return !(r->pid == pid && r->requested == requested);
}

/* Take `port` for this bind in `recent`, atomically: two binds on two CPUs that both found it
 * free a moment ago must not both be sent there (the second would fail EADDRINUSE). A fresh
 * entry is created with BPF_NOEXIST, which the hash map does under its bucket lock. A stale
 * one (or this very bind asking again) is replaced by delete then create, which is two steps:
 * a second claimant that saw the stale entry could delete the first one's new entry and
 * create its own. So the replacing is done only by the bind that first enters `port` into
 * `claiming` (BPF_NOEXIST again), which leaves it before returning. 0: someone else has it,
 * scan on. */
static __always_inline int claim(__u32 port, __u32 pid, __u32 requested, __u64 now,
                                 __u64 hold_ns)
{
    struct styxy_recent mark = {.boot_ns = now, .pid = pid, .requested = requested};
    if (bpf_map_update_elem(&recent, &port, &mark, BPF_NOEXIST) == 0)
        return 1;
    __u32 one = 1;
    if (bpf_map_update_elem(&claiming, &port, &one, BPF_NOEXIST) != 0)
        return 0;
    int won = 0;
    if (!held_back(port, pid, requested, now, hold_ns)) {
        bpf_map_delete_elem(&recent, &port);
        won = bpf_map_update_elem(&recent, &port, &mark, BPF_NOEXIST) == 0;
    }
    bpf_map_delete_elem(&claiming, &port);
    return won;
}

static __always_inline int decide(struct bpf_sock_addr *ctx, int v6)
{
    if (ctx->type != SOCK_STREAM)
        return 1; /* UDP and the rest pass straight (section 8): UDP sharing is never touched */
    __u32 requested = bpf_ntohs((__u16)ctx->user_port);
    if (requested < 1024)
        return 1; /* port 0 and privileged ports pass straight to the kernel */
    __u32 zero = 0;
    const struct styxy_config *cfg = bpf_map_lookup_elem(&settings, &zero);
    if (!cfg)
        return 1;
    __u32 flags = 0, uid = 0;
    struct bpf_sock *sk = ctx->sk;
    if (!sk || !read_binder(sk, &flags, &uid))
        return 1;
    count(STYXY_STAT_WATCHED);
    __u32 pid = (__u32)(bpf_get_current_pid_tgid() >> 32);
    if (!port_held(ctx, v6, requested, flags, uid) && !leased_to_other(requested, pid))
        return 1;
    count(STYXY_STAT_BUSY);

    int index = find_range(requested, cfg->range_count);
    if (index < 0) {
        if (cfg->default_range >= STYXY_MAX_RANGES)
            return 1;
        index = (int)cfg->default_range;
    }
    __u32 key = (__u32)index;
    struct styxy_range *r = bpf_map_lookup_elem(&ranges, &key);
    if (!r)
        return 1;
    if (r->flags & STYXY_FLAG_SINGLE) {
        count(STYXY_STAT_KEPT);
        report(pid, requested, 0, key, STYXY_KEPT_SINGLE);
        return 1;
    }
    __u64 now = bpf_ktime_get_boot_ns();
    __u64 hold_ns = (__u64)cfg->hold_ms * 1000000ull;

    /* An IPv4/IPv6 twin, or a server that re-binds: the replacement it was given a moment ago. */
    struct styxy_twin twin = {.pid = pid, .requested = requested};
    __u32 *again = bpf_map_lookup_elem(&twins, &twin);
    if (again && *again >= r->start && *again <= r->end) {
        __u32 previous = *again;
        struct styxy_recent *seen = bpf_map_lookup_elem(&recent, &previous);
        /* Only when the kernel will take it: a dual-stack twin beside its own IPv4 listener
         * would be refused there, so it scans on like everyone else. */
        if (seen && seen->pid == pid && now - seen->boot_ns <= hold_ns &&
            !port_held(ctx, v6, previous, flags | HELD_STRICT, uid)) {
            ctx->user_port = bpf_htons((__u16)previous);
            return 1;
        }
    }

    __u32 start = r->start, end = r->end;
    for (__u32 k = 0; k < STYXY_MAX_SCAN; k++) {
        __u32 port = start + k;
        if (port > end)
            break;
        if (port == requested || leased_to_other(port, pid) ||
            held_back(port, pid, requested, now, hold_ns))
            continue;
        if (port_held(ctx, v6, port, flags | HELD_STRICT, uid))
            continue;
        if (!claim(port, pid, requested, now, hold_ns))
            continue;
        ctx->user_port = bpf_htons((__u16)port);
        bpf_map_update_elem(&twins, &twin, &port, BPF_ANY);
        count(STYXY_STAT_MOVED);
        report(pid, requested, port, key, STYXY_MOVED);
        return 1;
    }
    count(STYXY_STAT_KEPT);
    report(pid, requested, 0, key, STYXY_KEPT_FULL);
    return 1;
}

SEC("cgroup/bind4")
int styxy_bind4(struct bpf_sock_addr *ctx)
{
    return decide(ctx, 0);
}

SEC("cgroup/bind6")
int styxy_bind6(struct bpf_sock_addr *ctx)
{
    return decide(ctx, 1);
}
