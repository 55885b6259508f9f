/* Pure parser of the compiled cache (docs/CACHE_FORMAT.md). No I/O, no allocation, no
 * globals written: it runs inside arbitrary host programs and under a fuzzer. */
#include "cache_reader.h"

#include <string.h>

static const uint32_t crc_table[256] = {
    0x00000000u, 0x77073096u, 0xee0e612cu, 0x990951bau, 0x076dc419u, 0x706af48fu,
    0xe963a535u, 0x9e6495a3u, 0x0edb8832u, 0x79dcb8a4u, 0xe0d5e91eu, 0x97d2d988u,
    0x09b64c2bu, 0x7eb17cbdu, 0xe7b82d07u, 0x90bf1d91u, 0x1db71064u, 0x6ab020f2u,
    0xf3b97148u, 0x84be41deu, 0x1adad47du, 0x6ddde4ebu, 0xf4d4b551u, 0x83d385c7u,
    0x136c9856u, 0x646ba8c0u, 0xfd62f97au, 0x8a65c9ecu, 0x14015c4fu, 0x63066cd9u,
    0xfa0f3d63u, 0x8d080df5u, 0x3b6e20c8u, 0x4c69105eu, 0xd56041e4u, 0xa2677172u,
    0x3c03e4d1u, 0x4b04d447u, 0xd20d85fdu, 0xa50ab56bu, 0x35b5a8fau, 0x42b2986cu,
    0xdbbbc9d6u, 0xacbcf940u, 0x32d86ce3u, 0x45df5c75u, 0xdcd60dcfu, 0xabd13d59u,
    0x26d930acu, 0x51de003au, 0xc8d75180u, 0xbfd06116u, 0x21b4f4b5u, 0x56b3c423u,
    0xcfba9599u, 0xb8bda50fu, 0x2802b89eu, 0x5f058808u, 0xc60cd9b2u, 0xb10be924u,
    0x2f6f7c87u, 0x58684c11u, 0xc1611dabu, 0xb6662d3du, 0x76dc4190u, 0x01db7106u,
    0x98d220bcu, 0xefd5102au, 0x71b18589u, 0x06b6b51fu, 0x9fbfe4a5u, 0xe8b8d433u,
    0x7807c9a2u, 0x0f00f934u, 0x9609a88eu, 0xe10e9818u, 0x7f6a0dbbu, 0x086d3d2du,
    0x91646c97u, 0xe6635c01u, 0x6b6b51f4u, 0x1c6c6162u, 0x856530d8u, 0xf262004eu,
    0x6c0695edu, 0x1b01a57bu, 0x8208f4c1u, 0xf50fc457u, 0x65b0d9c6u, 0x12b7e950u,
    0x8bbeb8eau, 0xfcb9887cu, 0x62dd1ddfu, 0x15da2d49u, 0x8cd37cf3u, 0xfbd44c65u,
    0x4db26158u, 0x3ab551ceu, 0xa3bc0074u, 0xd4bb30e2u, 0x4adfa541u, 0x3dd895d7u,
    0xa4d1c46du, 0xd3d6f4fbu, 0x4369e96au, 0x346ed9fcu, 0xad678846u, 0xda60b8d0u,
    0x44042d73u, 0x33031de5u, 0xaa0a4c5fu, 0xdd0d7cc9u, 0x5005713cu, 0x270241aau,
    0xbe0b1010u, 0xc90c2086u, 0x5768b525u, 0x206f85b3u, 0xb966d409u, 0xce61e49fu,
    0x5edef90eu, 0x29d9c998u, 0xb0d09822u, 0xc7d7a8b4u, 0x59b33d17u, 0x2eb40d81u,
    0xb7bd5c3bu, 0xc0ba6cadu, 0xedb88320u, 0x9abfb3b6u, 0x03b6e20cu, 0x74b1d29au,
    0xead54739u, 0x9dd277afu, 0x04db2615u, 0x73dc1683u, 0xe3630b12u, 0x94643b84u,
    0x0d6d6a3eu, 0x7a6a5aa8u, 0xe40ecf0bu, 0x9309ff9du, 0x0a00ae27u, 0x7d079eb1u,
    0xf00f9344u, 0x8708a3d2u, 0x1e01f268u, 0x6906c2feu, 0xf762575du, 0x806567cbu,
    0x196c3671u, 0x6e6b06e7u, 0xfed41b76u, 0x89d32be0u, 0x10da7a5au, 0x67dd4accu,
    0xf9b9df6fu, 0x8ebeeff9u, 0x17b7be43u, 0x60b08ed5u, 0xd6d6a3e8u, 0xa1d1937eu,
    0x38d8c2c4u, 0x4fdff252u, 0xd1bb67f1u, 0xa6bc5767u, 0x3fb506ddu, 0x48b2364bu,
    0xd80d2bdau, 0xaf0a1b4cu, 0x36034af6u, 0x41047a60u, 0xdf60efc3u, 0xa867df55u,
    0x316e8eefu, 0x4669be79u, 0xcb61b38cu, 0xbc66831au, 0x256fd2a0u, 0x5268e236u,
    0xcc0c7795u, 0xbb0b4703u, 0x220216b9u, 0x5505262fu, 0xc5ba3bbeu, 0xb2bd0b28u,
    0x2bb45a92u, 0x5cb36a04u, 0xc2d7ffa7u, 0xb5d0cf31u, 0x2cd99e8bu, 0x5bdeae1du,
    0x9b64c2b0u, 0xec63f226u, 0x756aa39cu, 0x026d930au, 0x9c0906a9u, 0xeb0e363fu,
    0x72076785u, 0x05005713u, 0x95bf4a82u, 0xe2b87a14u, 0x7bb12baeu, 0x0cb61b38u,
    0x92d28e9bu, 0xe5d5be0du, 0x7cdcefb7u, 0x0bdbdf21u, 0x86d3d2d4u, 0xf1d4e242u,
    0x68ddb3f8u, 0x1fda836eu, 0x81be16cdu, 0xf6b9265bu, 0x6fb077e1u, 0x18b74777u,
    0x88085ae6u, 0xff0f6a70u, 0x66063bcau, 0x11010b5cu, 0x8f659effu, 0xf862ae69u,
    0x616bffd3u, 0x166ccf45u, 0xa00ae278u, 0xd70dd2eeu, 0x4e048354u, 0x3903b3c2u,
    0xa7672661u, 0xd06016f7u, 0x4969474du, 0x3e6e77dbu, 0xaed16a4au, 0xd9d65adcu,
    0x40df0b66u, 0x37d83bf0u, 0xa9bcae53u, 0xdebb9ec5u, 0x47b2cf7fu, 0x30b5ffe9u,
    0xbdbdf21cu, 0xcabac28au, 0x53b39330u, 0x24b4a3a6u, 0xbad03605u, 0xcdd70693u,
    0x54de5729u, 0x23d967bfu, 0xb3667a2eu, 0xc4614ab8u, 0x5d681b02u, 0x2a6f2b94u,
    0xb40bbe37u, 0xc30c8ea1u, 0x5a05df1bu, 0x2d02ef8du,
};

uint32_t styxy_crc32(const unsigned char *data, size_t len)
{
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < len; i++)
        crc = crc_table[(crc ^ data[i]) & 0xFFu] ^ (crc >> 8);
    return crc ^ 0xFFFFFFFFu;
}

/* Little-endian loads through memcpy: no alignment or aliasing assumptions. */
static uint16_t ld16(const unsigned char *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

static uint32_t ld32(const unsigned char *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static uint64_t ld64(const unsigned char *p) { return (uint64_t)ld32(p) | ((uint64_t)ld32(p + 4) << 32); }

/* A NUL-padded name field: 1..63 printable non-blank ASCII bytes, then a NUL. */
static int name_field_ok(const unsigned char *field)
{
    size_t n = 0;
    while (n < STYXY_NAME_FIELD && field[n] != 0) {
        if (field[n] < 0x21 || field[n] > 0x7E)
            return 0;
        n++;
    }
    return n > 0 && n < STYXY_NAME_FIELD;
}

/* A glob field: 1..191 bytes of anything but NUL, then a NUL. */
static int glob_field_ok(const unsigned char *field)
{
    size_t n = 0;
    while (n < STYXY_GLOB_FIELD && field[n] != 0)
        n++;
    return n > 0 && n < STYXY_GLOB_FIELD;
}

int styxy_name_ok(const char *name)
{
    size_t n = 0;
    while (name[n] != 0) {
        unsigned char c = (unsigned char)name[n];
        if (c < 0x21 || c > 0x7E || ++n >= STYXY_NAME_FIELD)
            return 0;
    }
    return n > 0;
}

/* The fixed header, checked in the same order as styxy.store.cache._decode_header. */
static int parse_header(const unsigned char *buf, size_t len, struct styxy_view *v)
{
    if (len < STYXY_HEADER_SIZE)
        return STYXY_E_SHORT;
    if (len > STYXY_MAX_FILE_SIZE)
        return STYXY_E_BIG;
    if (memcmp(buf, "STYXYCCH", 8) != 0)
        return STYXY_E_MAGIC;
    if (styxy_crc32(buf, 60) != ld32(buf + 60))
        return STYXY_E_HCRC;
    if (ld16(buf + 8) != 1)
        return STYXY_E_VERSION;
    uint32_t header_size = ld16(buf + 12);
    v->range_size = ld16(buf + 14);
    v->lease_size = ld16(buf + 16);
    v->detect_size = ld16(buf + 18);
    if (header_size < STYXY_HEADER_SIZE || v->range_size < STYXY_RANGE_SIZE ||
        v->lease_size < STYXY_LEASE_SIZE || v->detect_size < STYXY_DETECT_SIZE)
        return STYXY_E_SIZES;
    v->range_count = ld32(buf + 20);
    v->lease_count = ld32(buf + 24);
    v->detect_count = ld32(buf + 28);
    uint32_t meta_size = ld32(buf + 32);
    /* 64-bit sums: u32 counts times u16 sizes cannot overflow them. */
    uint64_t expected = (uint64_t)header_size + (uint64_t)v->range_count * v->range_size +
                        (uint64_t)v->lease_count * v->lease_size +
                        (uint64_t)v->detect_count * v->detect_size + meta_size;
    if (expected != (uint64_t)len)
        return STYXY_E_LENGTH;
    if (styxy_crc32(buf + header_size, len - header_size) != ld32(buf + 36))
        return STYXY_E_PCRC;
    v->base = buf;
    v->size = len;
    v->generation = ld64(buf + 40);
    v->ranges_off = header_size;
    v->leases_off = v->ranges_off + (size_t)v->range_count * v->range_size;
    v->detect_off = v->leases_off + (size_t)v->lease_count * v->lease_size;
    return STYXY_OK;
}

static int check_entries(const struct styxy_view *v)
{
    for (uint32_t i = 0; i < v->range_count; i++) {
        const unsigned char *e = v->base + v->ranges_off + (size_t)i * v->range_size;
        uint16_t start = ld16(e + 64), end = ld16(e + 66);
        if (!name_field_ok(e) || start == 0 || start > end)
            return STYXY_E_RANGE;
    }
    for (uint32_t i = 0; i < v->lease_count; i++) {
        const unsigned char *e = v->base + v->leases_off + (size_t)i * v->lease_size;
        uint16_t index = ld16(e + 2);
        if (ld16(e) == 0 || (index != STYXY_NO_RANGE && index >= v->range_count))
            return STYXY_E_LEASE;
    }
    for (uint32_t i = 0; i < v->detect_count; i++) {
        const unsigned char *e = v->base + v->detect_off + (size_t)i * v->detect_size;
        if (!name_field_ok(e) || !glob_field_ok(e + STYXY_NAME_FIELD))
            return STYXY_E_DETECT;
    }
    return STYXY_OK;
}

int styxy_cache_parse(const unsigned char *buf, size_t len, struct styxy_view *out)
{
    struct styxy_view v;
    memset(&v, 0, sizeof v);
    if (buf == NULL)
        return STYXY_E_SHORT;
    int status = parse_header(buf, len, &v);
    if (status == STYXY_OK)
        status = check_entries(&v);
    if (status == STYXY_OK)
        *out = v;
    return status;
}

const char *styxy_parse_error(int status)
{
    switch (status) {
    case STYXY_OK: return "ok";
    case STYXY_E_SHORT: return "truncated (shorter than a header)";
    case STYXY_E_BIG: return "larger than 4 MiB";
    case STYXY_E_MAGIC: return "bad magic";
    case STYXY_E_HCRC: return "header CRC mismatch";
    case STYXY_E_VERSION: return "unknown major version";
    case STYXY_E_SIZES: return "entry sizes below the minimum";
    case STYXY_E_LENGTH: return "size differs from the header";
    case STYXY_E_PCRC: return "payload CRC mismatch";
    case STYXY_E_RANGE: return "invalid range entry";
    case STYXY_E_LEASE: return "invalid lease entry";
    case STYXY_E_DETECT: return "invalid detect entry";
    default: return "unknown error";
    }
}

void styxy_range_at(const struct styxy_view *v, uint32_t i, struct styxy_range *out)
{
    const unsigned char *e = v->base + v->ranges_off + (size_t)i * v->range_size;
    out->name = (const char *)e;
    out->start = ld16(e + 64);
    out->end = ld16(e + 66);
    out->single = (ld32(e + 68) & STYXY_FLAG_SINGLE) != 0;
}

void styxy_lease_at(const struct styxy_view *v, uint32_t i, struct styxy_lease *out)
{
    const unsigned char *e = v->base + v->leases_off + (size_t)i * v->lease_size;
    out->port = ld16(e);
    out->range_index = ld16(e + 2);
    out->pid = ld32(e + 4);
}

void styxy_detect_at(const struct styxy_view *v, uint32_t i, struct styxy_detect *out)
{
    const unsigned char *e = v->base + v->detect_off + (size_t)i * v->detect_size;
    out->service_type = (const char *)e;
    out->glob = (const char *)(e + STYXY_NAME_FIELD);
}

int styxy_range_by_name(const struct styxy_view *v, const char *name)
{
    struct styxy_range r;
    for (uint32_t i = 0; i < v->range_count && i < 0x7FFFFFFFu; i++) {
        styxy_range_at(v, i, &r);
        if (strcmp(r.name, name) == 0)
            return (int)i;
    }
    return -1;
}

int styxy_range_by_port(const struct styxy_view *v, unsigned port)
{
    struct styxy_range r;
    for (uint32_t i = 0; i < v->range_count && i < 0x7FFFFFFFu; i++) {
        styxy_range_at(v, i, &r);
        if (r.start <= port && port <= r.end)
            return (int)i;
    }
    return -1;
}

int styxy_range_by_detect(const struct styxy_view *v, const char *cmdline)
{
    struct styxy_detect d;
    /* At most STYXY_MAX_DETECT globs are tried, whatever a hand-made cache holds: with the
     * matcher linear in the command line, the work of one busy bind has a fixed bound. */
    uint32_t count = v->detect_count < STYXY_MAX_DETECT ? v->detect_count : STYXY_MAX_DETECT;
    for (uint32_t i = 0; i < count; i++) {
        styxy_detect_at(v, i, &d);
        if (!styxy_glob_match(d.glob, cmdline))
            continue;
        int index = styxy_range_by_name(v, d.service_type);
        if (index >= 0)
            return index;
    }
    return -1;
}

/* One [...] set at p (just past the '['). Returns the position after the closing ']' and sets
 * *hit, or NULL when the set is not closed (then '[' is an ordinary character, as in Python).
 * Where the set ends does not depend on c. */
static const char *match_set(const char *p, unsigned char c, int *hit)
{
    int negate = 0, found = 0;
    if (*p == '!') {
        negate = 1;
        p++;
    }
    const char *first = p;
    while (*p != 0 && (*p != ']' || p == first)) {
        unsigned char lo = (unsigned char)*p;
        if (p[1] == '-' && p[2] != 0 && p[2] != ']') {
            unsigned char hi = (unsigned char)p[2];
            if (lo <= c && c <= hi)
                found = 1;
            p += 3;
        } else {
            if (lo == c)
                found = 1;
            p++;
        }
    }
    if (*p != ']')
        return NULL;
    *hit = found != negate;
    return p + 1;
}

/* A set of NFA states, one bit per state: 128 states, more than the longest glob needs. */
struct states {
    uint64_t lo, hi;
};

static void set_bit(struct states *s, unsigned bit)
{
    if (bit < 64)
        s->lo |= (uint64_t)1 << bit;
    else
        s->hi |= (uint64_t)1 << (bit - 64);
}

static struct states shifted(struct states s)
{
    struct states out = {s.lo << 1, (s.hi << 1) | (s.lo >> 63)};
    return out;
}

static struct states both(struct states a, struct states b)
{
    struct states out = {a.lo & b.lo, a.hi & b.hi};
    return out;
}

static struct states either(struct states a, struct states b)
{
    struct states out = {a.lo | b.lo, a.hi | b.hi};
    return out;
}

/* Python's fnmatch.fnmatchcase, as a bit-parallel NFA (shift-and): element k of the pattern
 * (a character, `?`, a set, or a run of stars) is state k's step; state k is "the first k
 * elements matched". One pass over the text, a few word operations per character, so the
 * work is linear in the text and in the pattern whatever either holds. */
int styxy_glob_match(const char *pattern, const char *text)
{
    struct states accepts[256]; /* which class elements accept each byte: 4 KiB of stack */
    struct states star = {0, 0};
    memset(accepts, 0, sizeof accepts);
    unsigned n = 0;
    for (const char *p = pattern; *p != 0; n++) {
        if (n >= STYXY_GLOB_ELEMENTS)
            return 0; /* longer than any glob `styxy validate` lets through: no match */
        if (*p == '*') {
            while (*p == '*')
                p++;
            set_bit(&star, n);
            continue;
        }
        int hit = 0;
        const char *set_end = *p == '[' ? match_set(p + 1, 0, &hit) : NULL;
        for (unsigned c = 1; c < 256; c++) {
            int accepted = (unsigned char)*p == c;
            if (*p == '?')
                accepted = 1;
            else if (set_end != NULL)
                (void)match_set(p + 1, (unsigned char)c, &accepted);
            if (accepted)
                set_bit(&accepts[c], n);
        }
        p = set_end != NULL ? set_end : p + 1;
    }
    struct states now = {1, 0};
    now = either(now, shifted(both(now, star))); /* a star may match nothing */
    for (const unsigned char *t = (const unsigned char *)text; *t != 0; t++) {
        now = either(shifted(both(now, accepts[*t])), both(now, star));
        now = either(now, shifted(both(now, star)));
        if ((now.lo | now.hi) == 0)
            return 0;
    }
    return n < 64 ? (now.lo >> n) & 1 : (now.hi >> (n - 64)) & 1;
}
