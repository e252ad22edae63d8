#include "adapters/kaigoweb/kaigoweb_command_support.hpp"

#include <sys/stat.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <iterator>

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <boost/asio/io_context.hpp>

namespace kakehashi::adapters::kaigoweb::command {

namespace fs = std::filesystem;

CommandArgs::CommandArgs(std::span<const std::string> args, const std::set<std::string>& flags,
                         const std::set<std::string>& options, int usage_exit) {
  bool only_positionals = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (only_positionals || a.size() < 2 || a.rfind("--", 0) != 0) {
      positionals_.push_back(a);
      continue;
    }
    if (a == "--") {
      only_positionals = true;
      continue;
    }
    const auto eq = a.find('=');
    const std::string name = a.substr(0, eq);
    if (flags.count(name) != 0 && eq == std::string::npos) {
      flags_.insert(name);
    } else if (options.count(name) != 0) {
      if (eq != std::string::npos) {
        options_[name] = a.substr(eq + 1);
      } else if (i + 1 < args.size()) {
        options_[name] = args[++i];
      } else {
        throw CommandError{usage_exit, name + " needs a value"};
      }
    } else {
      throw CommandError{usage_exit, "unknown option " + name};
    }
  }
}

std::optional<std::string> CommandArgs::option(const std::string& name) const {
  const auto it = options_.find(name);
  if (it == options_.end()) return std::nullopt;
  return it->second;
}

namespace {

rapidjson::Document parse(const std::string& text) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseCommentsFlag | rapidjson::kParseTrailingCommasFlag>(text.data(),
                                                                                 text.size());
  return doc;
}

const rapidjson::Value* member(const rapidjson::Value* v, const char* key) {
  if (v == nullptr || !v->IsObject()) return nullptr;
  const auto it = v->FindMember(key);
  return it == v->MemberEnd() ? nullptr : &it->value;
}

std::string text_of(const rapidjson::Value* v) {
  return v != nullptr && v->IsString() ? std::string(v->GetString(), v->GetStringLength())
                                       : std::string();
}

}  // namespace

ConfigFile ConfigFile::load(const std::string& path, int error_exit) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw CommandError{error_exit, path + ": cannot read the config file"};
  ConfigFile file;
  file.text_.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  const auto doc = parse(file.text_);
  if (doc.HasParseError() || !doc.IsObject()) {
    throw CommandError{error_exit, path + ": not a JSON object (run `kakehashi config check`)"};
  }
  file.dir_ = fs::absolute(fs::path(path)).parent_path();
  return file;
}

std::vector<std::string> ConfigFile::kaigoweb_networks() const {
  const auto doc = parse(text_);
  std::vector<std::string> out;
  const auto* networks = member(&doc, "networks");
  if (networks == nullptr || !networks->IsObject()) return out;
  for (const auto& m : networks->GetObject()) {
    if (text_of(member(&m.value, "type")) == "kaigoweb") out.emplace_back(m.name.GetString());
  }
  return out;
}

bool ConfigFile::is_kaigoweb_network(const std::string& name) const {
  for (const auto& n : kaigoweb_networks()) {
    if (n == name) return true;
  }
  return false;
}

KaigowebNetwork ConfigFile::network(const std::string& name, int error_exit) const {
  const auto doc = parse(text_);
  const auto* net = member(member(&doc, "networks"), name.c_str());
  if (net == nullptr) throw CommandError{error_exit, "networks." + name + ": no such network"};
  if (text_of(member(net, "type")) != "kaigoweb") {
    throw CommandError{error_exit, "networks." + name + ": not of type kaigoweb"};
  }
  const auto* settings = member(net, "settings");
  const std::string at = "networks." + name + ".settings.";
  const auto path_of = [&](const rapidjson::Value* v, const std::string& key) {
    const std::string p = text_of(v);
    if (p.empty()) throw CommandError{error_exit, at + key + ": missing"};
    return fs::path(p).is_absolute() ? fs::path(p) : dir_ / p;
  };
  KaigowebNetwork n;
  n.name = name;
  n.credentials_dir = path_of(member(settings, "credentials_dir"), "credentials_dir");
  n.ca_file = path_of(member(member(settings, "tls"), "ca_file"), "tls.ca_file");
  const auto url = text_of(member(settings, "base_url"));
  const auto host_port = parse_https_url(url);
  if (!host_port) throw CommandError{error_exit, at + "base_url: not an https:// URL"};
  n.host = host_port->first;
  n.port = host_port->second;
  if (const auto* offices = member(settings, "offices"); offices != nullptr && offices->IsArray()) {
    for (const auto& o : offices->GetArray()) n.offices.push_back(text_of(&o));
  }
  if (const auto* days = member(settings, "certificate_alert_days");
      days != nullptr && days->IsInt()) {
    n.certificate_alert_days = days->GetInt();
  }
  return n;
}

AdminEndpoint ConfigFile::admin() const {
  const auto doc = parse(text_);
  AdminEndpoint a;
  const auto* admin = member(&doc, "admin");
  const std::string listen = text_of(member(admin, "listen"));
  if (const auto colon = listen.rfind(':'); colon != std::string::npos && colon > 0) {
    a.host = listen.substr(0, colon);
    try {
      a.port = static_cast<std::uint16_t>(std::stoul(listen.substr(colon + 1)));
    } catch (const std::exception&) {
      a.port = 0;
    }
  }
  const std::string ca = text_of(member(member(admin, "client_certificates"), "ca_file"));
  if (!ca.empty()) a.ca_file = fs::path(ca).is_absolute() ? fs::path(ca) : dir_ / ca;
  return a;
}

std::optional<std::pair<std::string, std::uint16_t>> parse_https_url(const std::string& url) {
  constexpr std::string_view kScheme = "https://";
  if (url.rfind(kScheme, 0) != 0) return std::nullopt;
  std::string rest = url.substr(kScheme.size());
  rest = rest.substr(0, rest.find('/'));
  if (rest.empty()) return std::nullopt;
  std::string host = rest;
  unsigned long port = 443;
  const auto colon = rest.rfind(':');
  if (colon != std::string::npos && rest.find(']') == std::string::npos) {
    host = rest.substr(0, colon);
    try {
      std::size_t used = 0;
      port = std::stoul(rest.substr(colon + 1), &used);
      if (used != rest.size() - colon - 1) return std::nullopt;
    } catch (const std::exception&) {
      return std::nullopt;
    }
  }
  if (host.empty() || port == 0 || port > 65535) return std::nullopt;
  return std::make_pair(host, static_cast<std::uint16_t>(port));
}

HttpOutcome https_call(http::ClientOptions options, http::Request request) {
  HttpOutcome out;
  boost::asio::io_context io;
  std::unique_ptr<http::HttpsClient> client;
  try {
    options.max_connections = 1;
    client = std::make_unique<http::HttpsClient>(io.get_executor(), std::move(options));
  } catch (const std::exception& e) {
    out.setup_error = e.what();
    return out;
  }
  bool done = false;
  client->request(std::move(request), [&](boost::system::error_code ec, http::Response r) {
    out.error = ec;
    out.response = std::move(r);
    done = true;
  });
  io.run();
  if (!done) out.error = boost::asio::error::operation_aborted;
  return out;
}

std::string first_error_code(const std::string& body) {
  rapidjson::Document doc;
  doc.Parse(body.data(), body.size());
  if (doc.HasParseError()) return {};
  const auto* errors = member(&doc, "errors");
  if (errors != nullptr && errors->IsArray() && !errors->Empty()) {
    return text_of(member(&(*errors)[0], "code"));
  }
  return text_of(member(&doc, "error"));
}

std::string read_small_file(const fs::path& path, bool secret, int error_exit) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw CommandError{error_exit, path.string() + ": missing"};
  if (!S_ISREG(st.st_mode)) throw CommandError{error_exit, path.string() + ": not a file"};
  if (secret && (st.st_mode & 077) != 0) {
    std::array<char, 8> mode{};
    std::snprintf(mode.data(), mode.size(), "%04o", static_cast<unsigned>(st.st_mode & 07777));
    throw CommandError{error_exit, path.string() + ": is mode " + mode.data() +
                                       " (readable by group or others): run `chmod 600 " +
                                       path.string() + "`"};
  }
  if (st.st_size > (1 << 20)) throw CommandError{error_exit, path.string() + ": too large"};
  std::ifstream in(path, std::ios::binary);
  if (!in) throw CommandError{error_exit, path.string() + ": cannot be read"};
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace kakehashi::adapters::kaigoweb::command
