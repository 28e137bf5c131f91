/* Freestanding basics of the test guest: memory helpers, text formatting, UART. */
#include "lib.h"

#define UART 0x3F8

void *memcpy(void *d, const void *s, size_t n) {
  void *ret = d;
  __asm__ volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
  return ret;
}

void *memmove(void *d, const void *s, size_t n) {
  u8 *dp = d;
  const u8 *sp = s;
  if (dp <= sp || dp >= sp + n) return memcpy(d, s, n);
  while (n--) dp[n] = sp[n];
  return d;
}

void *memset(void *d, int c, size_t n) {
  void *ret = d;
  __asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
  return ret;
}

int memcmp(const void *a, const void *b, size_t n) {
  const u8 *x = a, *y = b;
  for (size_t i = 0; i < n; i++)
    if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
  return 0;
}

size_t strlen(const char *s) {
  size_t n = 0;
  while (s[n]) n++;
  return n;
}

void buf_init(struct buf *b, char *mem, size_t cap) {
  b->p = mem;
  b->len = 0;
  b->cap = cap;
  b->overflow = 0;
}

void buf_put(struct buf *b, const void *s, size_t n) {
  if (n > b->cap - b->len) {
    b->overflow = 1;
    return;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
}

void buf_str(struct buf *b, const char *s) { buf_put(b, s, strlen(s)); }

void buf_u64(struct buf *b, u64 v) {
  char t[20];
  int i = 20;
  do {
    t[--i] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  buf_put(b, t + i, (size_t)(20 - i));
}

void buf_hex(struct buf *b, u64 v, int digits) {
  char t[16];
  for (int i = digits - 1; i >= 0; i--) {
    t[i] = "0123456789abcdef"[v & 15];
    v >>= 4;
  }
  buf_put(b, t, (size_t)digits);
}

void buf_ip(struct buf *b, u32 ip) {
  for (int i = 3; i >= 0; i--) {
    buf_u64(b, (ip >> (8 * i)) & 0xff);
    if (i) buf_put(b, ".", 1);
  }
}

void buf_mac(struct buf *b, const u8 mac[6]) {
  for (int i = 0; i < 6; i++) {
    buf_hex(b, mac[i], 2);
    if (i < 5) buf_put(b, ":", 1);
  }
}

void uart_init(void) {
  outb(UART + 1, 0x00); /* no interrupts: the guest polls */
  outb(UART + 3, 0x80); /* DLAB */
  outb(UART + 0, 0x01); /* 115200 baud */
  outb(UART + 1, 0x00);
  outb(UART + 3, 0x03); /* 8N1 */
  outb(UART + 2, 0xC7); /* FIFO on */
  outb(UART + 4, 0x03); /* DTR, RTS */
}

/* One string I/O instruction per write: KVM hands the whole run to the VMM in a
 * single exit, where a byte loop would cost one exit per character. Virtual
 * UARTs accept bytes without a transmit-holding wait. */
void uart_write(const char *s, size_t n) {
  __asm__ volatile("rep outsb" : "+S"(s), "+c"(n) : "d"((u16)UART) : "memory");
}

void console_line(struct buf *b) {
  buf_put(b, "\n", 1);
  if (b->overflow && b->cap) b->p[b->cap - 1] = '\n';
  uart_write(b->p, b->len);
}

void console_puts(const char *s) { uart_write(s, strlen(s)); }

void panic(const char *what) {
  console_puts("twinstep-testguest: panic: ");
  console_puts(what);
  console_puts("\n");
  for (;;) cpu_relax();
}

int parse_u64(const char *s, size_t n, u64 *out) {
  size_t i = 0;
  u64 v = 0;
  while (i < n && s[i] >= '0' && s[i] <= '9') {
    u64 d = (u64)(s[i] - '0');
    if (v > (~0ULL - d) / 10) return 0;
    v = v * 10 + d;
    i++;
  }
  if (i == 0) return 0;
  *out = v;
  return (int)i;
}

int parse_ip(const char *s, size_t n, u32 *out) {
  u32 ip = 0;
  size_t pos = 0;
  for (int part = 0; part < 4; part++) {
    u64 v;
    int used = parse_u64(s + pos, n - pos, &v);
    if (!used || v > 255) return 0;
    ip = (ip << 8) | (u32)v;
    pos += (size_t)used;
    if (part < 3) {
      if (pos >= n || s[pos] != '.') return 0;
      pos++;
    }
  }
  *out = ip;
  return (int)pos;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int parse_mac(const char *s, size_t n, u8 out[6]) {
  if (n < 17) return 0;
  for (int i = 0; i < 6; i++) {
    int hi = hexval(s[3 * i]), lo = hexval(s[3 * i + 1]);
    if (hi < 0 || lo < 0) return 0;
    if (i < 5 && s[3 * i + 2] != ':') return 0;
    out[i] = (u8)(hi * 16 + lo);
  }
  return 17;
}

u32 crc32(u32 crc, const void *data, size_t n) {
  const u8 *p = data;
  crc = ~crc;
  while (n--) {
    crc ^= *p++;
    for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1)));
  }
  return ~crc;
}
