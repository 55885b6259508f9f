/* styxy-bpf: loads the bind programs (embedded as a libbpf skeleton), attaches them to a cgroup
 * v2 folder and pins links and maps in a bpffs folder, detaches them, and reads the ring
 * buffer. Everything else (the maps' contents, the moves turned into leases) is styxy's Python
 * side, which opens the pinned maps itself with the bpf() system call.
 *
 *   styxy-bpf attach --cgroup DIR --pin DIR [--uid N] [--gid N] [--hold-ms N]
 *   styxy-bpf detach --pin DIR
 *   styxy-bpf events --pin DIR            (drains the ring buffer, one line per event)
 *
 * Exit 0 on success; else one sentence on stderr (`styxy-bpf: ...`) and exit 1, with nothing
 * left attached or pinned by this run. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/types.h>

#include "styxy_bpf.h"
#include "styxy_bind.skel.h"

#define BPF_FS_MAGIC_NUMBER 0xcafe4a11
#define CGROUP2_MAGIC_NUMBER 0x63677270

static const char *const MAP_NAMES[] = {"settings", "ranges", "leases", "moves",
                                        "events",   "recent", "twins",  "stats"};
#define MAP_COUNT (sizeof MAP_NAMES / sizeof MAP_NAMES[0])
static const char *const LINK_NAMES[] = {"link_bind4", "link_bind6"};
#define LINK_COUNT 2

static int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("styxy-bpf: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

/* libbpf's own chatter (verifier logs) only with STYXY_DEBUG set. */
static int quiet_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
    if (getenv("STYXY_DEBUG") == NULL || level == LIBBPF_DEBUG)
        return 0;
    return vfprintf(stderr, fmt, ap);
}

static int join(char *out, size_t cap, const char *dir, const char *name)
{
    int n = snprintf(out, cap, "%s/%s", dir, name);
    return n > 0 && (size_t)n < cap;
}

/* Remove every pin this tool makes in `pin`, then the folder. Missing pins are fine. */
static void unpin_all(const char *pin)
{
    char path[4096];
    for (size_t i = 0; i < LINK_COUNT; i++)
        if (join(path, sizeof path, pin, LINK_NAMES[i]))
            unlink(path);
    for (size_t i = 0; i < MAP_COUNT; i++)
        if (join(path, sizeof path, pin, MAP_NAMES[i]))
            unlink(path);
    rmdir(pin);
}

static int is_fs(const char *path, long magic)
{
    struct statfs st;
    return statfs(path, &st) == 0 && (long)st.f_type == magic;
}

/* 1 when `path` does not exist or is an empty folder: a bpffs mounted there hides nothing. */
static int is_empty_or_missing(const char *path)
{
    DIR *dir = opendir(path);
    if (dir == NULL)
        return errno == ENOENT;
    int empty = 1;
    for (struct dirent *entry; empty && (entry = readdir(dir)) != NULL;)
        if (strcmp(entry->d_name, ".") != 0 && strcmp(entry->d_name, "..") != 0)
            empty = 0;
    closedir(dir);
    return empty;
}

/* The pin folder's parent must be on a bpffs: mount one there when it is not (a fresh /run),
 * but never over someone's files. */
static int ensure_bpffs(const char *pin)
{
    char parent[4096];
    if (snprintf(parent, sizeof parent, "%s", pin) >= (int)sizeof parent)
        return fail("the pin folder's path is too long");
    char *slash = strrchr(parent, '/');
    if (slash == NULL || slash == parent)
        return fail("the pin folder %s must be inside a bpffs folder", pin);
    *slash = 0;
    if (is_fs(parent, BPF_FS_MAGIC_NUMBER))
        return 0;
    if (!is_empty_or_missing(parent))
        return fail("the pin folder %s is not on a bpffs and is not empty; mount one there "
                    "(mount -t bpf bpf %s) or remove the folder", parent, parent);
    for (char *c = parent + 1; *c; c++) {
        if (*c != '/')
            continue;
        *c = 0;
        int made = mkdir(parent, 0755) == 0 || errno == EEXIST;
        *c = '/';
        if (!made)
            return fail("cannot create %s: %s", parent, strerror(errno));
    }
    if (mkdir(parent, 0755) != 0 && errno != EEXIST)
        return fail("cannot create %s: %s", parent, strerror(errno));
    if (mount("bpf", parent, "bpf", 0, "mode=0755") != 0)
        return fail("cannot mount a bpffs on %s: %s", parent, strerror(errno));
    return 0;
}

static int attach(const char *cgroup, const char *pin, int uid, int gid, unsigned hold_ms)
{
    if (!is_fs(cgroup, CGROUP2_MAGIC_NUMBER))
        return fail("%s is not a cgroup v2 folder", cgroup);
    if (ensure_bpffs(pin) != 0)
        return 1;
    if (mkdir(pin, 0755) != 0)
        return fail(errno == EEXIST ? "%s exists already: detach first"
                                    : "cannot create %s: %s", pin, strerror(errno));
    int cg = -1, rc = 1;
    struct bpf_link *links[LINK_COUNT] = {NULL, NULL};
    struct styxy_bind *skel = styxy_bind__open();
    if (skel == NULL) {
        fail("cannot open the BPF object: %s", strerror(errno));
        goto out;
    }
    if (styxy_bind__load(skel) != 0) {
        fail("the kernel refused the BPF program (%s); run with STYXY_DEBUG=1 for the verifier's log",
             strerror(errno));
        goto out;
    }
    struct styxy_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.default_range = STYXY_NO_RANGE;
    cfg.hold_ms = hold_ms;
    __u32 zero = 0;
    if (bpf_map__update_elem(skel->maps.settings, &zero, sizeof zero, &cfg, sizeof cfg, BPF_ANY) != 0) {
        fail("cannot write the settings map: %s", strerror(errno));
        goto out;
    }
    cg = open(cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (cg < 0) {
        fail("cannot open %s: %s", cgroup, strerror(errno));
        goto out;
    }
    struct bpf_program *progs[LINK_COUNT] = {skel->progs.styxy_bind4, skel->progs.styxy_bind6};
    char path[4096];
    for (size_t i = 0; i < LINK_COUNT; i++) {
        links[i] = bpf_program__attach_cgroup(progs[i], cg);
        if (links[i] == NULL) {
            fail("cannot attach to %s: %s", cgroup, strerror(errno));
            goto out;
        }
        if (!join(path, sizeof path, pin, LINK_NAMES[i]) || bpf_link__pin(links[i], path) != 0) {
            fail("cannot pin %s: %s", path, strerror(errno));
            goto out;
        }
    }
    struct bpf_map *maps[MAP_COUNT] = {skel->maps.settings, skel->maps.ranges, skel->maps.leases,
                                       skel->maps.moves,    skel->maps.events, skel->maps.recent,
                                       skel->maps.twins,    skel->maps.stats};
    for (size_t i = 0; i < MAP_COUNT; i++) {
        if (!join(path, sizeof path, pin, MAP_NAMES[i]) || bpf_map__pin(maps[i], path) != 0) {
            fail("cannot pin %s: %s", path, strerror(errno));
            goto out;
        }
        /* The user's, read and write: every later update and ring read runs unprivileged. */
        if ((uid >= 0 && chown(path, (uid_t)uid, (gid_t)gid) != 0) || chmod(path, 0660) != 0) {
            fail("cannot hand %s to uid %d: %s", path, uid, strerror(errno));
            goto out;
        }
    }
    rc = 0;
out:
    if (rc != 0) {
        for (size_t i = 0; i < LINK_COUNT; i++)
            if (links[i] != NULL)
                bpf_link__unpin(links[i]);
        unpin_all(pin);
    }
    /* Pinned links keep the programs attached after this process exits; unpinned ones die
     * with it, which is what a failed attach wants. */
    for (size_t i = 0; i < LINK_COUNT; i++)
        bpf_link__destroy(links[i]);
    if (cg >= 0)
        close(cg);
    styxy_bind__destroy(skel);
    return rc;
}

static int detach(const char *pin)
{
    struct stat st;
    if (stat(pin, &st) != 0)
        return fail("nothing is attached at %s", pin);
    char path[4096];
    for (size_t i = 0; i < LINK_COUNT; i++) {
        if (!join(path, sizeof path, pin, LINK_NAMES[i]))
            continue;
        int fd = bpf_obj_get(path);
        if (fd >= 0) {
            bpf_link_detach(fd); /* at once, even if something else holds the link open */
            close(fd);
        }
    }
    unpin_all(pin);
    if (stat(pin, &st) == 0)
        return fail("cannot remove %s: %s", pin, strerror(errno));
    return 0;
}

static int print_event(void *ctx, void *data, size_t size)
{
    (void)ctx;
    if (size < sizeof(struct styxy_move))
        return 0;
    const struct styxy_move *m = data;
    char comm[17];
    memcpy(comm, m->comm, 16);
    comm[16] = 0;
    for (char *c = comm; *c; c++)
        if (*c <= ' ' || *c > '~')
            *c = '_';
    printf("%llu %u %u %u %u %u %u %s\n", (unsigned long long)m->boot_ns, m->pid, m->uid,
           m->requested, m->given, m->range, m->outcome, comm);
    return 0;
}

static int events(const char *pin)
{
    char path[4096];
    if (!join(path, sizeof path, pin, "events"))
        return fail("the pin folder's path is too long");
    int fd = bpf_obj_get(path);
    if (fd < 0)
        return fail("cannot open %s: %s", path, strerror(errno));
    struct ring_buffer *rb = ring_buffer__new(fd, print_event, NULL, NULL);
    if (rb == NULL) {
        close(fd);
        return fail("cannot read the ring buffer: %s", strerror(errno));
    }
    int n = ring_buffer__consume(rb);
    ring_buffer__free(rb);
    close(fd);
    if (n < 0)
        return fail("cannot read the ring buffer: %s", strerror(-n));
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return fail("usage: styxy-bpf attach|detach|events --pin DIR [--cgroup DIR]");
    const char *cgroup = NULL, *pin = NULL;
    int uid = -1, gid = -1;
    unsigned hold_ms = 3000;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--cgroup") == 0)
            cgroup = argv[i + 1];
        else if (strcmp(argv[i], "--pin") == 0)
            pin = argv[i + 1];
        else if (strcmp(argv[i], "--uid") == 0)
            uid = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--gid") == 0)
            gid = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--hold-ms") == 0)
            hold_ms = (unsigned)strtoul(argv[i + 1], NULL, 10);
        else
            return fail("unknown option %s", argv[i]);
    }
    if (pin == NULL || pin[0] != '/')
        return fail("--pin needs an absolute folder");
    libbpf_set_print(quiet_print);
    if (strcmp(argv[1], "attach") == 0) {
        if (cgroup == NULL)
            return fail("attach needs --cgroup");
        return attach(cgroup, pin, uid, gid < 0 ? uid : gid, hold_ms);
    }
    if (strcmp(argv[1], "detach") == 0)
        return detach(pin);
    if (strcmp(argv[1], "events") == 0)
        return events(pin);
    return fail("unknown command %s", argv[1]);
}
