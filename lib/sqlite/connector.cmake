target_sources(cdc_internal PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/register.cpp
  ${CMAKE_CURRENT_LIST_DIR}/sqlite_source.cpp
  ${CMAKE_CURRENT_LIST_DIR}/sqlite_capture.cpp
  ${CMAKE_CURRENT_LIST_DIR}/sqlite_destination.cpp
  ${CMAKE_CURRENT_LIST_DIR}/sqlite_checkpoint_store.cpp
  ${CMAKE_CURRENT_LIST_DIR}/sqlite_lease.cpp
)
target_link_libraries(cdc_internal PRIVATE SQLite::SQLite3)
