#pragma once
// Deterministic generator of realistic, valid care-plan send units (MHLW
// ケアプランデータ連携標準仕様 v4.1) for tests and benchmarks: same seed, byte-identical files, on
// every platform.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kakehashi::testing {

// One file of a send unit: its name and its exact bytes (MS932 for CSV and TXT).
struct GeneratedFile {
  std::string name;
  std::string bytes;
};

// Files sharing one 14-digit sequence, of one combination of layouts.json send_units.
struct GeneratedUnit {
  std::string combination_id;
  std::vector<GeneratedFile> files;
};

enum class AttachmentKind { kPdf, kPng, kTxt };

struct UnitParams {
  int users = 3;      // users (利用者) per unit, at least 1
  int providers = 3;  // service offices on each plan (the recipient is always one), 1..5
  bool with_attachment = false;
  AttachmentKind attachment_kind = AttachmentKind::kPdf;
  bool with_kihon_subs = true;  // P1/P2: UPKIHON_SUB1 and UPKIHON_SUB2
  bool with_image = false;      // P1/P2: one family-structure JPEG per user (UPKIHON no.62)
  std::string service_month;    // YYYYMM, >= 202504; empty = 202505 or 202506 from the seed
};

// splitmix64: tiny, fast, and its output is fixed by its definition, unlike std:: distributions.
class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next();
  // Uniform-enough value in [0, bound); bound must be > 0.
  std::uint64_t below(std::uint64_t bound) { return next() % bound; }
  int between(int lo, int hi) {
    return lo + static_cast<int>(below(static_cast<std::uint64_t>(hi - lo + 1)));
  }
  bool percent(int p) { return below(100) < static_cast<std::uint64_t>(p); }

 private:
  std::uint64_t state_;
};

// Check digit (modulus 10, weights 2-1, products split) of the first 9 characters of an office
// number (letters A=10 ... Z=32 without I, O, Q) and of the first 5 digits of an insurer number.
// Returns '?' for characters outside the alphabet.
char office_check_digit(std::string_view first9);
char insurer_check_digit(std::string_view first5);

// Every `from` in `s` replaced by `to` (left to right, not re-scanned).
std::string replace_all(std::string s, const std::string& from, const std::string& to);

// A generated unit's bytes or file name readdressed: the generator's sender office number
// `gfrom` becomes `from` and its recipient `gto` becomes `to`, in one step (through
// placeholders), so a new sender equal to the generator's recipient is not renamed twice.
// `gfrom` and `gto` must differ.
std::string readdress(const std::string& s, const std::string& gfrom, const std::string& from,
                      const std::string& gto, const std::string& to);

// Combination ids in layouts.json order: K1..K6, P1..P9.
const std::vector<std::string>& combination_ids();

class UnitGenerator {
 public:
  explicit UnitGenerator(std::uint64_t seed);
  // Sequences from now on start on that day between 08:00 and 18:00 and move forward from there
  // (the default day is 2025-05-26, the month-end peak of the default service months).
  void send_from(int year, int month, int day);

  // combination_id: K1..K6 or P1..P9; throws std::invalid_argument for anything else.
  GeneratedUnit make(std::string_view combination_id, const UnitParams& params = {});

  // One unit of every combination (P1/P2 with SUB1, SUB2 and an image; some attachments).
  std::vector<GeneratedUnit> one_of_each();

  // A unit drawn from a month-end traffic mix: mostly K2 plans and K5 actuals, some K1, deletes and
  // preventive units, about 10% with a PDF attachment. `service_month` (YYYYMM, >= 202504) fixes
  // the month of every unit; empty: 202505 or 202506 from the seed, as before.
  GeneratedUnit make_mixed(const std::string& service_month = "");

 private:
  std::string next_sequence();

  SplitMix64 rng_;
  std::int64_t clock_;  // seconds since 1970-01-01 of the last sequence handed out
};

}  // namespace kakehashi::testing
