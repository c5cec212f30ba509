/* fs_ops.h: the FUSE side of deidfs (fs/ only): the low-level operations
 * table and the name of the counters xattr.  The one place that picks the
 * libfuse API version. */
#ifndef DD_FS_OPS_H
#define DD_FS_OPS_H

#define FUSE_USE_VERSION 312 /* fuse_loop_cfg_*: the loop's max_threads */
#include <fuse_lowlevel.h>

#include "fs_i.h"

/* getxattr on the root under this name returns the counters as JSON;
 * listxattr does not list it. */
#define DD_FS_COUNTERS_XATTR "user.deidfs.counters"

/* The handlers (fs_ops.c).  Userdata: struct dd_fs. */
extern const struct fuse_lowlevel_ops dd_fs_ops;

#endif /* DD_FS_OPS_H */
