// Helpers shared by fastcopy.c (batched copies) and fileops.c (single-file operations).
#ifndef HA_SYNC_FSNATIVE_H
#define HA_SYNC_FSNATIVE_H
#include <stdbool.h>
#define NAPI_VERSION 8
#include <node_api.h>

#define COPY_BUF_SIZE (256 * 1024)

// Opens root, then each component of rel (if any) with O_NOFOLLOW, as O_PATH directories.
// Returns the fd, or -errno (*at_root set when the root itself could not be opened).
int open_dir(const char* root, const char* rel, bool* at_root);

// Copies sfd to tfd until EOF, in chunks (copy_file_range where the filesystems allow, else
// read/write through buf of COPY_BUF_SIZE). Returns 0, or sets *sc (a fastcopy syscall number)
// and returns errno.
int copy_data(int sfd, int tfd, char* buf, bool* use_cfr, int* sc);

void register_fastcopy(napi_env env, napi_value exports);
void register_fileops(napi_env env, napi_value exports);
#endif
