#pragma once
// Envelope translation for the destination network without touching signed bytes: the national
// form embeds each file in the sender's SignedData (attached) and adds the gateway's proxy
// co-signature; the regional and folder forms carry the exact bytes with the detached
// SignedData. Every translation yields a gateway-signed translation receipt binding the inbound
// envelope, the untouched files and the outbound envelope.

#include <ctime>
#include <optional>
#include <string>
#include <variant>

#include "gateway/adapter/adapter.hpp"
#include "mapping/cms/credential.hpp"

namespace kakehashi::gateway::engine {

enum class EnvelopeForm { kAttachedCosigned, kDetached };

struct Translation {
  OutboundUnit unit;
  std::string receipt_der;  // the translation receipt (CMS SignedData by the gateway)
  std::string inbound_sha256, outbound_sha256;
};

struct TranslationError {
  std::string message;
};

// `cosigner` is required for kAttachedCosigned; `receipt_signer` signs the receipt.
std::variant<Translation, TranslationError> translate(
    const InboundUnit& unit, EnvelopeForm form, const std::string& transfer_id,
    const std::string& idempotency_key, const std::string& unit_kind,
    const mapping::cms::Credential* cosigner, const mapping::cms::Credential& receipt_signer,
    std::time_t now);

// Version 2 of a delivered translation's receipt (mapping/cms/translation_receipt.hpp): the
// version 1 receipt made before the send, plus each SignerInfo of the relayed files, bound to the
// SHA-256 of the document the network took (`SendResult::sent_sha256`) and the item id it gave.
// Returns the new receipt's DER.
std::variant<std::string, TranslationError> bind_sent_document(
    const Translation& translation, const std::string& sent_sha256,
    const std::string& national_item, const mapping::cms::Credential& receipt_signer);

// The idempotency key for delivering a source item: stable across crashes and instances.
std::string idempotency_key_for(const std::string& source_adapter, const std::string& source_id);

}  // namespace kakehashi::gateway::engine
