"""@com_github_grpc_grpc//bazel:cc_grpc_library.bzl for Bazel 4.2.3.

The subset of gRPC's cc_grpc_library that herald uses: grpc_only = True,
one proto_library in srcs, the messages' cc_proto_library in deps. It runs
the system protoc with the system grpc_cpp_plugin over the proto_library's
direct sources and compiles the *.grpc.pb.{h,cc} into a cc_library, so that
"herald/v1/foo.grpc.pb.h" (the proto's import path) is includable, as with
gRPC's own rule.
"""

def _import_path(src, proto_source_root):
    # The path protoc knows the file by: relative to its proto_source_root
    # ("." for the main repository, "external/<repo>", or a _virtual_imports
    # directory when the proto_library sets strip_import_prefix).
    path = src.path
    if proto_source_root not in ("", ".") and path.startswith(proto_source_root + "/"):
        return path[len(proto_source_root) + 1:]
    if src.root.path and path.startswith(src.root.path + "/"):
        path = path[len(src.root.path) + 1:]
    if path.startswith("external/"):
        path = path.split("/", 2)[2]
    return path

def _grpc_codegen_impl(ctx):
    info = ctx.attr.src[ProtoInfo]
    headers = []
    sources = []
    out_dir = None
    import_paths = []
    for src in info.direct_sources:
        import_paths.append(_import_path(src, info.proto_source_root))
        base = import_paths[-1][:-len(".proto")]
        header = ctx.actions.declare_file("%s/%s.grpc.pb.h" % (ctx.label.name, base))
        headers.append(header)
        sources.append(ctx.actions.declare_file("%s/%s.grpc.pb.cc" % (ctx.label.name, base)))
        if ctx.attr.generate_mocks:
            headers.append(ctx.actions.declare_file("%s/%s_mock.grpc.pb.h" % (ctx.label.name, base)))
        if out_dir == None:
            out_dir = header.path[:-len("/%s.grpc.pb.h" % base)]

    args = ctx.actions.args()
    args.add("--plugin=protoc-gen-grpc=" + ctx.executable._plugin.path)
    args.add("--grpc_out=%s%s" % ("generate_mock_code=true:" if ctx.attr.generate_mocks else "", out_dir))
    args.add_all(info.transitive_proto_path, format_each = "-I%s")
    args.add_all(import_paths)
    ctx.actions.run(
        executable = ctx.executable._protoc,
        arguments = [args],
        inputs = info.transitive_sources,
        tools = [ctx.executable._plugin],
        outputs = headers + sources,
        mnemonic = "GrpcCppCodegen",
        progress_message = "Generating gRPC C++ code for %s" % ctx.attr.src.label,
    )
    return [
        DefaultInfo(files = depset(headers + sources)),
        OutputGroupInfo(headers = depset(headers), sources = depset(sources)),
    ]

_grpc_codegen = rule(
    implementation = _grpc_codegen_impl,
    attrs = {
        "src": attr.label(mandatory = True, providers = [ProtoInfo]),
        "generate_mocks": attr.bool(),
        "_protoc": attr.label(
            default = Label("@com_google_protobuf//:protoc"),
            executable = True,
            cfg = "host",
        ),
        "_plugin": attr.label(
            default = Label("//:grpc_cpp_plugin"),
            executable = True,
            cfg = "host",
        ),
    },
)

def cc_grpc_library(
        name,
        srcs,
        deps,
        grpc_only = False,
        generate_mocks = False,
        visibility = None,
        **kwargs):
    """gRPC C++ stubs for the services of one proto_library.

    Args:
      name: the cc_library.
      srcs: exactly one proto_library.
      deps: its cc_proto_library (the messages).
      grpc_only: must be True (this shim does not generate the messages).
      generate_mocks: also emit *_mock.grpc.pb.h (gMock stubs).
      visibility: of the cc_library.
      **kwargs: passed to the cc_library (tags, testonly, ...).
    """
    if not grpc_only or len(srcs) != 1:
        fail("this cc_grpc_library supports grpc_only = True with one proto_library in srcs")
    codegen = name + "_codegen"
    _grpc_codegen(
        name = codegen,
        src = srcs[0],
        generate_mocks = generate_mocks,
        visibility = ["//visibility:private"],
        testonly = kwargs.get("testonly", False),
    )
    for group in ("headers", "sources"):
        native.filegroup(
            name = "%s_%s" % (codegen, group),
            srcs = [":" + codegen],
            output_group = group,
            visibility = ["//visibility:private"],
            testonly = kwargs.get("testonly", False),
        )
    native.cc_library(
        name = name,
        srcs = [":%s_sources" % codegen],
        hdrs = [":%s_headers" % codegen],
        includes = [codegen],
        deps = deps + [Label("//:grpc++")] + ([Label("@com_google_googletest//:gtest")] if generate_mocks else []),
        visibility = visibility,
        **kwargs
    )
