// --pty: the program gets a terminal of the jail's own devpts, relayed by the monitor.
#include "jail_harness.hpp"

namespace ccjail::itest {
namespace {

class Terminal : public JailTest {};

TEST_F(Terminal, ProgramRunsOnAPtyOfTheJailsOwnDevpts) {
    RunOptions options;
    options.exec_args = {"--pty"};
    // stdin is /dev/null here: the relay turns its end into ^D, which this program ignores.
    options.argv = {"/bin/sh", "-c",
                    "tty; stty size; test -t 0 && test -t 1 && echo both-ttys; "
                    "ls -l /dev/pts/0 | cut -d' ' -f3; exit 3"};
    const JailRun run = this->run(options);
    EXPECT_EQ(run.exit_code, 3) << run.describe();
    EXPECT_EQ(run.status(), "exited") << run.describe();
    // The terminal's line discipline turns "\n" into "\r\n" on the way out.
    EXPECT_NE(run.out.find("/dev/pts/0\r\n"), std::string::npos) << run.describe();
    EXPECT_NE(run.out.find("24 80\r\n"), std::string::npos) << run.describe();
    EXPECT_NE(run.out.find("both-ttys"), std::string::npos) << run.describe();
    // The slave belongs to the jail's user, so programs can reopen it.
    EXPECT_NE(run.out.find("user\r\n"), std::string::npos) << run.describe();
}

TEST_F(Terminal, OutputWrittenJustBeforeExitIsNotLost) {
    RunOptions options;
    options.exec_args = {"--pty"};
    options.argv = {"/bin/sh", "-c",
                    "i=0; while [ $i -lt 2000 ]; do echo line-$i; i=$((i+1)); done"};
    const JailRun run = this->run(options);
    EXPECT_EQ(run.exit_code, 0) << run.describe();
    std::size_t lines = 0;
    for (std::size_t at = run.out.find("line-"); at != std::string::npos;
         at = run.out.find("line-", at + 1)) {
        ++lines;
    }
    EXPECT_EQ(lines, 2000u) << run.describe();
    EXPECT_NE(run.out.find("line-1999\r\n"), std::string::npos) << run.describe();
}

TEST_F(Terminal, WithoutPtyTheProgramHasNoControllingTerminal) {
    RunOptions options;
    options.argv = {"/bin/sh", "-c", "tty; exit 0"};
    const JailRun run = this->run(options);
    EXPECT_NE(run.out.find("not a tty"), std::string::npos) << run.describe();
}

}  // namespace
}  // namespace ccjail::itest
