#pragma once
// The regional stand-in's state in one SQLite file (members, facilities and offices, messages,
// mailboxes, receipts, delivery log), so that a restart of the stand-in loses nothing.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/regional/rhn_wire.hpp"

struct sqlite3;

namespace kakehashi::adapters::regional::standin {

struct Member {
  std::string cn;  // client certificate subject CN
  std::string facility_id;
  bool gateway = false;      // a gateway member: its facility is external
  std::string callback_url;  // push notices ("" = none)
};

// Where a message to an office goes.
struct Recipient {
  std::string member;
  std::string facility_id;
  std::string status;
  bool external = false;
};

// An office notice as the network keeps it (PROTOCOL.md §7a): what the notice log shows.
struct StoredNotice {
  std::string id;  // n-000000000001
  std::string sender;     // member cn
  std::string notice_id;  // the sender's idempotency key
  std::string body_sha256;
  std::string office_no;
  std::string service_type;  // "" = the office as a whole
  std::string text;
  std::string accepted_at;
  std::int64_t attempts = 1;
};

struct StoredMessage {
  std::string id;
  std::string sender;      // member cn
  std::string message_id;  // the sender's idempotency key
  std::string body_sha256;
  int response_status = 0;
  std::string response_body;
  std::string recipient;  // member cn
  std::int64_t sequence = 0;
  RhnSender from;
  mapping::OfficeRef to;
  std::string subject;
  std::string body;
  std::string documents_json;  // the documents array exactly as sent
  std::int64_t document_count = 0;
  std::string state = "UNREAD";
  std::string reason;
  std::string state_at;
  std::string received_at;
  std::int64_t attempts = 1;
};

class StandinStore {
 public:
  // Opens or creates the file (WAL); throws std::runtime_error naming it.
  explicit StandinStore(const std::filesystem::path& file);
  ~StandinStore();
  StandinStore(const StandinStore&) = delete;
  StandinStore& operator=(const StandinStore&) = delete;

  void upsert_member(const Member& member);
  std::optional<Member> member(std::string_view cn);
  void set_callback(std::string_view cn, std::string_view url);

  // Creates or updates the facility and replaces its offices (seed directory).
  void upsert_facility(const RhnFacility& facility, std::string_view now);
  // The status of `office` within `facility_id`, if the facility holds it.
  std::optional<std::string> office_status(std::string_view facility_id,
                                           const mapping::OfficeRef& office);
  // The holder of an office: a native facility first, else a gateway's external publication.
  std::optional<Recipient> recipient(const mapping::OfficeRef& office);
  std::vector<RhnFacility> directory();
  void replace_offices(std::string_view facility_id, const std::vector<RhnOffice>& offices,
                       std::string_view now);

  std::optional<StoredMessage> message_by_key(std::string_view sender, std::string_view message_id);
  void count_attempt(std::string_view sender, std::string_view message_id);
  // Assigns id and mailbox sequence; `m.response_body` is computed by `answer` from the id.
  StoredMessage insert_message(StoredMessage m, std::string (*answer)(const StoredMessage&));
  std::optional<StoredMessage> message(std::string_view id);
  // Up to `limit` items with sequence > since, in order.
  std::vector<StoredMessage> mailbox(std::string_view member, std::int64_t since,
                                     std::int64_t limit);
  // Sets the message's state and appends a receipt for its sender.
  void set_state(const StoredMessage& m, std::string_view state, std::string_view reason,
                 std::string_view at);
  std::vector<RhnReceipt> receipts(std::string_view member, std::int64_t since, std::int64_t limit);
  std::vector<StoredMessage> deliveries(std::optional<std::string> message_id);

  // Office notices (§7a): by (sender, notice_id); insert assigns the id; the log by office.
  std::optional<StoredNotice> notice_by_key(std::string_view sender, std::string_view notice_id);
  void count_notice_attempt(std::string_view sender, std::string_view notice_id);
  StoredNotice insert_notice(StoredNotice n);
  std::vector<StoredNotice> notices(std::optional<std::string> office_no);
  // Is `office` held natively (not through a gateway's publication) by some facility?
  bool native_office(const mapping::OfficeRef& office);

 private:
  void exec(const char* sql);
  sqlite3* db_ = nullptr;
};

}  // namespace kakehashi::adapters::regional::standin
