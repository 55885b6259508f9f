/* libstyxy-intercept.so: an LD_PRELOAD wrapper around bind() (SPEC section 8).
 *
 * When a TCP bind() to a port >= 1024 fails with EADDRINUSE, bind the socket to a free port of
 * the right service type instead, say so on stderr and journal the move for styxy to lease.
 * Everything else passes through untouched, so the return value and errno are those of a
 * plain bind(). The rules that keep host programs safe:
 *
 *  - try first: the caller's bind() always runs unchanged; we only act on its EADDRINUSE, so a
 *    free port costs one indirect call and the caller's address is only read after the kernel
 *    has read it (no crash where the kernel would return EFAULT);
 *  - fail open: any problem (no cache, corrupt or foreign cache, contention, no free port)
 *    returns the original result and errno;
 *  - no malloc, no stdio, no blocking lock: state lives in static storage, guarded by a spin
 *    lock that gives up after a bounded wait; fork resets it (pthread_atfork);
 *  - the cache is read with read() into anonymous memory sized to the file (never a mapping of
 *    the file: a truncated file must not raise SIGBUS) and every descriptor is closed at once,
 *    with O_CLOEXEC meanwhile; a table is published with one atomic release store;
 *  - output is bounded: each move is said and journaled once per process, with hard caps.
 */
#define _GNU_SOURCE
#include "cache_reader.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

enum {
    MAX_BUSY_ATTEMPTS = 64,     /* candidate binds that may fail before we give up */
    MAP_SLOTS = 32,             /* remembered moves of this process (twins and retries) */
    KEPT_SLOTS = 32,            /* requested ports this process said "not moved" for */
    MAX_STDERR_LINES = 32,      /* hard cap on this process's stderr lines */
    MAX_JOURNAL_LINES = 64,     /* hard cap on this process's journal lines */
    CMDLINE_MAX = 4096,         /* bytes of /proc/self/cmdline the detect globs see */
    LOCK_WAIT_NS = 2000000000,  /* longest wait for the slow-path lock before failing open */
};

typedef int (*bind_fn)(int, const struct sockaddr *, socklen_t);

/* ------------------------------------------------------------------ configuration */

/* Read once, at load (or at the first bind() if another constructor binds before ours). */
static struct {
    int active;
    int debug;
    char cache_path[PATH_MAX];
    char journal_path[PATH_MAX];
    char service_type[STYXY_NAME_FIELD];
} g_cfg;

enum { INIT_NONE, INIT_RUNNING, INIT_DONE };
static atomic_int g_init_state;
static _Atomic(bind_fn) g_real_bind;

/* ------------------------------------------------------------------ slow-path state */

/* A cache file that parsed, and the view into its bytes. The bytes live in an anonymous
 * mapping sized to the file (page-rounded, at most STYXY_MAX_FILE_SIZE + 1), made the first
 * time this process needs a table: a process that never meets a busy port pays nothing, and
 * one that does pays for the cache it read, not for two 4 MiB buffers. (Anonymous memory, not
 * the file: a truncated file can not raise SIGBUS in it.) */
struct table {
    unsigned char *buf;
    size_t cap;
    struct styxy_view view;
};

/* Guarded by g_lock_owner (the tid of the holder, 0 when free). */
static struct table g_tables[2];      /* the published one, and the spare the next load fills */
/* The published table, or NULL: written with one release store once its table is complete,
 * read with acquire (see docs/CACHE_FORMAT.md, "Publishing a table"). */
static _Atomic(struct table *) g_current;
static struct {
    int valid;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime, ctime;
} g_seen;                             /* the file we last looked at, good or not */
static struct {
    uint16_t requested, replacement;
} g_map[MAP_SLOTS];                   /* this process's moves, newest at g_map_next - 1 */
static unsigned g_map_next;
static uint16_t g_kept[KEPT_SLOTS];   /* requested ports a "not moved" line was written for */
static unsigned g_kept_count;
static unsigned g_said_count;         /* stderr lines written (capped at MAX_STDERR_LINES) */
static unsigned g_journal_count;      /* journal lines written (capped at MAX_JOURNAL_LINES) */
static uint8_t g_leased[65536 / 8];   /* scratch bitmap: ports leased to other processes */
static char g_cmdline[CMDLINE_MAX];
static atomic_int g_lock_owner;

/* ------------------------------------------------------------------ small helpers */

static int raw_bind(int fd, const struct sockaddr *addr, socklen_t len)
{
    return (int)syscall(SYS_bind, fd, addr, len);
}

EXPORT int bind(int fd, const struct sockaddr *addr, socklen_t len);

/* The next bind() in the lookup order (libc's); the raw syscall if the lookup fails. */
static bind_fn real_bind(void)
{
    bind_fn fn = atomic_load_explicit(&g_real_bind, memory_order_acquire);
    if (fn != NULL)
        return fn;
    void *sym = dlsym(RTLD_NEXT, "bind");
    fn = (sym != NULL && sym != (void *)bind) ? (bind_fn)sym : raw_bind;
    atomic_store_explicit(&g_real_bind, fn, memory_order_release);
    return fn;
}

static size_t str_copy(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap)
        return 0;
    memcpy(dst, src, n + 1);
    return n;
}

/* Append the decimal form of v at *pos; the caller sizes the buffer for it. */
static void put_uint(char *buf, size_t *pos, unsigned long long v)
{
    char digits[24];
    int n = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    while (n > 0)
        buf[(*pos)++] = digits[--n];
}

static void put_str(char *buf, size_t *pos, size_t cap, const char *s)
{
    while (*s != 0 && *pos < cap)
        buf[(*pos)++] = *s++;
}

/* Is fd 2 somewhere a message may go? A daemon that closed its stdio may have a data file or
 * a TCP connection on descriptor 2; those must not receive our line. Unix sockets stay allowed
 * (systemd's journal stream). */
static int stderr_writable(void)
{
    int flags = fcntl(STDERR_FILENO, F_GETFL);
    if (flags < 0 || (flags & O_ACCMODE) == O_RDONLY)
        return 0;
    struct stat st;
    if (fstat(STDERR_FILENO, &st) != 0)
        return 0;
    if (S_ISSOCK(st.st_mode)) {
        int domain = 0;
        socklen_t len = sizeof domain;
        return getsockopt(STDERR_FILENO, SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0 &&
               domain == AF_UNIX;
    }
    return S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode) || S_ISREG(st.st_mode);
}

/* One whole line to stderr with write(2): no stdio, errno left as it was. */
static void say(const char *line, size_t len)
{
    int saved = errno;
    if (!stderr_writable()) {
        errno = saved;
        return;
    }
    ssize_t rc;
    do {
        rc = write(STDERR_FILENO, line, len);
    } while (rc < 0 && errno == EINTR);
    errno = saved;
}

static void debug(int level, const char *what, const char *detail)
{
    if (g_cfg.debug < level)
        return;
    char line[512];
    size_t pos = 0;
    put_str(line, &pos, sizeof line - 1, "styxy: debug: ");
    put_str(line, &pos, sizeof line - 1, what);
    if (detail != NULL) {
        put_str(line, &pos, sizeof line - 1, ": ");
        put_str(line, &pos, sizeof line - 1, detail);
    }
    line[pos++] = '\n';
    say(line, pos);
}

/* ------------------------------------------------------------------ the lock */

static long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

/* Spin, then yield, for at most LOCK_WAIT_NS; 0 means "fail open". A thread that already holds
 * the lock (bind() from a signal handler that interrupted us) fails open at once. */
static int lock_acquire(void)
{
    int me = (int)syscall(SYS_gettid);
    long deadline = 0;
    for (unsigned spins = 0;; spins++) {
        int expected = 0;
        if (atomic_compare_exchange_weak_explicit(&g_lock_owner, &expected, me,
                                                  memory_order_acquire, memory_order_relaxed))
            return 1;
        if (expected == me)
            return 0;
        if (spins < 100)
            continue;
        sched_yield();
        if (spins % 64 == 0) {
            long now = now_ns();
            if (deadline == 0)
                deadline = now + LOCK_WAIT_NS;
            else if (now > deadline)
                return 0;
        }
    }
}

static void lock_release(void) { atomic_store_explicit(&g_lock_owner, 0, memory_order_release); }

/* In the child only the forking thread exists: a lock held by another thread would never be
 * released. The published table is whole in the child whatever the moment of the fork (it is
 * only ever replaced by one atomic store of a complete table); what the lock holder was doing
 * to the rest may be half done, so the child forgets it. */
static void after_fork_child(void)
{
    if (atomic_load_explicit(&g_lock_owner, memory_order_acquire) != 0) {
        /* The file being read may be remembered as seen without its table: read it again. */
        g_seen.valid = 0;
        /* The spare table may be mid-(re)mapping: drop it (leaking at most one mapping). */
        struct table *current = atomic_load_explicit(&g_current, memory_order_acquire);
        struct table *spare = current == &g_tables[0] ? &g_tables[1] : &g_tables[0];
        spare->buf = NULL;
        spare->cap = 0;
        /* A move being remembered may be half written. */
        g_map_next = 0;
    }
    atomic_store_explicit(&g_lock_owner, 0, memory_order_relaxed);
}

/* ------------------------------------------------------------------ configuration */

static void configure(void)
{
    if (getauxval(AT_SECURE) != 0)
        return; /* setuid, setgid or file capabilities: never act for a possibly hostile env */
    const char *off = secure_getenv("STYXY_INTERCEPT");
    if (off != NULL && strcmp(off, "0") == 0)
        return;
    const char *level = secure_getenv("STYXY_DEBUG");
    if (level != NULL && level[0] >= '0' && level[0] <= '9')
        g_cfg.debug = level[0] - '0';
    const char *cache = secure_getenv("STYXY_CACHE");
    if (cache == NULL || cache[0] == 0 || str_copy(g_cfg.cache_path, PATH_MAX, cache) == 0)
        return;
    /* The journal sits beside the cache: same folder, name `journal`. */
    const char *slash = strrchr(g_cfg.cache_path, '/');
    size_t dir_len = slash == NULL ? 0 : (size_t)(slash - g_cfg.cache_path) + 1;
    if (dir_len + sizeof "journal" > PATH_MAX)
        return;
    memcpy(g_cfg.journal_path, g_cfg.cache_path, dir_len);
    memcpy(g_cfg.journal_path + dir_len, "journal", sizeof "journal");
    const char *type = secure_getenv("STYXY_SERVICE_TYPE");
    if (type != NULL && styxy_name_ok(type))
        str_copy(g_cfg.service_type, sizeof g_cfg.service_type, type);
    if (pthread_atfork(NULL, NULL, after_fork_child) != 0)
        return; /* without the fork hook a child could inherit a held lock: stay inert */
    g_cfg.active = 1;
}

static void init_once(void)
{
    int expected = INIT_NONE;
    if (!atomic_compare_exchange_strong(&g_init_state, &expected, INIT_RUNNING))
        return;
    real_bind();
    configure();
    atomic_store_explicit(&g_init_state, INIT_DONE, memory_order_release);
}

__attribute__((constructor)) static void styxy_load(void) { init_once(); }

/* 1 once configured and active; a bind() racing the initialisation passes through. */
static int active(void)
{
    int state = atomic_load_explicit(&g_init_state, memory_order_acquire);
    if (state == INIT_NONE) {
        init_once();
        state = atomic_load_explicit(&g_init_state, memory_order_acquire);
    }
    return state == INIT_DONE && g_cfg.active;
}

/* ------------------------------------------------------------------ the cache */

static int same_file(const struct stat *st)
{
    return g_seen.valid && g_seen.dev == st->st_dev && g_seen.ino == st->st_ino &&
           g_seen.size == st->st_size && g_seen.mtime.tv_sec == st->st_mtim.tv_sec &&
           g_seen.mtime.tv_nsec == st->st_mtim.tv_nsec &&
           g_seen.ctime.tv_sec == st->st_ctim.tv_sec && g_seen.ctime.tv_nsec == st->st_ctim.tv_nsec;
}

static void remember(const struct stat *st)
{
    g_seen.valid = 1;
    g_seen.dev = st->st_dev;
    g_seen.ino = st->st_ino;
    g_seen.size = st->st_size;
    g_seen.mtime = st->st_mtim;
    g_seen.ctime = st->st_ctim;
}

static int trusted(const struct stat *st)
{
    if (!S_ISREG(st->st_mode)) {
        debug(1, "cache refused", "not a regular file");
        return 0;
    }
    if (st->st_uid != geteuid() && st->st_uid != 0) {
        debug(1, "cache refused", "owned by another user");
        return 0;
    }
    if (st->st_size < 0 || st->st_size > (off_t)STYXY_MAX_FILE_SIZE) {
        debug(1, "cache refused", "larger than 4 MiB");
        return 0;
    }
    return 1;
}

/* Read the whole file (one byte more than allowed, to notice growth) into buf. */
static ssize_t read_all(int fd, unsigned char *buf, size_t cap)
{
    size_t total = 0;
    while (total < cap) {
        ssize_t n = read(fd, buf + total, cap - total);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        total += (size_t)n;
    }
    return (ssize_t)total;
}

/* Load the cache into the spare buffer when stat() shows another file than last time; keep the
 * last good table whatever goes wrong. Lock held. */
static void load_cache(const struct stat *st);

static void refresh_cache(void)
{
    struct stat st;
    if (lstat(g_cfg.cache_path, &st) != 0) {
        debug(2, "cache not found", g_cfg.cache_path);
        return;
    }
    if (same_file(&st))
        return;
    load_cache(&st);
}

/* Make `t` hold at least `need` bytes; 0 when the memory cannot be had (fail open). */
static int reserve(struct table *t, size_t need)
{
    if (t->buf != NULL && t->cap >= need)
        return 1;
    long page = sysconf(_SC_PAGESIZE);
    size_t unit = page > 0 ? (size_t)page : 4096;
    size_t cap = (need + unit - 1) / unit * unit;
    if (t->buf != NULL) {
        unsigned char *old = t->buf;
        size_t old_cap = t->cap;
        t->buf = NULL;
        t->cap = 0;
        munmap(old, old_cap);
    }
    void *mem = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED)
        return 0;
    t->buf = mem;
    t->cap = cap;
    return 1;
}

/* Read and publish the file `st` describes; it is remembered first, so a file that is
 * refused is not read again on every bind(). Lock held. */
static void load_cache(const struct stat *st)
{
    struct stat opened;
    remember(st);
    if (!trusted(st))
        return;
    /* O_NOFOLLOW and O_NONBLOCK: a symlink or FIFO swapped in since lstat() cannot trap us. */
    int fd = open(g_cfg.cache_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return;
    /* The spare table is never the published one: nothing reads it while it is filled. */
    struct table *current = atomic_load_explicit(&g_current, memory_order_relaxed);
    struct table *spare = current == &g_tables[0] ? &g_tables[1] : &g_tables[0];
    ssize_t n = -1;
    if (fstat(fd, &opened) == 0 && opened.st_ino == st->st_ino && opened.st_dev == st->st_dev &&
        trusted(&opened)) {
        /* One byte more than the file, to notice that it grew while being read. */
        size_t need = (size_t)opened.st_size + 1;
        if (!reserve(spare, need)) {
            close(fd);
            debug(1, "cache refused", "no memory to read it into");
            return;
        }
        n = read_all(fd, spare->buf, need);
        if (n != opened.st_size)
            n = -1;
    }
    close(fd);
    if (n < 0) {
        debug(1, "cache refused", "changed while being read");
        return;
    }
    int status = styxy_cache_parse(spare->buf, (size_t)n, &spare->view);
    if (status != STYXY_OK) {
        debug(1, "cache refused", styxy_parse_error(status));
        return;
    }
    /* The one store that publishes it: buffer, size and view were all written before it. */
    atomic_store_explicit(&g_current, spare, memory_order_release);
    debug(2, "cache loaded", g_cfg.cache_path);
}

/* ------------------------------------------------------------------ choosing a range */

/* /proc/self/cmdline with its NULs turned into spaces, for the detect globs. */
static const char *read_cmdline(void)
{
    g_cmdline[0] = 0;
    int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return g_cmdline;
    ssize_t n = read_all(fd, (unsigned char *)g_cmdline, sizeof g_cmdline - 1);
    close(fd);
    if (n <= 0)
        return g_cmdline;
    while (n > 0 && g_cmdline[n - 1] == 0)
        n--;
    for (ssize_t i = 0; i < n; i++)
        if (g_cmdline[i] == 0)
            g_cmdline[i] = ' ';
    g_cmdline[n] = 0;
    return g_cmdline;
}

/* $STYXY_SERVICE_TYPE, else the range holding the port, else the detect globs, else dev. */
static int choose_range(const struct styxy_view *view, unsigned requested)
{
    int index = -1;
    if (g_cfg.service_type[0] != 0)
        index = styxy_range_by_name(view, g_cfg.service_type);
    if (index < 0)
        index = styxy_range_by_port(view, requested);
    if (index < 0 && view->detect_count > 0)
        index = styxy_range_by_detect(view, read_cmdline());
    if (index < 0)
        index = styxy_range_by_name(view, "dev");
    return index;
}

/* Mark in g_leased the ports of [start, end] that other processes hold leases on. */
static void mark_leases(const struct styxy_view *view, const struct styxy_range *r, uint32_t me)
{
    memset(g_leased + r->start / 8, 0, (size_t)(r->end / 8 - r->start / 8 + 1));
    struct styxy_lease lease;
    for (uint32_t i = 0; i < view->lease_count; i++) {
        styxy_lease_at(view, i, &lease);
        if (lease.pid != me && lease.port >= r->start && lease.port <= r->end)
            g_leased[lease.port / 8] |= (uint8_t)(1u << (lease.port % 8));
    }
}

static int leased(unsigned port) { return (g_leased[port / 8] >> (port % 8)) & 1; }

/* ------------------------------------------------------------------ the per-process map */

/* The k-th newest replacement this process gave `requested` (k from 0), else 0. A retry of the
 * same port (a server that closes and binds again, a second thread, a twin IPv4/IPv6 socket)
 * tries these first, newest first, so it gets the same replacement whenever that is free. */
static unsigned map_nth(unsigned requested, unsigned nth)
{
    for (unsigned k = 1; k <= MAP_SLOTS && k <= g_map_next; k++) {
        unsigned slot = (g_map_next - k) % MAP_SLOTS;
        if (g_map[slot].requested == requested && nth-- == 0)
            return g_map[slot].replacement;
    }
    return 0;
}

static void map_store(unsigned requested, unsigned replacement)
{
    unsigned slot = g_map_next % MAP_SLOTS;
    g_map[slot].requested = (uint16_t)requested;
    g_map[slot].replacement = (uint16_t)replacement;
    g_map_next++;
}

/* Output is bounded per process: a program that retries a busy port in a loop must not flood
 * its stderr or the journal (issue 13, point 8). A move is said and journaled once per new
 * (requested, replacement) pair, a refusal once per requested port, and each kind of line
 * stops at a hard cap. Lock held. */
static int may_say(void)
{
    if (g_said_count >= MAX_STDERR_LINES)
        return 0;
    g_said_count++;
    return 1;
}

static int may_say_kept(unsigned requested)
{
    unsigned known = g_kept_count < KEPT_SLOTS ? g_kept_count : KEPT_SLOTS;
    for (unsigned i = 0; i < known; i++)
        if (g_kept[i] == requested)
            return 0;
    if (g_kept_count < KEPT_SLOTS)
        g_kept[g_kept_count] = (uint16_t)requested;
    g_kept_count++;
    return may_say();
}

static int may_journal(void)
{
    if (g_journal_count >= MAX_JOURNAL_LINES)
        return 0;
    g_journal_count++;
    return 1;
}

static int map_has(unsigned requested, unsigned replacement)
{
    for (unsigned k = 0; k < MAP_SLOTS; k++) {
        unsigned known = map_nth(requested, k);
        if (known == 0)
            return 0;
        if (known == replacement)
            return 1;
    }
    return 0;
}

/* The last replacement this process found in the range: the scan resumes after it, so sibling
 * threads do not all retry the same taken ports. */
static unsigned g_cursor;

/* ------------------------------------------------------------------ binding */

struct attempt {
    int fd, family, reuse, v6only;
    struct sockaddr_storage addr; /* private copy: the caller's buffer is never written */
    socklen_t len;
};

static void set_port(struct attempt *a, unsigned port)
{
    if (a->family == AF_INET)
        ((struct sockaddr_in *)&a->addr)->sin_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in6 *)&a->addr)->sin6_port = htons((uint16_t)port);
}

static int get_int_opt(int fd, int level, int name, int *value)
{
    socklen_t len = sizeof *value;
    return getsockopt(fd, level, name, value, &len) == 0 && len == sizeof *value;
}

/* A TCP socket of the address's family, and its reuse options. */
static int describe_socket(struct attempt *a)
{
    int type = 0, domain = 0, protocol = 0, on = 0;
    if (!get_int_opt(a->fd, SOL_SOCKET, SO_TYPE, &type) || type != SOCK_STREAM)
        return 0;
    if (!get_int_opt(a->fd, SOL_SOCKET, SO_DOMAIN, &domain) || domain != a->family)
        return 0;
    if (get_int_opt(a->fd, SOL_SOCKET, SO_PROTOCOL, &protocol) && protocol != IPPROTO_TCP)
        return 0;
    a->reuse = 0;
    if (get_int_opt(a->fd, SOL_SOCKET, SO_REUSEADDR, &on) && on)
        a->reuse = 1;
    if (get_int_opt(a->fd, SOL_SOCKET, SO_REUSEPORT, &on) && on)
        a->reuse = 1;
    a->v6only = 0;
    if (a->family == AF_INET6)
        get_int_opt(a->fd, IPPROTO_IPV6, IPV6_V6ONLY, &a->v6only);
    return 1;
}

/* With SO_REUSEPORT the kernel would let us share a stranger's port, and with SO_REUSEADDR a
 * port someone bound but does not listen on yet: a plain throwaway socket asks first. */
static int probe_free(const struct attempt *a)
{
    int probe = socket(a->family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
    if (probe < 0)
        return 0;
    if (a->family == AF_INET6)
        setsockopt(probe, IPPROTO_IPV6, IPV6_V6ONLY, &a->v6only, sizeof a->v6only);
    int ok = real_bind()(probe, (const struct sockaddr *)&a->addr, a->len) == 0;
    close(probe);
    return ok;
}

/* 1 bound, 0 port taken (try another), -1 a different failure (stop and fail open). */
static int try_port(struct attempt *a, unsigned port)
{
    set_port(a, port);
    if (a->reuse && !probe_free(a))
        return 0;
    if (real_bind()(a->fd, (const struct sockaddr *)&a->addr, a->len) == 0)
        return 1;
    return errno == EADDRINUSE ? 0 : -1;
}

/* Scan the range from after the cursor, wrapping, skipping leased ports. */
static unsigned scan_range(struct attempt *a, const struct styxy_range *r, unsigned requested,
                           int *failed)
{
    unsigned span = (unsigned)r->end - r->start + 1;
    unsigned first = (g_cursor >= r->start && g_cursor < r->end) ? g_cursor + 1 : r->start;
    int busy = 0;
    for (unsigned k = 0; k < span && busy < MAX_BUSY_ATTEMPTS; k++) {
        unsigned port = r->start + (first - r->start + k) % span;
        if (port == requested || leased(port))
            continue;
        int rc = try_port(a, port);
        if (rc == 1)
            return port;
        if (rc < 0) {
            *failed = 1; /* EADDRNOTAVAIL, EINVAL, ...: no other port will do better */
            return 0;
        }
        busy++;
    }
    return 0;
}

/* ------------------------------------------------------------------ reporting */

/* A stderr line built piece by piece in a stack buffer (no stdio). */
struct line {
    char text[256];
    size_t pos;
};

static void line_str(struct line *l, const char *s) { put_str(l->text, &l->pos, sizeof l->text - 1, s); }

static void line_uint(struct line *l, unsigned v)
{
    if (l->pos + 12 < sizeof l->text)
        put_uint(l->text, &l->pos, v);
}

static void line_say(struct line *l)
{
    l->text[l->pos++] = '\n';
    say(l->text, l->pos);
}

/* `styxy: port 8000 in use; bound 3001 instead (service dev)` */
static void announce_move(unsigned requested, unsigned port, const char *service)
{
    struct line l = {.pos = 0};
    line_str(&l, "styxy: port ");
    line_uint(&l, requested);
    line_str(&l, " in use; bound ");
    line_uint(&l, port);
    line_str(&l, " instead (service ");
    line_str(&l, service);
    line_str(&l, ")");
    line_say(&l);
}

/* Why a busy port was left alone, so the program's own "address in use" error makes sense. */
static void announce_kept(unsigned requested, const struct styxy_range *r, const char *why)
{
    struct line l = {.pos = 0};
    line_str(&l, "styxy: port ");
    line_uint(&l, requested);
    line_str(&l, " in use; not moved: ");
    line_str(&l, why);
    line_str(&l, " (service ");
    line_str(&l, r->name);
    line_str(&l, " ");
    line_uint(&l, r->start);
    line_str(&l, "-");
    line_uint(&l, r->end);
    line_str(&l, ")");
    line_say(&l);
}

/* `1 <port> <pid> <requested_port> <service_type> <unix_seconds>`, one O_APPEND write. */
static void journal(unsigned port, unsigned requested, const char *service)
{
    char line[160];
    size_t pos = 0;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    put_str(line, &pos, sizeof line, "1 ");
    put_uint(line, &pos, port);
    line[pos++] = ' ';
    put_uint(line, &pos, (unsigned long long)getpid());
    line[pos++] = ' ';
    put_uint(line, &pos, requested);
    line[pos++] = ' ';
    put_str(line, &pos, sizeof line - 1, service);
    line[pos++] = ' ';
    put_uint(line, &pos, (unsigned long long)now.tv_sec);
    line[pos++] = '\n';
    int saved = errno;
    /* 0600 like every file of the sidecar: the journal says what ran where (SPEC section 18). */
    int fd = open(g_cfg.journal_path,
                  O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY,
                  0600);
    if (fd >= 0) {
        ssize_t rc;
        do {
            rc = write(fd, line, pos);
        } while (rc < 0 && errno == EINTR);
        close(fd);
    } else {
        debug(1, "cannot open the journal", g_cfg.journal_path);
    }
    errno = saved;
}

/* ------------------------------------------------------------------ the move */

/* The requested port of an AF_INET/AF_INET6 address we may move, else 0. Only called after
 * the kernel accepted the address far enough to say EADDRINUSE, so it is readable. */
static unsigned requested_port(const struct sockaddr *addr, socklen_t len, int *family)
{
    sa_family_t fam;
    if (addr == NULL || len < sizeof fam || len > sizeof(struct sockaddr_storage))
        return 0;
    memcpy(&fam, addr, sizeof fam);
    unsigned port = 0;
    if (fam == AF_INET && len >= sizeof(struct sockaddr_in)) {
        struct sockaddr_in in;
        memcpy(&in, addr, sizeof in);
        port = ntohs(in.sin_port);
    } else if (fam == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
        struct sockaddr_in6 in6;
        memcpy(&in6, addr, sizeof in6);
        port = ntohs(in6.sin6_port);
    }
    *family = fam;
    return port >= 1024 ? port : 0;
}

/* Bind to the twin's replacement or a free port of the range; 1 when bound. Lock held. */
static int move(struct attempt *a, unsigned requested)
{
    refresh_cache();
    const struct table *table = atomic_load_explicit(&g_current, memory_order_acquire);
    if (table == NULL) {
        debug(1, "no usable cache", g_cfg.cache_path);
        return 0;
    }
    const struct styxy_view *view = &table->view;
    int index = choose_range(view, requested);
    if (index < 0) {
        debug(1, "no range for this port or service", NULL);
        return 0;
    }
    struct styxy_range r;
    styxy_range_at(view, (uint32_t)index, &r);
    if (r.single) {
        if (may_say_kept(requested))
            announce_kept(requested, &r, "single-instance service already running");
        return 0;
    }
    mark_leases(view, &r, (uint32_t)getpid());
    for (unsigned k = 0; k < MAP_SLOTS; k++) {
        unsigned again = map_nth(requested, k);
        if (again == 0)
            break;
        if (again >= r.start && again <= r.end && !leased(again) && try_port(a, again) == 1)
            return 1; /* this move was announced and journaled already */
    }
    int failed = 0;
    unsigned port = scan_range(a, &r, requested, &failed);
    if (port == 0) {
        if (!failed && may_say_kept(requested))
            announce_kept(requested, &r, "no free port in the range");
        return 0;
    }
    g_cursor = port;
    if (map_has(requested, port))
        return 1; /* a remembered replacement that was busy a moment ago: said already */
    map_store(requested, port);
    if (may_say())
        announce_move(requested, port, r.name);
    if (may_journal())
        journal(port, requested, r.name);
    return 1;
}

static int relocate(int fd, const struct sockaddr *addr, socklen_t len)
{
    struct attempt a;
    unsigned requested = requested_port(addr, len, &a.family);
    if (requested == 0)
        return 0;
    a.fd = fd;
    a.len = len;
    memset(&a.addr, 0, sizeof a.addr);
    memcpy(&a.addr, addr, len);
    if (!describe_socket(&a))
        return 0;
    if (!lock_acquire()) {
        debug(1, "another thread holds the lock", "plain bind() result kept");
        return 0;
    }
    int moved = move(&a, requested);
    lock_release();
    return moved;
}

EXPORT int bind(int fd, const struct sockaddr *addr, socklen_t len)
{
    int saved = errno;
    int rc = real_bind()(fd, addr, len);
    if (rc == 0)
        return rc;
    int err = errno;
    if (err == EADDRINUSE && active() && relocate(fd, addr, len)) {
        errno = saved;
        return 0;
    }
    errno = err; /* whatever happened meanwhile, the caller sees the kernel's answer */
    return rc;
}
