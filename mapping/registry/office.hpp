#pragma once
// The registry's vocabulary: an office key (office number + service type), its status, and one
// entry as a network's directory lists it. Pure data: the gateway converts its adapters'
// DirectoryEntry into these so the reconciliation rules need nothing from the engine.

#include <compare>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace kakehashi::mapping::registry {

struct OfficeKey {
  std::string office_no;     // 10 characters, mod-10 check digit
  std::string service_type;  // 2 characters (43, 11, A2, ...)

  auto operator<=>(const OfficeKey&) const = default;
  bool operator==(const OfficeKey&) const = default;
  std::string str() const { return office_no + "/" + service_type; }
};

// "3271500013/43" or "3271500013 43" → key; nullopt when it has neither form.
std::optional<OfficeKey> parse_office_key(std::string_view text);

struct OfficeKeyHash {
  std::size_t operator()(const OfficeKey& k) const noexcept {
    return std::hash<std::string>{}(k.office_no) * 31 + std::hash<std::string>{}(k.service_type);
  }
};

enum class OfficeStatus { kActive, kSuspended, kClosed, kUnknown };

OfficeStatus parse_status(std::string_view text);  // ACTIVE / SUSPENDED / CLOSED, else kUnknown
std::string_view to_string(OfficeStatus status);

// One office as one network lists it.
struct SourceEntry {
  OfficeKey key;
  std::string name;
  std::string kana;
  std::string facility_id;  // the regional facility holding it ("" on the national side)
  std::string prefecture;
  OfficeStatus status = OfficeStatus::kActive;
  std::string updated_at;   // the network's version of the entry
  // The network marks it as a gateway's publication (the regional external directory).
  bool published_by_gateway = false;

  bool operator==(const SourceEntry&) const = default;
};

}  // namespace kakehashi::mapping::registry
