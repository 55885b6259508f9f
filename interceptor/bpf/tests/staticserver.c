/* A server that makes its own bind() system call: built with `gcc -static` by the tests, so no
 * preload library can reach it. Binds HOST:PORT (SO_REUSEPORT with a third argument `reuseport`),
 * listens, prints `listening PORT` with the port getsockname() reports, then waits for stdin
 * to close. On failure it prints `error ERRNO_NAME` and exits 1. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: staticserver HOST PORT [reuseport]\n");
        return 2;
    }
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)atoi(argv[2]));
    if (inet_pton(AF_INET, argv[1], &addr.sin_addr) != 1)
        return 2;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (argc > 3 && strcmp(argv[3], "reuseport") == 0)
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on);
    /* The raw system call, as Go does: no libc bind() for a preload library to wrap. */
    if (syscall(SYS_bind, fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, 16) != 0) {
        printf("error %s\n", errno == EADDRINUSE ? "EADDRINUSE" : strerror(errno));
        return 1;
    }
    socklen_t len = sizeof addr;
    getsockname(fd, (struct sockaddr *)&addr, &len);
    printf("listening %d\n", ntohs(addr.sin_port));
    fflush(stdout);
    char buf[64];
    while (read(0, buf, sizeof buf) > 0)
        ;
    return 0;
}
