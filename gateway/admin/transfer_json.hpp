#pragma once
// How a transfer and an office are written in the API's answers (API.md), shared by the
// dashboard and the transfer endpoints.

#include <string>
#include <string_view>

#include "gateway/admin/api.hpp"
#include "gateway/admin/json_writer.hpp"

namespace kakehashi::gateway::admin {

// {"office_no", "service_type", "name"} under `key`.
void write_office(JsonWriter& j, ApiContext& ctx, std::string_view key,
                  const std::string& office_no, const std::string& service_type);
void write_transfer(JsonWriter& j, ApiContext& ctx, const store::Transfer& t);

// The finding code of a reason ("" when it names none).
std::string code_of(const std::string& reason);

}  // namespace kakehashi::gateway::admin
