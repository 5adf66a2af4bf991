/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * varlink-call SOCKET MESSAGE: send MESSAGE (raw text, as any client could
 * write it) with its NUL terminator to the varlink socket, print the first
 * reply without its NUL.  For checks that feed iommud malformed input
 * that iommuctl would never send.  Exit 0 when a reply came, 1 otherwise.
 */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        static char buf[1 << 20];
        size_t len = 0;
        int fd;

        if (argc != 3 || strlen(argv[1]) >= sizeof(sa.sun_path)) {
                fprintf(stderr, "usage: varlink-call SOCKET MESSAGE\n");
                return 2;
        }
        strcpy(sa.sun_path, argv[1]);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                perror("connect");
                return 1;
        }
        if (write(fd, argv[2], strlen(argv[2]) + 1) != (ssize_t) strlen(argv[2]) + 1) {
                perror("write");
                return 1;
        }
        while (len < sizeof(buf)) {
                ssize_t n = read(fd, buf + len, sizeof(buf) - len);
                if (n <= 0)
                        break;
                len += (size_t) n;
                if (memchr(buf, 0, len))
                        break;
        }
        if (!memchr(buf, 0, len)) {
                fprintf(stderr, "no complete reply\n");
                return 1;
        }
        fputs(buf, stdout);
        putchar('\n');
        return 0;
}
