#pragma once

#include <sys/types.h>

#include "common/unique_fd.hpp"

namespace ccjail {

struct JailPty {
    UniqueFd master;
    UniqueFd slave;
};

// Opens a pty in the jail's own devpts (after pivot_root, so `tty` in the jail prints
// /dev/pts/0 and no host pty is involved). The slave is opened with TIOCGPTPEER, not by path,
// and given to the jail's uid so programs can reopen it. Throws JailError(Step::terminal).
JailPty open_jail_pty(uid_t uid, gid_t gid, unsigned short rows, unsigned short cols);

// In the program, after setsid(): makes `slave` the controlling terminal and stdin, stdout and
// stderr. Throws JailError(Step::terminal).
void attach_controlling_terminal(int slave);

}  // namespace ccjail
