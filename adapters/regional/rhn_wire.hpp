#pragma once
// The RHN API v1 wire format (adapters/regional/PROTOCOL.md) as plain values: encoding and
// strict decoding of messages, pages, directory and error bodies, shared by the adapter, the
// stand-in and the office client so that all three speak exactly one contract.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "mapping/careplan/file_name.hpp"
#include "mapping/common/base64.hpp"
#include "mapping/common/media_type.hpp"

namespace kakehashi::adapters::regional {

// Limits of PROTOCOL.md §2.
inline constexpr std::size_t kMaxMessageIdBytes = 128;
inline constexpr std::size_t kMaxFacilityIdBytes = 64;
inline constexpr std::size_t kMaxSubjectBytes = 800;
inline constexpr std::size_t kMaxBodyBytes = 4000;
inline constexpr std::size_t kMaxDocuments = 100;
inline constexpr std::size_t kMaxFilenameBytes = 255;
inline constexpr std::size_t kMaxDocumentBytes = 10u * 1024 * 1024;
inline constexpr std::size_t kMaxReasonBytes = 2000;
inline constexpr std::size_t kMaxNoticeTextBytes = 2000;
inline constexpr std::int64_t kMaxPageLimit = 500;
inline constexpr std::int64_t kDefaultPageLimit = 100;

// One error of the contract's table (§10) with the details it names.
struct RhnError {
  int status = 0;
  std::string code;
  std::string message;
  std::string field;
  std::string reason;
  std::string filename;
  std::string office;
};

struct RhnDocument {
  std::string filename;
  std::string media_type;
  std::string content;    // decoded bytes
  std::string signature;  // decoded DER, detached SignedData
};

struct RhnSender {
  std::string facility_id;
  mapping::OfficeRef office;
};

struct RhnMessage {
  std::string message_id;
  std::string service = "careplan";
  RhnSender from;
  mapping::OfficeRef to;
  std::string subject;
  std::string body;
  std::vector<RhnDocument> documents;
};

// A mailbox item (§4); `body` and `documents` only in GET /messages/{id}.
struct RhnMailboxItem {
  std::int64_t sequence = 0;
  std::string id;
  std::string message_id;
  RhnSender from;
  mapping::OfficeRef to;
  std::string subject;
  std::string body;
  std::string state;
  std::string received_at;
  std::int64_t document_count = 0;
  std::vector<RhnDocument> documents;
};

struct RhnMailboxPage {
  std::vector<RhnMailboxItem> items;
  std::int64_t next_since = 0;
  bool more = false;
  // Items listed without a sequence or id (nothing to fetch, refuse or resume from): left out
  // of `items`; their sequences, when they have one, in `skipped_sequences`.
  std::size_t skipped = 0;
  std::vector<std::int64_t> skipped_sequences;
};

// Why a message fetched from the mailbox cannot be taken (issue 14).
struct RhnItemProblem {
  bool transient = false;  // the body does not parse as JSON (e.g. a cut answer): ask again
  std::string reason;      // the JSON path and what is wrong; never a value
};

struct RhnReceipt {
  std::int64_t sequence = 0;
  std::string id;
  std::string message_id;
  std::string state;  // READ, REJECTED
  std::string reason;
  std::string at;
};

struct RhnReceiptPage {
  std::vector<RhnReceipt> items;
  std::int64_t next_since = 0;
  bool more = false;
};

struct RhnOffice {
  mapping::OfficeRef office;
  std::string name;
  std::string kana;
  std::string prefecture;
  std::string status;
  std::string updated_at;
};

struct RhnFacility {
  std::string facility_id;
  std::string name;
  std::string kana;
  std::string prefecture;
  bool external = false;
  std::string published_by;
  std::vector<RhnOffice> offices;
};

struct RhnSendAnswer {
  std::string id;
  std::string message_id;
  std::string accepted_at;
};

// An office notice (§7a): a gateway member tells a native office of the network something about
// the office itself (e.g. its session on another network needs a login). No care-plan data.
struct RhnNotice {
  std::string notice_id;  // the sender's idempotency key, rules of message_id
  mapping::OfficeRef to;  // service_type empty: the office number as a whole
  std::string text;       // 1-2000 bytes of UTF-8 plain text; no control characters but LF
};

struct RhnNoticeAnswer {
  std::string id;
  std::string notice_id;
  std::string accepted_at;
};

// Base64 is mapping/common's: strict RFC 4648 §4 with padding, canonical only (§3.5); nullopt
// on anything else.
using mapping::common::base64_decode;
using mapping::common::base64_encode;

bool valid_message_id(std::string_view id);
bool valid_facility_id(std::string_view id);
bool valid_office_no(std::string_view office_no);
bool valid_service_type(std::string_view service_type);
bool valid_status(std::string_view status);
// The media type for a file name by its extension (text/csv for the standard's CSV files), and
// the allowed types (§3: exactly mapping/common's known types), are mapping/common's.
using mapping::common::media_type_for;

std::string encode_message(const RhnMessage& message);
// Parses and checks §2 and the document rules of §3 step 2 (400 INVALID_REQUEST /
// INVALID_DOCUMENT). `check_names`: filenames must be of the care-plan standard and match from/to.
std::variant<RhnMessage, RhnError> decode_message(std::string_view json, bool check_names = true);

std::string encode_error(const RhnError& error);
// The error of a non-2xx answer; a body that is not the contract's shape gives code
// "HTTP_<status>".
RhnError decode_error(int status, std::string_view body);

// Strict parsers of 2xx answers: nullopt when the body is not the documented shape.
std::optional<RhnSendAnswer> decode_send_answer(std::string_view json);
std::optional<RhnMailboxPage> decode_mailbox_page(std::string_view json);
std::optional<RhnMailboxItem> decode_mailbox_item(std::string_view json);
// GET /messages/{id} as the gateway takes it: the §2 limits a member's message must meet
// (every field present, 1-100 documents, strict base64 without line breaks, 10 MiB per
// document, nesting within http::kMaxJsonDepth), or the first problem with its JSON path.
std::variant<RhnMailboxItem, RhnItemProblem> read_mailbox_message(std::string_view json);
std::optional<RhnReceiptPage> decode_receipt_page(std::string_view json);
std::optional<std::vector<RhnFacility>> decode_directory(std::string_view json);

std::string encode_notice(const RhnNotice& notice);
// §7a body (400 INVALID_REQUEST naming the field).
std::variant<RhnNotice, RhnError> decode_notice(std::string_view json);
std::optional<RhnNoticeAnswer> decode_notice_answer(std::string_view json);
// `text` cut to at most kMaxNoticeTextBytes on a UTF-8 character boundary.
std::string cut_notice_text(std::string text);

std::string encode_external_directory(const std::vector<RhnOffice>& offices);
// §7 body; an error names the offending field.
std::variant<std::vector<RhnOffice>, RhnError> decode_external_directory(std::string_view json);

}  // namespace kakehashi::adapters::regional
