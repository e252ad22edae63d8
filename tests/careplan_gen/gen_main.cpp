// kakehashi_gen: writes generated care-plan send units into a directory, one file per name.
//   kakehashi_gen DIR [--seed N] [--units N] [--all] [--service-month YYYYMM]
// --all writes one unit of every combination; --units N writes N units of a month-end mix, of
// --service-month when given (e.g. a month the Kaigo WEB Service accepts: from 12 months back to
// 3 ahead), sent from the 26th of that month (so kinds whose target month comes from the
// sequence, such as care plans, fall in that month too).

#include <cstdint>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <string>
#include <string_view>

#include "tests/careplan_gen/generator.hpp"

namespace {

int usage() {
  std::cerr << "usage: kakehashi_gen DIR [--seed N] [--units N] [--all] [--service-month YYYYMM]\n";
  return 2;
}

void write_unit(const std::filesystem::path& dir, const kakehashi::testing::GeneratedUnit& unit) {
  for (const auto& file : unit.files) {
    std::ofstream out(dir / file.name, std::ios::binary | std::ios::trunc);
    out.write(file.bytes.data(), static_cast<std::streamsize>(file.bytes.size()));
    if (!out) throw std::runtime_error("cannot write " + (dir / file.name).string());
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::filesystem::path dir;
  std::uint64_t seed = 1;
  long units = 0;
  bool all = false;
  std::string service_month;
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string_view arg = argv[i];
      if (arg == "--all") {
        all = true;
      } else if (arg == "--service-month" && i + 1 < argc) {
        service_month = argv[++i];
      } else if ((arg == "--seed" || arg == "--units") && i + 1 < argc) {
        const std::string value = argv[++i];
        std::size_t used = 0;
        const unsigned long long n = std::stoull(value, &used);
        if (used != value.size()) return usage();
        if (arg == "--seed") {
          seed = n;
        } else {
          units = static_cast<long>(n);
        }
      } else if (!arg.empty() && arg[0] != '-' && dir.empty()) {
        dir = arg;
      } else {
        return usage();
      }
    }
    if (dir.empty()) return usage();
    if (!all && units == 0) units = 10;
    std::filesystem::create_directories(dir);
    kakehashi::testing::UnitGenerator generator(seed);
    if (!service_month.empty()) {
      if (service_month.size() != 6 ||
          service_month.find_first_not_of("0123456789") != std::string::npos) {
        throw std::invalid_argument("--service-month must be YYYYMM: " + service_month);
      }
      generator.send_from(std::stoi(service_month.substr(0, 4)), std::stoi(service_month.substr(4)),
                          26);
    }
    std::size_t files = 0;
    long written = 0;
    if (all) {
      for (const auto& unit : generator.one_of_each()) {
        write_unit(dir, unit);
        files += unit.files.size();
        ++written;
      }
    }
    for (long i = 0; i < units; ++i) {
      const auto unit = generator.make_mixed(service_month);
      write_unit(dir, unit);
      files += unit.files.size();
      ++written;
    }
    std::cout << written << " units, " << files << " files in " << dir.string() << "\n";
  } catch (const std::exception& e) {
    std::cerr << "kakehashi_gen: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
