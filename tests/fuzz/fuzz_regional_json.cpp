// Fuzz target: the regional network's JSON wire format (adapters/regional/rhn_wire): messages
// with their documents, mailbox and receipt pages, the directory, error bodies and base64.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>

#include "adapters/regional/rhn_wire.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace r = kakehashi::adapters::regional;
  const std::string_view body(reinterpret_cast<const char*>(data), size);

  const auto message = r::decode_message(body, true);
  if (const auto* m = std::get_if<r::RhnMessage>(&message)) {
    // What decodes must encode to a body that decodes to the same message.
    const auto again = r::decode_message(r::encode_message(*m), true);
    const auto* m2 = std::get_if<r::RhnMessage>(&again);
    if (m2 == nullptr || m2->message_id != m->message_id ||
        m2->documents.size() != m->documents.size()) {
      std::abort();
    }
  }
  (void)r::decode_message(body, false);
  (void)r::decode_error(static_cast<int>(size % 600), body);
  (void)r::decode_send_answer(body);
  (void)r::decode_mailbox_page(body);
  (void)r::decode_mailbox_item(body);
  (void)r::decode_receipt_page(body);
  (void)r::decode_directory(body);
  const auto external = r::decode_external_directory(body);
  if (const auto* offices = std::get_if<std::vector<r::RhnOffice>>(&external)) {
    (void)r::encode_external_directory(*offices);
  }
  if (auto decoded = r::base64_decode(body)) {
    if (r::base64_decode(r::base64_encode(*decoded)) != decoded) std::abort();
  }
  (void)r::media_type_for(body);
  return 0;
}
