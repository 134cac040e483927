#include "client/heraldctl/output.h"

#include <unistd.h>

#include <algorithm>
#include <iostream>

#include <google/protobuf/util/json_util.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"

namespace herald::ctl {

std::string Paint(const std::string& text, Color color, bool enabled) {
  if (!enabled || color == Color::kNone) return text;
  const char* code = "";
  switch (color) {
    case Color::kGreen:
      code = "32";
      break;
    case Color::kRed:
      code = "31";
      break;
    case Color::kYellow:
      code = "33";
      break;
    case Color::kCyan:
      code = "36";
      break;
    case Color::kGray:
      code = "90";
      break;
    case Color::kBold:
      code = "1";
      break;
    case Color::kNone:
      break;
  }
  return absl::StrCat("\x1b[", code, "m", text, "\x1b[0m");
}

Color StatusColor(const std::string& status) {
  if (status == "SUCCESS" || status == "SERVING" || status == "enabled" ||
      status == "yes") {
    return Color::kGreen;
  }
  if (status == "ERROR" || status == "NOT_SERVING" || status == "revoked") {
    return Color::kRed;
  }
  if (status == "PENDING" || status == "RETRYING" || status == "disabled") {
    return Color::kYellow;
  }
  if (status == "RUNNING") return Color::kCyan;
  if (status == "STOPPED") return Color::kGray;
  return Color::kNone;
}

size_t DisplayWidth(const std::string& text) {
  size_t width = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == 0x1b) {  // skip "\x1b[...m"
      while (i < text.size() && text[i] != 'm') ++i;
      continue;
    }
    if ((c & 0xC0) != 0x80) ++width;  // count lead bytes only
  }
  return width;
}

std::string Table::Render(bool color) const {
  std::vector<size_t> widths(headers_.size(), 0);
  for (size_t i = 0; i < headers_.size(); ++i) widths[i] = DisplayWidth(headers_[i]);
  for (const auto& row : rows_) {
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], DisplayWidth(row[i].text));
    }
  }
  std::string out;
  auto append_row = [&](const std::vector<Cell>& row) {
    std::string line;
    for (size_t i = 0; i < widths.size(); ++i) {
      const Cell cell = i < row.size() ? row[i] : Cell{};
      const bool last = i + 1 == widths.size();
      absl::StrAppend(&line, Paint(cell.text, cell.color, color));
      if (!last) {
        line.append(widths[i] - DisplayWidth(cell.text) + 2, ' ');
      }
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    absl::StrAppend(&out, line, "\n");
  };
  std::vector<Cell> header;
  for (const std::string& h : headers_) header.push_back({h, Color::kBold});
  append_row(header);
  for (const auto& row : rows_) append_row(row);
  return out;
}

bool Output::StdoutIsTerminal() { return isatty(STDOUT_FILENO) == 1; }
bool Output::StderrIsTerminal() { return isatty(STDERR_FILENO) == 1; }

void Output::Print(const std::string& text) { std::cout << text; }
void Output::Line(const std::string& text) { std::cout << text << "\n"; }
void Output::Error(const std::string& text) { std::cerr << text << std::endl; }
void Output::Flush() { std::cout.flush(); }

namespace {

std::string ToJson(const google::protobuf::Message& message, bool pretty) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.add_whitespace = pretty;
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(message, &json, options).ok()) {
    return "{}";
  }
  while (!json.empty() && json.back() == '\n') json.pop_back();
  return json;
}

}  // namespace

void Output::Json(const google::protobuf::Message& message) {
  std::cout << ToJson(message, true) << "\n";
}

void Output::JsonLine(const google::protobuf::Message& message) {
  std::cout << ToJson(message, false) << std::endl;
}

void Output::PrintTable(const Table& table) { std::cout << table.Render(color_); }

void Output::KeyValues(
    const std::vector<std::pair<std::string, Table::Cell>>& rows) {
  size_t width = 0;
  for (const auto& [key, value] : rows) width = std::max(width, DisplayWidth(key));
  for (const auto& [key, value] : rows) {
    std::cout << Paint(key + ":", Color::kBold, color_)
              << std::string(width - DisplayWidth(key) + 2, ' ')
              << Paint(value.text, value.color, color_) << "\n";
  }
}

ProgressBar::ProgressBar(int64_t total)
    : total_(std::max<int64_t>(total, 1)), enabled_(Output::StderrIsTerminal()) {}

void ProgressBar::Update(int64_t done, const std::string& suffix) {
  if (!enabled_) return;
  const absl::Time now = absl::Now();
  if (done < total_ && now - last_draw_ < absl::Milliseconds(100)) return;
  last_draw_ = now;
  constexpr int kWidth = 30;
  const int filled = static_cast<int>(kWidth * std::min(done, total_) / total_);
  std::string bar(filled, '#');
  bar.append(kWidth - filled, '.');
  std::cerr << absl::StrFormat("\r\x1b[2K[%s] %d/%d %3d%%  %s", bar, done, total_,
                               100 * std::min(done, total_) / total_, suffix)
            << std::flush;
  drawn_ = true;
}

void ProgressBar::Finish() {
  if (enabled_ && drawn_) std::cerr << "\n" << std::flush;
  drawn_ = false;
}

}  // namespace herald::ctl
