#pragma once
// The gateway's attestation: a CMS signed attribute the gateway puts on the files it renders and
// signs as the proxy for a unit from a network that signs nothing (national → regional). It says
// where the unit came from (national office, the office session that fetched it, the national
// item id, when) so a recipient can tell the signature is the gateway's attestation, not the
// sender's own. Pure: bytes in, bytes out. Format and checks: adapters/regional/PROTOCOL.md.
//
//   GatewayAttestation ::= SEQUENCE {
//     version         INTEGER (1),
//     nationalOffice  SEQUENCE { officeNumber PrintableString, serviceType PrintableString },
//     session         UTF8String,        -- office session id/generation, never a token
//     nationalItem    UTF8String,
//     fetchedAt       GeneralizedTime,   -- YYYYMMDDHHMMSSZ
//     fetchedDigest   OCTET STRING (SIZE (32)) }  -- SHA-256 of the answer the item was read from

#include <ctime>
#include <optional>
#include <string>

#include "mapping/cms/credential.hpp"
#include "mapping/cms/ossl.hpp"
#include "mapping/cms/result.hpp"

namespace kakehashi::mapping::cms {

// Private OID (UUID arc 2.25) of the signed attribute; its value is one GatewayAttestation.
inline constexpr const char* kGatewayAttestationOid =
    "2.25.240363377187960128800211444190995114616.1";

struct GatewayAttestation {
  std::string office_number;   // the national office that sent the item (10 digits)
  std::string service_type;    // its service type (2 digits; "" where the item names none)
  std::string session;         // the office session that fetched it (id/generation)
  std::string national_item;   // the item id on the national side
  std::time_t fetched_at = 0;  // when the gateway fetched it (UTC seconds)
  std::string fetched_sha256;  // lower-case hex SHA-256 of the answer bytes
};

// DER of the attribute value. kInvalidArgument naming the field when one is not representable.
Result<Bytes> encode_attestation(const GatewayAttestation& attestation);

// Strict DER reader (definite, minimal lengths, exact tags, nothing trailing). kMalformed naming
// the element that is wrong.
Result<GatewayAttestation> decode_attestation(ByteView der);

// Detached SignedData over `content` by `gateway` (SHA-256) with signed attributes contentType,
// messageDigest, signingTime and the attestation.
Result<Bytes> sign_with_attestation(ByteView content, const Credential& gateway,
                                    const GatewayAttestation& attestation);

// The attestation carried in the signed attributes of a SignedData's SignerInfos: nullopt when
// none carries one; kMalformed when the bytes are not SignedData, an attestation does not decode,
// a SignerInfo carries it twice, or more than one SignerInfo carries one.
Result<std::optional<GatewayAttestation>> read_attestation(ByteView cms_der);

// One line for people: "gateway attestation: from national office 1371100452/43, session …".
std::string describe(const GatewayAttestation& attestation);

}  // namespace kakehashi::mapping::cms
