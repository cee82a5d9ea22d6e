#ifndef C_TEST_SUPPORT_H
#define C_TEST_SUPPORT_H

#include <spawn.h>

/// glibc's GNU extensions that Swift's Glibc module does not show
/// (declared only with _GNU_SOURCE), for Tests/TestSupport/ChildProcess.swift.

/// pipe2(fds, O_CLOEXEC): both ends close-on-exec from the start.
int test_support_pipe_cloexec(int fds[2]);

/// posix_spawn_file_actions_addclosefrom_np: the child closes every descriptor from `from` up.
int test_support_spawn_addclosefrom(posix_spawn_file_actions_t *actions, int from);

/// posix_spawn_file_actions_addchdir_np: the child's working directory.
int test_support_spawn_addchdir(posix_spawn_file_actions_t *actions, const char *path);

#endif
