#pragma once
// The Kaigo WEB Service's wire format as the adapter speaks it (PROTOCOL.md §2–§5): request
// bodies and targets, and pure readers of the answers (bytes in, typed values out). Every reader
// tells a complete OK answer, a complete NG answer (the service's codes) and a garbled one (not
// §2's envelope, or OK without the fields the call promises) apart; a garbled answer is named by
// JSON path only, never by a value. Also the sender reference (§6.1) and the composite cursor
// (§7.5). No I/O.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/adapter/adapter.hpp"

namespace kakehashi::adapters::kaigoweb {

// ---- paths (§1, §3, §5) -------------------------------------------------------------------
inline constexpr std::string_view kLoginPath = "/kaigo/auth/v1/login";
inline constexpr std::string_view kOtpPath = "/kaigo/auth/v1/otp";
inline constexpr std::string_view kRefreshPath = "/kaigo/auth/v1/token/refresh";
inline constexpr std::string_view kLogoutPath = "/kaigo/auth/v1/logout";
inline constexpr std::string_view kSentItemsPath = "/kaigo/careplan/v1/sent-items";

std::string sent_feed_target(std::string_view since, int limit);
// accepted_from/to in UTC ("" to: now); page "" for the first page.
std::string sent_by_time_target(std::string_view accepted_from, std::string_view accepted_to,
                                std::string_view page, int limit);
std::string received_list_target(std::string_view since, int limit);
std::string received_item_target(std::string_view item_id);
std::string ack_target(std::string_view item_id);
std::string offices_target(std::string_view changed_since, std::string_view cursor, int limit);

std::string url_encode(std::string_view text);

// ---- request bodies -------------------------------------------------------------------------
std::string login_body(std::string_view user_id, std::string_view password);
std::string otp_body(std::string_view challenge_id, std::string_view otp);
std::string refresh_body(std::string_view refresh_token);
// `document_json` is embedded verbatim (its exact bytes are what `sent_sha256` covers).
std::string send_body(std::string_view sender_reference, const gateway::OfficeRef& recipient,
                      std::string_view kind, std::string_view target_month,
                      std::string_view document_json);
// result "downloaded" or "rejected" (reason ≤ 2000 characters, cut on a UTF-8 boundary).
std::string ack_body(std::string_view result, std::string_view reason);

// ---- identity (§6.1, §5.1) ------------------------------------------------------------------
std::string sha256_hex(std::string_view bytes);
// "kk1-" + the first 32 hex digits of SHA-256(idempotency_key).
std::string sender_reference(std::string_view idempotency_key);
inline constexpr std::string_view kReferencePrefix = "kk1-";
// §5.1: the first ファイル対象年月 of the document's forms (model order) that is not 000000, else
// the first six digits of ファイル連番; "" when the document has neither.
std::string target_month_of(std::string_view document_json);

// ---- times (§1) -----------------------------------------------------------------------------
using TimePoint = std::chrono::system_clock::time_point;
// RFC 3339 with any offset (fraction optional); nullopt when not that shape.
std::optional<TimePoint> parse_time(std::string_view text);
// "2027-04-01T00:30:00.000Z"
std::string format_utc_ms(TimePoint t);

// ---- answers (§2) ---------------------------------------------------------------------------
struct ApiError {
  std::string code;
  std::string message;  // the service's text for people (never logged by the adapter)
  std::string field;    // RFC 6901 pointer into the request, or ""
  std::optional<std::chrono::seconds> retry_after;
  std::string locked_until;  // KW1002
};

enum class AnswerKind { kOk, kNg, kGarbled };

template <class T>
struct Answer {
  AnswerKind kind = AnswerKind::kGarbled;
  std::string request_id;
  T data{};                      // kOk
  std::vector<ApiError> errors;  // kNg (1-100 entries)
  std::string problem;           // kGarbled: the JSON path that is wrong, never a value
  bool ok() const { return kind == AnswerKind::kOk; }
  const std::string& first_code() const {
    static const std::string kNone;
    return errors.empty() ? kNone : errors.front().code;
  }
};

struct Empty {};

struct Challenge {
  std::string challenge_id;
  std::string otp_delivery;
  std::string otp_destination_hint;
  std::string otp_expires_at;  // as given
  int otp_length = 6;
};

struct Tokens {
  std::string access_token;
  std::string access_expires_at;  // as given (JST)
  std::string refresh_token;      // empty on a refresh answer (not rotated)
  std::string refresh_expires_at;
  std::string office_no;  // otp answer only
  std::string user_id;    // otp answer only
};

struct SendAccepted {
  std::string item_id;
  std::string status;
  std::string accepted_at;
  std::string sender_reference;
};

struct ItemEntry {
  std::string item_id;
  std::string cursor;  // "" in time searches
  std::string sender_reference;
  gateway::OfficeRef sender;
  gateway::OfficeRef recipient;
  std::string kind;
  std::string target_month;
  std::string accepted_at;
  std::string delivered_at;
  std::string status;
  std::string status_at;
  std::string reject_by, reject_code, reject_reason;  // status "rejected"
};

struct ItemPage {
  std::vector<ItemEntry> items;
  std::string next_cursor;  // feeds
  bool has_more = false;    // feeds
  std::string next_page;    // time search: "" when null (the last page)
  std::size_t skipped = 0;  // entries without item id (nothing to act on): left out
};

struct ReceivedItem {
  ItemEntry entry;
  std::string document_json;  // the `document` object, serialised compactly
};

struct OfficePage {
  std::vector<gateway::DirectoryEntry> entries;  // one per (office, service type)
  std::string next_cursor;
  bool has_more = false;
  std::string as_of;
};

// Only the envelope: for answers whose data the caller does not need (logout, ack, 4xx/5xx).
Answer<Empty> read_envelope(std::string_view body);
Answer<Challenge> read_challenge(std::string_view body);
Answer<Tokens> read_tokens(std::string_view body, bool with_refresh_token);
Answer<SendAccepted> read_send_answer(std::string_view body);
Answer<ItemPage> read_item_page(std::string_view body);  // sent feed, time search, received list
Answer<ReceivedItem> read_received_item(std::string_view body);
Answer<OfficePage> read_office_page(std::string_view body);

// ---- the composite cursor (§7.5) ------------------------------------------------------------
using CompositeCursor = std::map<std::string, std::string>;  // office_no → service cursor
// "" is the empty cursor; nullopt when the text is not the shape (the caller starts over).
std::optional<CompositeCursor> read_composite_cursor(std::string_view text);
std::string write_composite_cursor(const CompositeCursor& cursor);

}  // namespace kakehashi::adapters::kaigoweb
