#pragma once
// The office-login endpoints (API.md, "Office logins"): the offices of networks whose offices log
// in with their own credentials and a one-time password, and the two steps of a login a person
// carries out. They speak to the network's OfficeLogins (gateway/adapter/office_sessions.hpp),
// which is asynchronous and lives on the io thread, so they run there and never block; nothing
// here names a network type. Secrets: the code comes in a body and goes to the adapter only; the
// OTP destination hint goes only into the login answer, never into a log line.

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "adapters/common/http/message.hpp"
#include "gateway/adapter/office_sessions.hpp"

namespace kakehashi::gateway::admin {

using OfficeLoginsByNetwork = std::map<std::string, OfficeLogins*>;
using OfficeViews = std::map<std::string, std::vector<OfficeSessionView>>;

struct OfficeRequest {
  enum class Kind {
    kList,   // GET /api/networks/{network}/offices
    kOne,    // GET /api/networks/{network}/offices/{office_no}
    kLogin,  // POST /api/networks/{network}/offices/{office_no}/login
    kOtp,    // POST /api/networks/{network}/offices/{office_no}/login/otp  {"otp": "..."}
  };
  Kind kind = Kind::kList;
  std::string network;
  std::string office_no;
  std::string otp;    // kOtp only; never logged
  std::string actor;  // who asks (for the log line)
};

// The request an office path names, or nullopt when `path` is not under /api/networks/. The
// method must fit the kind (the router answers 405 otherwise); a malformed office path is an
// ApiError 404.
std::optional<OfficeRequest> office_path(const std::string& path);
bool office_request_is_post(OfficeRequest::Kind kind);

// The code from a login/otp body {"otp": "483920"}; ApiError 400 when missing or not 4-16 of
// [0-9A-Za-z]. The body is never echoed.
std::string parse_otp_body(const std::string& body);

// The audit log's operator command for a login step (the two POSTs), recorded before the step is
// carried out, as `relay retry|park` are: "office login NETWORK OFFICE_NO" or "office otp NETWORK
// OFFICE_NO" (never the code).
std::string office_audit_command(const OfficeRequest& request);

// Answers (pure, for tests): one office, every office of a network, a login step and its status.
std::string office_view_json(const OfficeSessionView& view);
std::string offices_json(const std::string& network, const std::vector<OfficeSessionView>& views);
int login_step_status(const LoginStep& step);
std::string login_step_json(const LoginStep& step);

using OfficeReply = std::function<void(adapters::http::Response)>;

// Carries out `request` against `logins` (nullptr: the network has no office logins, 404) and
// replies once on the io thread. No answer from the adapter within `timeout`: a login step is
// answered 202 {"state":"pending"} (ask GET …/offices/{office_no}), a listing 503.
void serve_office_request(boost::asio::io_context& io, OfficeRequest request, OfficeLogins* logins,
                          std::chrono::milliseconds timeout, OfficeReply reply);

// Every network's offices (for the alerts, the metrics and the dashboard), asked on the io
// thread; `done` runs there with what answered within `timeout` (a network that did not is left
// out).
void collect_office_views(boost::asio::io_context& io, const OfficeLoginsByNetwork& logins,
                          std::chrono::milliseconds timeout, std::function<void(OfficeViews)> done);

}  // namespace kakehashi::gateway::admin
