"""@rules_java//java:defs.bzl for Bazel 4.2.3: Bazel's native Java rules.

@bazel_tools//tools/jdk loads these while resolving toolchains, even for a
C++-only build; herald builds no Java with Bazel.
"""

def java_binary(**kwargs):
    native.java_binary(**kwargs)

def java_import(**kwargs):
    native.java_import(**kwargs)

def java_library(**kwargs):
    native.java_library(**kwargs)

def java_runtime(**kwargs):
    native.java_runtime(**kwargs)

def java_toolchain(**kwargs):
    native.java_toolchain(**kwargs)
