# herald_sender: one webhook HTTP exchange - the HttpSender interface, the
# libcurl-multi CurlSender, the Standard Webhooks signer and the request
# builder (Harbor's headers plus herald's), and the FakeHttpSender used by
# the dispatcher's unit tests (header-only). Included by
# server/delivery/CMakeLists.txt.
add_library(herald_sender
  ${CMAKE_CURRENT_LIST_DIR}/curl_sender.cc
  ${CMAKE_CURRENT_LIST_DIR}/request_builder.cc
  ${CMAKE_CURRENT_LIST_DIR}/signer.cc
)
target_link_libraries(herald_sender
  PUBLIC
    herald_core
    absl::any_invocable
    absl::status
    absl::statusor
    absl::strings
    absl::synchronization
    absl::time
  PRIVATE
    absl::flat_hash_set
    absl::base
    CURL::libcurl
    OpenSSL::Crypto
    Threads::Threads
)
set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/request_builder.cc
  PROPERTIES COMPILE_DEFINITIONS HERALD_VERSION_STRING="${HERALD_VERSION}")
