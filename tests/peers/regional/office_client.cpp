#include "tests/peers/regional/office_client.hpp"

#include <stdexcept>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "adapters/common/http/https_client.hpp"
#include "mapping/cms/signer.hpp"

namespace kakehashi::adapters::regional::office {

RhnMessage build_message(const std::string& message_id, const RhnSender& from,
                         const mapping::OfficeRef& to, const std::vector<OfficeFile>& files,
                         const mapping::cms::Credential& signer, std::string subject,
                         std::string body) {
  RhnMessage m;
  m.message_id = message_id;
  m.from = from;
  m.to = to;
  m.subject = std::move(subject);
  m.body = std::move(body);
  for (const auto& f : files) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(f.bytes.data());
    auto signature = mapping::cms::sign({p, f.bytes.size()}, signer, {.detached = true});
    if (!signature)
      throw std::runtime_error("cannot sign " + f.name + ": " + signature.error().detail);
    RhnDocument d;
    d.filename = f.name;
    d.media_type = media_type_for(f.name);
    d.content = f.bytes;
    d.signature.assign(signature.value().begin(), signature.value().end());
    m.documents.push_back(std::move(d));
  }
  return m;
}

struct OfficeClient::Impl {
  boost::asio::io_context io;
  std::unique_ptr<adapters::http::HttpsClient> client;
};

OfficeClient::OfficeClient(OfficeClientOptions options) : impl_(std::make_unique<Impl>()) {
  adapters::http::ClientOptions o;
  o.host = options.host;
  o.port = options.port;
  o.tls = options.tls;
  o.timeout = options.timeout;
  o.max_connections = 1;
  impl_->client =
      std::make_unique<adapters::http::HttpsClient>(impl_->io.get_executor(), std::move(o));
}

OfficeClient::~OfficeClient() {
  impl_->client->close();
  impl_->client.reset();
  // Let the closes finish before the loop goes away.
  impl_->io.restart();
  impl_->io.poll();
}

adapters::http::Response OfficeClient::call(const std::string& method, const std::string& target,
                                            const std::string& body) {
  adapters::http::Request req;
  req.method = method;
  req.target = target;
  req.headers = {{"content-type", "application/json"}, {"accept", "application/json"}};
  req.body = body;
  bool done = false;
  adapters::http::Response out;
  impl_->client->request(std::move(req),
                         [&done, &out](boost::system::error_code ec, adapters::http::Response r) {
                           if (ec) {
                             out.status = 0;
                             out.body = ec.message();
                           } else {
                             out = std::move(r);
                           }
                           done = true;
                         });
  impl_->io.restart();
  // Run until our answer arrives; idle keep-alive work may stay queued.
  while (!done && impl_->io.run_one() > 0) {
  }
  if (!done) {
    out.status = 0;
    out.body = "no answer";
  }
  return out;
}

adapters::http::Response OfficeClient::reject(const std::string& id, const std::string& reason) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  w.StartObject();
  w.Key("reason");
  w.String(reason.data(), static_cast<rapidjson::SizeType>(reason.size()));
  w.EndObject();
  return call("POST", "/rhn/v1/messages/" + id + "/reject",
              std::string(sb.GetString(), sb.GetSize()));
}

}  // namespace kakehashi::adapters::regional::office
