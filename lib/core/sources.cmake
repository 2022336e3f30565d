target_sources(cdc PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/value.cpp
  ${CMAKE_CURRENT_LIST_DIR}/schema.cpp
  ${CMAKE_CURRENT_LIST_DIR}/error.cpp
  ${CMAKE_CURRENT_LIST_DIR}/log.cpp
  ${CMAKE_CURRENT_LIST_DIR}/config.cpp
  ${CMAKE_CURRENT_LIST_DIR}/config_tree.cpp
  ${CMAKE_CURRENT_LIST_DIR}/registry.cpp
  ${CMAKE_CURRENT_LIST_DIR}/source.cpp
  ${CMAKE_CURRENT_LIST_DIR}/type_mapper.cpp
  ${CMAKE_CURRENT_LIST_DIR}/array_literal.cpp
  ${CMAKE_CURRENT_LIST_DIR}/plan.cpp
  ${CMAKE_CURRENT_LIST_DIR}/session.cpp
  ${CMAKE_CURRENT_LIST_DIR}/failpoint.cpp
  ${CMAKE_CURRENT_LIST_DIR}/value_order.cpp
  ${CMAKE_CURRENT_LIST_DIR}/checkpoint_codec.cpp
  ${CMAKE_CURRENT_LIST_DIR}/verify.cpp
)
