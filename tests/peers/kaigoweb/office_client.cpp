#include "tests/peers/kaigoweb/office_client.hpp"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <rapidjson/document.h>

#include "adapters/common/http/https_client.hpp"
#include "tests/peers/kaigoweb/kaigoweb_standin.hpp"
#include "tests/peers/kaigoweb/wire.hpp"

namespace kakehashi::standin::kaigoweb {

OfficeClientOptions office_options_from_pki(const std::string& pki_dir,
                                            const std::string& office_no, std::uint16_t port,
                                            const std::string& otp_dir) {
  OfficeClientOptions o;
  o.port = port;
  o.tls.ca_file = pki_dir + "/kaigoweb/ca.pem";
  o.tls.cert_file = pki_dir + "/kaigoweb/offices/" + office_no + ".cert.pem";
  o.tls.key_file = pki_dir + "/kaigoweb/offices/" + office_no + ".key.pem";
  o.tls.server_name = "127.0.0.1";
  o.otp_dir = otp_dir;
  std::ifstream in(pki_dir + "/kaigoweb/accounts");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(office_no + ":", 0) != 0) continue;
    if (const auto a = parse_account(line)) {
      o.user_id = a->user_id;
      o.password = a->password;
    }
  }
  return o;
}

const std::string* Answer::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k == name) return &v;
  }
  return nullptr;
}

std::string Answer::data(const char* key) const {
  rapidjson::Document d;
  d.Parse(body.data(), body.size());
  if (d.HasParseError() || !d.IsObject() || !d.HasMember("data") || !d["data"].IsObject())
    return {};
  const auto& v = d["data"];
  const auto m = v.FindMember(key);
  return m != v.MemberEnd() && m->value.IsString() ? m->value.GetString() : std::string();
}

struct OfficeClient::Impl {
  explicit Impl(OfficeClientOptions o)
      : options(std::move(o)),
        client(io.get_executor(), adapters::http::ClientOptions{options.host,
                                                                options.port,
                                                                options.tls,
                                                                std::chrono::milliseconds(15000),
                                                                2,
                                                                64ull * 1024 * 1024,
                                                                {}}) {}

  // One call; 503s with Retry-After are waited out within options.maintenance_patience.
  Answer run(const adapters::http::Request& req) {
    const auto give_up = std::chrono::steady_clock::now() + options.maintenance_patience;
    for (;;) {
      Answer a = run_once(req);
      const std::string* after = a.header("retry-after");
      if (a.ec || a.status != 503 || after == nullptr) return a;
      const auto wait = std::chrono::seconds(std::max(1, std::atoi(after->c_str())));
      if (std::chrono::steady_clock::now() + wait > give_up) return a;
      std::this_thread::sleep_for(wait);  // a command-line client honouring Retry-After
    }
  }

  Answer run_once(adapters::http::Request req) {
    Answer a;
    req.headers.emplace_back("content-type", "application/json; charset=utf-8");
    req.headers.emplace_back("accept", "application/json");
    req.headers.emplace_back("x-request-id", random_uuid());
    io.restart();
    client.request(std::move(req), [&a](boost::system::error_code ec, adapters::http::Response r) {
      a.ec = ec;
      a.status = r.status;
      a.body = std::move(r.body);
      a.headers = std::move(r.headers);
    });
    io.run();
    rapidjson::Document d;
    d.Parse(a.body.data(), a.body.size());
    if (!a.ec && !d.HasParseError() && d.IsObject() && d.HasMember("result") &&
        d["result"].IsString()) {
      a.result = d["result"].GetString();
      if (d.HasMember("errors") && d["errors"].IsArray() && !d["errors"].Empty() &&
          d["errors"][0].IsObject() && d["errors"][0].HasMember("code") &&
          d["errors"][0]["code"].IsString()) {
        a.code = d["errors"][0]["code"].GetString();
      }
    }
    return a;
  }

  Answer request(const std::string& method, const std::string& target, const std::string& body,
                 std::vector<std::pair<std::string, std::string>> headers) {
    adapters::http::Request req;
    req.method = method;
    req.target = target;
    req.body = body;
    req.headers = std::move(headers);
    return run(std::move(req));
  }

  OfficeClientOptions options;
  boost::asio::io_context io;
  adapters::http::HttpsClient client;
  std::string access, refresh;
};

OfficeClient::OfficeClient(OfficeClientOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}
OfficeClient::~OfficeClient() = default;
OfficeClient::OfficeClient(OfficeClient&&) noexcept = default;
OfficeClient& OfficeClient::operator=(OfficeClient&&) noexcept = default;

namespace {
std::string json_object(std::initializer_list<std::pair<std::string_view, std::string_view>> kv) {
  rapidjson::StringBuffer b;
  JsonWriter w(b);
  w.StartObject();
  for (const auto& [k, v] : kv) put(w, k, v);
  w.EndObject();
  return b.GetString();
}
}  // namespace

Answer OfficeClient::begin_login() {
  return impl_->request(
      "POST", "/kaigo/auth/v1/login",
      json_object({{"user_id", impl_->options.user_id}, {"password", impl_->options.password}}),
      {});
}

Answer OfficeClient::submit_otp(const std::string& challenge, const std::string& otp) {
  Answer a = impl_->request("POST", "/kaigo/auth/v1/otp",
                            json_object({{"challenge_id", challenge}, {"otp", otp}}), {});
  if (a.ok()) {
    impl_->access = a.data("access_token");
    impl_->refresh = a.data("refresh_token");
  }
  return a;
}

Answer OfficeClient::login() {
  Answer a = begin_login();
  if (!a.ok()) return a;
  // The OTP file of this office and user: "<otp> <challenge_id> <expires>".
  namespace fs = std::filesystem;
  std::string office;
  for (const auto& e : fs::directory_iterator(impl_->options.otp_dir)) {
    const std::string name = e.path().filename().string();
    const std::string suffix = "." + impl_->options.user_id + ".otp";
    if (name.size() > suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      std::ifstream in(e.path());
      std::string otp, challenge;
      in >> otp >> challenge;
      if (challenge == a.data("challenge_id")) return submit_otp(challenge, otp);
    }
  }
  Answer missing;
  missing.code = "no OTP file for this challenge in " + impl_->options.otp_dir;
  return missing;
}

Answer OfficeClient::refresh() {
  Answer a = impl_->request("POST", "/kaigo/auth/v1/token/refresh",
                            json_object({{"refresh_token", impl_->refresh}}), {});
  if (a.ok()) impl_->access = a.data("access_token");
  return a;
}

Answer OfficeClient::logout() {
  return call("POST", "/kaigo/auth/v1/logout", "{}");
}

Answer OfficeClient::send(const std::string& body) {
  return call("POST", "/kaigo/careplan/v1/sent-items", body);
}

Answer OfficeClient::sent(const std::string& since, int limit) {
  return call("GET",
              "/kaigo/careplan/v1/sent-items?since=" + since + "&limit=" + std::to_string(limit));
}

Answer OfficeClient::received(const std::string& since, int limit) {
  return call("GET", "/kaigo/careplan/v1/received-items?since=" + since +
                         "&limit=" + std::to_string(limit));
}

Answer OfficeClient::fetch(const std::string& item_id) {
  return call("GET", "/kaigo/careplan/v1/received-items/" + item_id);
}

Answer OfficeClient::ack(const std::string& item_id, const std::string& result,
                         const std::string& reason) {
  const std::string body = reason.empty() ? json_object({{"result", result}})
                                          : json_object({{"result", result}, {"reason", reason}});
  return call("POST", "/kaigo/careplan/v1/received-items/" + item_id + "/ack", body);
}

Answer OfficeClient::call(const std::string& method, const std::string& target,
                          const std::string& body,
                          std::vector<std::pair<std::string, std::string>> headers) {
  if (!impl_->access.empty()) headers.emplace_back("authorization", "Bearer " + impl_->access);
  return impl_->request(method, target, body, std::move(headers));
}

Answer OfficeClient::admin(const std::string& method, const std::string& target,
                           const std::string& body) {
  return impl_->request(method, target, body,
                        {{"authorization", "Admin " + impl_->options.admin_token}});
}

const std::string& OfficeClient::access_token() const {
  return impl_->access;
}
const std::string& OfficeClient::refresh_token() const {
  return impl_->refresh;
}
void OfficeClient::set_access_token(std::string token) {
  impl_->access = std::move(token);
}

std::string send_body(const std::string& sender_reference, const std::string& recipient_office,
                      const std::string& recipient_type, const std::string& kind,
                      const std::string& target_month, const std::string& document_json) {
  rapidjson::StringBuffer b;
  JsonWriter w(b);
  w.StartObject();
  put(w, "sender_reference", sender_reference);
  put_office(w, "recipient", recipient_office, recipient_type);
  put(w, "kind", kind);
  put(w, "target_month", target_month);
  w.Key("document");
  w.RawValue(document_json.data(), document_json.size(), rapidjson::kObjectType);
  w.EndObject();
  return b.GetString();
}

}  // namespace kakehashi::standin::kaigoweb
