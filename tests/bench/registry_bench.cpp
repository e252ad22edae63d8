// Registry reconciliation benchmark (not a test): 250,000 national office-master entries and
// 5,000 regional ones (500 of them on both networks, some spelled differently), merged into one
// registry with conflicts and both publications; then an incremental sync of 1,000 changes,
// against a full re-listing carrying the same changes. Reports wall time and peak RSS.
//
//   build/registry/tests/registry/kakehashi_registry_bench [national] [regional] [changes]

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "mapping/registry/registry.hpp"
#include "tests/registry/test_offices.hpp"

using namespace kakehashi::mapping::registry;
using kakehashi::testing::office_no;

namespace {

long peak_rss_kb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

template <typename F>
double timed_ms(F f) {
  const auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

const char* const kTypes[] = {"11", "13", "15", "43", "78", "46", "A2", "17"};

SourceEntry make(int serial, const char* pref, const char* type, const std::string& name, const std::string& facility) {
  SourceEntry e;
  e.key = {office_no(serial, pref), type};
  e.name = name;
  e.kana = "ジギョウショ";
  e.facility_id = facility;
  e.prefecture = pref;
  e.status = serial % 97 == 0 ? OfficeStatus::kSuspended : OfficeStatus::kActive;
  e.updated_at = "2025-04-01T00:00:00Z";
  return e;
}

}  // namespace

int main(int argc, char** argv) {
  const int national_n = argc > 1 ? std::atoi(argv[1]) : 250'000;
  const int regional_n = argc > 2 ? std::atoi(argv[2]) : 5'000;
  const int changes_n = argc > 3 ? std::atoi(argv[3]) : 1'000;

  std::vector<SourceEntry> national, regional;
  national.reserve(static_cast<std::size_t>(national_n));
  for (int i = 0; i < national_n; ++i) {
    national.push_back(make(i, "13", kTypes[i % 8], "株式会社東京介護サービス第" + std::to_string(i) + "事業所", ""));
  }
  for (int i = 0; i < regional_n; ++i) {
    if (i < regional_n / 10) {  // on both networks: the same national office, another spelling
      auto e = national[static_cast<std::size_t>(i) * 7];
      e.name = i % 2 ? "（株）東京介護サービス第" + std::to_string(i * 7) + "事業所" : "別名" + std::to_string(i);
      e.facility_id = "F-" + std::to_string(i / 3);
      regional.push_back(e);
    } else {
      regional.push_back(make(i, "32", kTypes[i % 8], "しまね介護" + std::to_string(i), "F-" + std::to_string(i / 3)));
    }
  }
  const long rss_inputs = peak_rss_kb();

  Registry registry({{"regional", "national"}, {}});
  std::size_t added = 0, conflicts = 0, to_regional = 0, to_national = 0;
  const double full_ms = timed_ms([&] {
    added += registry.replace("national", national).count(ChangeKind::kAdded);
    added += registry.replace("regional", regional).count(ChangeKind::kAdded);
    conflicts = registry.conflicts().size();
    to_regional = registry.publication_for("regional", false).size();
    to_national = registry.publication_for("national", true).size();
  });
  const long rss_full = peak_rss_kb();

  // 1,000 changes: renames, closures and new offices, as the office master lists them since the
  // last cursor.
  const std::vector<SourceEntry> before_changes = national;
  std::vector<SourceEntry> changed;
  for (int i = 0; i < changes_n; ++i) {
    if (i % 3 == 2) {
      changed.push_back(make(national_n + i, "13", "11", "新規事業所" + std::to_string(i), ""));
      national.push_back(changed.back());
      continue;
    }
    auto& e = national[static_cast<std::size_t>(i) * 191 % national.size()];
    e.updated_at = "2025-05-01T00:00:00Z";
    if (i % 3 == 0) e.status = OfficeStatus::kClosed;
    else e.name += "（新）";
    changed.push_back(e);
  }
  Diff incremental;
  const double inc_ms = timed_ms([&] { incremental = registry.upsert("national", changed); });

  // The same changes reaching a registry in the same state through a full re-listing.
  Registry again({{"regional", "national"}, {}});
  again.replace("national", before_changes);
  again.replace("regional", regional);
  Diff full_diff;
  const double relist_ms = timed_ms([&] { full_diff = again.replace("national", national); });

  std::printf("registry bench: %d national + %d regional entries\n", national_n, regional_n);
  std::printf("  full reconcile: %.0f ms (%zu offices added, %zu conflicts, publish %zu to regional, %zu to national)\n",
              full_ms, added, conflicts, to_regional, to_national);
  std::printf("  peak RSS: %.1f MiB with inputs generated, %.1f MiB after the full reconcile\n",
              static_cast<double>(rss_inputs) / 1024.0, static_cast<double>(rss_full) / 1024.0);
  std::printf("  incremental sync of %d changes: %.1f ms (%zu changed offices in the diff)\n", changes_n,
              inc_ms, incremental.changes.size());
  std::printf("  the same changes as a full re-listing: %.0f ms (%zu in the diff)\n", relist_ms,
              full_diff.changes.size());
  std::printf("  peak RSS at the end: %.1f MiB\n", static_cast<double>(peak_rss_kb()) / 1024.0);
  return 0;
}
