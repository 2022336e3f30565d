# MariaDB/MySQL connector. SQL and the binlog both go through libmariadb's C API (Connector/C):
# mysql_use_result streams chunk reads unbuffered, and mariadb_rpl_* carries the binlog, whose
# events and rows our own decoder (binlog_decoder.cpp) turns into changes.
find_package(PkgConfig REQUIRED)
pkg_check_modules(MARIADB REQUIRED IMPORTED_TARGET libmariadb>=3.3)
target_sources(cdc_internal PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/register.cpp
  ${CMAKE_CURRENT_LIST_DIR}/mysql_conn.cpp
  ${CMAKE_CURRENT_LIST_DIR}/mysql_types.cpp
  ${CMAKE_CURRENT_LIST_DIR}/mysql_source.cpp
  ${CMAKE_CURRENT_LIST_DIR}/mysql_destination.cpp
  ${CMAKE_CURRENT_LIST_DIR}/mysql_lease.cpp
  ${CMAKE_CURRENT_LIST_DIR}/binlog_decoder.cpp
  ${CMAKE_CURRENT_LIST_DIR}/binlog_stream.cpp
  ${CMAKE_CURRENT_LIST_DIR}/ddl_parse.cpp
)
target_link_libraries(cdc_internal PRIVATE PkgConfig::MARIADB)
