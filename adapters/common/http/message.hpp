#pragma once
// Plain HTTP request and response values passed between the HTTPS plumbing and its users, so
// that protocol code (adapters, stand-ins) never touches Beast types.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kakehashi::adapters::http {

struct Request {
  std::string method;  // GET, POST, PUT, DELETE
  std::string target;  // path and query, e.g. /ncp/v1/inbox?cursor=abc&limit=50
  std::vector<std::pair<std::string, std::string>> headers;  // names in lower case
  std::string body;
  // Server side only: the verified client certificate (DER) and its subject (one line).
  std::string peer_cert_der;
  std::string peer_subject;

  const std::string* header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
      if (k == name) return &v;
    }
    return nullptr;
  }
};

struct Response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;  // names in lower case
  std::string body;

  const std::string* header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
      if (k == name) return &v;
    }
    return nullptr;
  }
};

}  // namespace kakehashi::adapters::http
