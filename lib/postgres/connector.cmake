# PostgreSQL connector: libpq only (libpqxx 6.4 cannot carry the replication protocol).
find_package(PostgreSQL 15 REQUIRED)
target_sources(cdc_internal PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/register.cpp
  ${CMAKE_CURRENT_LIST_DIR}/pg_conn.cpp
  ${CMAKE_CURRENT_LIST_DIR}/pg_types.cpp
  ${CMAKE_CURRENT_LIST_DIR}/copy_binary.cpp
  ${CMAKE_CURRENT_LIST_DIR}/pgoutput_decoder.cpp
  ${CMAKE_CURRENT_LIST_DIR}/streamed_txn.cpp
  ${CMAKE_CURRENT_LIST_DIR}/pg_source.cpp
  ${CMAKE_CURRENT_LIST_DIR}/pg_stream.cpp
  ${CMAKE_CURRENT_LIST_DIR}/pg_destination.cpp
  ${CMAKE_CURRENT_LIST_DIR}/pg_lease.cpp
)
target_link_libraries(cdc_internal PRIVATE PostgreSQL::PostgreSQL)
