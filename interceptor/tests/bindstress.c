/* bindstress: threads, fork and exec around the interceptor.
 *
 *   bindstress threads N IP PORT   N threads bind IP:PORT (busy) at once, then listen; prints
 *                                  each thread's bound port (0 if its bind failed), one a line.
 *   bindstress fork N PORT LO HI   4 threads bind 127.0.0.1:PORT (busy) in a loop while the main
 *                                  thread forks N children that each bind it once; prints
 *                                  `children N moved M` (moved = a port in [LO, HI]).
 *   bindstress exec PORT           binds 127.0.0.1:PORT (busy), then execs itself as
 *                                  `bindstress child PORT`, which binds it again; each prints
 *                                  `<role> <pid> <bound port>`.
 *   bindstress readonly PORT       binds 127.0.0.1:PORT (busy) from an address kept in a
 *                                  read-only page: if the interceptor wrote the caller's
 *                                  buffer it would crash; prints `<bound port>`.
 *   bindstress loop N PORT [STOP]  binds 127.0.0.1:PORT N times and closes (then on until the
 *                                  file STOP exists, if given); writes nothing to stdout, and
 *                                  on stderr `loop moved M kept K` at the end.
 *                                  Exit 3 if a kept bind did not fail with EADDRINUSE.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static int bind_port(const char *ip, int port, int *bound)
{
    int v6 = strchr(ip, ':') != NULL;
    int s = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_storage ss;
    socklen_t len;
    memset(&ss, 0, sizeof ss);
    if (v6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        inet_pton(AF_INET6, ip, &a->sin6_addr);
        len = sizeof *a;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        inet_pton(AF_INET, ip, &a->sin_addr);
        len = sizeof *a;
    }
    *bound = 0;
    if (bind(s, (struct sockaddr *)&ss, len) != 0) {
        int err = errno;
        close(s);
        errno = err;
        return -1;
    }
    struct sockaddr_storage got;
    socklen_t got_len = sizeof got;
    getsockname(s, (struct sockaddr *)&got, &got_len);
    *bound = ntohs(v6 ? ((struct sockaddr_in6 *)&got)->sin6_port : ((struct sockaddr_in *)&got)->sin_port);
    return s;
}

/* ---- threads */
static pthread_barrier_t barrier;
static const char *t_ip;
static int t_port;

static void *thread_main(void *arg)
{
    int *out = arg;
    pthread_barrier_wait(&barrier);
    int s = bind_port(t_ip, t_port, out);
    if (s >= 0 && listen(s, 8) != 0)
        *out = -1; /* bound but cannot listen: shared a port */
    return NULL; /* the socket stays open so every port is held until exit */
}

static int run_threads(int n, const char *ip, int port)
{
    pthread_t tids[256];
    int ports[256];
    if (n > 256)
        n = 256;
    t_ip = ip;
    t_port = port;
    pthread_barrier_init(&barrier, NULL, (unsigned)n);
    for (int i = 0; i < n; i++)
        pthread_create(&tids[i], NULL, thread_main, &ports[i]);
    for (int i = 0; i < n; i++)
        pthread_join(tids[i], NULL);
    for (int i = 0; i < n; i++)
        printf("%d\n", ports[i]);
    return 0;
}

/* ---- fork */
static atomic_int stop;

static void *spinner(void *arg)
{
    int port = *(int *)arg, bound;
    while (!atomic_load(&stop)) {
        int s = bind_port("127.0.0.1", port, &bound);
        if (s >= 0)
            close(s);
    }
    return NULL;
}

static int run_fork(int n, int port, int lo, int hi)
{
    pthread_t tids[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&tids[i], NULL, spinner, &port);
    int moved = 0;
    for (int i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            alarm(10); /* a child stuck on a lock inherited from the parent dies loudly */
            int bound;
            int s = bind_port("127.0.0.1", port, &bound);
            _exit(s >= 0 && bound >= lo && bound <= hi ? 0 : 1);
        }
        int status = 0;
        waitpid(pid, &status, 0);
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
            moved++;
        else if (WIFSIGNALED(status))
            fprintf(stderr, "bindstress: child killed by signal %d\n", WTERMSIG(status));
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < 4; i++)
        pthread_join(tids[i], NULL);
    printf("children %d moved %d\n", n, moved);
    return 0;
}

/* ---- exec */
static int run_exec(const char *self, const char *role, int port)
{
    int bound;
    int s = bind_port("127.0.0.1", port, &bound);
    printf("%s %d %d\n", role, (int)getpid(), s >= 0 ? bound : 0);
    fflush(stdout);
    if (strcmp(role, "parent") == 0) {
        char port_text[16];
        snprintf(port_text, sizeof port_text, "%d", port);
        pid_t pid = fork();
        if (pid == 0) {
            execl(self, self, "child", port_text, (char *)NULL);
            _exit(127);
        }
        int status = 0;
        waitpid(pid, &status, 0);
        return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
    }
    return 0;
}

/* ---- readonly */
static int run_readonly(int port)
{
    long page = sysconf(_SC_PAGESIZE);
    struct sockaddr_in *a = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (a == MAP_FAILED)
        return 2;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    mprotect(a, (size_t)page, PROT_READ);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (bind(s, (const struct sockaddr *)a, sizeof *a) != 0) {
        printf("errno %d\n", errno);
        return 0;
    }
    struct sockaddr_in got;
    socklen_t len = sizeof got;
    getsockname(s, (struct sockaddr *)&got, &len);
    printf("%d %d\n", ntohs(got.sin_port), ntohs(a->sin_port));
    return 0;
}

/* ---- loop */
static int run_loop(int n, int port, const char *stop_file)
{
    int moved = 0, kept = 0, bound;
    for (int i = 0; i < n || (stop_file != NULL && access(stop_file, F_OK) != 0); i++) {
        int s = bind_port("127.0.0.1", port, &bound);
        if (s >= 0) {
            moved++;
            close(s);
        } else if (errno == EADDRINUSE) {
            kept++;
        } else {
            fprintf(stderr, "loop: unexpected errno %d\n", errno);
            return 3;
        }
    }
    fprintf(stderr, "loop moved %d kept %d\n", moved, kept);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 5 && strcmp(argv[1], "threads") == 0)
        return run_threads(atoi(argv[2]), argv[3], atoi(argv[4]));
    if (argc >= 6 && strcmp(argv[1], "fork") == 0)
        return run_fork(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]), atoi(argv[5]));
    if (argc >= 3 && strcmp(argv[1], "exec") == 0)
        return run_exec(argv[0], "parent", atoi(argv[2]));
    if (argc >= 3 && strcmp(argv[1], "child") == 0)
        return run_exec(argv[0], "child", atoi(argv[2]));
    if (argc >= 3 && strcmp(argv[1], "readonly") == 0)
        return run_readonly(atoi(argv[2]));
    if (argc >= 4 && strcmp(argv[1], "loop") == 0)
        return run_loop(atoi(argv[2]), atoi(argv[3]), argc >= 5 ? argv[4] : NULL);
    fprintf(stderr, "usage: bindstress threads|fork|exec|loop ...\n");
    return 2;
}
