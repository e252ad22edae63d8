// Outbound side of the drop folder: stability, completeness, bulk routing, rejections with
// REASON.txt, signatures over the untouched bytes, and recovery after a crash.

#include <algorithm>
#include <set>

#include <boost/test/unit_test.hpp>

#include "adapters/folder/outbox_scanner.hpp"
#include "mapping/careplan/finding_codes.hpp"
#include "mapping/careplan/inspector.hpp"
#include "mapping/cms/verify.hpp"
#include "tests/adapters/folder/folder_test_support.hpp"

namespace kakehashi::testing::folder {
namespace {

using mapping::cms::ByteView;

ByteView view(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

mapping::Findings inspect_findings(const GeneratedUnit& unit) {
  std::vector<mapping::InputFile> inputs;
  for (const auto& f : unit.files) inputs.push_back({f.name, f.bytes, f.bytes.size()});
  mapping::Findings all;
  for (const auto& u : mapping::inspect(inputs).units) {
    all.insert(all.end(), u.findings.begin(), u.findings.end());
  }
  return all;
}

bool has_code(const mapping::Findings& findings, std::string_view code) {
  return std::any_of(findings.begin(), findings.end(),
                     [&](const mapping::Finding& f) { return f.code == code; });
}

std::size_t visible_count(const fs::path& dir) {
  const auto names = list_names(dir);
  return static_cast<std::size_t>(
      std::count_if(names.begin(), names.end(), [](const std::string& n) { return n.front() != '.'; }));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(folder_outbox)

BOOST_AUTO_TEST_CASE(growing_file_is_taken_only_when_stable) {
  const GeneratedUnit unit = UnitGenerator(7).make("K2");
  FolderBench b(scratch_dir("growing"), {sender_of(unit)});
  b.make_adapter();
  // Every file but the last is complete; the last one is written in four steps, one per scan.
  const auto& last = unit.files.back();
  for (std::size_t i = 0; i + 1 < unit.files.size(); ++i) {
    write_file(b.root / "outbox" / unit.files[i].name, unit.files[i].bytes);
  }
  const std::size_t step = last.bytes.size() / 4 + 1;
  std::size_t written = 0;
  bool offered_while_growing = false;
  write_file(b.root / "outbox" / last.name, "");
  b.after_scan = [&](const adapters::folder::ScanReport&) {
    if (written >= last.bytes.size()) return;
    if (b.sink.unit_count() != 0) offered_while_growing = true;
    written = std::min(last.bytes.size(), written + step);
    write_file(b.root / "outbox" / last.name, last.bytes.substr(0, written));
  };
  b.start();
  BOOST_TEST_REQUIRE(b.run_until([&] { return b.sink.unit_count() == 1; }));
  BOOST_TEST(!offered_while_growing);
  BOOST_TEST(written == last.bytes.size());
  const auto units = b.sink.units();
  BOOST_TEST_REQUIRE(units[0].files.size() == unit.files.size());
  for (const auto& f : units[0].files) {
    const auto it = std::find_if(unit.files.begin(), unit.files.end(),
                                 [&](const GeneratedFile& g) { return g.name == f.name; });
    BOOST_TEST_REQUIRE((it != unit.files.end()));
    BOOST_TEST((f.content == it->bytes), f.name);
  }
  BOOST_TEST(list_names(b.root / "rejected").empty());
  b.stop_and_drain();
}

BOOST_AUTO_TEST_CASE(incomplete_unit_waits_then_is_taken) {
  const GeneratedUnit unit = UnitGenerator(8).make("K2");
  // Leave out a file the combination requires (checked here, independently of the adapter).
  std::size_t missing = unit.files.size();
  for (std::size_t i = 0; i < unit.files.size() && missing == unit.files.size(); ++i) {
    GeneratedUnit part = unit;
    part.files.erase(part.files.begin() + static_cast<std::ptrdiff_t>(i));
    if (has_code(inspect_findings(part), mapping::codes::kUnitIncomplete)) missing = i;
  }
  BOOST_TEST_REQUIRE(missing < unit.files.size());
  GeneratedUnit part = unit;
  part.files.erase(part.files.begin() + static_cast<std::ptrdiff_t>(missing));

  FolderBench b(scratch_dir("incomplete"), {sender_of(unit)});
  b.put(part);
  b.start();
  BOOST_TEST_REQUIRE(b.run_until([&] {
    return !b.scans.empty() && b.scans.back().incomplete_units == 1;
  }));
  BOOST_TEST(b.sink.unit_count() == 0u);
  BOOST_TEST(list_names(b.root / "rejected").empty());

  write_file(b.root / "outbox" / unit.files[missing].name, unit.files[missing].bytes);
  BOOST_TEST_REQUIRE(b.run_until([&] { return b.sink.unit_count() == 1; }));
  BOOST_TEST(b.sink.units()[0].files.size() == unit.files.size());
  // Accepted by the sink: moved as a whole into sent/<sequence>/.
  const fs::path sent = b.root / "sent" / sequence_of(unit);
  BOOST_TEST_REQUIRE(b.run_until([&] { return visible_count(sent) == unit.files.size(); }));
  BOOST_TEST(visible_count(b.root / "outbox") == 0u);
  b.stop_and_drain();
}

BOOST_AUTO_TEST_CASE(bulk_drop_routes_each_unit_by_its_names) {
  UnitGenerator gen(9);
  std::vector<GeneratedUnit> units{gen.make("K2"), gen.make("K2"), gen.make("K5"), gen.make("K2")};
  std::vector<mapping::OfficeRef> senders;
  std::set<mapping::OfficeRef> recipients;
  for (const auto& u : units) {
    senders.push_back(sender_of(u));
    recipients.insert(recipient_of(u));
  }
  BOOST_TEST_REQUIRE(recipients.size() == units.size());  // the point: different recipients
  FolderBench b(scratch_dir("bulk"), senders);
  for (const auto& u : units) b.put(u);
  b.start();
  BOOST_TEST_REQUIRE(b.run_until([&] { return b.sink.unit_count() == units.size(); }));
  std::set<std::string> source_ids;
  for (const auto& offered : b.sink.units()) {
    source_ids.insert(offered.source_id);
    // Each unit carries exactly the files named for its own sender, recipient and sequence.
    for (const auto& f : offered.files) {
      const auto parsed = mapping::parse_file_name(f.name);
      BOOST_TEST_REQUIRE(parsed.name.has_value());
      BOOST_TEST((parsed.name->from == offered.sender));
      BOOST_TEST((parsed.name->to == offered.recipient));
    }
    const auto match = std::find_if(units.begin(), units.end(), [&](const GeneratedUnit& u) {
      return recipient_of(u) == offered.recipient;
    });
    BOOST_TEST_REQUIRE((match != units.end()));
    BOOST_TEST(offered.files.size() == match->files.size());
  }
  BOOST_TEST(source_ids.size() == units.size());
  BOOST_TEST_REQUIRE(b.run_until([&] { return visible_count(b.root / "outbox") == 0; }));
  BOOST_TEST_REQUIRE(b.run_until([&] { return visible_count(b.root / "sent") == units.size(); }));
  b.stop_and_drain();
}

BOOST_AUTO_TEST_CASE(broken_unit_is_rejected_with_reason) {
  GeneratedUnit unit = UnitGenerator(10).make("K2");
  unit.files.front().bytes += "broken\r\n";  // a record with one field
  const auto expected = inspect_findings(unit);
  BOOST_TEST_REQUIRE(mapping::has_errors(expected));
  BOOST_TEST_REQUIRE(!has_code(expected, mapping::codes::kUnitIncomplete));

  FolderBench b(scratch_dir("broken"), {sender_of(unit)});
  b.put(unit);
  b.start();
  const fs::path reason = b.root / "rejected" / sequence_of(unit) / "REASON.txt";
  BOOST_TEST_REQUIRE(b.run_until([&] { return fs::exists(reason); }));
  const std::string text = read_file(reason);
  for (const auto& f : expected) {
    if (f.severity != mapping::Severity::kError) continue;
    const std::string line = f.code + "\t" + f.file + "\t" + std::to_string(f.line) + "\t" + f.field;
    BOOST_TEST(text.find(line) != std::string::npos, "REASON.txt lacks " << f.code);
  }
  // The files sit beside it, byte for byte as exported, and nothing reached the engine.
  for (const auto& f : unit.files) {
    BOOST_TEST((read_file(reason.parent_path() / f.name) == f.bytes), f.name);
  }
  BOOST_TEST(b.sink.unit_count() == 0u);
  BOOST_TEST(visible_count(b.root / "outbox") == 0u);
  b.stop_and_drain();
}

BOOST_AUTO_TEST_CASE(foreign_sender_is_rejected) {
  const GeneratedUnit unit = UnitGenerator(11).make("K2");
  const GeneratedUnit other = UnitGenerator(12).make("K2");
  BOOST_TEST_REQUIRE((sender_of(unit) != sender_of(other)));
  FolderBench b(scratch_dir("foreign"), {sender_of(other)});
  b.put(unit);
  b.start();
  const fs::path reason = b.root / "rejected" / sequence_of(unit) / "REASON.txt";
  BOOST_TEST_REQUIRE(b.run_until([&] { return fs::exists(reason); }));
  BOOST_TEST(read_file(reason).find(adapters::folder::kSenderNotConfigured) != std::string::npos);
  BOOST_TEST(b.sink.unit_count() == 0u);
  b.stop_and_drain();
}

BOOST_AUTO_TEST_CASE(engine_refusal_moves_unit_to_rejected) {
  const GeneratedUnit unit = UnitGenerator(13).make("K2");
  FolderBench b(scratch_dir("refused"), {sender_of(unit)});
  b.sink.set_answer(false);
  b.put(unit);
  b.start();
  const fs::path reason = b.root / "rejected" / sequence_of(unit) / "REASON.txt";
  BOOST_TEST_REQUIRE(b.run_until([&] { return fs::exists(reason); }));
  BOOST_TEST(read_file(reason).find(adapters::folder::kGatewayRefused) != std::string::npos);
  BOOST_TEST(b.sink.unit_count() == 1u);
  BOOST_TEST(visible_count(b.root / "outbox") == 0u);
  b.stop_and_drain();
}

BOOST_AUTO_TEST_CASE(signatures_verify_and_bytes_are_unchanged) {
  UnitParams params;
  params.with_attachment = true;
  const GeneratedUnit unit = UnitGenerator(14).make("K2", params);
  FolderBench b(scratch_dir("signed"), {sender_of(unit)});
  b.put(unit);
  b.start();
  BOOST_TEST_REQUIRE(b.run_until([&] { return b.sink.unit_count() == 1; }));
  const auto offered = b.sink.units()[0];
  BOOST_TEST(offered.files.size() == unit.files.size());
  for (const auto& f : offered.files) {
    const auto it = std::find_if(unit.files.begin(), unit.files.end(),
                                 [&](const GeneratedFile& g) { return g.name == f.name; });
    BOOST_TEST_REQUIRE((it != unit.files.end()));
    BOOST_TEST((f.content == it->bytes), f.name);
    BOOST_TEST(!f.attached);
    const auto v = mapping::cms::verify_signed_data(view(f.cms), view(f.content), regional_domain());
    BOOST_TEST(v.valid(), f.name << ": " << v.detail);
    BOOST_TEST_REQUIRE(v.signer.has_value());
    BOOST_TEST(v.signer->office_number.value_or("") == "3271500013");
    // A signature over other bytes must not verify (the check above can fail).
    const std::string tampered = f.content + " ";
    BOOST_TEST(!mapping::cms::verify_signed_data(view(f.cms), view(tampered), regional_domain()).valid());
  }
  const fs::path sent = b.root / "sent" / sequence_of(unit);
  BOOST_TEST_REQUIRE(b.run_until([&] { return visible_count(sent) == unit.files.size(); }));
  for (const auto& f : unit.files) BOOST_TEST((read_file(sent / f.name) == f.bytes), f.name);
  b.stop_and_drain();
}

BOOST_AUTO_TEST_CASE(restart_after_crash_offers_the_unit_again) {
  const GeneratedUnit unit = UnitGenerator(15).make("K2");
  FolderBench b(scratch_dir("crash"), {sender_of(unit)});
  b.sink.set_hold_answers(true);
  b.put(unit);
  b.start();
  BOOST_TEST_REQUIRE(b.run_until([&] { return b.sink.held_count() == 1; }));
  const std::string source_id = b.sink.units()[0].source_id;
  BOOST_TEST(source_id.find(sequence_of(unit)) != std::string::npos);

  // "Crash": the adapter goes away with the unit offered but not acknowledged.
  b.adapter.reset();
  BOOST_TEST(b.sink.answer_held(true) == 1u);  // a late answer to a dead adapter is harmless
  b.io.poll();
  BOOST_TEST(visible_count(b.root / "outbox") == unit.files.size());

  b.sink.set_hold_answers(false);
  b.make_adapter();
  b.start();
  BOOST_TEST_REQUIRE(b.run_until([&] { return b.sink.unit_count() == 2; }));
  BOOST_TEST(b.sink.units()[1].source_id == source_id);
  const fs::path sent = b.root / "sent" / sequence_of(unit);
  BOOST_TEST_REQUIRE(b.run_until([&] { return visible_count(sent) == unit.files.size(); }));
  b.stop_and_drain();
}

BOOST_AUTO_TEST_CASE(restart_after_crash_during_move_restores_the_unit) {
  const GeneratedUnit unit = UnitGenerator(16).make("K2");
  FolderBench b(scratch_dir("crash-move"), {sender_of(unit)});
  b.put(unit);
  // What a crash half-way through a move leaves: one file in the hidden staging folder.
  const fs::path staging =
      b.root / "sent" / (std::string(adapters::folder::kStagingPrefix) + sequence_of(unit));
  fs::create_directories(staging);
  fs::rename(b.root / "outbox" / unit.files[0].name, staging / unit.files[0].name);
  b.start();
  BOOST_TEST_REQUIRE(b.run_until([&] { return b.sink.unit_count() == 1; }));
  BOOST_TEST(b.sink.units()[0].files.size() == unit.files.size());
  BOOST_TEST(!fs::exists(staging));
  b.stop_and_drain();
}

BOOST_AUTO_TEST_CASE(receipts_land_in_the_sent_folder) {
  const GeneratedUnit unit = UnitGenerator(17).make("K2");
  FolderBench b(scratch_dir("receipt"), {sender_of(unit)});
  b.put(unit);
  b.start();
  BOOST_TEST_REQUIRE(b.run_until([&] { return b.sink.unit_count() == 1; }));
  const fs::path sent = b.root / "sent" / sequence_of(unit);
  BOOST_TEST_REQUIRE(b.run_until([&] { return visible_count(sent) == unit.files.size(); }));

  std::vector<gateway::SendResult> results;
  gateway::OutboundReceipt receipt;
  receipt.source_id = b.sink.units()[0].source_id;
  receipt.state = gateway::ReceiptState::kRejected;
  receipt.reason = "ROW_OFFICE_MISMATCH in UPPLAN";
  receipt.idempotency_key = "r-1";
  b.adapter->send_receipt(receipt, [&](gateway::SendResult r) { results.push_back(r); });
  receipt.source_id = "folder:unknown";
  b.adapter->send_receipt(receipt, [&](gateway::SendResult r) { results.push_back(r); });
  BOOST_TEST_REQUIRE(b.run_until([&] { return results.size() == 2; }));
  BOOST_TEST((results[0].status == gateway::SendResult::Status::kAccepted));
  BOOST_TEST((results[1].status == gateway::SendResult::Status::kRejected));
  const std::string text = read_file(sent / "RECEIPT-REJECTED.txt");
  BOOST_TEST(text.find("ROW_OFFICE_MISMATCH") != std::string::npos);
  b.stop_and_drain();
}

BOOST_AUTO_TEST_CASE(limits_timeouts_and_unknown_names_are_rejected) {
  // Three refusals in one folder: a file over the size limit, a unit that stays incomplete past
  // the waiting time, and a file whose name is not of the standard. A symlink is never taken.
  UnitGenerator gen(18);
  const GeneratedUnit big = gen.make("K2");
  const GeneratedUnit partial_unit = gen.make("K2");
  FolderBench b(scratch_dir("limits"), {sender_of(big), sender_of(partial_unit)});
  std::size_t largest = 0;
  for (const auto& f : big.files) largest = std::max(largest, f.bytes.size());
  b.config.max_file_bytes = largest - 1;
  b.config.incomplete_timeout = std::chrono::milliseconds(0);
  b.put(big);
  GeneratedUnit partial = partial_unit;
  partial.files.pop_back();
  b.put(partial);
  write_file(b.root / "outbox" / "notes-for-tomorrow.txt", "hello");
  write_file(b.root / "secret.CSV", "not for the network");
  fs::create_symlink(b.root / "secret.CSV", b.root / "outbox" / partial_unit.files.back().name);
  b.start();

  const fs::path big_reason = b.root / "rejected" / sequence_of(big) / "REASON.txt";
  const fs::path partial_reason = b.root / "rejected" / sequence_of(partial_unit) / "REASON.txt";
  const fs::path unknown_reason = b.root / "rejected" / "unrecognised" / "REASON.txt";
  BOOST_TEST_REQUIRE(b.run_until([&] {
    return fs::exists(big_reason) && fs::exists(partial_reason) && fs::exists(unknown_reason);
  }));
  BOOST_TEST(read_file(big_reason).find(mapping::codes::kFileTooLarge) != std::string::npos);
  BOOST_TEST(read_file(partial_reason).find(adapters::folder::kIncompleteTimeout) !=
             std::string::npos);
  BOOST_TEST(read_file(unknown_reason).find(mapping::codes::kNameUnrecognised) != std::string::npos);
  BOOST_TEST(b.sink.unit_count() == 0u);
  // The symlink stays where it is, untouched and unsent.
  BOOST_TEST(fs::is_symlink(b.root / "outbox" / partial_unit.files.back().name));
  b.stop_and_drain();
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace kakehashi::testing::folder
