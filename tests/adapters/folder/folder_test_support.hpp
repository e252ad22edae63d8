#pragma once
// Shared by the drop-folder tests: a development PKI (deploy/pki.sh in a temp dir, made once),
// scratch folders, generated units, and a bench that runs one folder adapter on an io_context.

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

// Boost 1.74 Asio in C++20 mode with g++ 12 misses <utility> (ENV.md).
#include <utility>

#include <boost/asio/io_context.hpp>

#include "adapters/folder/folder_adapter.hpp"
#include "mapping/careplan/file_name.hpp"
#include "mapping/cms/trust_domain.hpp"
#include "tests/adapters/behaviour/behaviour_suite.hpp"
#include "tests/careplan_gen/generator.hpp"

namespace kakehashi::testing::folder {

namespace fs = std::filesystem;

const fs::path& pki_dir();
// A fresh empty directory (removed at exit with the PKI).
fs::path scratch_dir(const std::string& name);
const mapping::cms::TrustDomain& regional_domain();

std::string read_file(const fs::path& path);
void write_file(const fs::path& path, const std::string& bytes);
std::vector<std::string> list_names(const fs::path& dir);  // sorted, hidden ones included

mapping::OfficeRef sender_of(const GeneratedUnit& unit);
mapping::OfficeRef recipient_of(const GeneratedUnit& unit);
std::string sequence_of(const GeneratedUnit& unit);

// An office of the folder, signing with the development key offices/regional/3271500013.
adapters::folder::FolderOffice office(const mapping::OfficeRef& ref);

// One folder adapter on its own io_context, with a recording sink and every scan recorded.
struct FolderBench {
  FolderBench(fs::path root, std::vector<mapping::OfficeRef> offices);
  ~FolderBench();
  FolderBench(const FolderBench&) = delete;
  FolderBench& operator=(const FolderBench&) = delete;

  void make_adapter();  // (re)creates the adapter on `root` with `config`
  void start();
  void stop_and_drain();
  bool run_until(const std::function<bool()>& done,
                 std::chrono::milliseconds timeout = std::chrono::seconds(20));
  void put(const GeneratedUnit& unit);  // writes every file into outbox/

  fs::path root;
  adapters::folder::FolderAdapterConfig config;
  std::vector<adapters::folder::ScanReport> scans;
  std::function<void(const adapters::folder::ScanReport&)> after_scan;  // test hook
  boost::asio::io_context io;
  RecordingSink sink;
  std::unique_ptr<gateway::Adapter> adapter;
};

}  // namespace kakehashi::testing::folder
