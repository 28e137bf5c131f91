/* Freestanding basics of the test guest: types, port I/O, memory helpers, console. */
#ifndef TESTGUEST_LIB_H
#define TESTGUEST_LIB_H

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef long long i64;
typedef unsigned long size_t;

#define NULL ((void *)0)
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Port I/O: legal in ring 3 because ring 0 sets IOPL 3 before the iretq. */
static inline void outb(u16 port, u8 v) { __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port)); }
static inline void outl(u16 port, u32 v) { __asm__ volatile("outl %0, %1" ::"a"(v), "Nd"(port)); }
static inline u8 inb(u16 port) { u8 v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline u32 inl(u16 port) { u32 v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }

/* MMIO: the identity map makes a physical address a pointer; volatile keeps
 * every device register access a real access. */
static inline u8 mmio_read8(u64 a) { return *(volatile u8 *)a; }
static inline u16 mmio_read16(u64 a) { return *(volatile u16 *)a; }
static inline u32 mmio_read32(u64 a) { return *(volatile u32 *)a; }
static inline void mmio_write8(u64 a, u8 v) { *(volatile u8 *)a = v; }
static inline void mmio_write16(u64 a, u16 v) { *(volatile u16 *)a = v; }
static inline void mmio_write32(u64 a, u32 v) { *(volatile u32 *)a = v; }
static inline void mmio_write64(u64 a, u64 v) {
  mmio_write32(a, (u32)v);
  mmio_write32(a + 4, (u32)(v >> 32));
}

#define barrier() __asm__ volatile("" ::: "memory")
#define mb() __asm__ volatile("mfence" ::: "memory")
static inline void cpu_relax(void) { __asm__ volatile("pause" ::: "memory"); }

static inline u16 bswap16(u16 v) { return (u16)((v << 8) | (v >> 8)); }
static inline u32 bswap32(u32 v) { return __builtin_bswap32(v); }
#define htons bswap16
#define ntohs bswap16
#define htonl bswap32
#define ntohl bswap32

void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
void *memset(void *d, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

/* A growable text buffer over caller memory; writes past the end are dropped
 * and counted in overflow. */
struct buf {
  char *p;
  size_t len, cap;
  int overflow;
};
void buf_init(struct buf *b, char *mem, size_t cap);
void buf_put(struct buf *b, const void *s, size_t n);
void buf_str(struct buf *b, const char *s);
void buf_u64(struct buf *b, u64 v);
void buf_hex(struct buf *b, u64 v, int digits);
void buf_ip(struct buf *b, u32 ip_host_order);
void buf_mac(struct buf *b, const u8 mac[6]);

void uart_init(void);
void uart_write(const char *s, size_t n);
void console_line(struct buf *b); /* writes b plus "\n" as one string I/O */
void console_puts(const char *s);
void panic(const char *what); /* prints and stops the guest (never returns) */

/* Parsing helpers: return the number of characters consumed, 0 on error. */
int parse_u64(const char *s, size_t n, u64 *out);
int parse_ip(const char *s, size_t n, u32 *out);
int parse_mac(const char *s, size_t n, u8 out[6]);

u32 crc32(u32 crc, const void *data, size_t n);

#endif
