#pragma once
// The evidence bundle's report for people: one HTML page in Japanese (office, month, a table of
// units with partner names, 送信日時, 配信日時, 受領/既読, 差し戻し理由) with print CSS for A4.
// Rendered from the signed body alone, so `audit verify-evidence` re-renders and compares it.
// Pure.

#include <string>

#include "gateway/audit/evidence_bundle.hpp"

namespace kakehashi::gateway::audit {

std::string render_report(const EvidenceBody& body);

}  // namespace kakehashi::gateway::audit
