#pragma once
// An office as a client of the Kaigo WEB stand-in (synchronous; tests and the quickstart): logs in
// with the OTP from the stand-in's OTP file, sends one 5.0 item, lists, fetches and acknowledges,
// and drives the admin surface. Tokens are kept in memory only.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "adapters/common/http/asio.hpp"
#include "adapters/common/http/message.hpp"
#include "adapters/common/http/tls_config.hpp"

namespace kakehashi::standin::kaigoweb {

struct OfficeClientOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  adapters::http::TlsConfig tls;  // kaigoweb CA, the office's client certificate and key
  std::string user_id;
  std::string password;
  std::string otp_dir;  // where the stand-in writes OTP files
  std::string admin_token = "admin";
  // How long a call may wait out 503s with Retry-After (a maintenance window) before it gives
  // the 503 to its caller, as care software would; 0 (the default): never, the 503 is the answer.
  std::chrono::seconds maintenance_patience{0};
};

// Office OFFICE_NO of a development PKI (DIR/kaigoweb/offices/<no>.{cert,key}.pem); user ID and
// password from DIR/kaigoweb/accounts.
OfficeClientOptions office_options_from_pki(const std::string& pki_dir,
                                            const std::string& office_no, std::uint16_t port,
                                            const std::string& otp_dir);

// One answer: a transport failure (ec, e.g. a TLS alert), or the HTTP status and §2's envelope.
struct Answer {
  boost::system::error_code ec;
  int status = 0;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string result;  // "OK" | "NG" | "" (not the envelope)
  std::string code;    // errors[0].code of an NG answer
  bool ok() const { return !ec && status == 200 && result == "OK"; }
  const std::string* header(std::string_view name) const;
  // A string member of `data` ("" when absent).
  std::string data(const char* key) const;
};

class OfficeClient {
 public:
  explicit OfficeClient(OfficeClientOptions options);
  ~OfficeClient();
  OfficeClient(OfficeClient&&) noexcept;
  OfficeClient& operator=(OfficeClient&&) noexcept;

  Answer begin_login();                                                     // §3.1
  Answer submit_otp(const std::string& challenge, const std::string& otp);  // §3.2
  // Both steps, reading the OTP from the stand-in's OTP file.
  Answer login();
  Answer refresh();
  Answer logout();

  Answer send(const std::string& body);  // POST sent-items with a ready body
  Answer sent(const std::string& since = "", int limit = 50);
  Answer received(const std::string& since = "", int limit = 50);
  Answer fetch(const std::string& item_id);
  Answer ack(const std::string& item_id, const std::string& result, const std::string& reason = "");

  // Any call with the current access token (none: no Authorization header).
  Answer call(const std::string& method, const std::string& target, const std::string& body = "",
              std::vector<std::pair<std::string, std::string>> headers = {});
  // An admin call (Authorization: Admin <token>).
  Answer admin(const std::string& method, const std::string& target, const std::string& body = "");

  const std::string& access_token() const;
  const std::string& refresh_token() const;
  void set_access_token(std::string token);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The request body of §5.1 for a 5.0 document (compact JSON object text).
std::string send_body(const std::string& sender_reference, const std::string& recipient_office,
                      const std::string& recipient_type, const std::string& kind,
                      const std::string& target_month, const std::string& document_json);

}  // namespace kakehashi::standin::kaigoweb
