#pragma once
// Result<T>: the value of a CMS operation or the reason it failed (no exceptions cross the API).

#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace kakehashi::mapping::cms {

enum class ErrorCode {
  kMalformed,          // the input is not the CMS / certificate / key it claims to be
  kUnsupported,        // well-formed but outside what we handle (e.g. BER indefinite lengths)
  kContentMismatch,    // content does not match the signed message digest
  kContentMissing,     // detached signature and no content given
  kSignerInfoChanged,  // an operation would have altered a sender's SignerInfo bytes
  kNotRecipient,       // the envelope is not addressed to our certificate
  kBadSignature,       // a signature does not verify
  kCryptoFailure,      // OpenSSL refused an operation (details in the message)
  kInvalidArgument,    // the caller passed something unusable (e.g. no recipients)
};

std::string_view to_string(ErrorCode code);

struct Error {
  ErrorCode code;
  std::string detail;
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

}  // namespace kakehashi::mapping::cms
