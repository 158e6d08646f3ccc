#include "server/session_settings.hpp"

namespace ccjail::server {

SessionSettings settings_for(const Profile& profile, const Limits& limits,
                             protocol::SpawnMode mode) {
    const auto& output = profile.output;
    SessionSettings settings;
    settings.ring_bytes = static_cast<std::size_t>(output.ring_bytes);
    settings.overflow =
        mode == protocol::SpawnMode::pty ? output.pty_overflow : output.pipe_overflow;
    settings.output_rate_bytes = limits.output_rate_bytes;
    settings.output_burst_bytes = limits.output_burst_bytes;
    settings.frames_per_sec = output.frames_per_sec;
    settings.frame_burst = output.frame_burst;
    settings.output_total_bytes = limits.output_total_bytes;
    settings.input_rate_bytes = output.input_rate_bytes;
    settings.input_burst_bytes = output.input_burst_bytes;
    settings.max_input_frame_bytes = output.max_input_frame_bytes;
    settings.network = profile.network;
    return settings;
}

}  // namespace ccjail::server
