"""@com_google_protobuf//bazel:cc_proto_library.bzl for Bazel 4.2.3.

Bazel's native cc_proto_library, with the toolchain
@com_google_protobuf//:cc_toolchain (system protoc and libprotobuf).
"""

def cc_proto_library(**kwargs):
    native.cc_proto_library(**kwargs)
