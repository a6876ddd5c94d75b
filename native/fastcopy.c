// fastcopy: one directory's small-file copies carried out off the JavaScript thread, with the same
// check-before-write rules as copyEntry (src/fsops/ops.ts).
//
// Why this exists: an initial copy of 100k small files through node:fs costs about 28 system
// calls per file (two realpath walks to check the parents, copyFile, utimes, two lstats, rename)
// plus the JavaScript around them, all on the one JavaScript thread. Here the parents are opened
// once per batch, component by component with O_NOFOLLOW (stricter than the realpath check: no
// path is looked up again after it was checked), every file is reached relative to its open
// directory, and the batch runs on a thread pool thread while JavaScript plans the next one.
//
// copy(srcRoot, destRoot, parent, names, temps, expected, flags) -> Promise<Float64Array>
//   srcRoot, destRoot  trusted roots (may be symlinks: a mount path)
//   parent             the directory, relative to both roots ('' for the roots themselves); every
//                      component is opened with O_NOFOLLOW: a symlink there fails the whole batch
//   names, temps       Buffers of NUL-terminated names, one per file: the entry, and the temp
//                      name to write it under in dest's directory
//   expected           Float64Array, per file: src size, src mtimeMs, dest kind (-1 none, 0 file,
//                      1 dir, 2 symlink, 3 other), dest size, dest mtimeMs
//   flags              Int32Array over a SharedArrayBuffer: element 0 non-zero once the lock is
//                      lost (read right before every rename), element 1 non-zero once the run is
//                      stopping (read before each file: no new copy starts), element 2 (when the
//                      array has it) non-zero once a chown was refused: owners are kept while it
//                      is 0, and the first EPERM sets it
//   result             per file: status, errno, syscall, seen kind, seen size, seen mtimeMs, owner
//                      (0 the process's own, nothing to do; 1 src's uid and gid given; 2 refused or
//                      not tried after a refusal), src uid, src gid, the uid and gid of the entry
//                      replaced (-1 when none), the copy's inode number (status 0; else 0)
//     status 0 copied; 1 src not as planned before the copy; 2 src changed during the copy;
//     3 dest not as planned; 4 lock lost; 5 a call failed (errno, syscall); 6 a parent of src is
//     unsafe, 7 a parent of dest is unsafe (errno: ENOENT missing, ELOOP/ENOTDIR a symlink or not
//     a directory; syscall 1 when the root itself could not be opened); 8 not started (the run
//     is stopping)
//     seen kind -1 when the entry does not exist (statuses 1-3).
//
// Every write goes to the temp file, which gets src's permission bits and src's exact mtime (to
// the nanosecond), is closed (a write error the filesystem reports late, as NFS does, shows here),
// and only then renamed over the entry. Every way out but the rename removes the temp file. A file
// not owned by the process's own uid and gid gets its source's (fchown, then fchmod: chown clears
// the setuid bits); files of the process's own ids, the usual case, cost no call for it.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "fsnative.h"

enum {
  ST_OK,
  ST_SRC_BEFORE,
  ST_SRC_AFTER,
  ST_DEST,
  ST_LOST,
  ST_IO,
  ST_SRC_PARENT,
  ST_DEST_PARENT,
  ST_NOT_STARTED
};
// Syscall names, indexed by the result's syscall field.
static const char* const SYSCALLS[] = {"",       "open",     "fstat", "read",   "write", "copy_file_range",
                                       "fchmod", "futimens", "close", "rename", "fchown"};
enum {
  SC_NONE,
  SC_OPEN,
  SC_FSTAT,
  SC_READ,
  SC_WRITE,
  SC_CFR,
  SC_FCHMOD,
  SC_FUTIMENS,
  SC_CLOSE,
  SC_RENAME,
  SC_FCHOWN
};
#define NUMS_IN 5
#define NUMS_OUT 12
#define BUF_SIZE COPY_BUF_SIZE

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref flags_ref;
  int32_t* flags;  // [lost, stopping, chown refused], shared with JavaScript
  bool owners;     // flags has the chown element: keep owners
  uid_t euid;
  gid_t egid;
  char* src_root;
  char* dest_root;
  char* parent;
  char* names;  // NUL-terminated, n of them
  char* temps;
  double* in;
  double* out;
  size_t n;
} copy_job;

static double mtime_ms(const struct stat* st) {
  return (double)st->st_mtim.tv_sec * 1e3 + (double)st->st_mtim.tv_nsec / 1e6;
}

static int kind_of(const struct stat* st) {
  mode_t t = st->st_mode & S_IFMT;
  return t == S_IFREG ? 0 : t == S_IFDIR ? 1 : t == S_IFLNK ? 2 : 3;
}

// What was seen at a path, into out[3..5]; kind -1 when nothing is there.
static void seen(double* out, const struct stat* st) {
  if (!st) {
    out[3] = -1;
    out[4] = 0;
    out[5] = 0;
    return;
  }
  int k = kind_of(st);
  out[3] = k;
  out[4] = (k == 0 || k == 2) ? (double)st->st_size : 0;
  out[5] = mtime_ms(st);
}

// Does a regular file's stat match the planned size and mtime (within a millisecond, as JS does)?
static bool matches_file(const struct stat* st, double size, double mtime) {
  return S_ISREG(st->st_mode) && (double)st->st_size == size && fabs(mtime_ms(st) - mtime) < 1;
}

// Opens root, then each component of rel (if any) with O_NOFOLLOW. Returns the fd, or -errno
// (*at_root set when the root itself could not be opened).
#ifndef O_PATH
#define O_PATH O_RDONLY
#endif
int open_dir(const char* root, const char* rel, bool* at_root) {
  // O_PATH: a handle to look names up in, which needs no read permission on the directory.
  int fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  *at_root = fd < 0;
  if (fd < 0) return -errno;
  char* copy = strdup(rel);
  if (!copy) {
    close(fd);
    return -ENOMEM;
  }
  char* save = NULL;
  for (char* part = strtok_r(copy, "/", &save); part; part = strtok_r(NULL, "/", &save)) {
    int next = openat(fd, part, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int e = errno;
    close(fd);
    if (next < 0) {
      free(copy);
      return -e;
    }
    fd = next;
  }
  free(copy);
  return fd;
}

// Copies sfd to tfd until EOF. Returns 0, or sets *sc and returns errno.
int copy_data(int sfd, int tfd, char* buf, bool* use_cfr, int* sc) {
  if (*use_cfr) {
    for (;;) {
      ssize_t got = copy_file_range(sfd, NULL, tfd, NULL, 1 << 30, 0);
      if (got > 0) continue;
      if (got == 0) return 0;
      int e = errno;
      if (e == EINTR) continue;
      // Not supported between these filesystems: fall back to read/write (the file position is
      // unchanged when nothing was copied, and copy_file_range does not fail part way for these).
      if (e == EXDEV || e == EINVAL || e == ENOSYS || e == EOPNOTSUPP || e == EBADF) {
        *use_cfr = false;
        break;
      }
      *sc = SC_CFR;
      return e;
    }
  }
  for (;;) {
    ssize_t got = read(sfd, buf, BUF_SIZE);
    if (got == 0) return 0;
    if (got < 0) {
      if (errno == EINTR) continue;
      *sc = SC_READ;
      return errno;
    }
    for (ssize_t off = 0; off < got;) {
      ssize_t put = write(tfd, buf + off, (size_t)(got - off));
      if (put < 0) {
        if (errno == EINTR) continue;
        *sc = SC_WRITE;
        return errno;
      }
      off += put;
    }
  }
}

// Gives the temp file src's owner when it is not the process's own. Returns 0 or errno (*sc set);
// out[6..8] say what was done. A refusal (EPERM; EINVAL: an id not mapped here) is not an error:
// it is recorded once in the shared flag and the copy goes on with the process's ids.
static int keep_owner(copy_job* job, int tfd, const struct stat* st, double* out, int* sc) {
  out[7] = st->st_uid;
  out[8] = st->st_gid;
  if (!job->owners || (st->st_uid == job->euid && st->st_gid == job->egid)) return 0;
  if (__atomic_load_n(&job->flags[2], __ATOMIC_SEQ_CST) != 0) {
    out[6] = 2;
    return 0;
  }
  if (fchown(tfd, st->st_uid, st->st_gid) == 0) {
    out[6] = 1;
    return 0;
  }
  if (errno == EPERM || errno == EINVAL) {
    __atomic_store_n(&job->flags[2], 1, __ATOMIC_SEQ_CST);
    out[6] = 2;
    return 0;
  }
  *sc = SC_FCHOWN;
  return errno;
}

static void io_fail(double* out, int err, int sc) {
  out[0] = ST_IO;
  out[1] = err;
  out[2] = sc;
}

// Copies one file; writes its result into out.
static void copy_one(copy_job* job, int sdir, int ddir, const char* name, const char* tmp, const double* in,
                     double* out, char* buf, bool* use_cfr) {
  struct stat st, now;
  // O_NONBLOCK: should src have become a fifo since the plan, opening it must not wait for a
  // writer (the fstat below then sees it is not a regular file). Regular files ignore the flag.
  int sfd = openat(sdir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (sfd < 0) {
    int e = errno;
    if (e == ELOOP || e == ENOENT || e == ENXIO) {
      // A symlink (never followed), gone, or a socket now: src is not what was planned.
      bool there = fstatat(sdir, name, &now, AT_SYMLINK_NOFOLLOW) == 0;
      out[0] = ST_SRC_BEFORE;
      seen(out, there ? &now : NULL);
    } else {
      io_fail(out, e, SC_OPEN);
    }
    return;
  }
  if (fstat(sfd, &st) != 0) {
    io_fail(out, errno, SC_FSTAT);
    close(sfd);
    return;
  }
  if (!matches_file(&st, in[0], in[1])) {
    out[0] = ST_SRC_BEFORE;
    seen(out, &st);
    close(sfd);
    return;
  }
  int tfd = openat(ddir, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (tfd < 0) {
    io_fail(out, errno, SC_OPEN);
    close(sfd);
    return;
  }
  int sc = SC_NONE;
  int err = copy_data(sfd, tfd, buf, use_cfr, &sc);
  close(sfd);
  if (!err) err = keep_owner(job, tfd, &st, out, &sc);
  if (!err && fchmod(tfd, st.st_mode & 07777) != 0) err = errno, sc = SC_FCHMOD;
  if (!err) {
    struct timespec times[2] = {{.tv_sec = 0, .tv_nsec = UTIME_NOW}, st.st_mtim};
    if (futimens(tfd, times) != 0) err = errno, sc = SC_FUTIMENS;
  }
  // The copy's inode number (a rename or link into place keeps it), for move detection; 0 when
  // it cannot be told.
  struct stat made;
  double ino = !err && fstat(tfd, &made) == 0 ? (double)made.st_ino : 0;
  if (close(tfd) != 0 && !err) err = errno, sc = SC_CLOSE;
  if (err) {
    io_fail(out, err, sc);
    unlinkat(ddir, tmp, 0);
    return;
  }
  // src must still be what was planned (and copied): changed during the copy, the copy is discarded.
  bool there = fstatat(sdir, name, &now, AT_SYMLINK_NOFOLLOW) == 0;
  if (!there || !matches_file(&now, in[0], in[1])) {
    out[0] = ST_SRC_AFTER;
    seen(out, there ? &now : NULL);
    unlinkat(ddir, tmp, 0);
    return;
  }
  // Check before write: dest must still be what the plan saw, right before the rename.
  there = fstatat(ddir, name, &now, AT_SYMLINK_NOFOLLOW) == 0;
  int want = (int)in[2];
  bool same;
  if (!there) {
    same = want == -1;
  } else if (want == -1 || kind_of(&now) != want) {
    same = false;
  } else if (want == 1) {
    same = true;
  } else {
    double size = (want == 0 || want == 2) ? (double)now.st_size : 0;
    same = size == in[3] && fabs(mtime_ms(&now) - in[4]) < 1;
  }
  out[9] = there ? (double)now.st_uid : -1;
  out[10] = there ? (double)now.st_gid : -1;
  if (!same) {
    out[0] = ST_DEST;
    seen(out, there ? &now : NULL);
    unlinkat(ddir, tmp, 0);
    return;
  }
  if (__atomic_load_n(&job->flags[0], __ATOMIC_SEQ_CST) != 0) {
    out[0] = ST_LOST;
    unlinkat(ddir, tmp, 0);
    return;
  }
  // A create never replaces what another writer made since the check: RENAME_NOREPLACE where
  // the filesystem has it, else link(2) of our temp file then its unlink (NFS and sshfs have
  // links but not the flag, and a stat there may be answered from a cache): EEXIST either way
  // means dest changed. Only where neither works is the checked name renamed over.
  int rc = -1;
  if (want == -1) {
    rc = renameat2(ddir, tmp, ddir, name, RENAME_NOREPLACE);
    if (rc != 0 && (errno == EINVAL || errno == ENOSYS || errno == ENOTSUP)) {
      rc = linkat(ddir, tmp, ddir, name, 0);
      if (rc == 0) unlinkat(ddir, tmp, 0);
      else if (errno != EEXIST && errno != EPERM && errno != ENOTSUP && errno != EXDEV &&
               errno != EMLINK && errno != ENOSYS) {
        io_fail(out, errno, SC_RENAME);
        unlinkat(ddir, tmp, 0);
        return;
      } else if (errno != EEXIST) {
        errno = ENOSYS; // no links either: the plain rename below
      }
    }
    if (rc != 0 && errno == EEXIST) {
      out[0] = ST_DEST;
      there = fstatat(ddir, name, &now, AT_SYMLINK_NOFOLLOW) == 0;
      seen(out, there ? &now : NULL);
      unlinkat(ddir, tmp, 0);
      return;
    }
    if (rc != 0 && errno != ENOSYS) {
      io_fail(out, errno, SC_RENAME);
      unlinkat(ddir, tmp, 0);
      return;
    }
  }
  if (rc != 0 && renameat(ddir, tmp, ddir, name) != 0) {
    io_fail(out, errno, SC_RENAME);
    unlinkat(ddir, tmp, 0);
    return;
  }
  out[0] = ST_OK;
  out[11] = ino;
}

static void execute(napi_env env, void* data) {
  (void)env;
  copy_job* job = data;
  bool src_root = false, dest_root = false;
  int sdir = open_dir(job->src_root, job->parent, &src_root);
  int ddir = sdir < 0 ? -1 : open_dir(job->dest_root, job->parent, &dest_root);
  char* buf = sdir >= 0 && ddir >= 0 ? malloc(BUF_SIZE) : NULL;
  bool use_cfr = true;
  const char* name = job->names;
  const char* tmp = job->temps;
  for (size_t i = 0; i < job->n; i++) {
    double* out = job->out + i * NUMS_OUT;
    if (__atomic_load_n(&job->flags[1], __ATOMIC_SEQ_CST) != 0) {
      out[0] = ST_NOT_STARTED;
    } else if (sdir < 0 || ddir < 0) {
      out[0] = sdir < 0 ? ST_SRC_PARENT : ST_DEST_PARENT;
      out[1] = sdir < 0 ? -sdir : -ddir;
      out[2] = (sdir < 0 ? src_root : dest_root) ? 1 : 0;
    } else if (!buf) {
      io_fail(out, ENOMEM, SC_NONE);
    } else {
      copy_one(job, sdir, ddir, name, tmp, job->in + i * NUMS_IN, out, buf, &use_cfr);
    }
    name += strlen(name) + 1;
    tmp += strlen(tmp) + 1;
  }
  free(buf);
  if (sdir >= 0) close(sdir);
  if (ddir >= 0) close(ddir);
}

static void free_job(copy_job* job) {
  free(job->src_root);
  free(job->dest_root);
  free(job->parent);
  free(job->names);
  free(job->temps);
  free(job->in);
  free(job);
}

static void free_out(napi_env env, void* data, void* hint) {
  (void)env;
  (void)hint;
  free(data);
}

static void complete(napi_env env, napi_status status, void* data) {
  copy_job* job = data;
  if (status != napi_ok) {
    napi_value msg, error;
    napi_create_string_utf8(env, "fastcopy: copy cancelled", NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &error);
    napi_reject_deferred(env, job->deferred, error);
    free(job->out);
  } else {
    napi_value ab, result;
    size_t bytes = job->n * NUMS_OUT * sizeof(double);
    // The result array takes ownership of job->out.
    napi_create_external_arraybuffer(env, job->out, bytes, free_out, NULL, &ab);
    napi_create_typedarray(env, napi_float64_array, job->n * NUMS_OUT, ab, 0, &result);
    napi_resolve_deferred(env, job->deferred, result);
  }
  napi_delete_reference(env, job->flags_ref);
  napi_delete_async_work(env, job->work);
  free_job(job);
}

static char* get_string(napi_env env, napi_value v) {
  size_t len;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return NULL;
  char* s = malloc(len + 1);
  if (!s) return NULL;
  napi_get_value_string_utf8(env, v, s, len + 1, &len);
  if (strlen(s) != len) {
    free(s);
    return NULL;
  }
  return s;
}

// Copies a Buffer of n NUL-terminated names; NULL unless it holds exactly n, none empty.
static char* get_names(napi_env env, napi_value v, size_t n) {
  bool is_buffer = false;
  void* data;
  size_t len;
  if (napi_is_buffer(env, v, &is_buffer) != napi_ok || !is_buffer) return NULL;
  if (napi_get_buffer_info(env, v, &data, &len) != napi_ok) return NULL;
  const char* p = data;
  size_t count = 0;
  for (size_t i = 0; i < len; i++) {
    if (p[i] != '\0') continue;
    if (i == 0 || p[i - 1] == '\0') return NULL;
    count++;
  }
  if (count != n || (len > 0 && p[len - 1] != '\0')) return NULL;
  char* s = malloc(len ? len : 1);
  if (s && len) memcpy(s, data, len);
  return s;
}

static napi_value fail_args(napi_env env, copy_job* job) {
  if (job) {
    free(job->out);
    free_job(job);
  }
  napi_throw_type_error(env, NULL,
                        "copy(srcRoot, destRoot, parent, names, temps, expected: Float64Array, flags: "
                        "Int32Array(2) over a SharedArrayBuffer): bad arguments");
  return NULL;
}

static napi_value copy(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 7) return fail_args(env, NULL);
  copy_job* job = calloc(1, sizeof *job);
  if (!job) return fail_args(env, NULL);
  napi_typedarray_type type;
  size_t len, offset;
  void* data;
  napi_value ab;
  bool is_ta = false;
  if (napi_is_typedarray(env, argv[5], &is_ta) != napi_ok || !is_ta) return fail_args(env, job);
  napi_get_typedarray_info(env, argv[5], &type, &len, &data, &ab, &offset);
  if (type != napi_float64_array || len % NUMS_IN != 0) return fail_args(env, job);
  job->n = len / NUMS_IN;
  job->in = malloc(len ? len * sizeof(double) : 1);
  job->out = calloc(job->n ? job->n * NUMS_OUT : 1, sizeof(double));
  if (!job->in || !job->out) return fail_args(env, job);
  if (len) memcpy(job->in, data, len * sizeof(double));
  if (napi_is_typedarray(env, argv[6], &is_ta) != napi_ok || !is_ta) return fail_args(env, job);
  napi_get_typedarray_info(env, argv[6], &type, &len, &data, &ab, &offset);
  // The flag is read from the pool thread while JavaScript may set it: shared memory only (a
  // SharedArrayBuffer's memory never moves), held by a reference until the job completes.
  if (type != napi_int32_array || len < 2) return fail_args(env, job);
  job->flags = data;
  job->owners = len >= 3;
  job->euid = geteuid();
  job->egid = getegid();
  if (!(job->src_root = get_string(env, argv[0])) || !(job->dest_root = get_string(env, argv[1])) ||
      !(job->parent = get_string(env, argv[2])) || !(job->names = get_names(env, argv[3], job->n)) ||
      !(job->temps = get_names(env, argv[4], job->n))) {
    return fail_args(env, job);
  }
  napi_value promise, resource_name;
  napi_create_reference(env, argv[6], 1, &job->flags_ref);
  napi_create_promise(env, &job->deferred, &promise);
  napi_create_string_utf8(env, "fastcopy", NAPI_AUTO_LENGTH, &resource_name);
  napi_create_async_work(env, NULL, resource_name, execute, complete, job, &job->work);
  napi_queue_async_work(env, job->work);
  return promise;
}

// The syscall names, so JavaScript can word an error as node:fs would.
static napi_value syscalls(napi_env env) {
  size_t n = sizeof SYSCALLS / sizeof *SYSCALLS;
  napi_value arr, s;
  napi_create_array_with_length(env, n, &arr);
  for (size_t i = 0; i < n; i++) {
    napi_create_string_utf8(env, SYSCALLS[i], NAPI_AUTO_LENGTH, &s);
    napi_set_element(env, arr, (uint32_t)i, s);
  }
  return arr;
}

void register_fastcopy(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "copy", NAPI_AUTO_LENGTH, copy, NULL, &fn);
  napi_set_named_property(env, exports, "copy", fn);
  napi_set_named_property(env, exports, "copySyscalls", syscalls(env));
}
