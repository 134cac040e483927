// herald_config_doc: prints the generated configuration table, or with
// `--update FILE` replaces the text between the markers below in FILE.
#include <cstdio>
#include <string>
#include <string_view>

#include "server/common/config.h"
#include "server/common/secret_file.h"

namespace {

constexpr std::string_view kBegin =
    "<!-- BEGIN GENERATED: ConfigMarkdownTable(); edit server/common/config.cc "
    "and run `cmake --build <build> --target config_docs` -->\n";
constexpr std::string_view kEnd = "<!-- END GENERATED -->\n";

int Update(const std::string& path) {
  auto doc = herald::common::ReadFileToString(path);
  if (!doc.ok()) {
    std::fprintf(stderr, "%s\n", doc.status().ToString().c_str());
    return 1;
  }
  const size_t begin = doc->find(kBegin);
  const size_t end = doc->find(kEnd);
  if (begin == std::string::npos || end == std::string::npos || end < begin) {
    std::fprintf(stderr, "%s: GENERATED markers not found\n", path.c_str());
    return 1;
  }
  const size_t start = begin + kBegin.size();
  const std::string updated = doc->substr(0, start) +
                              herald::common::ConfigMarkdownTable() +
                              doc->substr(end);
  if (updated == *doc) return 0;
  if (auto s = herald::common::WriteFileAtomically(path, updated, 0644);
      !s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 1;
  }
  std::fprintf(stderr, "updated %s\n", path.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::string_view(argv[1]) == "--update") {
    return Update(argv[2]);
  }
  if (argc != 1) {
    std::fprintf(stderr, "usage: %s [--update FILE.md]\n", argv[0]);
    return 2;
  }
  const std::string table = herald::common::ConfigMarkdownTable();
  std::fwrite(table.data(), 1, table.size(), stdout);
  return 0;
}
