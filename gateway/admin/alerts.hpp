#pragma once
// The alert rules: what an operator must act on, evaluated from the store, the engine snapshot,
// the watched certificates and CRLs, the adapters' counters and the registry's last sync. Shown
// on the dashboard, exposed as metrics and logged by the server when they start and clear.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "gateway/admin/api.hpp"
#include "gateway/registry/registry_store.hpp"

namespace kakehashi::gateway::admin {

struct Alert {
  std::string kind;     // one of kAlertKinds
  std::string subject;  // which network, file or direction ("" for the gateway as a whole)
  std::string detail;
};

// Every kind evaluate_alerts raises; deploy/prometheus has a rule for each (tests/deploy checks).
inline constexpr const char* kAlertKinds[] = {"parked",
                                              "certificate-expiry",
                                              "crl-expiry",
                                              "network-unreachable",
                                              "destination-refusal",
                                              "registry-stale",
                                              "conservation-drift",
                                              "inbox-stalled",
                                              "office-login-required",
                                              "office-locked",
                                              "office-credentials-invalid",
                                              "office-login-due",
                                              "office-certificate-expiring"};

std::vector<Alert> evaluate_alerts(ApiContext& ctx);
// The office alerts alone (subject "<network>/<office_no>"), from the offices' states of networks
// whose offices log in themselves: a login needed (login_required, awaiting_otp), locked,
// credentials invalid, a login due within office_login_due, a certificate within
// office_certificate_expiry_days of its end. Pure: views, thresholds and the time in.
std::vector<Alert> office_alerts(const OfficeViews& offices, const AdminConfig& config,
                                 std::int64_t now_ms);
// Inbox runs in a row that failed while a network's unit cursor stayed put: inbox-stalled.
inline constexpr std::uint64_t kInboxStalledPolls = 5;

// The facts the rules read, shared with the metrics and the dashboard.
std::optional<registry::SyncRecord> last_sync(ApiContext& ctx);  // nullopt: no registry tables
std::int64_t sum_state(const std::vector<store::StateCount>& counts, const char* state);
// Directions where in != delivered + rejected + parked + superseded + in flight.
std::vector<std::string> unbalanced_directions(const std::vector<store::ReportRow>& rows);

}  // namespace kakehashi::gateway::admin
