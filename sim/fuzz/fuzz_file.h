/* Shared by the fuzz targets of parsers that only read a path: each input is written to one
 * temporary file (in /dev/shm when there is one), rewritten for every run. */
#ifndef SIM_FUZZ_FUZZ_FILE_H
#define SIM_FUZZ_FUZZ_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char fuzz_path[64];

static void fuzz_file_remove(void) {
    if (fuzz_path[0]) unlink(fuzz_path);
}

/* The path of a file holding exactly data[0..size), or NULL (then the run is skipped). */
static const char *fuzz_file(const uint8_t *data, size_t size) {
    static int fd = -1;
    if (fd < 0) {
        snprintf(fuzz_path, sizeof fuzz_path, "%s/spk-fuzz-XXXXXX",
                 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
        fd = mkstemp(fuzz_path);
        if (fd < 0) return NULL;
        atexit(fuzz_file_remove);
    }
    if (ftruncate(fd, 0) != 0) return NULL;
    for (size_t done = 0; done < size;) {
        ssize_t n = pwrite(fd, data + done, size - done, (off_t)done);
        if (n <= 0) return NULL;
        done += (size_t)n;
    }
    return fuzz_path;
}

#endif
