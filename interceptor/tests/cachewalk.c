/* cachewalk: swap cache files under a running process and bind after each swap.
 *
 * Usage: cachewalk CACHE PORT FILE...
 * For each FILE: rename(FILE, CACHE), then bind a fresh TCP socket to 127.0.0.1:PORT (which the
 * test keeps busy) and write `<file index> <bound port> <errno name>` to stderr, where the bound
 * port is 0 when bind() failed. Nothing is written to stdout. One process sees every file, so
 * this exercises the interceptor's reload (stat change), refusal and last-good-table logic.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: cachewalk CACHE PORT FILE...\n");
        return 2;
    }
    const char *cache = argv[1];
    int port = atoi(argv[2]);
    for (int i = 3; i < argc; i++) {
        if (rename(argv[i], cache) != 0) {
            fprintf(stderr, "cachewalk: rename %s: %s\n", argv[i], strerror(errno));
            return 2;
        }
        int s = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a;
        memset(&a, 0, sizeof a);
        a.sin_family = AF_INET;
        a.sin_port = htons((uint16_t)port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        errno = 0;
        int rc = bind(s, (struct sockaddr *)&a, sizeof a);
        int err = errno;
        int bound = 0;
        if (rc == 0) {
            socklen_t len = sizeof a;
            getsockname(s, (struct sockaddr *)&a, &len);
            bound = ntohs(a.sin_port);
        }
        fprintf(stderr, "walk %d %d %s\n", i - 3, bound, rc == 0 ? "-" : strerrorname_np(err));
        close(s);
    }
    return 0;
}
