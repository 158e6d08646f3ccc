#include "egress/http_head.hpp"

#include "egress/ascii.hpp"

namespace ccjail::egress {

std::string_view to_string(HeadStatus status) {
    switch (status) {
        case HeadStatus::incomplete:
            return "incomplete";
        case HeadStatus::complete:
            return "complete";
        case HeadStatus::invalid:
            return "invalid";
        case HeadStatus::too_large:
            return "too_large";
    }
    return "invalid";
}

std::string_view to_string(HttpVersion version) {
    return version == HttpVersion::http_1_0 ? "HTTP/1.0" : "HTTP/1.1";
}

std::vector<std::string_view> header_values(const std::vector<Header>& headers,
                                            std::string_view name) {
    std::vector<std::string_view> values;
    for (const auto& header : headers) {
        if (iequals(header.name, name)) {
            values.emplace_back(header.value);
        }
    }
    return values;
}

}  // namespace ccjail::egress
