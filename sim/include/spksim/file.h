/**
 * @file file.h
 * @brief Opening input files: only regular files are read (directories, devices and pipes are
 * refused with a message naming the path).
 *
 * Header-only (static inline) so that every library that reads a file (libspkutil, libspkcycle,
 * libspkllm, the fuzz targets) can use it without a new link dependency.
 */
#ifndef SPKSIM_FILE_H
#define SPKSIM_FILE_H

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @brief Why an open file descriptor's file cannot be read as input, or NULL if it can. */
static inline const char *spk_file_kind_problem(int fd) {
    struct stat sb;
    if (fstat(fd, &sb) != 0) return strerror(errno);
    if (S_ISDIR(sb.st_mode)) return "is a directory, not a file";
    if (!S_ISREG(sb.st_mode)) return "is not a regular file";
    return NULL;
}

/**
 * @brief fopen(path, mode) for reading, refusing anything but a regular file.
 * @return the stream, or NULL with "PATH: reason" in err (errno is set).
 */
static inline FILE *spk_file_open_read(const char *path, const char *mode, char *err,
                                       size_t err_len) {
    FILE *f = fopen(path, mode);
    if (!f) {
        const int e = errno;
        if (err && err_len) snprintf(err, err_len, "%s: cannot open (%s)", path, strerror(e));
        errno = e;
        return NULL;
    }
    const char *problem = spk_file_kind_problem(fileno(f));
    if (problem) {
        if (err && err_len) snprintf(err, err_len, "%s: %s", path, problem);
        fclose(f);
        errno = EINVAL;
        return NULL;
    }
    return f;
}

/** @brief 0 if path names a regular file, else -1 with "PATH: reason" in err. */
static inline int spk_file_check_regular(const char *path, char *err, size_t err_len) {
    FILE *f = spk_file_open_read(path, "rb", err, err_len);
    if (!f) return -1;
    fclose(f);
    return 0;
}

#ifdef __cplusplus
}
#endif

#endif
