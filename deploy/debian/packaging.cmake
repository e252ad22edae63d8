# Install rules and the Debian package (CPack DEB): deploy/package.sh builds it in one command.
# The package: /usr/bin/kakehashi (stripped; its debug information in kakehashi-dbgsym), the
# systemd unit, a sample config under /etc/kakehashi (conffile), man pages made from `--help`,
# and maintainer scripts that create the `kakehashi` system user and /var/lib/kakehashi.

include(GNUInstallDirs)

install(TARGETS kakehashi RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# Debian 12 keeps units in /lib (files must not move between / and /usr before the usrmerge
# transition ends), hence the absolute paths; CPack writes them under the package root.
install(FILES ${PROJECT_SOURCE_DIR}/deploy/systemd/kakehashi.service
        DESTINATION /lib/systemd/system)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/debian/sysusers.conf
        DESTINATION /usr/lib/sysusers.d RENAME kakehashi.conf)

# The sample config with the quickstart placeholders filled for an installed system.
file(READ ${PROJECT_SOURCE_DIR}/config/kakehashi.example.json _kakehashi_sample)
string(REGEX REPLACE
  "// deploy/quickstart\\.sh copies this file[^\n]*\n//[^\n]*\n//[^\n]*\n"
  "// Installed by the kakehashi package: state in /var/lib/kakehashi, certificates and keys\n\
// under /etc/kakehashi/pki, both networks on port 443. Copy it to kakehashi.json, set hosts,\n\
// ports, paths and networks, then run `kakehashi config check`. Relative paths are relative\n\
// to the directory of the config file.\n"
  _kakehashi_sample "${_kakehashi_sample}")
string(REPLACE "@RUN@" "/var/lib/kakehashi" _kakehashi_sample "${_kakehashi_sample}")
string(REPLACE "@PKI@" "/etc/kakehashi/pki" _kakehashi_sample "${_kakehashi_sample}")
string(REPLACE "@NATIONAL_PORT@" "443" _kakehashi_sample "${_kakehashi_sample}")
string(REPLACE "@REGIONAL_PORT@" "443" _kakehashi_sample "${_kakehashi_sample}")
file(WRITE ${PROJECT_BINARY_DIR}/package/kakehashi.example.json "${_kakehashi_sample}")
install(FILES ${PROJECT_BINARY_DIR}/package/kakehashi.example.json
              ${PROJECT_SOURCE_DIR}/config/registry-overrides.example.json
        DESTINATION /etc/kakehashi PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)

install(FILES ${PROJECT_SOURCE_DIR}/deploy/prometheus/kakehashi-rules.yml
        DESTINATION ${CMAKE_INSTALL_DATADIR}/kakehashi/prometheus)

# Documentation: copyright, changelog (gzip -n: reproducible), the README.
set(_kakehashi_doc ${CMAKE_INSTALL_DATAROOTDIR}/doc/kakehashi)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/debian/copyright ${PROJECT_SOURCE_DIR}/README.md
        DESTINATION ${_kakehashi_doc})
install(FILES ${PROJECT_SOURCE_DIR}/config/README.md DESTINATION ${_kakehashi_doc}
        RENAME config-README.md)
install(CODE "execute_process(COMMAND gzip -9nc ${PROJECT_SOURCE_DIR}/deploy/debian/changelog
                              OUTPUT_FILE ${PROJECT_BINARY_DIR}/package/changelog.gz)")
install(FILES ${PROJECT_BINARY_DIR}/package/changelog.gz DESTINATION ${_kakehashi_doc})

# Man pages from `kakehashi --help` and each command's `--help` (needs help2man; on by
# deploy/package.sh). A dev build does not need them.
option(KAKEHASHI_MANPAGES "Make man pages from --help with help2man (for the package)" OFF)
if(KAKEHASHI_MANPAGES)
  find_program(HELP2MAN help2man REQUIRED)
  set(_man_dir ${PROJECT_BINARY_DIR}/package/man)
  add_custom_command(
    OUTPUT ${_man_dir}/stamp
    COMMAND bash ${PROJECT_SOURCE_DIR}/deploy/debian/make-manpages.sh $<TARGET_FILE:kakehashi>
            ${_man_dir} ${PROJECT_VERSION}
    COMMAND ${CMAKE_COMMAND} -E touch ${_man_dir}/stamp
    DEPENDS kakehashi ${PROJECT_SOURCE_DIR}/deploy/debian/make-manpages.sh
    COMMENT "Man pages from kakehashi --help")
  add_custom_target(kakehashi_manpages ALL DEPENDS ${_man_dir}/stamp)
  install(DIRECTORY ${_man_dir}/ DESTINATION ${CMAKE_INSTALL_MANDIR}/man1
          FILES_MATCHING PATTERN "*.1.gz")
endif()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME kakehashi)
set(CPACK_PACKAGE_VENDOR "Kakehashi project")
set(CPACK_PACKAGE_CONTACT "Kakehashi maintainers <maintainers@kakehashi.example.org>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "care-plan data gateway between a regional care network and the national system")
set(CPACK_PACKAGE_DESCRIPTION
    "Kakehashi relays care-plan send units (MHLW care-plan data linkage\n\
standard) between a regional care network and Japan's national Care Plan\n\
Data Linkage System, keeping signatures intact, with durable accept,\n\
retries, receipts and a hash-chained audit log. It keeps its state in\n\
SQLite or PostgreSQL.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://kakehashi.example.org/")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "postgresql-client, sqlite3")
set(CPACK_DEBIAN_DEBUGINFO_PACKAGE ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/deploy/debian/conffiles ${PROJECT_SOURCE_DIR}/deploy/debian/postinst
    ${PROJECT_SOURCE_DIR}/deploy/debian/prerm ${PROJECT_SOURCE_DIR}/deploy/debian/postrm)
include(CPack)
