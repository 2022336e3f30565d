# Harper destination: the operations API over HTTP (Boost.Beast, header-only; Boost.JSON is
# already a dependency of the core).
target_sources(cdc_internal PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/register.cpp
  ${CMAKE_CURRENT_LIST_DIR}/harper_client.cpp
  ${CMAKE_CURRENT_LIST_DIR}/harper_destination.cpp
)
