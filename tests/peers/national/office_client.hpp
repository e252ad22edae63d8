#pragma once
// A national office as a client of the NCP API (synchronous; for tests and the quickstart):
// signs each file with the office key, sends units, lists and fetches (decrypting with the
// office key), posts receipts, reads outbox updates.

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "adapters/common/http/https_client.hpp"
#include "mapping/careplan/file_name.hpp"

namespace kakehashi::standin {

struct OfficeClientOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  adapters::http::TlsConfig tls;  // national CA and a TLS client certificate of the national CA
  std::string user_id;
  std::string password;
  std::string office_cert_file;  // the office's signing certificate (also its document certificate)
  std::string office_key_file;
};

// Options for office NUMBER of a development PKI (TLS client: tls/national-standin-client).
OfficeClientOptions office_options_from_pki(const std::string& pki_dir,
                                            const std::string& office_no, std::uint16_t port,
                                            const std::string& user_id,
                                            const std::string& password);

struct Answer {
  boost::system::error_code ec;  // transport failure
  int status = 0;
  std::string body;
  std::string error_code;  // from an error body
  bool ok() const { return !ec && status >= 200 && status < 300; }
};

struct PlainFile {
  std::string name;
  std::string bytes;
};

class OfficeClient {
 public:
  explicit OfficeClient(OfficeClientOptions options);  // loads the credential; throws
  ~OfficeClient();
  OfficeClient(const OfficeClient&) = delete;
  OfficeClient& operator=(const OfficeClient&) = delete;

  Answer login();
  // Signs each file (attached SignedData) and sends them as one unit.
  Answer send(const mapping::OfficeRef& sender, const mapping::OfficeRef& recipient,
              const std::string& unit_kind, const std::string& message,
              const std::vector<PlainFile>& files, const std::string& idempotency_key);
  // The same in two steps, so that a replay can send byte-identical bodies (signatures carry a
  // signing time, so signing again makes another body).
  std::string unit_body(const mapping::OfficeRef& sender, const mapping::OfficeRef& recipient,
                        const std::string& unit_kind, const std::string& message,
                        const std::vector<PlainFile>& files) const;
  Answer post_unit(const std::string& body, const std::string& idempotency_key);
  Answer inbox(const std::string& cursor = "", int limit = 50);
  // Downloads one file and decrypts it; `content` gets the signed bytes, `signed_data` the CMS.
  Answer fetch(const std::string& id, const std::string& name, std::string& content,
               std::string& signed_data);
  Answer receipt(const std::string& id, const std::string& state, const std::string& reason);
  Answer updates(const std::string& cursor = "");
  Answer withdraw(const std::string& id);
  // Any call with the session token (logs in first when there is none).
  Answer call(const std::string& method, const std::string& target, const std::string& body,
              std::vector<std::pair<std::string, std::string>> headers = {});
  // Without the session token (login, admin).
  Answer raw(adapters::http::Request request);

  // Attached SignedData of `bytes` by the office key.
  std::string sign(const std::string& bytes) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kakehashi::standin
