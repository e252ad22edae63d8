#include "tests/adapters/folder/folder_test_support.hpp"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <boost/test/unit_test.hpp>

#include "gateway/pki/trust_domain_loader.hpp"

namespace kakehashi::testing::folder {
namespace {

// The temporary tree holding the PKI and every scratch folder; removed at exit.
struct TempTree {
  TempTree() {
    std::string pattern = (fs::temp_directory_path() / "kakehashi-folder-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    base = pattern;
    const std::string command = std::string("bash '") + KAKEHASHI_PKI_SCRIPT + "' '" +
                                (base / "pki").string() + "' >/dev/null 2>&1";
    if (std::system(command.c_str()) != 0) throw std::runtime_error("deploy/pki.sh failed");
  }
  ~TempTree() {
    std::error_code ec;
    fs::remove_all(base, ec);
  }
  TempTree(const TempTree&) = delete;
  TempTree& operator=(const TempTree&) = delete;
  fs::path base;
  int scratch_count = 0;
};

TempTree& tree() {
  static TempTree t;
  return t;
}

mapping::CarePlanFileName first_name(const GeneratedUnit& unit) {
  const auto parsed = mapping::parse_file_name(unit.files.front().name);
  if (!parsed.name) throw std::runtime_error("generated name does not parse");
  return *parsed.name;
}

}  // namespace

const fs::path& pki_dir() {
  static const fs::path dir = tree().base / "pki";
  return dir;
}

fs::path scratch_dir(const std::string& name) {
  auto& t = tree();
  const fs::path dir = t.base / (name + "-" + std::to_string(++t.scratch_count));
  fs::create_directories(dir);
  return dir;
}

const mapping::cms::TrustDomain& regional_domain() {
  static const auto domain = gateway::pki::load_trust_domain(pki_dir() / "regional");
  return domain;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void write_file(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

std::vector<std::string> list_names(const fs::path& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

mapping::OfficeRef sender_of(const GeneratedUnit& unit) {
  return first_name(unit).from;
}
mapping::OfficeRef recipient_of(const GeneratedUnit& unit) {
  return first_name(unit).to;
}
std::string sequence_of(const GeneratedUnit& unit) {
  return first_name(unit).sequence;
}

adapters::folder::FolderOffice office(const mapping::OfficeRef& ref) {
  adapters::folder::FolderOffice o;
  o.office = ref;
  o.name = "Test office " + ref.office_no;
  o.certificate_file = pki_dir() / "offices/regional/3271500013.cert.pem";
  o.key_file = pki_dir() / "offices/regional/3271500013.key.pem";
  return o;
}

FolderBench::FolderBench(fs::path root_dir, std::vector<mapping::OfficeRef> offices)
    : root(std::move(root_dir)) {
  config.root = root;
  for (const auto& o : offices) config.offices.push_back(office(o));
  // Short in tests, but the window stays far above a scan interval so a slow, loaded machine
  // cannot mistake a file that grows every scan for a stable one.
  config.scan_interval = std::chrono::milliseconds(10);
  config.stability_window = std::chrono::milliseconds(400);
  config.incomplete_timeout = std::chrono::minutes(10);
}

FolderBench::~FolderBench() {
  adapter.reset();
}

void FolderBench::make_adapter() {
  adapters::folder::FolderAdapterConfig c = config;
  c.on_scan = [this](const adapters::folder::ScanReport& report) {
    scans.push_back(report);
    if (after_scan) after_scan(report);
  };
  gateway::AdapterContext context;
  context.executor = io.get_executor();
  context.sink = &sink;
  context.name = "folder-test";
  adapter.reset();
  adapter = adapters::folder::make_folder_adapter(std::move(c), std::move(context));
}

void FolderBench::start() {
  if (!adapter) make_adapter();
  adapter->start();
}

void FolderBench::stop_and_drain() {
  int drained = 0;
  adapter->stop([&] { ++drained; });
  BOOST_TEST_REQUIRE(run_until([&] { return drained > 0; }));
  io.poll();
  BOOST_TEST(drained == 1);
}

bool FolderBench::run_until(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  return testing::run_until(io, done, timeout);
}

void FolderBench::put(const GeneratedUnit& unit) {
  fs::create_directories(root / "outbox");
  for (const auto& f : unit.files) write_file(root / "outbox" / f.name, f.bytes);
}

}  // namespace kakehashi::testing::folder
