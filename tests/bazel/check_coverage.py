#!/usr/bin/env python3
"""Static check that herald's BUILD.bazel files cannot drift from the tree.

CMake is herald's primary build; the Bazel targets (for Bazel users) list
their files explicitly, so a new .proto or client source that nobody adds to
a BUILD.bazel would silently be missing for Bazel users. This fails loudly:

  protos/  every .proto is in exactly one proto_library, in the BUILD.bazel
           of its own directory; strip_import_prefix makes its import path
           what CMake's -I protos / -I protos/third_party make it; the
           proto_library's deps are exactly what its files import; every
           proto_library has a cc_proto_library, and one with services a
           cc_grpc_library(grpc_only = True).
  client/  every .cc and .h is in a target of client/BUILD.bazel; CMake's
           herald_client sources are in @herald//client (or a dependency in
           this repository), its public headers are exactly the target's
           hdrs, heraldctl's sources match.
  version  MODULE.bazel's version == CMake's project(VERSION) == heraldctl's
           HERALD_VERSION_STRING in client/BUILD.bazel.
  files    every file a BUILD.bazel names exists.

BUILD.bazel files are read with Python's ast (Starlark's syntax is a subset of
Python's); srcs, hdrs and deps must be literal lists (no glob()), which is what
makes them checkable. --self-test copies the relevant files, adds an
uncovered .proto and client source, and expects this check to name them.

Usage: check_coverage.py [--root DIR] [--self-test]
"""

import argparse
import ast
import os
import re
import shutil
import sys
import tempfile

# CMake's protoc include roots (protos/CMakeLists.txt), longest first.
PROTO_ROOTS = ["protos/third_party", "protos"]
# Imports served by other Bazel modules -> the label that provides them.
EXTERNAL_PROTOS = {
    "google/protobuf/any.proto": "@com_google_protobuf//:any_proto",
    "google/protobuf/api.proto": "@com_google_protobuf//:api_proto",
    "google/protobuf/descriptor.proto": "@com_google_protobuf//:descriptor_proto",
    "google/protobuf/duration.proto": "@com_google_protobuf//:duration_proto",
    "google/protobuf/empty.proto": "@com_google_protobuf//:empty_proto",
    "google/protobuf/field_mask.proto": "@com_google_protobuf//:field_mask_proto",
    "google/protobuf/source_context.proto": "@com_google_protobuf//:source_context_proto",
    "google/protobuf/struct.proto": "@com_google_protobuf//:struct_proto",
    "google/protobuf/timestamp.proto": "@com_google_protobuf//:timestamp_proto",
    "google/protobuf/type.proto": "@com_google_protobuf//:type_proto",
    "google/protobuf/wrappers.proto": "@com_google_protobuf//:wrappers_proto",
    "grpc/health/v1/health.proto": "@io_grpc_grpc_proto//:health_proto",
}
RULES = {
    "proto_library", "cc_proto_library", "cc_grpc_library", "cc_library",
    "cc_binary", "cc_test", "alias", "filegroup", "exports_files", "package",
}
FILE_ATTRS = ("srcs", "hdrs", "textual_hdrs")


class Problems:
    def __init__(self):
        self.items = []

    def add(self, where, message):
        self.items.append("%s: %s" % (where, message))


class Target:
    def __init__(self, package, kind, attrs, line):
        self.package = package
        self.kind = kind
        self.attrs = attrs
        self.line = line
        self.name = attrs.get("name", "")

    @property
    def label(self):
        return "//%s:%s" % (self.package, self.name)

    def where(self):
        return "%s/BUILD.bazel:%d (%s)" % (self.package or ".", self.line, self.name or self.kind)

    def files(self, attr):
        """Repository-relative paths of the source files named in attr."""
        out = []
        for item in self.attrs.get(attr) or []:
            if item.startswith((":", "//", "@")):
                continue  # a target, not a file (e.g. a generated file)
            out.append(os.path.normpath(os.path.join(self.package, item)))
        return out


def parse_build(root, package, problems):
    path = os.path.join(root, package, "BUILD.bazel")
    with open(path) as f:
        try:
            tree = ast.parse(f.read(), path)
        except SyntaxError as e:
            problems.add("%s/BUILD.bazel:%s" % (package or ".", e.lineno),
                         "cannot parse: %s" % e.msg)
            return []
    targets = []
    for node in tree.body:
        if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)):
            continue
        call = node.value
        if not isinstance(call.func, ast.Name) or call.func.id not in RULES:
            continue
        attrs = {}
        for kw in call.keywords:
            try:
                attrs[kw.arg] = ast.literal_eval(kw.value)
            except ValueError:
                if kw.arg in FILE_ATTRS + ("deps", "name", "strip_import_prefix"):
                    problems.add("%s/BUILD.bazel:%d" % (package or ".", node.lineno),
                                 "%s of %s must be a literal (no glob() or "
                                 "expressions), so that it can be checked" %
                                 (kw.arg, call.func.id))
                attrs[kw.arg] = None
        targets.append(Target(package, call.func.id, attrs, node.lineno))
    return targets


def load_all(root, problems):
    """Every BUILD.bazel herald has: package -> [Target]."""
    packages = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        rel = "" if rel == "." else rel
        # Not herald's packages: build trees, tools, the consumer workspace
        # (a separate Bazel workspace), vendored SDK dependencies.
        dirnames[:] = [d for d in dirnames
                       if not d.startswith(".") and d != "node_modules"
                       and not (rel == "" and d.startswith("build"))
                       and not (rel == "bazel-compat" and d == "consumer")]
        if "BUILD.bazel" in filenames or "BUILD" in filenames:
            if "BUILD" in filenames:
                problems.add(rel or ".", "name Bazel files BUILD.bazel (found BUILD)")
                continue
            packages[rel] = parse_build(root, rel, problems)
    return packages


def resolve_label(label, package):
    """(package, name) of a label inside this repository, or None."""
    if label.startswith("@herald//"):
        label = label[len("@herald"):]
    if label.startswith(":"):
        return package, label[1:]
    if label.startswith("//"):
        pkg, _, name = label[2:].partition(":")
        return pkg, name or pkg.split("/")[-1]
    return None


def proto_imports(path):
    imports = []
    with open(path) as f:
        for line in f:
            m = re.match(r'\s*import\s+(?:public\s+|weak\s+)?"([^"]+)"\s*;', line)
            if m:
                imports.append(m.group(1))
    return imports


def has_service(path):
    with open(path) as f:
        return re.search(r"^\s*service\s+\w+\s*\{", f.read(), re.M) is not None


def proto_root(path):
    for r in PROTO_ROOTS:
        if path.startswith(r + "/"):
            return r
    return None


def check_protos(root, packages, problems):
    owner = {}  # repository path of a .proto -> Target
    for package, targets in packages.items():
        for t in targets:
            if t.kind != "proto_library":
                continue
            for f in t.files("srcs"):
                if os.path.dirname(f) != package:
                    problems.add(t.where(), "%s is not in this package's directory" % f)
                if f in owner:
                    problems.add(t.where(), "%s is already in %s" % (f, owner[f].label))
                owner[f] = t

    protos = []
    for dirpath, _, filenames in os.walk(os.path.join(root, "protos")):
        for name in filenames:
            if name.endswith(".proto"):
                protos.append(os.path.relpath(os.path.join(dirpath, name), root))
    for p in sorted(protos):
        package = os.path.dirname(p)
        if package not in packages:
            problems.add(p, "no BUILD.bazel in %s/ (add a proto_library for it)" % package)
        elif p not in owner:
            problems.add(p, "not in any proto_library (add it to srcs in %s/BUILD.bazel)" % package)
    for f, t in sorted(owner.items()):
        if not os.path.isfile(os.path.join(root, f)):
            problems.add(t.where(), "%s does not exist" % f)

    # Import paths, import -> deps, language targets.
    by_import = {}
    for f, t in owner.items():
        r = proto_root(f)
        if r is None:
            problems.add(t.where(), "%s is outside %s" % (f, " and ".join(PROTO_ROOTS)))
            continue
        by_import[f[len(r) + 1:]] = t
    for package, targets in sorted(packages.items()):
        for t in targets:
            if t.kind != "proto_library" or t.attrs.get("srcs") is None:
                continue  # (a srcs that is not a literal list is reported already)
            srcs = t.files("srcs")
            roots = {proto_root(f) for f in srcs}
            want_prefix = "/" + roots.pop() if len(roots) == 1 and None not in roots else None
            if t.attrs.get("strip_import_prefix") != want_prefix:
                problems.add(t.where(), 'strip_import_prefix must be "%s" so that import '
                             'paths equal CMake\'s (-I %s)' % (want_prefix, want_prefix[1:] if want_prefix else "?"))
            want = set()
            for f in srcs:
                if not os.path.isfile(os.path.join(root, f)):
                    continue
                for imp in proto_imports(os.path.join(root, f)):
                    if imp in by_import:
                        dep = by_import[imp]
                        if dep is t:
                            continue
                        want.add(":" + dep.name if dep.package == package else dep.label)
                    elif imp in EXTERNAL_PROTOS:
                        want.add(EXTERNAL_PROTOS[imp])
                    else:
                        problems.add(f, 'imports "%s", which no Bazel target provides '
                                     "(add it to EXTERNAL_PROTOS in %s if it comes from "
                                     "another module)" % (imp, "tests/bazel/check_coverage.py"))
            have = set(t.attrs.get("deps") or [])
            for d in sorted(want - have):
                problems.add(t.where(), "deps lacks %s (imported by its sources)" % d)
            for d in sorted(have - want):
                problems.add(t.where(), "deps has %s, which none of its sources imports" % d)

            cc = [c for c in targets if c.kind == "cc_proto_library"
                  and c.attrs.get("deps") == [":" + t.name]]
            if len(cc) != 1:
                problems.add(t.where(), 'needs exactly one cc_proto_library(deps = [":%s"])' % t.name)
            if any(has_service(os.path.join(root, f)) for f in srcs
                   if os.path.isfile(os.path.join(root, f))):
                grpc = [g for g in targets if g.kind == "cc_grpc_library"
                        and g.attrs.get("srcs") == [":" + t.name]]
                if len(grpc) != 1:
                    problems.add(t.where(), 'defines services: needs exactly one '
                                 'cc_grpc_library(srcs = [":%s"], grpc_only = True, ...)' % t.name)
                elif (grpc[0].attrs.get("grpc_only") is not True or not cc or
                      grpc[0].attrs.get("deps") != [":" + cc[0].name]):
                    problems.add(grpc[0].where(), 'must be grpc_only = True with deps = [":%s"]'
                                 % (cc[0].name if cc else t.name + "_cc_proto"))
        # An API package: public by default.
        if any(t.kind == "proto_library" for t in targets):
            pkg = [t for t in targets if t.kind == "package"]
            if not pkg or pkg[0].attrs.get("default_visibility") != ["//visibility:public"]:
                problems.add("%s/BUILD.bazel" % package,
                             'needs package(default_visibility = ["//visibility:public"])')


def cmake_list(text, command, first):
    """The items of `command(first item item ...)` in a CMakeLists.txt."""
    m = re.search(r"%s\(\s*%s\b(.*?)\)" % (re.escape(command), re.escape(first)), text, re.S)
    if not m:
        return None
    body = re.sub(r"#[^\n]*", "", m.group(1))
    return body.split()


def check_client(root, packages, problems):
    if "client" not in packages:
        problems.add("client", "no client/BUILD.bazel")
        return
    targets = packages["client"]
    by_name = {t.name: t for t in targets}
    covered = {}
    for t in targets:
        for attr in FILE_ATTRS:
            for f in t.files(attr):
                covered.setdefault(f, []).append(t)
    for dirpath, dirnames, filenames in os.walk(os.path.join(root, "client")):
        dirnames[:] = [d for d in dirnames if not d.startswith(("build", "."))]
        for name in filenames:
            if not name.endswith((".cc", ".h")):
                continue
            f = os.path.relpath(os.path.join(dirpath, name), root)
            if f not in covered:
                problems.add(f, "not in any target of client/BUILD.bazel (add it to "
                             "srcs or hdrs of the target it belongs to)")
            elif f.endswith(".cc") and len(covered[f]) > 1:
                problems.add(f, "compiled by several targets: %s" %
                             ", ".join(t.name for t in covered[f]))

    cmake_path = os.path.join(root, "client", "CMakeLists.txt")
    with open(cmake_path) as f:
        cmake = f.read()
    lib = by_name.get("client")
    sources = cmake_list(cmake, "add_library", "herald_client")
    headers = cmake_list(cmake, "set", "HERALD_CLIENT_PUBLIC_HEADERS")
    if lib is None:
        problems.add("client/BUILD.bazel", "no cc_library named client (CMake's herald_client)")
        return
    if sources is None or headers is None:
        problems.add("client/CMakeLists.txt", "cannot find add_library(herald_client ...) "
                     "or set(HERALD_CLIENT_PUBLIC_HEADERS ...); update %s" %
                     "tests/bazel/check_coverage.py")
        return
    # Sources of :client and of its dependencies in this repository.
    bazel_sources = set(lib.files("srcs"))
    for dep in lib.attrs.get("deps") or []:
        resolved = resolve_label(dep, "client")
        if resolved and resolved[0] in packages:
            for t in packages[resolved[0]]:
                if t.name == resolved[1]:
                    bazel_sources.update(t.files("srcs"))
    for s in sources:
        if s.startswith("$"):
            s = re.sub(r"^\$\{(PROJECT|CMAKE)_SOURCE_DIR\}/", "", s)
        else:
            s = os.path.normpath(os.path.join("client", s))
        if s.startswith("$") or not s.endswith(".cc"):
            continue
        if s not in bazel_sources:
            problems.add("client/CMakeLists.txt", "herald_client compiles %s, which "
                         "@herald//client (client/BUILD.bazel) and its deps do not" % s)
    want_hdrs = {os.path.join("client", h) for h in headers}
    have_hdrs = set(lib.files("hdrs"))
    for h in sorted(want_hdrs - have_hdrs):
        problems.add(lib.where(), "hdrs lacks %s (a public header in client/CMakeLists.txt)" % h)
    for h in sorted(have_hdrs - want_hdrs):
        problems.add(lib.where(), "hdrs has %s, which client/CMakeLists.txt does not install" % h)

    ctl_path = os.path.join(root, "client", "heraldctl", "CMakeLists.txt")
    if os.path.isfile(ctl_path):
        with open(ctl_path) as f:
            ctl = cmake_list(f.read(), "add_executable", "heraldctl") or []
        want = {os.path.join("client", "heraldctl", s) for s in ctl if s.endswith(".cc")}
        have = {f for f in by_name["heraldctl"].files("srcs") if f.endswith(".cc")} \
            if "heraldctl" in by_name else set()
        for s in sorted(want ^ have):
            problems.add("client/BUILD.bazel (heraldctl)", "%s is in %s but not in %s" % (
                s, *(("heraldctl/CMakeLists.txt", "BUILD.bazel") if s in want
                     else ("BUILD.bazel", "heraldctl/CMakeLists.txt"))))


def check_files_exist(root, packages, problems):
    for package, targets in packages.items():
        for t in targets:
            for attr in FILE_ATTRS:
                for f in t.files(attr):
                    if not os.path.exists(os.path.join(root, f)):
                        problems.add(t.where(), "%s names %s, which does not exist" % (attr, f))
                    else:
                        # A file of a subpackage cannot be named from here.
                        d = os.path.dirname(f)
                        while d and d != package:
                            if d in packages:
                                problems.add(t.where(), "%s is in package //%s, not //%s" %
                                             (f, d, package))
                                break
                            d = os.path.dirname(d)


def check_version(root, packages, problems):
    def grab(path, pattern):
        full = os.path.join(root, path)
        if not os.path.isfile(full):
            return None
        with open(full) as f:
            m = re.search(pattern, f.read(), re.S)
        return m.group(1) if m else None

    cmake = grab("CMakeLists.txt", r"project\(\s*herald\s+VERSION\s+([0-9.]+)")
    module = grab("MODULE.bazel", r"module\(.*?version\s*=\s*\"([^\"]+)\"")
    ctl = grab("client/BUILD.bazel", r"HERALD_VERSION_STRING=\\\\\"([^\\\"]+)")
    if cmake is None or module is None:
        problems.add("MODULE.bazel", "cannot read the version of CMakeLists.txt (%s) or "
                     "MODULE.bazel (%s)" % (cmake, module))
    elif module != cmake:
        problems.add("MODULE.bazel", 'version = "%s" but CMakeLists.txt says %s' % (module, cmake))
    if ctl is not None and ctl != cmake:
        problems.add("client/BUILD.bazel", 'heraldctl\'s HERALD_VERSION_STRING is "%s" but '
                     "CMakeLists.txt says %s" % (ctl, cmake))


def run(root):
    problems = Problems()
    packages = load_all(root, problems)
    check_protos(root, packages, problems)
    check_client(root, packages, problems)
    check_files_exist(root, packages, problems)
    check_version(root, packages, problems)
    return packages, problems.items


def self_test(root):
    """The check must catch what it is for; run on a copy of the tree."""
    tmp = tempfile.mkdtemp(prefix="herald-bazel-selftest-")
    try:
        for rel in ["protos", "client", "BUILD.bazel", "MODULE.bazel", "CMakeLists.txt",
                    "server/delivery/signer.cc", "server/delivery/signer.h"]:
            src, dst = os.path.join(root, rel), os.path.join(tmp, rel)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            if os.path.isdir(src):
                shutil.copytree(src, dst, ignore=shutil.ignore_patterns("build*"))
            else:
                shutil.copy(src, dst)
        _, problems = run(tmp)
        if problems:
            print("self-test: the copy is not clean to begin with:\n  " + "\n  ".join(problems))
            return 1
        # An uncovered proto (with an import nobody declared), an uncovered
        # client source, a proto in a directory without BUILD.bazel, and a
        # CMake source Bazel does not compile.
        with open(os.path.join(tmp, "protos/herald/v1/audit.proto"), "w") as f:
            f.write('syntax = "proto3";\npackage herald.v1;\n')
        with open(os.path.join(tmp, "protos/herald/v1/policy.proto"), "a") as f:
            f.write('import "google/protobuf/empty.proto";\n')
        os.makedirs(os.path.join(tmp, "protos/herald/v2"))
        with open(os.path.join(tmp, "protos/herald/v2/x.proto"), "w") as f:
            f.write('syntax = "proto3";\npackage herald.v2;\n')
        with open(os.path.join(tmp, "client/retry.cc"), "w") as f:
            f.write("// new\n")
        cm = os.path.join(tmp, "client/CMakeLists.txt")
        with open(cm) as f:
            text = f.read()
        with open(cm, "w") as f:
            f.write(text.replace("  client.cc\n", "  client.cc\n  retry.cc\n", 1))
        _, problems = run(tmp)
        expected = [
            "protos/herald/v1/audit.proto: not in any proto_library",
            "deps lacks @com_google_protobuf//:empty_proto",
            "protos/herald/v2/x.proto: no BUILD.bazel",
            "client/retry.cc: not in any target",
            "herald_client compiles client/retry.cc",
        ]
        missing = [e for e in expected if not any(e in p for p in problems)]
        if missing:
            print("self-test: the check did not report:\n  " + "\n  ".join(missing))
            print("it reported:\n  " + "\n  ".join(problems))
            return 1
        print("self-test: the check reports uncovered files (%d problems found in the "
              "modified copy, as expected)" % len(problems))
        return 0
    finally:
        shutil.rmtree(tmp)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", default=os.path.join(os.path.dirname(__file__), "..", ".."))
    parser.add_argument("--self-test", action="store_true")
    args = parser.parse_args()
    root = os.path.abspath(args.root)
    if args.self_test:
        return self_test(root)
    packages, problems = run(root)
    if problems:
        print("Bazel BUILD files are out of date with the tree (%d problems):" % len(problems))
        for p in problems:
            print("  " + p)
        print("Fix the BUILD.bazel files named above; see bazel-compat/README.md.")
        return 1
    n = sum(len(t) for t in packages.values())
    print("BUILD.bazel coverage: ok (%d packages, %d targets; every .proto under protos/ "
          "and every client source is covered)" % (len(packages), n))
    return 0


if __name__ == "__main__":
    sys.exit(main())
