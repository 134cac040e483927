"""@com_google_protobuf//bazel:proto_library.bzl for Bazel 4.2.3.

Current protobuf releases define proto_library here; Bazel 4.2.3 has it
built in (same attributes: srcs, deps, strip_import_prefix, ...).
"""

def proto_library(**kwargs):
    native.proto_library(**kwargs)
