#pragma once

#include "jail/spec.hpp"

namespace ccjail {

// Builds the jail's root file system and switches to it (DESIGN §3 step 2–3). Runs in the jail's
// init, inside the new mount and pid namespaces, as root. Throws JailError with the mount step.
//
// Every source is cloned into a detached mount (open_tree) before anything is mounted, then
// attached by fd below a fresh tmpfs: no host path is resolved twice, no mount point is reached
// through a symlink, and mount_setattr(AT_RECURSIVE) makes read-only binds read-only all the way
// down (a classic MS_BIND|MS_REMOUNT|MS_RDONLY only covers the top mount of a recursive bind).
void build_root_filesystem(const JailSpec& spec);

// The synthesized /etc files for a jail (public for the unit tests).
std::string synthesized_passwd(const JailSpec& spec);
std::string synthesized_group(const JailSpec& spec);
std::string synthesized_hosts(const JailSpec& spec);

}  // namespace ccjail
