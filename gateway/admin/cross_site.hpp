#pragma once
// Cross-site request refusal for the admin listener's state-changing endpoints. A browser that
// holds a client certificate (or any ambient credential) for the listener presents it on every
// request to it, including a form or fetch POST made by a page of another site. Such a page can
// send neither a custom header nor a non-simple Content-Type without a CORS preflight, which the
// listener never grants; and the browser names the page's origin in `Origin`. So an action
// needs `X-Kakehashi-Request: 1`, and `Origin` (when present) must be the listener's own origin
// (`https://` + the Host the request was sent to), and `Sec-Fetch-Site` (when present) must be
// same-origin or none. Pure: a request in, a reason out.

#include <optional>
#include <string>

#include "adapters/common/http/message.hpp"

namespace kakehashi::gateway::admin {

inline constexpr const char* kRequestHeader = "x-kakehashi-request";

// nullopt when the request may act; otherwise why it is refused (English, for the 403 reason).
std::optional<std::string> cross_site_refusal(const adapters::http::Request& request);

}  // namespace kakehashi::gateway::admin
