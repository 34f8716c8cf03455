/* udp_echo_raw.c — the raw libuv UDP echo server of the ping-pong benchmark:
 * the floor asyncuv is held to. One uv_udp_t on 127.0.0.1:PORT, reading into
 * one 64 KiB buffer; each datagram goes back with uv_udp_try_send, and only
 * if the kernel's buffer is full is it copied into a uv_udp_send request.
 * Prints "listening udp PORT"; stops on SIGTERM (a uv_signal_t).
 *
 *   udp_echo_raw PORT   (0: the kernel picks one)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

static uv_udp_t server;
static uv_signal_t term;
static char buffer[65536];

struct send_req {
  uv_udp_send_t req;
  char data[];
};

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)h;
  (void)suggested;
  *buf = uv_buf_init(buffer, sizeof buffer);
}

static void on_sent(uv_udp_send_t *req, int status) {
  (void)status;
  free(req);
}

static void on_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr, unsigned flags) {
  (void)flags;
  if (nread < 0 || !addr) return;
  uv_buf_t out = uv_buf_init(buf->base, (unsigned)nread);
  int rc = uv_udp_try_send(h, &out, 1, addr);
  if (rc != UV_EAGAIN) return;
  struct send_req *r = malloc(sizeof *r + (size_t)nread);
  memcpy(r->data, buf->base, (size_t)nread);
  out = uv_buf_init(r->data, (unsigned)nread);
  if (uv_udp_send(&r->req, h, &out, 1, addr, on_sent) != 0) free(r);
}

static void on_term(uv_signal_t *s, int sig) {
  (void)sig;
  uv_close((uv_handle_t *)&server, NULL);
  uv_close((uv_handle_t *)s, NULL);
}

int main(int argc, char **argv) {
  struct sockaddr_in addr;
  uv_ip4_addr("127.0.0.1", argc > 1 ? atoi(argv[1]) : 0, &addr);
  uv_loop_t *loop = uv_default_loop();
  if (uv_udp_init(loop, &server) || uv_udp_bind(&server, (struct sockaddr *)&addr, 0)) return 1;
  struct sockaddr_storage bound;
  int len = sizeof bound;
  uv_udp_getsockname(&server, (struct sockaddr *)&bound, &len);
  uv_udp_recv_start(&server, on_alloc, on_recv);
  uv_signal_init(loop, &term);
  uv_signal_start(&term, on_term, SIGTERM);
  printf("listening udp %d\n", ntohs(((struct sockaddr_in *)&bound)->sin_port));
  fflush(stdout);
  uv_run(loop, UV_RUN_DEFAULT);
  uv_loop_close(loop);
  return 0;
}
