"""herald's external Bazel dependencies, served from Debian 12's packages.

For Bazel without Bzlmod (WORKSPACE; checked with Debian's bazel-bootstrap,
Bazel 4.2.3) on a machine that has herald's build dependencies installed
(scripts/install-deps.sh). Nothing is downloaded: each repository below is a
thin shim over the system's protoc, grpc_cpp_plugin, headers and shared
libraries, under the repository name and target labels that herald's
BUILD.bazel files use with current Bazel (see MODULE.bazel):

    @rules_cc, @rules_java          forward to Bazel's native rules
    @com_google_protobuf            protoc, the C++ runtime, well-known protos,
                                    //bazel:proto_library.bzl, cc_proto_library.bzl
    @com_github_grpc_grpc           //:grpc++, //bazel:cc_grpc_library.bzl
    @com_google_absl                the absl/... targets herald uses
    @io_grpc_grpc_proto             //:health_proto (grpc.health.v1)
    @nlohmann_json, @openssl, @com_google_googletest

Usage, in a WORKSPACE:

    new_local_repository(
        name = "herald",
        path = "/path/to/herald",
        build_file = "/path/to/herald/BUILD.bazel",
    )
    load("@herald//bazel-compat/system:repositories.bzl", "herald_system_repositories")
    herald_system_repositories()

The versions are Debian's (gRPC 1.51, protobuf 3.21, Abseil 20220623), not
the ones MODULE.bazel names. See bazel-compat/README.md.
"""

def _pkg_config_libs(rctx, modules):
    result = rctx.execute(["pkg-config", "--libs"] + modules.split(" "))
    if result.return_code != 0:
        fail("%s: pkg-config --libs %s failed (is herald's build environment installed? " %
             (rctx.name, modules) + "run scripts/install-deps.sh):\n" + result.stderr)
    # pkg-config repeats libraries (gRPC's .pc files do, a lot): keep the
    # last -lfoo of each, which stays after everything that needs it.
    flags = [f for f in result.stdout.strip().split(" ") if f]
    return [
        f
        for i, f in enumerate(flags)
        if not f.startswith("-l") or f not in flags[i + 1:]
    ]

def _system_repository_impl(rctx):
    rctx.file("WORKSPACE", 'workspace(name = "%s")\n' % rctx.name)
    for dest, target in rctx.attr.links.items():
        if not rctx.path(target).exists:
            fail("%s: %s is missing (run scripts/install-deps.sh)" % (rctx.name, target))
        rctx.symlink(target, dest)
    for label, dest in rctx.attr.files.items():
        rctx.symlink(rctx.path(label), dest)
    for dest, content in rctx.attr.executables.items():
        rctx.file(dest, content, executable = True)

    # One cc_library per entry of `libraries`, linking what pkg-config says.
    # The headers are the system's (/usr/include is a built-in include
    # directory of the local C++ toolchain), so the targets have no hdrs.
    libraries = []
    for name, modules in sorted(rctx.attr.libraries.items()):
        libraries.append(
            "cc_library(\n    name = %r,\n    linkopts = %r,\n)\n" %
            (name, _pkg_config_libs(rctx, modules)) if modules else "cc_library(name = %r)\n" % name,
        )
    packages = dict(rctx.attr.packages)
    packages[""] = ("package(default_visibility = [\"//visibility:public\"])\n\n" +
                    packages.get("", "") + "\n" + "\n".join(libraries))
    for package, content in packages.items():
        rctx.file(package + "/BUILD.bazel" if package else "BUILD.bazel", content)

system_repository = repository_rule(
    implementation = _system_repository_impl,
    # Re-run on every Bazel server start: it only writes a few files, and it
    # picks up changed system packages.
    local = True,
    attrs = {
        # path in the repository -> absolute path on this machine
        "links": attr.string_dict(),
        # file of herald's bazel-compat/system -> path in the repository
        "files": attr.label_keyed_string_dict(allow_files = True),
        # path in the repository -> content of an executable script
        "executables": attr.string_dict(),
        # target in the root package -> pkg-config modules it links ("" for none)
        "libraries": attr.string_dict(),
        # package -> BUILD.bazel content
        "packages": attr.string_dict(),
    },
)

# --- @rules_cc, @rules_java -------------------------------------------------
# Bazel 4.2.3's own @bazel_tools loads them, and the WORKSPACE suffix would
# download them; Debian's bazel-rules-cc is too new for 4.2.3.

_RULES_CC_BUILD = """\
alias(
    name = "toolchain_type",
    actual = "@bazel_tools//tools/cpp:toolchain_type",
)
"""

def _rules_cc_and_java():
    system_repository(
        name = "rules_cc",
        files = {Label("//bazel-compat/system:rules_cc/defs.bzl"): "cc/defs.bzl"},
        packages = {"cc": "package(default_visibility = [\"//visibility:public\"])\n\n" + _RULES_CC_BUILD},
    )
    system_repository(
        name = "rules_java",
        files = {Label("//bazel-compat/system:rules_java/defs.bzl"): "java/defs.bzl"},
        packages = {"java": ""},
    )

# Bazel 4.2.3's test rules (cc_test) depend on these coverage tools, which
# its WORKSPACE suffix would download; `bazel coverage` is not supported here.
_NO_COVERAGE = "#!/bin/sh\necho 'coverage tools are not available offline' >&2\nexit 1\n"

def _coverage_tools():
    system_repository(
        name = "remote_coverage_tools",
        executables = {"unavailable.sh": _NO_COVERAGE},
        packages = {"": """\
sh_binary(
    name = "coverage_report_generator",
    srcs = ["unavailable.sh"],
)

sh_binary(
    name = "lcov_merger",
    srcs = ["unavailable.sh"],
)
"""},
    )

# --- @com_google_protobuf ---------------------------------------------------

# Well-known types: name -> the well-known types it imports.
_WELL_KNOWN_PROTOS = {
    "any": [],
    "api": ["source_context", "type"],
    "descriptor": [],
    "duration": [],
    "empty": [],
    "field_mask": [],
    "source_context": [],
    "struct": [],
    "timestamp": [],
    "type": ["any", "source_context"],
    "wrappers": [],
}

def _protobuf_build():
    wkt = ""
    for name, deps in sorted(_WELL_KNOWN_PROTOS.items()):
        wkt += "proto_library(\n    name = %r,\n    srcs = [%r],\n    deps = %r,\n)\n\n" % (
            name + "_proto",
            "google/protobuf/%s.proto" % name,
            [":%s_proto" % d for d in deps],
        )
    return """\
# protoc (Debian's protobuf-compiler), as --proto_compiler and for genrules.
sh_binary(
    name = "protoc",
    srcs = ["protoc.sh"],
)

# --proto_toolchain_for_cc: Bazel's native cc_proto_library with the system
# C++ runtime. The well-known types are compiled into libprotobuf.
proto_lang_toolchain(
    name = "cc_toolchain",
    blacklisted_protos = %r,
    command_line = "--cpp_out=$(OUT)",
    runtime = ":protobuf",
)

alias(
    name = "protobuf_headers",
    actual = ":protobuf",
)

""" % [":%s_proto" % n for n in sorted(_WELL_KNOWN_PROTOS)] + wkt

def _protobuf():
    links = {"google/protobuf/%s.proto" % n: "/usr/include/google/protobuf/%s.proto" % n for n in _WELL_KNOWN_PROTOS}
    system_repository(
        name = "com_google_protobuf",
        links = links,
        executables = {"protoc.sh": "#!/bin/sh\nexec /usr/bin/protoc \"$@\"\n"},
        files = {
            Label("//bazel-compat/system:protobuf/proto_library.bzl"): "bazel/proto_library.bzl",
            Label("//bazel-compat/system:protobuf/cc_proto_library.bzl"): "bazel/cc_proto_library.bzl",
        },
        libraries = {"protobuf": "protobuf"},
        packages = {"": _protobuf_build(), "bazel": ""},
    )

# --- @com_github_grpc_grpc, @io_grpc_grpc_proto -----------------------------

def _grpc():
    system_repository(
        name = "com_github_grpc_grpc",
        executables = {"grpc_cpp_plugin.sh": "#!/bin/sh\nexec /usr/bin/grpc_cpp_plugin \"$@\"\n"},
        files = {Label("//bazel-compat/system:grpc/cc_grpc_library.bzl"): "bazel/cc_grpc_library.bzl"},
        libraries = {"grpc++": "grpc++"},
        packages = {
            "": """\
sh_binary(
    name = "grpc_cpp_plugin",
    srcs = ["grpc_cpp_plugin.sh"],
)
""",
            "bazel": "",
        },
    )
    system_repository(
        name = "io_grpc_grpc_proto",
        links = {"grpc/health/v1/health.proto": "/usr/share/grpc-proto/grpc/health/v1/health.proto"},
        packages = {"": """\
proto_library(
    name = "health_proto",
    srcs = ["grpc/health/v1/health.proto"],
)
"""},
    )

# --- @com_google_absl -------------------------------------------------------

# label -> pkg-config module (Debian's libabsl-dev ships one per library).
_ABSL = {
    "absl/base": "absl_base",
    "absl/status": "absl_status",
    "absl/status:statusor": "absl_statusor",
    "absl/strings": "absl_strings",
    "absl/strings:cord": "absl_cord",
    "absl/strings:str_format": "absl_str_format",
    "absl/synchronization": "absl_synchronization",
    "absl/time": "absl_time",
}

def _absl():
    libraries = {}
    packages = {}
    for label, module in _ABSL.items():
        package, _, name = label.partition(":")
        name = name or package.split("/")[-1]
        flat = package.replace("/", "_") + "_" + name
        libraries[flat] = module
        packages[package] = packages.get(package, "package(default_visibility = [\"//visibility:public\"])\n") + \
                            "\nalias(\n    name = %r,\n    actual = \"//:%s\",\n)\n" % (name, flat)
    system_repository(name = "com_google_absl", libraries = libraries, packages = packages)

# --- the rest ---------------------------------------------------------------

def _others():
    system_repository(name = "nlohmann_json", libraries = {"json": ""})
    system_repository(name = "openssl", libraries = {"crypto": "libcrypto", "ssl": "libssl libcrypto"})
    system_repository(
        name = "com_google_googletest",
        libraries = {"gtest": "gmock gtest", "gtest_main": "gmock_main gmock gtest"},
    )

def herald_system_repositories():
    """Defines every repository herald's BUILD.bazel files load or depend on."""
    _rules_cc_and_java()
    _coverage_tools()
    _protobuf()
    _grpc()
    _absl()
    _others()
