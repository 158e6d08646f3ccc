#include "jail/jail_pty.hpp"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "common/error.hpp"

namespace ccjail {

JailPty open_jail_pty(uid_t uid, gid_t gid, unsigned short rows, unsigned short cols) {
    JailPty pty;
    pty.master.reset(::open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (!pty.master) {
        throw_errno(Step::terminal, "cannot open /dev/ptmx");
    }
    int unlock = 0;
    if (::ioctl(pty.master.get(), TIOCSPTLCK, &unlock) != 0) {
        throw_errno(Step::terminal, "TIOCSPTLCK");
    }
    // TIOCGPTPEER opens the peer of this very master: no path lookup in /dev/pts to race with.
    const int slave = ::ioctl(pty.master.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (slave < 0) {
        throw_errno(Step::terminal, "TIOCGPTPEER");
    }
    pty.slave.reset(slave);
    if (::fchown(pty.slave.get(), uid, gid) != 0 || ::fchmod(pty.slave.get(), 0620) != 0) {
        throw_errno(Step::terminal, "cannot hand the pty to the jail's uid");
    }
    struct winsize size {};
    size.ws_row = rows;
    size.ws_col = cols;
    if (::ioctl(pty.master.get(), TIOCSWINSZ, &size) != 0) {
        throw_errno(Step::terminal, "TIOCSWINSZ");
    }
    return pty;
}

void attach_controlling_terminal(int slave) {
    if (::ioctl(slave, TIOCSCTTY, 0) != 0) {
        throw_errno(Step::terminal, "TIOCSCTTY");
    }
    for (int fd = 0; fd <= 2; ++fd) {
        if (::dup2(slave, fd) < 0) {
            throw_errno(Step::terminal, "dup2 of the pty");
        }
    }
}

}  // namespace ccjail
