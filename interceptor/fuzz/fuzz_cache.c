/* Fuzz harness for the pure cache parser (cache_reader.c).
 *
 * Three builds of one file (see interceptor/Makefile):
 *   - libFuzzer:  clang -fsanitize=fuzzer,address,undefined   (`make fuzz`)
 *   - AFL++:      -DSTYXY_AFL_MAIN, input on stdin              (`make afl CC=afl-clang-fast`)
 *   - replay:     -DSTYXY_REPLAY_MAIN, a plain driver that CI and the tests use:
 *       styxy-fuzz-replay FILE|DIR...         one line per input: `<name> ok <generation>
 *                                             <ranges> <leases> <detect>` or `<name> err <status>`
 *       styxy-fuzz-replay --records FILE      FILE holds inputs as u32-LE length + bytes; one
 *                                             line per record, without the name
 *       styxy-fuzz-replay --globs FILE        FILE holds `pattern<TAB>text` lines; prints 1 or 0
 *                                             per line (styxy_glob_match)
 */
#include "../cache_reader.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parse, then walk every accessor the interceptor uses, so the sanitizers see them all. */
static int exercise(const uint8_t *data, size_t size, struct styxy_view *view)
{
    int status = styxy_cache_parse(data, size, view);
    if (status != STYXY_OK)
        return status;
    struct styxy_range r;
    struct styxy_lease l;
    struct styxy_detect d;
    static const char cmdline[] = "python3 -m http.server 8000 --bind 127.0.0.1";
    for (uint32_t i = 0; i < view->range_count; i++) {
        styxy_range_at(view, i, &r);
        if (styxy_range_by_name(view, r.name) < 0 || styxy_range_by_port(view, r.start) < 0)
            abort(); /* a range must find itself */
    }
    for (uint32_t i = 0; i < view->lease_count; i++) {
        styxy_lease_at(view, i, &l);
        if (l.range_index != STYXY_NO_RANGE && l.range_index >= view->range_count)
            abort();
    }
    for (uint32_t i = 0; i < view->detect_count; i++) {
        styxy_detect_at(view, i, &d);
        (void)styxy_glob_match(d.glob, cmdline);
        (void)styxy_glob_match(d.glob, d.service_type);
    }
    (void)styxy_range_by_detect(view, cmdline);
    (void)styxy_range_by_port(view, 8000);
    return STYXY_OK;
}

static void store32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* The input as is, then a copy with both CRCs made right: random bytes almost never pass the
 * checksums, and the entry checks behind them deserve the fuzzer's attention too. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct styxy_view view;
    exercise(data, size, &view);
    if (size < STYXY_HEADER_SIZE || size > 1u << 20)
        return 0;
    uint8_t *copy = malloc(size);
    if (copy == NULL)
        return 0;
    memcpy(copy, data, size);
    size_t header_size = (size_t)copy[12] | ((size_t)copy[13] << 8);
    if (header_size <= size)
        store32(copy + 36, styxy_crc32(copy + header_size, size - header_size));
    store32(copy + 60, styxy_crc32(copy, 60));
    exercise(copy, size, &view);
    free(copy);
    return 0;
}

#if defined(STYXY_AFL_MAIN) || defined(STYXY_REPLAY_MAIN)
static uint8_t input[STYXY_MAX_FILE_SIZE + 2];

static size_t read_stream(FILE *f)
{
    return fread(input, 1, sizeof input, f);
}
#endif

#ifdef STYXY_AFL_MAIN
int main(void)
{
#ifdef __AFL_LOOP
    while (__AFL_LOOP(10000)) {
#endif
        size_t n = read_stream(stdin);
        LLVMFuzzerTestOneInput(input, n);
#ifdef __AFL_LOOP
    }
#endif
    return 0;
}
#endif

#ifdef STYXY_REPLAY_MAIN
#include <dirent.h>
#include <sys/stat.h>

static void verdict(const char *name, const uint8_t *data, size_t size)
{
    struct styxy_view view;
    int status = exercise(data, size, &view);
    if (name != NULL)
        printf("%s ", name);
    if (status == STYXY_OK)
        printf("ok %llu %u %u %u\n", (unsigned long long)view.generation, view.range_count,
               view.lease_count, view.detect_count);
    else
        printf("err %d\n", status);
}

static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        return 1;
    }
    size_t n = read_stream(f);
    fclose(f);
    verdict(path, input, n);
    return 0;
}

static int replay_path(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        perror(path);
        return 1;
    }
    if (!S_ISDIR(st.st_mode))
        return replay_file(path);
    struct dirent **names;
    int count = scandir(path, &names, NULL, alphasort);
    int failed = 0;
    for (int i = 0; i < count; i++) {
        if (names[i]->d_name[0] != '.') {
            char full[4096];
            snprintf(full, sizeof full, "%s/%s", path, names[i]->d_name);
            failed |= replay_file(full);
        }
        free(names[i]);
    }
    free(names);
    return failed;
}

static int replay_records(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        return 1;
    }
    unsigned char head[4];
    while (fread(head, 1, 4, f) == 4) {
        size_t len = (size_t)head[0] | ((size_t)head[1] << 8) | ((size_t)head[2] << 16) |
                     ((size_t)head[3] << 24);
        if (len > sizeof input || fread(input, 1, len, f) != len) {
            fprintf(stderr, "%s: truncated record\n", path);
            fclose(f);
            return 1;
        }
        /* A copy of exactly len bytes, so ASan sees any read past the end of the input. */
        uint8_t *copy = malloc(len ? len : 1);
        memcpy(copy, input, len);
        verdict(NULL, copy, len);
        free(copy);
    }
    fclose(f);
    return 0;
}

static int replay_globs(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        return 1;
    }
    static char line[8192];
    while (fgets(line, sizeof line, f) != NULL) {
        line[strcspn(line, "\n")] = 0;
        char *tab = strchr(line, '\t');
        if (tab == NULL)
            continue;
        *tab = 0;
        printf("%d\n", styxy_glob_match(line, tab + 1));
    }
    fclose(f);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--records") == 0)
        return replay_records(argv[2]);
    if (argc == 3 && strcmp(argv[1], "--globs") == 0)
        return replay_globs(argv[2]);
    int failed = 0;
    for (int i = 1; i < argc; i++)
        failed |= replay_path(argv[i]);
    return failed;
}
#endif
