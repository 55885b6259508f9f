/* The compiled cache reader: pure functions over a byte buffer, no I/O, no allocation.
 *
 * The layout is fixed by docs/CACHE_FORMAT.md. styxy_cache_parse() accepts exactly the files
 * that styxy.store.cache.decode() accepts; the fuzz harness and a differential test hold both to it.
 * Everything here is safe on arbitrary input: the interceptor calls it inside host programs.
 */
#ifndef STYXY_CACHE_READER_H
#define STYXY_CACHE_READER_H

#include <stddef.h>
#include <stdint.h>

#define STYXY_MAX_FILE_SIZE (4u * 1024u * 1024u)
#define STYXY_HEADER_SIZE 64u
#define STYXY_RANGE_SIZE 72u
#define STYXY_LEASE_SIZE 16u
#define STYXY_DETECT_SIZE 256u
#define STYXY_NAME_FIELD 64u
#define STYXY_GLOB_FIELD 192u
#define STYXY_NO_RANGE 0xFFFFu
#define STYXY_FLAG_SINGLE 1u

enum styxy_parse_status {
    STYXY_OK = 0,
    STYXY_E_SHORT,   /* shorter than a header */
    STYXY_E_BIG,     /* larger than 4 MiB */
    STYXY_E_MAGIC,   /* not a styxy cache */
    STYXY_E_HCRC,    /* header CRC mismatch */
    STYXY_E_VERSION, /* unknown major version */
    STYXY_E_SIZES,   /* an entry size below the format's minimum */
    STYXY_E_LENGTH,  /* file size differs from what the header declares */
    STYXY_E_PCRC,    /* payload CRC mismatch */
    STYXY_E_RANGE,   /* a range with a bad name or span */
    STYXY_E_LEASE,   /* a lease with port 0 or a range index out of bounds */
    STYXY_E_DETECT,  /* a detect entry with a bad type or glob */
};

/* A checked cache: offsets into the caller's buffer, which must outlive the view. */
struct styxy_view {
    const unsigned char *base;
    size_t size;
    uint64_t generation;
    uint32_t range_count, lease_count, detect_count;
    uint32_t range_size, lease_size, detect_size;
    size_t ranges_off, leases_off, detect_off;
};

struct styxy_range {
    const char *name; /* NUL-terminated, inside the buffer */
    uint16_t start, end;
    int single;
};

struct styxy_lease {
    uint16_t port, range_index;
    uint32_t pid;
};

struct styxy_detect {
    const char *service_type; /* NUL-terminated, inside the buffer */
    const char *glob;         /* NUL-terminated, inside the buffer */
};

uint32_t styxy_crc32(const unsigned char *data, size_t len);

/* Check every size, checksum and entry of buf[0..len); fill *out only when STYXY_OK. */
int styxy_cache_parse(const unsigned char *buf, size_t len, struct styxy_view *out);
const char *styxy_parse_error(int status);

/* Accessors; the index must be below the matching count of a view that parsed STYXY_OK. */
void styxy_range_at(const struct styxy_view *v, uint32_t i, struct styxy_range *out);
void styxy_lease_at(const struct styxy_view *v, uint32_t i, struct styxy_lease *out);
void styxy_detect_at(const struct styxy_view *v, uint32_t i, struct styxy_detect *out);

/* Index of the first range (document order) named `name` / holding `port`, or -1. */
int styxy_range_by_name(const struct styxy_view *v, const char *name);
int styxy_range_by_port(const struct styxy_view *v, unsigned port);

/* Index of the range of the first detect glob matching `cmdline` whose type has a range, or -1. */
int styxy_range_by_detect(const struct styxy_view *v, const char *cmdline);

/* Python's fnmatch.fnmatchcase for *, ?, [seq], [!seq] and a-z spans; 1 on a match.
 * A bit-parallel automaton: time linear in the text, whatever the pattern. A pattern of more
 * than STYXY_GLOB_ELEMENTS elements (longer than `styxy validate` allows) matches nothing. */
int styxy_glob_match(const char *pattern, const char *text);

/* The bounds of the detect work per bind (SPEC section 18; styxy/document/schema.py). */
enum {
    STYXY_GLOB_ELEMENTS = 127, /* states 0..127 fit the matcher's 128 bits */
    STYXY_MAX_DETECT = 256,    /* detect globs tried per bind at most */
};

/* 1 when `name` is 1..63 printable ASCII characters without blanks (a cacheable name). */
int styxy_name_ok(const char *name);

#endif
