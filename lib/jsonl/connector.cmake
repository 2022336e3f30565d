target_sources(cdc_internal PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/register.cpp
  ${CMAKE_CURRENT_LIST_DIR}/jsonl_destination.cpp
)
