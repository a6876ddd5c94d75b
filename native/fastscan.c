// fastscan: directories listed and lstat-ed off the JavaScript thread, several per call.
//
// Why this exists: a no-op reconcile of a local tree is one readdir per directory and one lstat
// per entry. Through node:fs each lstat costs about twice the system call itself (argument
// checks, path conversion, a Stats object), and the two trees together keep both cores busy.
// Here entries are stat-ed relative to the open directory (fstatat) on a libuv thread pool
// thread, and handed back as flat buffers. Several directories go in one call so that a pool of
// 256 threads (set for network filesystems) is not woken once per directory.
//
// Results mean exactly what lstat means: symlinks are never followed, and mtimeMs is computed as
// Node computes it (sec * 1e3 + nsec / 1e6), so values compare equal to fs.lstatSync's.
//
// scan(paths: string[])
//   -> Promise<Array<[names: Buffer, nums: Float64Array, targets: Buffer, inos: Float64Array] | Error>>
//   one element per path, in order:
//   names   entry names as raw bytes, each followed by NUL, in strcmp order ('.' and '..' left out)
//   nums    per entry: kind, size, mtimeMs, mode (mode & 07777)
//           kind 0 file, 1 dir, 2 symlink, 3 other (fifo, socket, device),
//           -1 vanished between readdir and lstat (ENOENT), -2 lstat or readlink failed (errno in size)
//   targets symlink targets as raw bytes, each followed by NUL, one per entry of kind 2, in order
//   inos    per entry, in the order of nums: st_ino as a double (exact up to 2^53), NaN where
//           lstat failed or the entry vanished. Added after the first three, which keep their
//           shape: the per-directory digests the baseline stores are made of names and nums only.
//   Error   the directory itself could not be opened or read: `errno` (positive), `syscall`, `path`
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#define NAPI_VERSION 8
#include <node_api.h>

typedef struct {
  char* data;
  size_t len;
  size_t cap;
} buf_t;

typedef struct {
  char* path;
  int err;  // errno of the directory itself, 0 when listed
  buf_t names;
  buf_t targets;
  double* nums;
  double* inos;
  size_t count;
} dir_result;

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  size_t n;
  dir_result* dirs;
} scan_job;

typedef struct {
  const char* name;
  size_t len;
} name_ref;

static int by_bytes(const void* a, const void* b) {
  return strcmp(((const name_ref*)a)->name, ((const name_ref*)b)->name);
}

// Appends n bytes plus a NUL; returns 0 or ENOMEM.
static int append(buf_t* b, const char* s, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t c = b->cap ? b->cap : 1024;
    while (b->len + n + 1 > c) c *= 2;
    char* grown = realloc(b->data, c);
    if (!grown) return ENOMEM;
    b->data = grown;
    b->cap = c;
  }
  memcpy(b->data + b->len, s, n);
  b->data[b->len + n] = '\0';
  b->len += n + 1;
  return 0;
}

// Lists one directory into r; on failure sets r->err and leaves no partial result.
static void scan_one(dir_result* r) {
  int dfd = open(r->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) {
    r->err = errno;
    return;
  }
  DIR* dir = fdopendir(dfd);
  if (!dir) {
    r->err = errno;
    close(dfd);
    return;
  }
  // Names first (one block), then an index into it, sorted, then stat-ed in that order.
  buf_t pool = {0};
  size_t n = 0;
  int err = 0;
  for (;;) {
    errno = 0;
    struct dirent* e = readdir(dir);
    if (!e) {
      err = errno;
      break;
    }
    const char* nm = e->d_name;
    if (nm[0] == '.' && (nm[1] == '\0' || (nm[1] == '.' && nm[2] == '\0'))) continue;
    if ((err = append(&pool, nm, strlen(nm)))) break;
    n++;
  }
  name_ref* refs = NULL;
  double* nums = NULL;
  double* inos = NULL;
  if (!err && n) {
    refs = malloc(n * sizeof *refs);
    nums = malloc(n * 4 * sizeof *nums);
    inos = malloc(n * sizeof *inos);
    if (!refs || !nums || !inos) err = ENOMEM;
  }
  if (!err) {
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
      refs[i].name = pool.data + off;
      refs[i].len = strlen(pool.data + off);
      off += refs[i].len + 1;
    }
    qsort(refs, n, sizeof *refs, by_bytes);
  }
  char link[PATH_MAX + 1];
  for (size_t i = 0; i < n && !err; i++) {
    double* v = nums + i * 4;
    struct stat st;
    if ((err = append(&r->names, refs[i].name, refs[i].len))) break;
    if (fstatat(dfd, refs[i].name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      int e = errno;
      v[0] = e == ENOENT ? -1 : -2;
      v[1] = e;
      v[2] = 0;
      v[3] = 0;
      inos[i] = NAN;
      continue;
    }
    inos[i] = (double)st.st_ino;
    mode_t t = st.st_mode & S_IFMT;
    v[0] = t == S_IFREG ? 0 : t == S_IFDIR ? 1 : t == S_IFLNK ? 2 : 3;
    v[1] = (t == S_IFREG || t == S_IFLNK) ? (double)st.st_size : 0;
    v[2] = (double)st.st_mtim.tv_sec * 1e3 + (double)st.st_mtim.tv_nsec / 1e6;
    v[3] = st.st_mode & 07777;
    if (t == S_IFLNK) {
      ssize_t got = readlinkat(dfd, refs[i].name, link, sizeof link);
      if (got < 0 || (size_t)got >= sizeof link) {
        int e = got < 0 ? errno : ENAMETOOLONG;
        v[0] = e == ENOENT ? -1 : -2;
        v[1] = e;
        continue;
      }
      err = append(&r->targets, link, (size_t)got);
    }
  }
  closedir(dir);
  free(pool.data);
  free(refs);
  if (err) {
    r->err = err;
    free(r->names.data);
    free(r->targets.data);
    free(nums);
    free(inos);
    r->names = (buf_t){0};
    r->targets = (buf_t){0};
    return;
  }
  r->nums = nums;
  r->inos = inos;
  r->count = n;
}

static void execute(napi_env env, void* data) {
  (void)env;
  scan_job* job = data;
  for (size_t i = 0; i < job->n; i++) scan_one(&job->dirs[i]);
}

static void free_job(scan_job* job) {
  for (size_t i = 0; i < job->n; i++) {
    free(job->dirs[i].path);
    free(job->dirs[i].names.data);
    free(job->dirs[i].targets.data);
    free(job->dirs[i].nums);
    free(job->dirs[i].inos);
  }
  free(job->dirs);
  free(job);
}

static napi_value dir_error(napi_env env, const dir_result* r) {
  napi_value msg, error, v;
  napi_create_string_utf8(env, strerror(r->err), NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, NULL, msg, &error);
  napi_create_int32(env, r->err, &v);
  napi_set_named_property(env, error, "errno", v);
  napi_create_string_utf8(env, "scandir", NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, error, "syscall", v);
  napi_create_string_utf8(env, r->path, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, error, "path", v);
  return error;
}

static void complete(napi_env env, napi_status status, void* data) {
  scan_job* job = data;
  napi_value result;
  if (status != napi_ok) {
    napi_value msg, error;
    napi_create_string_utf8(env, "fastscan: scan cancelled", NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &error);
    napi_reject_deferred(env, job->deferred, error);
  } else {
    napi_create_array_with_length(env, job->n, &result);
    for (size_t i = 0; i < job->n; i++) {
      const dir_result* r = &job->dirs[i];
      napi_value item;
      if (r->err) {
        item = dir_error(env, r);
      } else {
        napi_value names, nums_ab, nums, targets, inos_ab, inos;
        void* dst;
        size_t bytes = r->count * 4 * sizeof(double);
        size_t ino_bytes = r->count * sizeof(double);
        napi_create_buffer_copy(env, r->names.len, r->names.len ? r->names.data : "", &dst, &names);
        napi_create_arraybuffer(env, bytes, &dst, &nums_ab);
        if (bytes) memcpy(dst, r->nums, bytes);
        napi_create_typedarray(env, napi_float64_array, r->count * 4, nums_ab, 0, &nums);
        napi_create_buffer_copy(env, r->targets.len, r->targets.len ? r->targets.data : "", &dst, &targets);
        napi_create_arraybuffer(env, ino_bytes, &dst, &inos_ab);
        if (ino_bytes) memcpy(dst, r->inos, ino_bytes);
        napi_create_typedarray(env, napi_float64_array, r->count, inos_ab, 0, &inos);
        napi_create_array_with_length(env, 4, &item);
        napi_set_element(env, item, 0, names);
        napi_set_element(env, item, 1, nums);
        napi_set_element(env, item, 2, targets);
        napi_set_element(env, item, 3, inos);
      }
      napi_set_element(env, result, (uint32_t)i, item);
    }
    napi_resolve_deferred(env, job->deferred, result);
  }
  napi_delete_async_work(env, job->work);
  free_job(job);
}

static napi_value scan(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], promise, resource_name;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  bool is_array = false;
  uint32_t n = 0;
  if (argc < 1 || napi_is_array(env, argv[0], &is_array) != napi_ok || !is_array ||
      napi_get_array_length(env, argv[0], &n) != napi_ok) {
    napi_throw_type_error(env, NULL, "scan(paths): paths must be an array of strings");
    return NULL;
  }
  scan_job* job = calloc(1, sizeof *job);
  if (!job || (n && !(job->dirs = calloc(n, sizeof *job->dirs)))) {
    free(job);
    napi_throw_error(env, NULL, "fastscan: out of memory");
    return NULL;
  }
  job->n = n;
  for (uint32_t i = 0; i < n; i++) {
    napi_value item;
    size_t len;
    napi_get_element(env, argv[0], i, &item);
    if (napi_get_value_string_utf8(env, item, NULL, 0, &len) != napi_ok) {
      free_job(job);
      napi_throw_type_error(env, NULL, "scan(paths): paths must be an array of strings");
      return NULL;
    }
    char* p = malloc(len + 1);
    if (!p) {
      free_job(job);
      napi_throw_error(env, NULL, "fastscan: out of memory");
      return NULL;
    }
    napi_get_value_string_utf8(env, item, p, len + 1, &len);
    job->dirs[i].path = p;
    if (strlen(p) != len) {
      free_job(job);
      napi_throw_type_error(env, NULL, "scan(paths): a path contains NUL");
      return NULL;
    }
  }
  napi_create_promise(env, &job->deferred, &promise);
  napi_create_string_utf8(env, "fastscan", NAPI_AUTO_LENGTH, &resource_name);
  napi_create_async_work(env, NULL, resource_name, execute, complete, job, &job->work);
  napi_queue_async_work(env, job->work);
  return promise;
}

#include "fsnative.h"

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  napi_value fn;
  napi_create_function(env, "scan", NAPI_AUTO_LENGTH, scan, NULL, &fn);
  napi_set_named_property(env, exports, "scan", fn);
  register_fastcopy(env, exports);
  register_fileops(env, exports);
  return exports;
}
