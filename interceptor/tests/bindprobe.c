/* bindprobe: the calls the interceptor must pass straight to the kernel.
 *
 * Usage: bindprobe DIR UDP_PORT LOW_PORT TCP_PORT
 * Prints one line per case, `name rc errno`, so a run with LD_PRELOAD and a run without it can
 * be compared byte for byte. DIR holds the AF_UNIX socket files; UDP_PORT, LOW_PORT (< 1024)
 * and TCP_PORT are made busy here first, so each busy case really gets EADDRINUSE from the
 * kernel. TCP_PORT lies in a range of the test cache: only calls the interceptor must not act on
 * use it (AF_UNSPEC, UDP, an already bound socket).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static void report(const char *name, int rc, int err)
{
    printf("%s %d %s\n", name, rc, rc == 0 ? "-" : strerrorname_np(err));
}

#define CASE(name, call)                                                                           \
    do {                                                                                           \
        errno = 0;                                                                                 \
        int rc_ = (call);                                                                          \
        report(name, rc_, errno);                                                                  \
    } while (0)

static struct sockaddr_in in4(const char *ip, int port)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, ip, &a.sin_addr);
    return a;
}

static struct sockaddr_in6 in6(const char *ip, int port)
{
    struct sockaddr_in6 a;
    memset(&a, 0, sizeof a);
    a.sin6_family = AF_INET6;
    a.sin6_port = htons((uint16_t)port);
    inet_pton(AF_INET6, ip, &a.sin6_addr);
    return a;
}

static int holder(int type, int port)
{
    int s = socket(AF_INET, type, 0);
    struct sockaddr_in a = in4("127.0.0.1", port);
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) != 0) {
        fprintf(stderr, "bindprobe: cannot hold port %d: %s\n", port, strerror(errno));
        exit(2);
    }
    if (type == SOCK_STREAM)
        listen(s, 1);
    return s;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: bindprobe DIR UDP_PORT LOW_PORT TCP_PORT\n");
        return 2;
    }
    const char *dir = argv[1];
    int udp_port = atoi(argv[2]), low_port = atoi(argv[3]), tcp_port = atoi(argv[4]);
    holder(SOCK_DGRAM, udp_port);
    holder(SOCK_STREAM, low_port);
    holder(SOCK_STREAM, tcp_port);

    int t4 = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a4 = in4("127.0.0.1", tcp_port);
    struct sockaddr_in6 a6 = in6("::1", tcp_port);
    CASE("null_addr_len0", bind(t4, NULL, 0));
    CASE("null_addr_len16", bind(t4, NULL, sizeof a4));
    CASE("bad_pointer", bind(t4, (const struct sockaddr *)(uintptr_t)8, sizeof a4));
    CASE("short_inet_len4", bind(t4, (struct sockaddr *)&a4, 4));
    CASE("short_inet_len1", bind(t4, (struct sockaddr *)&a4, 1));
    CASE("short_inet6_len20", bind(socket(AF_INET6, SOCK_STREAM, 0), (struct sockaddr *)&a6, 20));
    CASE("huge_len", bind(t4, (struct sockaddr *)&a4, 4096));
    CASE("negative_len", bind(t4, (struct sockaddr *)&a4, (socklen_t)-1));

    struct sockaddr_in unspec = in4("0.0.0.0", tcp_port);
    unspec.sin_family = AF_UNSPEC; /* Linux maps AF_UNSPEC + INADDR_ANY to AF_INET: EADDRINUSE */
    CASE("af_unspec_any_busy", bind(socket(AF_INET, SOCK_STREAM, 0), (struct sockaddr *)&unspec, sizeof unspec));
    struct sockaddr_in unspec_lo = in4("127.0.0.1", tcp_port);
    unspec_lo.sin_family = AF_UNSPEC;
    CASE("af_unspec_loopback", bind(socket(AF_INET, SOCK_STREAM, 0), (struct sockaddr *)&unspec_lo, sizeof unspec_lo));
    CASE("inet6_addr_on_inet_socket", bind(socket(AF_INET, SOCK_STREAM, 0), (struct sockaddr *)&a6, sizeof a6));
    CASE("inet_addr_on_inet6_socket", bind(socket(AF_INET6, SOCK_STREAM, 0), (struct sockaddr *)&a4, sizeof a4));
    struct sockaddr_in weird = a4;
    weird.sin_family = 12345;
    CASE("unknown_family", bind(socket(AF_INET, SOCK_STREAM, 0), (struct sockaddr *)&weird, sizeof weird));

    CASE("bad_fd_minus1", bind(-1, (struct sockaddr *)&a4, sizeof a4));
    CASE("bad_fd_large", bind(987654, (struct sockaddr *)&a4, sizeof a4));
    int devnull = open("/dev/null", O_RDONLY);
    CASE("not_a_socket", bind(devnull, (struct sockaddr *)&a4, sizeof a4));
    int pipefd[2];
    if (pipe(pipefd) == 0)
        CASE("pipe", bind(pipefd[0], (struct sockaddr *)&a4, sizeof a4));

    int once = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in any0 = in4("127.0.0.1", 0);
    CASE("port0_first", bind(once, (struct sockaddr *)&any0, sizeof any0));
    CASE("already_bound_busy_port", bind(once, (struct sockaddr *)&a4, sizeof a4));
    CASE("already_bound_port0", bind(once, (struct sockaddr *)&any0, sizeof any0));
    struct sockaddr_in6 any6 = in6("::1", 0);
    CASE("port0_inet6", bind(socket(AF_INET6, SOCK_STREAM, 0), (struct sockaddr *)&any6, sizeof any6));

    struct sockaddr_in u4 = in4("127.0.0.1", udp_port);
    CASE("udp_busy", bind(socket(AF_INET, SOCK_DGRAM, 0), (struct sockaddr *)&u4, sizeof u4));
    struct sockaddr_in6 u6 = in6("::ffff:127.0.0.1", udp_port);
    CASE("udp_busy_v4mapped", bind(socket(AF_INET6, SOCK_DGRAM, 0), (struct sockaddr *)&u6, sizeof u6));
    struct sockaddr_in l4 = in4("127.0.0.1", low_port);
    CASE("low_port_busy", bind(socket(AF_INET, SOCK_STREAM, 0), (struct sockaddr *)&l4, sizeof l4));
    struct sockaddr_in6 l6 = in6("::ffff:127.0.0.1", low_port);
    CASE("low_port_busy_v4mapped", bind(socket(AF_INET6, SOCK_STREAM, 0), (struct sockaddr *)&l6, sizeof l6));
    struct sockaddr_in other = in4("192.0.2.1", tcp_port);
    CASE("not_local_address", bind(socket(AF_INET, SOCK_STREAM, 0), (struct sockaddr *)&other, sizeof other));

    struct sockaddr_un un;
    memset(&un, 0, sizeof un);
    un.sun_family = AF_UNIX;
    snprintf(un.sun_path, sizeof un.sun_path, "%s/probe.sock", dir);
    unlink(un.sun_path);
    CASE("unix_first", bind(socket(AF_UNIX, SOCK_STREAM, 0), (struct sockaddr *)&un, sizeof un));
    CASE("unix_busy", bind(socket(AF_UNIX, SOCK_STREAM, 0), (struct sockaddr *)&un, sizeof un));
    CASE("unix_short", bind(socket(AF_UNIX, SOCK_STREAM, 0), (struct sockaddr *)&un, 1));
    unlink(un.sun_path);
    return 0;
}
