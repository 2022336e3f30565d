target_sources(cdc PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/register.cpp
)
target_link_libraries(cdc PRIVATE SQLite::SQLite3)
