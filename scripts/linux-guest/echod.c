/* UDP and TCP echo server for the Linux guest's initramfs (Debian's busybox nc
 * has neither UDP nor a persistent echo): echod [port], default 7. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static int open_socket(int type, int port) {
  int fd = socket(AF_INET, type, 0);
  int one = 1;
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons((unsigned short)port);
  a.sin_addr.s_addr = htonl(INADDR_ANY);
  if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || (type == SOCK_STREAM && listen(fd, 64) != 0)) {
    perror("echod: socket");
    exit(1);
  }
  return fd;
}

static void serve_tcp(int c) {
  char buf[65536];
  ssize_t n;
  while ((n = read(c, buf, sizeof buf)) > 0)
    for (ssize_t off = 0; off < n;) {
      ssize_t w = write(c, buf + off, (size_t)(n - off));
      if (w <= 0) return;
      off += w;
    }
}

int main(int argc, char **argv) {
  int port = argc > 1 ? atoi(argv[1]) : 7;
  signal(SIGCHLD, SIG_IGN); /* no zombies from the per-connection children */
  struct pollfd p[2] = {{open_socket(SOCK_DGRAM, port), POLLIN, 0}, {open_socket(SOCK_STREAM, port), POLLIN, 0}};
  char buf[65536];
  for (;;) {
    if (poll(p, 2, -1) < 0) continue;
    if (p[0].revents & POLLIN) {
      struct sockaddr_in from;
      socklen_t len = sizeof from;
      ssize_t n = recvfrom(p[0].fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &len);
      if (n >= 0) sendto(p[0].fd, buf, (size_t)n, 0, (struct sockaddr *)&from, len);
    }
    if (p[1].revents & POLLIN) {
      int c = accept(p[1].fd, NULL, NULL);
      if (c < 0) continue;
      if (fork() == 0) {
        close(p[0].fd);
        close(p[1].fd);
        serve_tcp(c);
        _exit(0);
      }
      close(c);
    }
  }
}
