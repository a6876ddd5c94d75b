// fileops: the single-file operations of src/fsops (ops.ts, keep.ts, versions.ts) made relative
// to an open directory, for the addon's Io (src/fsops/native-io.ts).
//
// Why this exists: a check that no parent of a path is a symlink is only true at the instant it is
// made; a parent renamed away and replaced by a symlink right after it would carry the next call
// made by name outside the root. Here a parent is opened once, component by component with
// O_NOFOLLOW (open_dir, shared with fastcopy.c), and every later call names entries relative to
// that descriptor (openat, renameat, linkat, unlinkat, mkdirat, symlinkat, utimensat, fchownat).
// A source is opened with O_NOFOLLOW and O_NONBLOCK and checked with fstat before a byte is
// copied; the copy reads the descriptor checked, in chunks (copy_file_range where possible), so a
// file of any size streams.
//
// fileop(op, async, fd1, name1, fd2, name2, nums) -> Float64Array | Buffer (or a Promise of one)
//   op      one of OP_* below
//   async   false: done now, on the calling thread (local disks: a call costs a microsecond);
//           true: on a thread pool thread (network filesystems, large copies)
//   fd1/fd2 directory descriptors (AT_FDCWD, -100, for a name that is a full path)
//   name1/2 strings (UTF-8), or a Buffer (symlink's target, name2 of OP_SYMLINK); null when unused
//   nums    Float64Array of up to 4 numbers (mode; times in seconds; uid, gid; size, mtimeMs;
//           OP_RENAME: 1 never to replace an existing name)
//   result  out[0] 0 or errno, out[1] the failed call (index into fileopSyscalls), then per op:
//           OP_OPEN_DIR out[2] fd, out[3] 1 when the root itself failed; OP_LSTAT and OP_COPY
//           out[2] 1 when there is an entry (OP_COPY: 2 when copied) and out[3..12] its stat
//           (mode, size, mtimeMs, uid, gid, ino, dev, nlink, atimeMs, ctimeMs); OP_READLINK: a
//           Buffer with the target (errors as a Float64Array)
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsnative.h"

enum {
  OP_OPEN_DIR,
  OP_CLOSE,
  OP_LSTAT,
  OP_READLINK,
  OP_SYMLINK,
  OP_MKDIR,
  OP_RENAME,
  OP_LINK,
  OP_UNLINK,
  OP_RMDIR,
  OP_CHMOD,
  OP_UTIMES,
  OP_CHOWN,
  OP_COPY,
  OP_COUNT
};
static const char* const FILEOP_SYSCALLS[] = {
    "",      "open",       "close",  "lstat", "readlink", "symlink", "mkdir", "rename", "link", "unlink",
    "rmdir", "chmod",      "utimes", "chown", "fstat",    "read",    "write", "copy_file_range"};
enum {
  FS_NONE,
  FS_OPEN,
  FS_CLOSE,
  FS_LSTAT,
  FS_READLINK,
  FS_SYMLINK,
  FS_MKDIR,
  FS_RENAME,
  FS_LINK,
  FS_UNLINK,
  FS_RMDIR,
  FS_CHMOD,
  FS_UTIMES,
  FS_CHOWN,
  FS_FSTAT,
  FS_READ,
  FS_WRITE,
  FS_CFR
};
#define OUT_LEN 13

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  int op;
  int fd1, fd2;
  char* name1;
  char* name2;
  double in[4];
  double out[OUT_LEN];
  char* link;  // OP_READLINK's target
  size_t link_len;
} fileop_job;

static double ms_of(struct timespec t) { return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6; }

// An entry's stat into out[3..12]; out[2] = present.
static void put_stat(double* out, const struct stat* st, double present) {
  out[2] = present;
  out[3] = st->st_mode;
  out[4] = (double)st->st_size;
  out[5] = ms_of(st->st_mtim);
  out[6] = st->st_uid;
  out[7] = st->st_gid;
  out[8] = (double)st->st_ino;
  out[9] = (double)st->st_dev;
  out[10] = (double)st->st_nlink;
  out[11] = ms_of(st->st_atim);
  out[12] = ms_of(st->st_ctim);
}

static void set_err(fileop_job* j, int err, int sc) {
  j->out[0] = err;
  j->out[1] = sc;
}

static struct timespec to_timespec(double s) {
  struct timespec t;
  double whole = floor(s);
  t.tv_sec = (time_t)whole;
  t.tv_nsec = (long)llround((s - whole) * 1e9);
  if (t.tv_nsec >= 1000000000L) {
    t.tv_sec++;
    t.tv_nsec -= 1000000000L;
  }
  return t;
}

// lstat relative to fd1; a missing entry (or parent) is not an error: out[2] = 0.
static void do_lstat(fileop_job* j) {
  struct stat st;
  if (fstatat(j->fd1, j->name1, &st, AT_SYMLINK_NOFOLLOW) == 0) {
    put_stat(j->out, &st, 1);
  } else if (errno == ENOENT || errno == ENOTDIR) {
    j->out[2] = 0;
  } else {
    set_err(j, errno, FS_LSTAT);
  }
}

static void do_readlink(fileop_job* j) {
  char* buf = malloc(PATH_MAX);
  if (!buf) return set_err(j, ENOMEM, FS_READLINK);
  ssize_t n = readlinkat(j->fd1, j->name1, buf, PATH_MAX);
  if (n < 0) {
    set_err(j, errno, FS_READLINK);
    free(buf);
    return;
  }
  j->link = buf;
  j->link_len = (size_t)n;
}

// Sets an entry's permission bits through a descriptor opened without following a symlink.
static void do_chmod(fileop_job* j) {
  mode_t mode = (mode_t)j->in[0];
  int fd = openat(j->fd1, j->name1, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd >= 0) {
    if (fchmod(fd, mode) != 0) set_err(j, errno, FS_CHMOD);
    close(fd);
    return;
  }
  if (errno != EACCES) return set_err(j, errno, FS_OPEN);
  // No read permission (a directory of mode 0300, say): a path handle, changed through /proc.
  fd = openat(j->fd1, j->name1, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return set_err(j, errno, FS_OPEN);
  struct stat st;
  char proc[64];
  if (fstat(fd, &st) != 0) {
    set_err(j, errno, FS_FSTAT);
  } else if (S_ISLNK(st.st_mode)) {
    set_err(j, ELOOP, FS_CHMOD);
  } else {
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    if (chmod(proc, mode) != 0) set_err(j, errno, FS_CHMOD);
  }
  close(fd);
}

static void do_utimes(fileop_job* j) {
  struct timespec times[2] = {to_timespec(j->in[0]), to_timespec(j->in[1])};
  int flags = j->in[2] != 0 ? AT_SYMLINK_NOFOLLOW : 0;
  if (utimensat(j->fd1, j->name1, times, flags) != 0) set_err(j, errno, FS_UTIMES);
}

static int copy_sc(int sc) {
  // fastcopy.c's numbers for the data calls: 3 read, 4 write, 5 copy_file_range.
  return sc == 3 ? FS_READ : sc == 4 ? FS_WRITE : sc == 5 ? FS_CFR : FS_NONE;
}

// Copies the regular file name1 (under fd1) to the new file name2 (under fd2), with its permission
// bits, provided its fstat matches in[0] (size) and in[1] (mtimeMs, within a millisecond). What
// was seen goes to out[2..]: 0 nothing there, 1 there but not as expected (nothing created),
// 2 copied. On a failed call the new file is removed.
static void do_copy(fileop_job* j) {
  struct stat st;
  int sfd = openat(j->fd1, j->name1, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (sfd < 0) {
    int e = errno;
    if (e != ELOOP && e != ENOENT && e != ENOTDIR && e != ENXIO) return set_err(j, e, FS_OPEN);
    // A symlink (never followed), gone, or a socket now: report what is there.
    if (fstatat(j->fd1, j->name1, &st, AT_SYMLINK_NOFOLLOW) == 0) put_stat(j->out, &st, 1);
    else j->out[2] = 0;
    return;
  }
  if (fstat(sfd, &st) != 0) {
    set_err(j, errno, FS_FSTAT);
    close(sfd);
    return;
  }
  put_stat(j->out, &st, 1);
  if (!S_ISREG(st.st_mode) || (double)st.st_size != j->in[0] || fabs(ms_of(st.st_mtim) - j->in[1]) >= 1) {
    close(sfd);
    return;
  }
  int tfd = openat(j->fd2, j->name2, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (tfd < 0) {
    set_err(j, errno, FS_OPEN);
    close(sfd);
    return;
  }
  char* buf = malloc(COPY_BUF_SIZE);
  bool use_cfr = true;
  int sc = 0;
  int err = buf ? copy_data(sfd, tfd, buf, &use_cfr, &sc) : ENOMEM;
  free(buf);
  close(sfd);
  int fsc = copy_sc(sc);
  if (!err && fchmod(tfd, st.st_mode & 07777) != 0) err = errno, fsc = FS_CHMOD;
  // A write error a filesystem reports late (NFS) shows at close.
  if (close(tfd) != 0 && !err) err = errno, fsc = FS_CLOSE;
  if (err) {
    unlinkat(j->fd2, j->name2, 0);
    return set_err(j, err, fsc);
  }
  j->out[2] = 2;
}

static void run(fileop_job* j) {
  int r = 0;
  switch (j->op) {
    case OP_OPEN_DIR: {
      bool at_root = false;
      int fd = open_dir(j->name1, j->name2, &at_root);
      if (fd < 0) set_err(j, -fd, FS_OPEN);
      j->out[2] = fd;
      j->out[3] = at_root ? 1 : 0;
      return;
    }
    case OP_CLOSE:
      if (close(j->fd1) != 0) set_err(j, errno, FS_CLOSE);
      return;
    case OP_LSTAT:
      return do_lstat(j);
    case OP_READLINK:
      return do_readlink(j);
    case OP_SYMLINK:
      if (symlinkat(j->name2, j->fd1, j->name1) != 0) set_err(j, errno, FS_SYMLINK);
      return;
    case OP_MKDIR:
      if (mkdirat(j->fd1, j->name1, (mode_t)j->in[0]) != 0) set_err(j, errno, FS_MKDIR);
      return;
    case OP_RENAME:
      // in[0] 1: never replace an existing name (RENAME_NOREPLACE: EEXIST; EINVAL where the
      // filesystem cannot, NFS for one).
      r = j->in[0] != 0 ? renameat2(j->fd1, j->name1, j->fd2, j->name2, RENAME_NOREPLACE)
                        : renameat(j->fd1, j->name1, j->fd2, j->name2);
      if (r != 0) set_err(j, errno, FS_RENAME);
      return;
    case OP_LINK:
      // Flags 0: a symlink is linked itself, never followed.
      if (linkat(j->fd1, j->name1, j->fd2, j->name2, 0) != 0) set_err(j, errno, FS_LINK);
      return;
    case OP_UNLINK:
    case OP_RMDIR:
      r = unlinkat(j->fd1, j->name1, j->op == OP_RMDIR ? AT_REMOVEDIR : 0);
      if (r != 0) set_err(j, errno, j->op == OP_RMDIR ? FS_RMDIR : FS_UNLINK);
      return;
    case OP_CHMOD:
      return do_chmod(j);
    case OP_UTIMES:
      return do_utimes(j);
    case OP_CHOWN:
      r = fchownat(j->fd1, j->name1, (uid_t)j->in[0], (gid_t)j->in[1], AT_SYMLINK_NOFOLLOW);
      if (r != 0) set_err(j, errno, FS_CHOWN);
      return;
    case OP_COPY:
      return do_copy(j);
    default:
      set_err(j, EINVAL, FS_NONE);
  }
}

static void free_job(fileop_job* j) {
  free(j->name1);
  free(j->name2);
  free(j->link);
  free(j);
}

// The result as JavaScript sees it: a Buffer for a readlink that worked, else the numbers.
static napi_value result_of(napi_env env, fileop_job* j) {
  napi_value v;
  if (j->op == OP_READLINK && j->out[0] == 0) {
    void* data;
    napi_create_buffer_copy(env, j->link_len, j->link, &data, &v);
    return v;
  }
  napi_value ab;
  void* data;
  napi_create_arraybuffer(env, sizeof j->out, &data, &ab);
  memcpy(data, j->out, sizeof j->out);
  napi_create_typedarray(env, napi_float64_array, OUT_LEN, ab, 0, &v);
  return v;
}

static void execute(napi_env env, void* data) {
  (void)env;
  run(data);
}

static void complete(napi_env env, napi_status status, void* data) {
  fileop_job* j = data;
  if (status != napi_ok) {
    napi_value msg, error;
    napi_create_string_utf8(env, "fileop: cancelled", NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &error);
    napi_reject_deferred(env, j->deferred, error);
  } else {
    napi_resolve_deferred(env, j->deferred, result_of(env, j));
  }
  napi_delete_async_work(env, j->work);
  free_job(j);
}

// A string or Buffer argument as a NUL-terminated copy (NULL for null/undefined, or on error:
// *bad set). A name with a NUL inside is refused.
static char* get_name(napi_env env, napi_value v, bool* bad) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t == napi_null || t == napi_undefined) return NULL;
  bool is_buffer = false;
  napi_is_buffer(env, v, &is_buffer);
  char* s = NULL;
  size_t len = 0;
  if (is_buffer) {
    void* data;
    napi_get_buffer_info(env, v, &data, &len);
    s = malloc(len + 1);
    if (s) memcpy(s, data, len), s[len] = '\0';
  } else if (t == napi_string) {
    napi_get_value_string_utf8(env, v, NULL, 0, &len);
    s = malloc(len + 1);
    if (s) napi_get_value_string_utf8(env, v, s, len + 1, &len);
  }
  if (!s || strlen(s) != len) {
    free(s);
    *bad = true;
    return NULL;
  }
  return s;
}

static napi_value bad_args(napi_env env, fileop_job* j) {
  if (j) free_job(j);
  napi_throw_type_error(env, NULL,
                        "fileop(op, async, fd1, name1, fd2, name2, nums: Float64Array | null): bad arguments");
  return NULL;
}

static napi_value fileop(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 7) return bad_args(env, NULL);
  fileop_job* j = calloc(1, sizeof *j);
  if (!j) return bad_args(env, NULL);
  bool async = false, bad = false;
  int32_t op;
  if (napi_get_value_int32(env, argv[0], &op) != napi_ok || op < 0 || op >= OP_COUNT) return bad_args(env, j);
  j->op = op;
  napi_get_value_bool(env, argv[1], &async);
  if (napi_get_value_int32(env, argv[2], &j->fd1) != napi_ok) return bad_args(env, j);
  if (napi_get_value_int32(env, argv[4], &j->fd2) != napi_ok) return bad_args(env, j);
  j->name1 = get_name(env, argv[3], &bad);
  j->name2 = get_name(env, argv[5], &bad);
  bool is_ta = false;
  napi_is_typedarray(env, argv[6], &is_ta);
  if (is_ta) {
    napi_typedarray_type type;
    size_t len, offset;
    void* data;
    napi_value ab;
    napi_get_typedarray_info(env, argv[6], &type, &len, &data, &ab, &offset);
    if (type != napi_float64_array || len > 4) return bad_args(env, j);
    memcpy(j->in, data, len * sizeof(double));
  }
  bool needs2 = op == OP_OPEN_DIR || op == OP_SYMLINK || op == OP_RENAME || op == OP_LINK || op == OP_COPY;
  if (bad || (op != OP_CLOSE && !j->name1) || (needs2 && !j->name2)) return bad_args(env, j);
  if (!async) {
    run(j);
    napi_value v = result_of(env, j);
    free_job(j);
    return v;
  }
  napi_value promise, resource_name;
  napi_create_promise(env, &j->deferred, &promise);
  napi_create_string_utf8(env, "fileop", NAPI_AUTO_LENGTH, &resource_name);
  napi_create_async_work(env, NULL, resource_name, execute, complete, j, &j->work);
  napi_queue_async_work(env, j->work);
  return promise;
}

void register_fileops(napi_env env, napi_value exports) {
  napi_value fn, arr, s;
  napi_create_function(env, "fileop", NAPI_AUTO_LENGTH, fileop, NULL, &fn);
  napi_set_named_property(env, exports, "fileop", fn);
  size_t n = sizeof FILEOP_SYSCALLS / sizeof *FILEOP_SYSCALLS;
  napi_create_array_with_length(env, n, &arr);
  for (size_t i = 0; i < n; i++) {
    napi_create_string_utf8(env, FILEOP_SYSCALLS[i], NAPI_AUTO_LENGTH, &s);
    napi_set_element(env, arr, (uint32_t)i, s);
  }
  napi_set_named_property(env, exports, "fileopSyscalls", arr);
}
