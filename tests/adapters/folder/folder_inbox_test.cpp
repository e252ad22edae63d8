// Inbound side of the drop folder (units the engine sends to the office), the directory, and
// the config section.

#include <sys/stat.h>

#include <atomic>
#include <thread>

#include <rapidjson/document.h>
#include <boost/test/unit_test.hpp>

#include "adapters/folder/inbox_writer.hpp"
#include "gateway/pki/key_file.hpp"
#include "mapping/cms/content_converter.hpp"
#include "mapping/cms/signer.hpp"
#include "mapping/cms/verify.hpp"
#include "tests/adapters/folder/folder_test_support.hpp"

namespace kakehashi::testing::folder {
namespace {

using Status = gateway::SendResult::Status;

gateway::OutboundUnit outbound(const GeneratedUnit& g, const std::string& key, bool attached) {
  const auto credential =
      gateway::pki::load_credential(pki_dir() / "offices/regional/3271500021.cert.pem",
                                    pki_dir() / "offices/regional/3271500021.key.pem");
  gateway::OutboundUnit unit;
  unit.idempotency_key = key;
  unit.sender = sender_of(g);
  unit.recipient = recipient_of(g);
  unit.unit_kind = g.combination_id;
  unit.subject = g.combination_id;
  unit.message = "お世話になっております。";
  for (const auto& f : g.files) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(f.bytes.data());
    auto cms = mapping::cms::sign({p, f.bytes.size()}, credential, {!attached});
    BOOST_TEST_REQUIRE(cms.ok());
    gateway::SignedFile file;
    file.name = f.name;
    file.media_type = "text/csv";
    file.attached = attached;
    if (!attached) file.content = f.bytes;  // national form: content only inside the CMS
    file.cms.assign(cms.value().begin(), cms.value().end());
    unit.files.push_back(std::move(file));
  }
  return unit;
}

gateway::SendResult send(FolderBench& b, gateway::OutboundUnit unit) {
  std::vector<gateway::SendResult> results;
  b.adapter->send(std::move(unit), [&](gateway::SendResult r) { results.push_back(r); });
  BOOST_TEST_REQUIRE(b.run_until([&] { return !results.empty(); }));
  b.io.poll();
  BOOST_TEST(results.size() == 1u);
  return results.front();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(folder_inbox)

BOOST_AUTO_TEST_CASE(inbox_folders_appear_complete_or_not_at_all) {
  UnitGenerator gen(21);
  std::vector<GeneratedUnit> units;
  for (int i = 0; i < 12; ++i) units.push_back(gen.make("K2"));
  std::vector<mapping::OfficeRef> recipients;
  for (const auto& u : units) recipients.push_back(recipient_of(u));
  FolderBench b(scratch_dir("atomic"), recipients);
  // Leftover of a write cut short by a crash: removed at start, never shown as a unit.
  fs::create_directories(b.root / "inbox" / ".tmp-leftover");
  write_file(b.root / "inbox" / ".tmp-leftover" / "partial.CSV", "x");
  b.start();
  BOOST_TEST(!fs::exists(b.root / "inbox" / ".tmp-leftover"));

  // A watcher looks at inbox/ as fast as it can while units are written: any visible folder
  // must already hold every file (each CSV, its .p7s, MESSAGE.txt).
  std::atomic<bool> done{false};
  std::atomic<int> partial_seen{0};
  std::atomic<int> complete_seen{0};
  std::thread watcher([&] {
    while (!done.load()) {
      for (const auto& name : list_names(b.root / "inbox")) {
        if (name.front() == '.') continue;
        std::size_t visible = 0;
        for (const auto& f : list_names(b.root / "inbox" / name)) visible += f.front() != '.';
        (visible == 2 * 3 + 1 ? complete_seen : partial_seen).fetch_add(1);
      }
    }
  });
  for (std::size_t i = 0; i < units.size(); ++i) {
    const auto r = send(b, outbound(units[i], "atomic-" + std::to_string(i), i % 2 == 1));
    BOOST_TEST((r.status == Status::kAccepted), r.error_code << " " << r.message);
  }
  done = true;
  watcher.join();
  BOOST_TEST(partial_seen.load() == 0);
  BOOST_TEST(complete_seen.load() > 0);

  // Contents: the exact bytes, a detached signature beside each, the cover note.
  for (const auto& u : units) {
    const fs::path dir = b.root / "inbox" / (sequence_of(u) + "_" + sender_of(u).office_no);
    BOOST_TEST_REQUIRE(fs::exists(dir), dir);
    for (const auto& f : u.files) {
      BOOST_TEST((read_file(dir / f.name) == f.bytes), f.name);
      const std::string p7s = read_file(dir / (f.name + ".p7s"));
      const auto* p = reinterpret_cast<const std::uint8_t*>(p7s.data());
      BOOST_TEST(!mapping::cms::embedded_content({p, p7s.size()}).has_value());
    }
    BOOST_TEST(read_file(dir / "MESSAGE.txt").find("お世話になっております。") !=
               std::string::npos);
  }
  b.stop_and_drain();
}

BOOST_AUTO_TEST_CASE(same_key_twice_is_a_no_op_even_after_restart) {
  const GeneratedUnit unit = UnitGenerator(22).make("K2");
  FolderBench b(scratch_dir("idempotent"), {recipient_of(unit)});
  b.start();
  const auto first = send(b, outbound(unit, "key-1", false));
  BOOST_TEST_REQUIRE((first.status == Status::kAccepted));
  const auto again = send(b, outbound(unit, "key-1", false));
  BOOST_TEST((again.status == Status::kAccepted));
  BOOST_TEST(list_names(b.root / "inbox").size() == 1u);
  b.stop_and_drain();

  // The office has taken the folder away; the ledger still remembers the key.
  fs::remove_all(b.root / "inbox" / (sequence_of(unit) + "_" + sender_of(unit).office_no));
  b.make_adapter();
  b.start();
  const auto after = send(b, outbound(unit, "key-1", false));
  BOOST_TEST((after.status == Status::kAccepted));
  BOOST_TEST(list_names(b.root / "inbox").empty());
  // A new key for the same unit is a new delivery.
  const auto other = send(b, outbound(unit, "key-2", false));
  BOOST_TEST((other.status == Status::kAccepted));
  BOOST_TEST(list_names(b.root / "inbox").size() == 1u);
  b.stop_and_drain();
}

BOOST_AUTO_TEST_CASE(units_for_other_offices_and_bad_names_are_refused) {
  const GeneratedUnit unit = UnitGenerator(23).make("K2");
  FolderBench b(scratch_dir("refuse"), {sender_of(unit)});  // not the recipient
  b.start();
  const auto wrong = send(b, outbound(unit, "k-1", false));
  BOOST_TEST((wrong.status == Status::kRejected));
  BOOST_TEST(wrong.error_code == "recipient-not-served");

  FolderBench c(scratch_dir("refuse-name"), {recipient_of(unit)});
  c.start();
  auto unit2 = outbound(unit, "k-2", false);
  unit2.files[0].name = "../escape.CSV";
  const auto bad = send(c, unit2);
  BOOST_TEST((bad.status == Status::kRejected));
  BOOST_TEST(list_names(c.root / "inbox").empty());
  b.stop_and_drain();
  c.stop_and_drain();
}

// Files written to inbox/ follow the configured mode, not the daemon's umask (before: a
// permissive umask made them 0666 / 0777, readable by every local account).
BOOST_AUTO_TEST_CASE(inbox_files_have_explicit_modes_under_a_permissive_umask) {
  const GeneratedUnit unit = UnitGenerator(26).make("K2");
  for (const char* configured : {"", "0600"}) {
    BOOST_TEST_CONTEXT("file_mode " << configured) {
      FolderBench b(scratch_dir(std::string("modes") + configured), {recipient_of(unit)});
      const mode_t file_mode = *configured != 0 ? 0600 : 0640;
      const mode_t dir_mode = *configured != 0 ? 0700 : 0750;
      if (*configured != 0) {
        b.config.file_mode = file_mode;
        b.make_adapter();
      }
      const mode_t old = ::umask(0);
      b.start();
      const auto r = send(b, outbound(unit, "mode-key", false));
      ::umask(old);
      BOOST_TEST_REQUIRE((r.status == Status::kAccepted));
      const fs::path dir = b.root / "inbox" / (sequence_of(unit) + "_" + sender_of(unit).office_no);
      const auto mode = [](const fs::path& p) {
        struct stat st {};
        BOOST_REQUIRE(::lstat(p.c_str(), &st) == 0);
        return static_cast<mode_t>(st.st_mode & 07777);
      };
      BOOST_TEST(mode(dir) == dir_mode);
      for (const auto& name : list_names(dir)) BOOST_TEST(mode(dir / name) == file_mode, name);
      BOOST_TEST(mode(b.root / adapters::folder::kLedgerFile) == 0640u);
      b.stop_and_drain();
    }
  }
}

BOOST_AUTO_TEST_CASE(directory_lists_the_configured_offices) {
  const GeneratedUnit unit = UnitGenerator(24).make("K2");
  FolderBench b(scratch_dir("directory"), {sender_of(unit), recipient_of(unit)});
  b.start();
  std::optional<gateway::DirectoryResult> result;
  b.adapter->fetch_directory("", [&](gateway::DirectoryResult r) { result = std::move(r); });
  BOOST_TEST_REQUIRE(b.run_until([&] { return result.has_value(); }));
  BOOST_TEST((result->status.status == Status::kAccepted));
  BOOST_TEST_REQUIRE(result->entries.size() == 2u);
  BOOST_TEST((result->entries[0].office == sender_of(unit)));
  BOOST_TEST(result->entries[1].status == "ACTIVE");
  b.stop_and_drain();
}

BOOST_AUTO_TEST_CASE(config_section_is_parsed_with_key_paths) {
  rapidjson::Document doc;
  doc.Parse(R"({"root": "/srv/folder", "scan_interval": "2s", "stability_window": "500ms",
    "offices": [{"office_no": "3271500013", "service_type": "43", "certificate_file": "c.pem",
                 "key_file": "k.pem"},
                {"office_no": "3271500014", "service_type": "4", "certificate_file": "c.pem",
                 "key_file": "k.pem", "colour": "red"}]})");
  BOOST_TEST_REQUIRE(!doc.HasParseError());
  std::vector<gateway::ConfigError> errors;
  const auto config =
      adapters::folder::parse_folder_config(gateway::ConfigNode(&doc, "adapters.folder", &errors));
  BOOST_TEST(config.root == fs::path("/srv/folder"));
  BOOST_TEST(config.scan_interval.count() == 2000);
  BOOST_TEST(config.stability_window.count() == 500);
  BOOST_TEST_REQUIRE(config.offices.size() == 2u);
  BOOST_TEST(config.offices[0].office.office_no == "3271500013");
  std::vector<std::string> paths;
  for (const auto& e : errors) paths.push_back(e.path);
  BOOST_TEST(std::count(paths.begin(), paths.end(), "adapters.folder.offices[1].office_no") == 1);
  BOOST_TEST(std::count(paths.begin(), paths.end(), "adapters.folder.offices[1].service_type") ==
             1);
  BOOST_TEST(std::count(paths.begin(), paths.end(), "adapters.folder.offices[1].colour") == 1);
  BOOST_TEST(errors.size() == 3u);

  for (const auto& [mode, ok] : std::vector<std::pair<std::string, bool>>{
           {"0640", true}, {"0600", true}, {"0750", false}, {"0040", false}, {"rw", false}}) {
    BOOST_TEST_CONTEXT(mode) {
      rapidjson::Document d;
      d.Parse((R"({"root": "/srv/folder", "file_mode": ")" + mode + "\"}").c_str());
      std::vector<gateway::ConfigError> e;
      const auto c =
          adapters::folder::parse_folder_config(gateway::ConfigNode(&d, "adapters.folder", &e));
      const auto bad_mode = std::count_if(e.begin(), e.end(), [](const gateway::ConfigError& x) {
        return x.path == "adapters.folder.file_mode";
      });
      BOOST_TEST(bad_mode == (ok ? 0 : 1));
      if (ok) BOOST_TEST(c.file_mode == static_cast<mode_t>(std::stoul(mode, nullptr, 8)));
    }
  }
}

BOOST_AUTO_TEST_CASE(ledger_line_cut_by_a_crash_does_not_swallow_the_next) {
  const GeneratedUnit unit = UnitGenerator(25).make("K2");
  FolderBench b(scratch_dir("ledger"), {recipient_of(unit)});
  fs::create_directories(b.root);
  write_file(b.root / adapters::folder::kLedgerFile, "inbound 6b2d");  // cut short, no newline
  b.start();
  BOOST_TEST((send(b, outbound(unit, "key-9", false)).status == Status::kAccepted));
  b.stop_and_drain();
  fs::remove_all(b.root / "inbox" / (sequence_of(unit) + "_" + sender_of(unit).office_no));
  b.make_adapter();
  b.start();
  BOOST_TEST((send(b, outbound(unit, "key-9", false)).status == Status::kAccepted));
  BOOST_TEST(list_names(b.root / "inbox").empty());  // remembered: not written again
  b.stop_and_drain();
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace kakehashi::testing::folder
