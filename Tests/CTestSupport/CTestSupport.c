#define _GNU_SOURCE
#include "CTestSupport.h"

#include <fcntl.h>
#include <spawn.h>
#include <unistd.h>

int test_support_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

int test_support_spawn_addclosefrom(posix_spawn_file_actions_t *actions, int from) {
    return posix_spawn_file_actions_addclosefrom_np(actions, from);
}

int test_support_spawn_addchdir(posix_spawn_file_actions_t *actions, const char *path) {
    return posix_spawn_file_actions_addchdir_np(actions, path);
}
