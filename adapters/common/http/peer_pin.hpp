#pragma once
// Which client certificate a listener takes (issue 14): a CA proves a peer belongs to the
// network, not that it is the network's own service. A pin names the one identity a listener
// serves, by subject CN and/or the SHA-256 fingerprint of the certificate (DER). Pure.

#include <optional>
#include <string>

namespace kakehashi::adapters::http {

struct PeerPin {
  std::string subject_cn;  // e.g. "regional-standin-client"; "" = any CN
  std::string sha256;      // lower-case hex of SHA-256 over the certificate's DER; "" = any
  bool empty() const { return subject_cn.empty() && sha256.empty(); }
};

// The subject CN of a DER certificate (nullopt when it does not parse or has none).
std::optional<std::string> subject_cn_of(const std::string& der);
// Lower-case hex SHA-256 of `der`.
std::string sha256_hex_of(const std::string& der);
// True when `der` is a certificate that meets every part of `pin` that is set (an empty pin
// matches nothing: a listener that pins must name someone).
bool peer_matches(const PeerPin& pin, const std::string& der);
// "64 hex digits" check for config parsing (colons allowed, case ignored); normalised or nullopt.
std::optional<std::string> normalise_sha256(const std::string& text);

}  // namespace kakehashi::adapters::http
