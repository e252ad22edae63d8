#include "tests/peers/national/office_client.hpp"

#include <stdexcept>

#include <openssl/crypto.h>
#include <openssl/x509.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "adapters/national/ncp_codec.hpp"
#include "gateway/pki/key_file.hpp"
#include "mapping/cms/envelope.hpp"
#include "mapping/cms/signer.hpp"
#include "mapping/cms/verify.hpp"

namespace kakehashi::standin {
namespace {

namespace cms = mapping::cms;
using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

cms::ByteView view(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
std::string to_string(const cms::Bytes& b) {
  return {b.begin(), b.end()};
}

void put(Writer& w, const char* key, std::string_view v) {
  w.Key(key);
  w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
}

}  // namespace

OfficeClientOptions office_options_from_pki(const std::string& pki_dir,
                                            const std::string& office_no, std::uint16_t port,
                                            const std::string& user_id,
                                            const std::string& password) {
  OfficeClientOptions o;
  o.port = port;
  o.tls.ca_file = pki_dir + "/tls/national-ca.pem";
  o.tls.cert_file = pki_dir + "/tls/national-standin-client.cert.pem";
  o.tls.key_file = pki_dir + "/tls/national-standin-client.key.pem";
  o.user_id = user_id;
  o.password = password;
  o.office_cert_file = pki_dir + "/offices/national/" + office_no + ".cert.pem";
  o.office_key_file = pki_dir + "/offices/national/" + office_no + ".key.pem";
  return o;
}

struct OfficeClient::Impl {
  explicit Impl(OfficeClientOptions o)
      : options(std::move(o)),
        credential(
            gateway::pki::load_credential(options.office_cert_file, options.office_key_file)),
        client(io.get_executor(), adapters::http::ClientOptions{options.host,
                                                                options.port,
                                                                options.tls,
                                                                std::chrono::milliseconds(15000),
                                                                2,
                                                                64ull * 1024 * 1024,
                                                                {}}) {}

  Answer run(adapters::http::Request req) {
    Answer a;
    io.restart();
    client.request(std::move(req), [&a](boost::system::error_code ec, adapters::http::Response r) {
      a.ec = ec;
      a.status = r.status;
      a.body = std::move(r.body);
    });
    io.run();
    if (!a.ec && a.status >= 300) a.error_code = adapters::national::error_code_of(a.body);
    return a;
  }

  OfficeClientOptions options;
  cms::Credential credential;
  boost::asio::io_context io;
  adapters::http::HttpsClient client;
  std::string token;
};

OfficeClient::OfficeClient(OfficeClientOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

OfficeClient::~OfficeClient() {
  impl_->client.close();
  impl_->io.restart();
  impl_->io.run();
}

Answer OfficeClient::raw(adapters::http::Request request) {
  return impl_->run(std::move(request));
}

Answer OfficeClient::login() {
  unsigned char* der = nullptr;
  const int n = i2d_X509(impl_->credential.certificate.get(), &der);
  std::string cert(reinterpret_cast<const char*>(der), static_cast<std::size_t>(std::max(n, 0)));
  OPENSSL_free(der);
  rapidjson::StringBuffer b;
  Writer w(b);
  w.StartObject();
  put(w, "user_id", impl_->options.user_id);
  put(w, "password", impl_->options.password);
  put(w, "encryption_certificate", adapters::national::base64_encode(cert));
  w.EndObject();
  Answer a = raw(
      {"POST", "/ncp/v1/sessions", {{"content-type", "application/json"}}, b.GetString(), {}, {}});
  if (a.ok()) {
    rapidjson::Document d;
    d.Parse(a.body.data(), a.body.size());
    if (!d.HasParseError() && d.IsObject() && d.HasMember("token") && d["token"].IsString()) {
      impl_->token = d["token"].GetString();
    }
  }
  return a;
}

Answer OfficeClient::call(const std::string& method, const std::string& target,
                          const std::string& body,
                          std::vector<std::pair<std::string, std::string>> headers) {
  if (impl_->token.empty()) {
    Answer a = login();
    if (!a.ok()) return a;
  }
  headers.emplace_back("authorization", "Bearer " + impl_->token);
  if (!body.empty()) headers.emplace_back("content-type", "application/json");
  return raw({method, target, std::move(headers), body, {}, {}});
}

std::string OfficeClient::sign(const std::string& bytes) const {
  auto signed_data = cms::sign(view(bytes), impl_->credential, cms::SignOptions{false});
  if (!signed_data.ok()) throw std::runtime_error("signing failed: " + signed_data.error().detail);
  return to_string(signed_data.value());
}

Answer OfficeClient::send(const mapping::OfficeRef& sender, const mapping::OfficeRef& recipient,
                          const std::string& unit_kind, const std::string& message,
                          const std::vector<PlainFile>& files, const std::string& idempotency_key) {
  return post_unit(unit_body(sender, recipient, unit_kind, message, files), idempotency_key);
}

Answer OfficeClient::post_unit(const std::string& body, const std::string& idempotency_key) {
  return call("POST", "/ncp/v1/transmissions", body, {{"idempotency-key", idempotency_key}});
}

std::string OfficeClient::unit_body(const mapping::OfficeRef& sender,
                                    const mapping::OfficeRef& recipient,
                                    const std::string& unit_kind, const std::string& message,
                                    const std::vector<PlainFile>& files) const {
  rapidjson::StringBuffer b;
  Writer w(b);
  w.StartObject();
  for (const auto& [key, o] : {std::pair{"sender", &sender}, std::pair{"recipient", &recipient}}) {
    w.Key(key);
    w.StartObject();
    put(w, "office_no", o->office_no);
    put(w, "service_type", o->service_type);
    w.EndObject();
  }
  put(w, "unit_kind", unit_kind);
  put(w, "message", message);
  w.Key("files");
  w.StartArray();
  for (const auto& f : files) {
    w.StartObject();
    put(w, "name", f.name);
    put(w, "signed_data", adapters::national::base64_encode(sign(f.bytes)));
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return b.GetString();
}

Answer OfficeClient::inbox(const std::string& cursor, int limit) {
  return call("GET",
              "/ncp/v1/inbox?cursor=" + adapters::national::url_encode(cursor) +
                  "&limit=" + std::to_string(limit),
              "");
}

Answer OfficeClient::fetch(const std::string& id, const std::string& name, std::string& content,
                           std::string& signed_data) {
  Answer a = call("GET",
                  "/ncp/v1/transmissions/" + adapters::national::url_encode(id) + "/files/" +
                      adapters::national::url_encode(name),
                  "");
  if (!a.ok()) return a;
  auto inner = cms::decrypt(view(a.body), impl_->credential);
  if (!inner.ok()) {
    a.error_code = "decrypt_failed";
    a.status = 0;
    return a;
  }
  signed_data = to_string(inner.value());
  const auto embedded = cms::embedded_content(inner.value());
  content = embedded ? to_string(*embedded) : std::string();
  return a;
}

Answer OfficeClient::receipt(const std::string& id, const std::string& state,
                             const std::string& reason) {
  rapidjson::StringBuffer b;
  Writer w(b);
  w.StartObject();
  put(w, "state", state);
  put(w, "reason", reason);
  w.EndObject();
  return call("POST", "/ncp/v1/transmissions/" + adapters::national::url_encode(id) + "/receipt",
              b.GetString());
}

Answer OfficeClient::updates(const std::string& cursor) {
  return call("GET", "/ncp/v1/outbox/updates?cursor=" + adapters::national::url_encode(cursor), "");
}

Answer OfficeClient::withdraw(const std::string& id) {
  return call("DELETE", "/ncp/v1/transmissions/" + adapters::national::url_encode(id), "");
}

}  // namespace kakehashi::standin
