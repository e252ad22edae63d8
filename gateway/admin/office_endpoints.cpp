#include "gateway/admin/office_endpoints.hpp"

#include <algorithm>
#include <memory>

#include <rapidjson/document.h>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "gateway/admin/api.hpp"
#include "gateway/admin/json_writer.hpp"
#include "gateway/engine/log.hpp"

namespace kakehashi::gateway::admin {
namespace net = boost::asio;

namespace {

bool name_like(const std::string& s, std::size_t max) {
  return !s.empty() && s.size() <= max && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
  });
}

// An RFC 3339 time as the adapter gave it, or null when it gave none.
void time_or_null(JsonWriter& j, std::string_view key, const std::string& value) {
  j.key(key);
  if (value.empty()) {
    j.w().Null();
  } else {
    j.str(value);
  }
}

void write_view(JsonWriter& j, const OfficeSessionView& v) {
  j.w().StartObject();
  j.kv("office_no", v.office_no);
  j.kv("state", v.state);
  j.kv("detail", v.detail);
  j.kv("user_id", v.user_id);
  time_or_null(j, "access_expires_at", v.access_expires_at);
  time_or_null(j, "refresh_expires_at", v.refresh_expires_at);
  time_or_null(j, "certificate_not_after", v.certificate_not_after);
  time_or_null(j, "locked_until", v.locked_until);
  j.w().EndObject();
}

const char* step_name(OfficeRequest::Kind kind) {
  return kind == OfficeRequest::Kind::kLogin ? "login" : "otp";
}

// One reply, whichever comes first: the adapter's answer or the timeout. Touched on the io
// thread only (answers are posted there).
struct OnceReply {
  OnceReply(net::io_context& io_context, OfficeReply r) : io(io_context), timer(io), reply(r) {}
  net::io_context& io;
  net::steady_timer timer;
  OfficeReply reply;
  bool replied = false;

  void send(adapters::http::Response r) {
    if (replied) return;
    replied = true;
    timer.cancel();
    reply(std::move(r));
  }
};

}  // namespace

std::optional<OfficeRequest> office_path(const std::string& path) {
  constexpr std::string_view kPrefix = "/api/networks/";
  if (path.rfind(kPrefix, 0) != 0) return std::nullopt;
  std::vector<std::string> parts;
  std::string rest = path.substr(kPrefix.size());
  for (std::size_t start = 0;;) {
    const auto slash = rest.find('/', start);
    parts.push_back(rest.substr(start, slash == std::string::npos ? slash : slash - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  const auto not_found = ApiError{404, "not_found", "no such endpoint: " + path};
  if (parts.size() < 2 || parts[1] != "offices" || !name_like(parts[0], 64)) throw not_found;
  OfficeRequest r;
  r.network = parts[0];
  if (parts.size() == 2) return r;
  if (!name_like(parts[2], 32)) throw not_found;
  r.office_no = parts[2];
  if (parts.size() == 3) {
    r.kind = OfficeRequest::Kind::kOne;
  } else if (parts.size() == 4 && parts[3] == "login") {
    r.kind = OfficeRequest::Kind::kLogin;
  } else if (parts.size() == 5 && parts[3] == "login" && parts[4] == "otp") {
    r.kind = OfficeRequest::Kind::kOtp;
  } else {
    throw not_found;
  }
  return r;
}

bool office_request_is_post(OfficeRequest::Kind kind) {
  return kind == OfficeRequest::Kind::kLogin || kind == OfficeRequest::Kind::kOtp;
}

std::string office_audit_command(const OfficeRequest& request) {
  return std::string("office ") + (request.kind == OfficeRequest::Kind::kOtp ? "otp " : "login ") +
         request.network + " " + request.office_no;
}

std::string parse_otp_body(const std::string& body) {
  rapidjson::Document doc;
  doc.Parse(body.data(), body.size());
  const ApiError bad{400, "bad_request", "the body must be {\"otp\": \"CODE\"}"};
  if (doc.HasParseError() || !doc.IsObject()) throw bad;
  const auto it = doc.FindMember("otp");
  if (it == doc.MemberEnd() || !it->value.IsString()) throw bad;
  std::string otp(it->value.GetString(), it->value.GetStringLength());
  const bool ok =
      otp.size() >= 4 && otp.size() <= 16 && std::all_of(otp.begin(), otp.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
      });
  if (!ok)
    throw ApiError{400, "bad_request", "the one-time password must be 4-16 letters or digits"};
  return otp;
}

std::string office_view_json(const OfficeSessionView& view) {
  JsonWriter j;
  write_view(j, view);
  return j.done();
}

std::string offices_json(const std::string& network, const std::vector<OfficeSessionView>& views) {
  auto sorted = views;
  std::sort(sorted.begin(), sorted.end(),
            [](const auto& a, const auto& b) { return a.office_no < b.office_no; });
  JsonWriter j;
  j.w().StartObject();
  j.kv("network", network);
  j.key("offices");
  j.w().StartArray();
  for (const auto& v : sorted) write_view(j, v);
  j.w().EndArray();
  j.w().EndObject();
  return j.done();
}

int login_step_status(const LoginStep& step) {
  if (step.state == "pending") return 202;
  if (step.state == "unknown_office") return 404;
  return 200;
}

std::string login_step_json(const LoginStep& step) {
  JsonWriter j;
  j.w().StartObject();
  if (step.state == "unknown_office") {
    j.kv("error", "not_found");
    j.kv("reason", step.message.empty() ? "no such office on this network" : step.message);
  }
  j.kv("state", step.state);
  if (!step.error.empty() && step.state != "unknown_office") j.kv("error", step.error);
  if (!step.message.empty() && step.state != "unknown_office") j.kv("message", step.message);
  if (step.state == "awaiting_otp") {
    j.kv("otp_delivery", step.otp_delivery);
    j.kv("otp_destination_hint", step.otp_destination_hint);
    time_or_null(j, "otp_expires_at", step.otp_expires_at);
  }
  if (!step.refresh_expires_at.empty()) j.kv("refresh_expires_at", step.refresh_expires_at);
  if (!step.locked_until.empty()) j.kv("locked_until", step.locked_until);
  j.w().EndObject();
  return j.done();
}

void serve_office_request(net::io_context& io, OfficeRequest request, OfficeLogins* logins,
                          std::chrono::milliseconds timeout, OfficeReply reply) {
  if (logins == nullptr) {
    reply(
        error_response({404, "not_found", "network " + request.network + " has no office logins"}));
    return;
  }
  auto once = std::make_shared<OnceReply>(io, std::move(reply));
  const bool listing =
      request.kind == OfficeRequest::Kind::kList || request.kind == OfficeRequest::Kind::kOne;
  once->timer.expires_after(timeout);
  once->timer.async_wait([once, listing](boost::system::error_code ec) {
    if (ec || once->replied) return;
    if (listing) {
      once->send(error_response({503, "unavailable", "the network's adapter did not answer"}));
    } else {
      once->send(json_response(202, "{\"state\":\"pending\"}"));
    }
  });
  // The adapter may answer on its executor's thread or at once: always finish on the io thread.
  auto finish = [once](adapters::http::Response r) {
    net::post(once->io, [once, r = std::move(r)]() mutable { once->send(std::move(r)); });
  };
  // Adapters answer through `done`; one that throws instead is answered 500 here, once.
  const auto failed = [finish](const std::exception& e) {
    log(LogLevel::kError, "admin-handler-error", {{"error", e.what()}});
    finish(error_response({500, "internal", "internal error"}));
  };
  if (listing) {
    try {
      logins->office_states([finish, request](std::vector<OfficeSessionView> views) {
        if (request.kind == OfficeRequest::Kind::kList) {
          return finish(json_response(200, offices_json(request.network, views)));
        }
        for (const auto& v : views) {
          if (v.office_no == request.office_no)
            return finish(json_response(200, office_view_json(v)));
        }
        finish(error_response(
            {404, "not_found",
             "office " + request.office_no + " is not an office of " + request.network}));
      });
    } catch (const std::exception& e) {
      failed(e);
    }
    return;
  }
  auto answered = [finish, network = request.network, office = request.office_no,
                   actor = request.actor, step = step_name(request.kind)](LoginStep s) {
    // What happened, for the log: never the code, the hint or the message text.
    log(s.state == "active" || s.state == "awaiting_otp" || s.state == "pending"
            ? LogLevel::kInfo
            : LogLevel::kWarning,
        "admin-office-login",
        {{"network", network},
         {"office", office},
         {"step", step},
         {"actor", actor},
         {"state", s.state},
         {"error", s.error}});
    finish(json_response(login_step_status(s), login_step_json(s)));
  };
  try {
    if (request.kind == OfficeRequest::Kind::kLogin) {
      logins->begin_login(request.office_no, std::move(answered));
    } else {
      logins->submit_otp(request.office_no, std::move(request.otp), std::move(answered));
    }
  } catch (const std::exception& e) {
    failed(e);
  }
}

void collect_office_views(net::io_context& io, const OfficeLoginsByNetwork& logins,
                          std::chrono::milliseconds timeout,
                          std::function<void(OfficeViews)> done) {
  if (logins.empty()) return done({});
  struct Collect {
    Collect(net::io_context& io_context, std::function<void(OfficeViews)> d)
        : timer(io_context), done(std::move(d)) {}
    net::steady_timer timer;
    std::function<void(OfficeViews)> done;
    OfficeViews views;
    std::size_t waiting = 0;
    bool finished = false;
    void finish() {
      if (finished) return;
      finished = true;
      timer.cancel();
      done(std::move(views));
    }
  };
  auto c = std::make_shared<Collect>(io, std::move(done));
  c->waiting = logins.size();
  c->timer.expires_after(timeout);
  c->timer.async_wait([c](boost::system::error_code ec) {
    if (!ec) c->finish();
  });
  for (const auto& [network, l] : logins) {
    try {
      l->office_states([c, &io, name = network](std::vector<OfficeSessionView> views) {
        net::post(io, [c, name, views = std::move(views)]() mutable {
          if (c->finished) return;
          c->views[name] = std::move(views);
          if (--c->waiting == 0) c->finish();
        });
      });
    } catch (const std::exception& e) {
      // Left out of this round; the others still count.
      log(LogLevel::kError, "admin-handler-error", {{"error", e.what()}});
      net::post(io, [c] {
        if (!c->finished && --c->waiting == 0) c->finish();
      });
    }
  }
}

}  // namespace kakehashi::gateway::admin
