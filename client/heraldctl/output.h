// heraldctl's output: aligned tables and key/value views for people, proto
// JSON for scripts (--json), colours only on a terminal, a progress bar.
#ifndef HERALD_CLIENT_HERALDCTL_OUTPUT_H_
#define HERALD_CLIENT_HERALDCTL_OUTPUT_H_

#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include <google/protobuf/message.h>

#include "absl/time/time.h"

namespace herald::ctl {

enum class Color { kNone, kGreen, kRed, kYellow, kCyan, kGray, kBold };

// The escape sequence around `text`, or `text` itself when colour is off.
std::string Paint(const std::string& text, Color color, bool enabled);

// The colour of a status word (SUCCESS green, ERROR red, PENDING yellow,
// RUNNING cyan, STOPPED gray, SERVING green, ...).
Color StatusColor(const std::string& status);

// Display width of UTF-8 text without escape sequences (one column per code
// point; good enough for tables of ids, names and URLs).
size_t DisplayWidth(const std::string& text);

class Table {
 public:
  struct Cell {
    std::string text;
    Color color = Color::kNone;
  };
  explicit Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}
  void AddRow(std::vector<Cell> row) { rows_.push_back(std::move(row)); }
  size_t size() const { return rows_.size(); }
  // Columns separated by two spaces, left-aligned, the last one unpadded.
  std::string Render(bool color) const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<Cell>> rows_;
};

class Output {
 public:
  Output(bool json, bool color) : json_(json), color_(color) {}

  bool json() const { return json_; }
  bool color() const { return color_; }
  static bool StdoutIsTerminal();
  static bool StderrIsTerminal();

  void Print(const std::string& text);  // stdout, as is
  void Line(const std::string& text);   // stdout + "\n"
  void Error(const std::string& text);  // stderr + "\n"
  // The proto JSON of `message` (proto field names, indented).
  void Json(const google::protobuf::Message& message);
  // One line of proto JSON (for streams: JSON Lines).
  void JsonLine(const google::protobuf::Message& message);
  void PrintTable(const Table& table);
  // "key:  value" lines, keys aligned.
  void KeyValues(const std::vector<std::pair<std::string, Table::Cell>>& rows);
  void Flush();

 private:
  bool json_;
  bool color_;
};

// A one-line progress bar redrawn in place on stderr (only when stderr is a
// terminal; otherwise Update does nothing and Finish prints nothing).
class ProgressBar {
 public:
  explicit ProgressBar(int64_t total);
  // Redraws at most every 100 ms (and always when done == total).
  void Update(int64_t done, const std::string& suffix);
  void Finish();

 private:
  int64_t total_;
  bool enabled_;
  absl::Time last_draw_ = absl::InfinitePast();
  bool drawn_ = false;
};

}  // namespace herald::ctl

#endif  // HERALD_CLIENT_HERALDCTL_OUTPUT_H_
