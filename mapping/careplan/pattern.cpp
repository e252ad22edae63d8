#include "mapping/careplan/pattern.hpp"

namespace kakehashi::mapping {
namespace {

class Parser {
 public:
  explicit Parser(std::string_view s) : s_(s) {}

  bool parse_alternatives(std::vector<Pattern::Sequence>& out, bool in_group) {
    out.emplace_back();
    while (pos_ < s_.size()) {
      const char c = s_[pos_];
      if (c == ')') {
        if (!in_group) return false;
        return true;
      }
      if (c == '|') {
        ++pos_;
        out.emplace_back();
        continue;
      }
      Pattern::Node node;
      if (!parse_atom(node)) return false;
      if (!parse_quantifier(node)) return false;
      out.back().push_back(std::move(node));
    }
    return !in_group;
  }

  bool at_end() const { return pos_ == s_.size(); }
  std::size_t pos_ = 0;

 private:
  bool parse_atom(Pattern::Node& node) {
    const char c = s_[pos_++];
    if (c == '(') {
      if (s_.substr(pos_, 2) != "?:") return false;
      pos_ += 2;
      if (!parse_alternatives(node.alternatives, true)) return false;
      if (pos_ >= s_.size() || s_[pos_] != ')') return false;
      ++pos_;
      return true;
    }
    if (c == '[') return parse_class(node.set);
    if (c == '\\') {
      if (pos_ >= s_.size()) return false;
      node.set.set(static_cast<unsigned char>(s_[pos_++]));
      return true;
    }
    if (c == '.' || c == '*' || c == '+' || c == '?' || c == '{' || c == '^' || c == '$')
      return false;
    node.set.set(static_cast<unsigned char>(c));
    return true;
  }

  bool parse_class(std::bitset<256>& set) {
    bool negate = false;
    if (pos_ < s_.size() && s_[pos_] == '^') {
      negate = true;
      ++pos_;
    }
    bool first = true;
    while (pos_ < s_.size() && (s_[pos_] != ']' || first)) {
      first = false;
      unsigned char lo = static_cast<unsigned char>(s_[pos_++]);
      if (lo == '\\') {
        if (pos_ >= s_.size()) return false;
        lo = static_cast<unsigned char>(s_[pos_++]);
      }
      unsigned char hi = lo;
      if (pos_ + 1 < s_.size() && s_[pos_] == '-' && s_[pos_ + 1] != ']') {
        hi = static_cast<unsigned char>(s_[pos_ + 1]);
        pos_ += 2;
        if (hi < lo) return false;
      }
      for (unsigned v = lo; v <= hi; ++v) set.set(v);
    }
    if (pos_ >= s_.size()) return false;
    ++pos_;  // ']'
    if (negate) set.flip();
    return true;
  }

  bool parse_number(int& out) {
    const std::size_t start = pos_;
    out = 0;
    while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
      out = out * 10 + (s_[pos_++] - '0');
      if (out > 10000) return false;
    }
    return pos_ > start;
  }

  bool parse_quantifier(Pattern::Node& node) {
    if (pos_ >= s_.size()) return true;
    const char c = s_[pos_];
    if (c == '?') {
      node.min = 0, node.max = 1, ++pos_;
    } else if (c == '*') {
      node.min = 0, node.max = -1, ++pos_;
    } else if (c == '+') {
      node.min = 1, node.max = -1, ++pos_;
    } else if (c == '{') {
      ++pos_;
      if (!parse_number(node.min)) return false;
      node.max = node.min;
      if (pos_ < s_.size() && s_[pos_] == ',') {
        ++pos_;
        node.max = -1;
        if (pos_ < s_.size() && s_[pos_] != '}' && !parse_number(node.max)) return false;
      }
      if (pos_ >= s_.size() || s_[pos_] != '}') return false;
      ++pos_;
      if (node.max != -1 && node.max < node.min) return false;
    }
    return true;
  }

  std::string_view s_;
};

// A non-owning reference to a continuation, so the recursive matcher needs no templates.
class ContRef {
 public:
  template <typename F>
  ContRef(const F& f)  // NOLINT(google-explicit-constructor)
      : obj_(&f), call_([](const void* o, std::size_t p) { return (*static_cast<const F*>(o))(p); }) {}
  bool operator()(std::size_t pos) const { return call_(obj_, pos); }

 private:
  const void* obj_;
  bool (*call_)(const void*, std::size_t);
};

// Backtracking match of seq[i..] against text[pos..], then the continuation.
struct Matcher {
  std::string_view text;

  bool seq(const Pattern::Sequence& s, std::size_t i, std::size_t pos, ContRef k) const {
    if (i == s.size()) return k(pos);
    const Pattern::Node& n = s[i];
    if (n.alternatives.empty()) {
      // Greedy run of single characters, then back off.
      std::size_t count = 0;
      const std::size_t limit = n.max < 0 ? text.size() - pos : static_cast<std::size_t>(n.max);
      while (count < limit && pos + count < text.size() &&
             n.set.test(static_cast<unsigned char>(text[pos + count])))
        ++count;
      if (count < static_cast<std::size_t>(n.min)) return false;
      for (std::size_t c = count + 1; c-- > static_cast<std::size_t>(n.min);) {
        if (seq(s, i + 1, pos + c, k)) return true;
      }
      return false;
    }
    return repeat(s, i, 0, pos, k);
  }

  bool repeat(const Pattern::Sequence& s, std::size_t i, int done, std::size_t pos,
              ContRef k) const {
    const Pattern::Node& n = s[i];
    if (n.max < 0 || done < n.max) {
      for (const auto& alt : n.alternatives) {
        const auto next = [&](std::size_t p) {
          if (p == pos && done >= n.min) return false;  // no empty loops
          return repeat(s, i, done + 1, p, k);
        };
        if (seq(alt, 0, pos, next)) return true;
      }
    }
    if (done >= n.min) return seq(s, i + 1, pos, k);
    return false;
  }
};

}  // namespace

std::optional<Pattern> Pattern::compile(std::string_view source) {
  std::string_view body = source;
  if (body.empty() || body.front() != '^' || body.back() != '$') return std::nullopt;
  body = body.substr(1, body.size() - 2);
  Parser parser(body);
  std::vector<Sequence> alts;
  if (!parser.parse_alternatives(alts, false) || !parser.at_end()) return std::nullopt;
  Pattern p;
  p.source_ = std::string(source);
  if (alts.size() == 1) {
    p.root_ = std::move(alts.front());
  } else {
    Node group;
    group.alternatives = std::move(alts);
    p.root_.push_back(std::move(group));
  }
  return p;
}

bool Pattern::matches(std::string_view text) const {
  Matcher m{text};
  return m.seq(root_, 0, 0, [&](std::size_t pos) { return pos == text.size(); });
}

}  // namespace kakehashi::mapping
