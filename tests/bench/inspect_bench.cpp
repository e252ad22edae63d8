// Benchmark (not a test): how fast `inspect` checks realistic send units on one core.
// Generates a month-end mix of units in memory (not timed), then times mapping::inspect over
// all of them, several passes, and reports files/s and MB/s as a table and as JSON.
//
//   kakehashi_inspect_bench [--units N] [--passes N] [--seed N]

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "mapping/careplan/inspector.hpp"
#include "tests/careplan_gen/generator.hpp"

using namespace kakehashi;

int main(int argc, char** argv) {
  long units = 10000;
  long passes = 3;
  std::uint64_t seed = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    const long v = std::strtol(argv[i + 1], nullptr, 10);
    if (a == "--units") units = v;
    else if (a == "--passes") passes = v;
    else if (a == "--seed") seed = static_cast<std::uint64_t>(v);
    else {
      std::cerr << "usage: kakehashi_inspect_bench [--units N] [--passes N] [--seed N]\n";
      return 2;
    }
  }

  testing::UnitGenerator gen(seed);
  std::vector<testing::GeneratedUnit> generated;
  generated.reserve(static_cast<std::size_t>(units));
  for (long i = 0; i < units; ++i) generated.push_back(gen.make_mixed());
  std::vector<mapping::InputFile> inputs;
  std::size_t bytes = 0, csv_bytes = 0;
  for (const auto& u : generated) {
    for (const auto& f : u.files) {
      inputs.push_back({f.name, f.bytes, f.bytes.size()});
      bytes += f.bytes.size();
      if (f.name.ends_with(".CSV")) csv_bytes += f.bytes.size();
    }
  }
  mapping::inspect(std::span(inputs).first(std::min<std::size_t>(inputs.size(), 50)));  // warm-up

  std::vector<double> seconds;
  std::size_t rejected = 0;
  for (long p = 0; p < passes; ++p) {
    const auto t0 = std::chrono::steady_clock::now();
    const auto report = mapping::inspect(inputs);
    const auto t1 = std::chrono::steady_clock::now();
    seconds.push_back(std::chrono::duration<double>(t1 - t0).count());
    rejected = static_cast<std::size_t>(std::count_if(report.units.begin(), report.units.end(),
                                                      [](const auto& u) { return !u.acceptable(); }));
  }
  std::sort(seconds.begin(), seconds.end());
  const double best = seconds.front();
  const double median = seconds[seconds.size() / 2];
  const double mb = static_cast<double>(bytes) / 1e6;
  std::printf("inspect benchmark: %ld units, %zu files, %.1f MB (%.1f MB CSV), %ld passes, 1 core\n",
              units, inputs.size(), mb, static_cast<double>(csv_bytes) / 1e6, passes);
  std::printf("%-10s %12s %12s %12s\n", "pass", "seconds", "files/s", "MB/s");
  std::printf("%-10s %12.3f %12.0f %12.1f\n", "best", best, static_cast<double>(inputs.size()) / best, mb / best);
  std::printf("%-10s %12.3f %12.0f %12.1f\n", "median", median, static_cast<double>(inputs.size()) / median,
              mb / median);
  std::printf("rejected units: %zu (must be 0)\n", rejected);
  std::printf("{\"units\":%ld,\"files\":%zu,\"bytes\":%zu,\"passes\":%ld,\"best_seconds\":%.6f,"
              "\"median_seconds\":%.6f,\"files_per_second\":%.0f,\"mb_per_second\":%.2f,\"rejected\":%zu}\n",
              units, inputs.size(), bytes, passes, best, median,
              static_cast<double>(inputs.size()) / median, mb / median, rejected);
  return rejected == 0 ? 0 : 1;
}
