#include "gateway/admin/cross_site.hpp"

#include <algorithm>
#include <cctype>

namespace kakehashi::gateway::admin {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// "https://host[:port]" without a trailing slash; default port 443 dropped.
std::string normalise_origin(std::string origin) {
  origin = lower(std::move(origin));
  while (!origin.empty() && origin.back() == '/') origin.pop_back();
  if (origin.size() > 4 && origin.ends_with(":443")) origin.resize(origin.size() - 4);
  return origin;
}

}  // namespace

std::optional<std::string> cross_site_refusal(const adapters::http::Request& request) {
  const std::string* marker = request.header(kRequestHeader);
  if (marker == nullptr || *marker != "1") {
    return std::string(
        "state-changing requests need the header X-Kakehashi-Request: 1 "
        "(a cross-site page cannot send it)");
  }
  if (const std::string* site = request.header("sec-fetch-site")) {
    const auto s = lower(*site);
    if (s != "same-origin" && s != "none") {
      return "cross-site request refused (Sec-Fetch-Site: " + s + ")";
    }
  }
  if (const std::string* origin = request.header("origin")) {
    const std::string* host = request.header("host");
    const std::string own = host != nullptr ? normalise_origin("https://" + *host) : std::string();
    if (own.empty() || normalise_origin(*origin) != own) {
      return "cross-site request refused: Origin is not this listener's own origin";
    }
  }
  return std::nullopt;
}

}  // namespace kakehashi::gateway::admin
