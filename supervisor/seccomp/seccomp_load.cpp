#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "common/error.hpp"
#include "seccomp/seccomp_policy.hpp"

namespace ccjail {

void load_seccomp(const SeccompProgram& program) {
    // sock_fprog counts in an unsigned short: a longer vector would be silently cut.
    if (program.instructions.size() > BPF_MAXINSNS) {
        throw JailError(Step::seccomp_load, EINVAL, "seccomp: program too long");
    }
    const sock_fprog fprog{
        static_cast<unsigned short>(program.instructions.size()),
        const_cast<sock_filter*>(program.instructions.data()),
    };
    // The raw syscall: no libseccomp state is needed in the child, and nothing here allocates
    // before the kernel has the filter. No TSYNC: the jail is single-threaded at this point.
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog) != 0) {
        throw_errno(Step::seccomp_load, "seccomp: installing the filter");
    }
}

}  // namespace ccjail
