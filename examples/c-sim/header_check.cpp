// C++17 compile check of include/ipi_engine.h: the header's own static_asserts run here under a C++ compiler,
// and a few calls make sure the declarations link with C linkage.
#include <cstdint>
#include <cstdio>
#include <type_traits>

#include "ipi_engine.h"

static_assert(std::is_standard_layout_v<ipi_config_t> && std::is_trivially_copyable_v<ipi_config_t>);
static_assert(std::is_standard_layout_v<ipi_exit_t> && std::is_trivially_copyable_v<ipi_exit_t>);
static_assert(std::is_standard_layout_v<ipi_pending_t> && std::is_standard_layout_v<ipi_counters_t>);
static_assert(std::is_same_v<ipi_engine_t, std::uint64_t>);
static_assert(std::is_standard_layout_v<ipi_node_config_t> && std::is_trivially_copyable_v<ipi_node_config_t>);
static_assert(std::is_standard_layout_v<ipi_peer_t> && std::is_standard_layout_v<ipi_link_t>);
static_assert(std::is_standard_layout_v<ipi_injection_t> && std::is_standard_layout_v<ipi_x2apic_injection_t>);
static_assert(std::is_standard_layout_v<ipi_node_faults_t> && std::is_trivially_copyable_v<ipi_node_faults_t>);
static_assert(IPI_ABI_VERSION == 0x1000Du && IPI_CONFIG_NO_ASSIST == 0x4u);
static_assert(sizeof(ipi_counters_t) == 288 && offsetof(ipi_counters_t, rejected_reserved_bits) == 280); // ABI 1.10
static_assert(sizeof(ipi_link_t) == 128 && offsetof(ipi_link_t, flush_sends) == 88); // ABI 1.8
static_assert(sizeof(ipi_node_faults_t) == 312 && offsetof(ipi_node_faults_t, topology_write_failures_applied) == 296
              && offsetof(ipi_node_faults_t, rejected_handshakes) == 304); // ABI 1.13
static_assert(sizeof(ipi_config_t) == 80 && offsetof(ipi_config_t, pipeline_cpus) == 64);
static_assert(IPI_LINK_FAULT_TOO_MANY_HANDSHAKES == 21u && IPI_LINK_FAULT_SINK_FAILED == 22u && offsetof(ipi_node_config_t, placement_count) == 96);

// The injector types take plain C functions (no C++ exception may escape them).
static void inject(void *, const ipi_injection_t *, uint32_t) noexcept {}
static void inject_x2apic(void *, const ipi_x2apic_injection_t *, uint32_t) noexcept {}

int main()
{
    ipi_config_t config{};
    config.struct_size = sizeof config;
    ipi_engine_t engine = IPI_NULL_ENGINE;
    const int32_t status = ipi_engine_create(&config, &engine); // vcpu_count 0: refused, not a crash
    std::printf("header-check-cpp: abi %#x, create with a zero config -> %d (%s)\n",
                ipi_abi_version(), static_cast<int>(status), ipi_strerror(status));
    // A node with both injectors set is refused with a status (and the node calls link with C linkage).
    config.vcpu_count = 2;
    config.topology = IPI_TOPOLOGY_X2APIC_PHYSICAL;
    const uint32_t placement[2] = {0, 0};
    const uint8_t key[16] = {1};
    ipi_node_config_t node{};
    node.struct_size = sizeof node;
    node.placement = placement;
    node.placement_count = 2;
    node.key = key;
    node.key_length = sizeof key;
    node.inject = inject;
    node.inject_x2apic = inject_x2apic;
    const int32_t node_status = ipi_node_create(&config, &node, &engine);
    ipi_link_t link{};
    link.struct_size = sizeof link;
    uint32_t port = 0;
    const int32_t link_status = ipi_node_link(IPI_NULL_ENGINE, 1, &link);
    const int32_t port_status = ipi_node_port(IPI_NULL_ENGINE, &port);
    ipi_node_faults_t faults{};
    faults.struct_size = sizeof faults;
    const int32_t faults_status = ipi_node_faults(IPI_NULL_ENGINE, &faults);
    const int32_t batch_status = ipi_node_send_batch_begin(IPI_NULL_ENGINE); // ABI 1.7
    const int32_t flush_status = ipi_node_send_batch_flush(IPI_NULL_ENGINE);
    const int32_t end_status = ipi_node_send_batch_end(IPI_NULL_ENGINE);
    std::printf("header-check-cpp: node with both injectors -> %d, link/port/faults of no engine -> %d/%d/%d, send batch -> %d/%d/%d\n",
                static_cast<int>(node_status), static_cast<int>(link_status), static_cast<int>(port_status), static_cast<int>(faults_status),
                static_cast<int>(batch_status), static_cast<int>(flush_status), static_cast<int>(end_status));
    return ipi_abi_version() == IPI_ABI_VERSION && status == IPI_E_BAD_CONFIG && engine == IPI_NULL_ENGINE
        && node_status == IPI_E_BAD_CONFIG && link_status == IPI_E_BAD_HANDLE && port_status == IPI_E_BAD_HANDLE
        && faults_status == IPI_E_BAD_HANDLE && batch_status == IPI_E_BAD_HANDLE && flush_status == IPI_E_BAD_HANDLE
        && end_status == IPI_E_BAD_HANDLE ? 0 : 1;
}
