# The Debian package: `cpack -G DEB` in a build directory configured with
# CMAKE_INSTALL_PREFIX=/usr (scripts/build-deb.sh does both). The layout and the reasons for it
# are in docs/operations.md, "Running under systemd".

set(CCJAIL_PACKAGE_MAINTAINER "ccjail developers <ccjail@example.org>"
    CACHE STRING "Maintainer field of the Debian package")

set(CCJAIL_PACKAGING_DIR ${PROJECT_SOURCE_DIR}/packaging)
set(CCJAIL_SYSTEMD_DIR ${PROJECT_SOURCE_DIR}/systemd)
# Debian 12 keeps package units in /lib/systemd/system (/usr/lib only from trixie on);
# sysusers.d and tmpfiles.d files live below /usr/lib.
set(CCJAIL_UNIT_DIR /lib/systemd/system)
set(CCJAIL_DOC_DIR share/doc/ccjail)

# Debian wants man pages and changelogs compressed, reproducibly (-n: no name, no timestamp).
set(CCJAIL_GZ_DIR ${PROJECT_BINARY_DIR}/packaging-gz)
file(MAKE_DIRECTORY ${CCJAIL_GZ_DIR})
function(ccjail_gzip source output)
  execute_process(COMMAND gzip -9nc ${source} OUTPUT_FILE ${output} RESULT_VARIABLE result)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "gzip ${source} failed")
  endif()
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${source})
endfunction()

# --- programs and the systemd integration ---
install(PROGRAMS ${CCJAIL_SYSTEMD_DIR}/ccjaild-stop DESTINATION libexec/ccjail)
install(FILES ${CCJAIL_SYSTEMD_DIR}/ccjaild.service ${CCJAIL_SYSTEMD_DIR}/ccjaild.socket
              ${CCJAIL_SYSTEMD_DIR}/ccjail-sessions.service
        DESTINATION ${CCJAIL_UNIT_DIR})
install(FILES ${CCJAIL_SYSTEMD_DIR}/ccjail.sysusers DESTINATION lib/sysusers.d
        RENAME ccjail.conf)
install(FILES ${CCJAIL_SYSTEMD_DIR}/ccjail.tmpfiles DESTINATION lib/tmpfiles.d
        RENAME ccjail.conf)

# --- configuration: every file below /etc is a conffile ---
file(GLOB CCJAIL_PROFILES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/profiles/*.json)
install(FILES ${CCJAIL_PROFILES} DESTINATION /etc/ccjail/profiles)
install(FILES ${CCJAIL_PACKAGING_DIR}/ccjaild.json DESTINATION /etc/ccjail)
set(CCJAIL_CONFFILES_TEXT "/etc/ccjail/ccjaild.json\n")
foreach(profile IN LISTS CCJAIL_PROFILES)
  get_filename_component(name ${profile} NAME)
  string(APPEND CCJAIL_CONFFILES_TEXT "/etc/ccjail/profiles/${name}\n")
endforeach()
file(WRITE ${PROJECT_BINARY_DIR}/packaging-control/conffiles ${CCJAIL_CONFFILES_TEXT})

# --- documentation ---
file(GLOB CCJAIL_MAN_PAGES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/docs/man/*.[0-9])
foreach(page IN LISTS CCJAIL_MAN_PAGES)
  get_filename_component(name ${page} NAME)
  string(REGEX REPLACE ".*\\.([0-9])$" "\\1" section ${name})
  ccjail_gzip(${page} ${CCJAIL_GZ_DIR}/${name}.gz)
  install(FILES ${CCJAIL_GZ_DIR}/${name}.gz DESTINATION share/man/man${section})
endforeach()
file(GLOB CCJAIL_DOCS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/docs/*.md)
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${CCJAIL_DOCS} DESTINATION ${CCJAIL_DOC_DIR})
install(FILES ${CCJAIL_PACKAGING_DIR}/copyright DESTINATION ${CCJAIL_DOC_DIR})
# A version without a Debian revision makes this a native package: its changelog is
# changelog.gz, and its newest entry must carry the package's version.
ccjail_gzip(${CCJAIL_PACKAGING_DIR}/changelog ${CCJAIL_GZ_DIR}/changelog.gz)
install(FILES ${CCJAIL_GZ_DIR}/changelog.gz DESTINATION ${CCJAIL_DOC_DIR})
file(STRINGS ${CCJAIL_PACKAGING_DIR}/changelog CCJAIL_CHANGELOG_TOP LIMIT_COUNT 1)
if(NOT CCJAIL_CHANGELOG_TOP MATCHES "^ccjail \\(${PROJECT_VERSION}\\) ")
  message(WARNING "packaging/changelog: the newest entry is not version ${PROJECT_VERSION}")
endif()

# --- maintainer scripts ---
# Copied so that CPack's strict permissions apply to them regardless of the checkout's modes.
foreach(script postinst prerm postrm)
  configure_file(${CCJAIL_PACKAGING_DIR}/debian/${script}
                 ${PROJECT_BINARY_DIR}/packaging-control/${script} COPYONLY)
endforeach()

# --- CPack ---
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME ccjail)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT ${CCJAIL_PACKAGE_MAINTAINER})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME "ccjail_${PROJECT_VERSION}_amd64.deb")
set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE amd64)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER ${CCJAIL_PACKAGE_MAINTAINER})
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# groupadd is the fallback where systemd-sysusers is missing; procps has /bin/kill (ExecReload=).
set(CPACK_DEBIAN_PACKAGE_DEPENDS "passwd, procps")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "systemd")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "sandboxed process supervisor for AI coding agents\n\
ccjail runs each Claude Code session, or any command, in a jail of its own:\n\
namespaces, a root file system of read-only binds with a writable workspace\n\
and a per-user home, a cgroup with memory, CPU and pids limits, a seccomp\n\
allowlist, no capabilities and a non-root uid.\n\
.\n\
ccjaild is the daemon that serves sessions over a Unix socket with flow\n\
control, audit logs and metrics, and keeps them through its own crashes;\n\
ccjailctl is its command-line client; ccjail-exec builds one jail.")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_BINARY_DIR}/packaging-control/conffiles
    ${PROJECT_BINARY_DIR}/packaging-control/postinst
    ${PROJECT_BINARY_DIR}/packaging-control/prerm
    ${PROJECT_BINARY_DIR}/packaging-control/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# Only what install() names belongs to the package: no test binaries, no components.
set(CPACK_DEB_COMPONENT_INSTALL OFF)

include(CPack)
