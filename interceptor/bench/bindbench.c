/* bindbench: the time one bind() call takes, measured around the call alone.
 *
 * Usage: bindbench ITERATIONS BASE_PORT BUSY_COUNT
 * Holds BUSY_COUNT listening ports BASE_PORT.. itself, then times three loops and prints
 * `<case> <median ns> <mean ns>` for each:
 *   free    bind() to a free port (BASE_PORT + BUSY_COUNT), the everyday case;
 *   busy    bind() to one of the held ports in turn: EADDRINUSE without the interceptor, a full
 *           move with it (cache check, range scan, stderr line, journal line). BUSY_COUNT above
 *           the library's 32-slot map makes every move a new one;
 *   repeat  bind() to the same held port each time: with the interceptor, the per-process map
 *           hands back the previous replacement;
 *   zero    bind() to port 0, which no interceptor looks at (the kernel picks the port).
 * Run it with and without LD_PRELOAD (bench/bench_interceptor.py does both).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static struct sockaddr_in loopback(int port)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

static int cmp(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

/* Time bind() to port_of(i) over n iterations; prints the median and mean. */
static void run_case(const char *name, int n, int base, int modulo, long long *samples)
{
    long long total = 0;
    for (int i = 0; i < n; i++) {
        int s = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = loopback(base + (modulo > 0 ? i % modulo : 0));
        long long t0 = now_ns();
        bind(s, (struct sockaddr *)&a, sizeof a);
        long long t1 = now_ns();
        close(s);
        samples[i] = t1 - t0;
        total += samples[i];
    }
    qsort(samples, (size_t)n, sizeof *samples, cmp);
    printf("%s %lld %lld\n", name, samples[n / 2], total / n);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: bindbench ITERATIONS BASE_PORT BUSY_COUNT\n");
        return 2;
    }
    int n = atoi(argv[1]), base = atoi(argv[2]), busy = atoi(argv[3]);
    long long *samples = calloc((size_t)n, sizeof *samples);
    for (int i = 0; i < busy; i++) {
        int s = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = loopback(base + i);
        if (bind(s, (struct sockaddr *)&a, sizeof a) != 0 || listen(s, 1) != 0) {
            fprintf(stderr, "bindbench: cannot hold port %d\n", base + i);
            return 1;
        }
    }
    run_case("free", n, base + busy, 0, samples);
    run_case("busy", n, base, busy, samples);
    run_case("repeat", n, base, 1, samples);
    run_case("zero", n, 0, 0, samples);
    free(samples);
    return 0;
}
