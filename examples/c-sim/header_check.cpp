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
static_assert(IPI_ABI_VERSION == 0x10003u);

int main()
{
    ipi_config_t config{};
    config.struct_size = sizeof config;
    ipi_engine_t engine = IPI_NULL_ENGINE;
    const int32_t status = ipi_engine_create(&config, &engine); // vcpu_count 0: refused, not a crash
    std::printf("header-check-cpp: abi %#x, create with a zero config -> %d (%s)\n",
                ipi_abi_version(), static_cast<int>(status), ipi_strerror(status));
    return ipi_abi_version() == IPI_ABI_VERSION && status == IPI_E_BAD_CONFIG && engine == IPI_NULL_ENGINE ? 0 : 1;
}
