# The HTTP endpoint (status, control, metrics, status page) on Boost.Asio/Beast, header-only.
# The status page is one HTML file, embedded into the library at build time.
file(READ ${CMAKE_CURRENT_LIST_DIR}/status_page.html CDC_STATUS_PAGE)
configure_file(${CMAKE_CURRENT_LIST_DIR}/status_page.cpp.in ${CMAKE_CURRENT_BINARY_DIR}/status_page.cpp @ONLY)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/status_page.html)
target_sources(cdc_internal PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/http_server.cpp
  ${CMAKE_CURRENT_LIST_DIR}/router.cpp
  ${CMAKE_CURRENT_LIST_DIR}/metrics.cpp
  ${CMAKE_CURRENT_LIST_DIR}/status_document.cpp
  ${CMAKE_CURRENT_BINARY_DIR}/status_page.cpp
)
# HTTPS (http.tls_cert / http.tls_key): Beast's ssl_stream on OpenSSL (libssl-dev).
find_package(OpenSSL REQUIRED)
target_link_libraries(cdc_internal PRIVATE Boost::headers OpenSSL::SSL OpenSSL::Crypto)
