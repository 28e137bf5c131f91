/* The key-value store and memcached's ASCII protocol (one UDP datagram at a time). */
#ifndef TESTGUEST_KV_H
#define TESTGUEST_KV_H
#include "lib.h"

#define kKvKeyMax 250
#define kKvValueMax 1400 /* what fits in one memcached UDP request datagram */
#define kKvSlots 4096

struct kv_item {
  u8 used;
  u8 klen;
  u16 vlen;
  u32 flags;
  u64 cas;
  char key[kKvKeyMax];
  char val[kKvValueMax];
};

void kv_init(void);
/* Executes every command in req and appends the replies to out. */
void kv_process(const char *req, size_t n, struct buf *out);

/* Store primitives, also used by the log replay. */
const struct kv_item *kv_get(const char *key, size_t klen);
int kv_put(const struct kv_item *item); /* 0 on success, -1 when full */
int kv_delete(const char *key, size_t klen);
void kv_flush(void);
u64 kv_count(void);
/* Slot i (0..kKvSlots-1) if it holds an item, else NULL: for the log compaction. */
const struct kv_item *kv_slot(u32 i);

#endif
