#pragma once
// An office's Kaigo WEB credentials kept as files (PROTOCOL.md §7.1): DIR/<office_no>/ holds
// cert.pem, key.pem, user_id, password and optionally receive_from, the folder mode 0700 and every
// file 0600 or stricter, all owned by the gateway's user. Reading checks the modes on the
// descriptors it reads (no swap between check and read), the key against the certificate, the key
// type (RSA-2048) and the certificate's validity period. Problems name the file and what to do,
// never its contents.

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace kakehashi::adapters::kaigoweb {

struct OfficeCredentials {
  std::string office_no;
  std::string cert_pem, key_pem;   // PEM, as read
  std::string user_id, password;   // secrets: never logged (password), user ID only in login events
  std::string receive_from;        // RFC 3339 UTC; "" = from when they were added
  std::string certificate_sha256;  // hex of the DER certificate
  std::chrono::system_clock::time_point not_before, not_after;
};

struct CredentialProblem {
  std::string path;     // the file or folder at fault
  std::string message;  // names the file, never contents
};

// Reads DIR/<office_no>/{cert.pem,key.pem,user_id,password[,receive_from]}: refuses a folder not
// 0700 or a file group/world-readable (naming the path and the chmod to run), a key that does not
// match the certificate, an unreadable or non-RSA-2048 key, a certificate not valid now or naming
// another office (subject serialNumber).
std::variant<OfficeCredentials, CredentialProblem> read_office_credentials(
    const std::filesystem::path& dir, const std::string& office_no);

// Sorted folder names that look like office numbers (missing DIR: none).
std::vector<std::string> list_credential_offices(const std::filesystem::path& dir);

// --- For the operator commands (kaigoweb_command) -------------------------------------------

// An office number as the service writes them: exactly 10 characters [0-9A-Z].
bool is_office_no(std::string_view text);

// The public half only, for listing: DIR/<office_no>/cert.pem read with the same checks on the
// folder and the file (no secret is opened).
struct OfficeCertificate {
  std::string office_no;
  std::string subject;  // RFC 2253
  std::string certificate_sha256;
  std::chrono::system_clock::time_point not_before, not_after;
};
std::variant<OfficeCertificate, CredentialProblem> read_office_certificate(
    const std::filesystem::path& dir, const std::string& office_no);

// The checks read_office_credentials makes on material not yet stored (`credentials add`):
// parses and matches certificate and key, checks user ID, password and receive_from. `now` for
// the validity period. Paths in problems are the `sources` given.
struct CredentialSources {
  std::filesystem::path cert, key, user_id, password;
};
std::variant<OfficeCredentials, CredentialProblem> check_office_credentials(
    const std::string& office_no, OfficeCredentials material, const CredentialSources& sources,
    std::chrono::system_clock::time_point now);

// Writes checked credentials into DIR/<office_no>/ (DIR created 0700 when missing): a fresh
// folder beside it, files 0600, then renamed into place, replacing what was there. Returns a
// problem naming the path on failure.
std::optional<CredentialProblem> write_office_credentials(const std::filesystem::path& dir,
                                                          const OfficeCredentials& credentials);

// Removes DIR/<office_no>/ and everything in it; false when there was nothing to remove.
bool remove_office_credentials(const std::filesystem::path& dir, const std::string& office_no);

// "2027-04-01T00:30:00Z": UTC, whole seconds.
std::string format_utc(std::chrono::system_clock::time_point t);
// RFC 3339 with any offset -> time point; nullopt when malformed.
std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view text);

}  // namespace kakehashi::adapters::kaigoweb
