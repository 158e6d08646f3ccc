// The exit report (docs/protocol.md, "The exit report") mapped to what Node programs expect.

import { constants } from 'node:os';

/** The closed set of exit statuses. */
export const ExitStatus = Object.freeze({
  EXITED: 'exited',
  SIGNALED: 'signaled',
  OOM: 'oom',
  WALL_TIMEOUT: 'wall_timeout',
  CPU_TIMEOUT: 'cpu_timeout',
  OUTPUT_LIMIT: 'output_limit',
  KILLED: 'killed',
  SETUP_FAILED: 'setup_failed',
});

const SIGNAL_NAMES = new Map(Object.entries(constants.signals).map(([name, num]) => [num, name]));

export function signalName(number) {
  return SIGNAL_NAMES.get(number) ?? null;
}

/**
 * The exit code `ccjailctl run` would use (docs/protocol.md, "Exit codes for a client"), so a
 * Node server and the admin CLI agree on what a session's end means.
 */
export function exitCodeOf(report) {
  switch (report?.status) {
    case ExitStatus.EXITED:
      return Number.isInteger(report.exit_code) ? report.exit_code : 0;
    case ExitStatus.SIGNALED:
      return 128 + (report.signal || 0);
    case ExitStatus.SETUP_FAILED:
      return 125;
    default:
      return 137;
  }
}

/**
 * What ChildProcess's 'exit' passes: (code, null) for a normal exit, (null, signal name)
 * otherwise. A session ended by a limit or a kill died of SIGKILL from the cgroup.
 */
export function childExitOf(report) {
  const status = report?.status;
  if (status === ExitStatus.EXITED) return { code: exitCodeOf(report), signal: null };
  if (status === ExitStatus.SETUP_FAILED || status === undefined) return { code: exitCodeOf(report), signal: null };
  const named = report.signal ? signalName(report.signal) : null;
  return { code: null, signal: named ?? 'SIGKILL' };
}
