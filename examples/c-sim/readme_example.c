/* The README's embedding example from C, built and run by CI (a test keeps the README's copy equal to this file). */
#include <ipi_engine.h>

int main(void) {
    ipi_config_t config = { .struct_size = sizeof config, .vcpu_count = 4, .topology = IPI_TOPOLOGY_X2APIC_PHYSICAL };
    ipi_engine_t engine;
    if (ipi_engine_create(&config, &engine) != IPI_OK || ipi_engine_start(engine) != IPI_OK) return 1;
    /* vCPU 0's exit handler: WRMSR 0x830, fixed vector 0xFD to x2APIC ID 2 */
    ipi_exit_t record = { .src_vcpu = 0, .reg = 0x830, .value = (2ull << 32) | 0x40FD, .dest_id = 2, .tag = 1 };
    ipi_post(engine, &record);
    ipi_engine_stop(engine);                           /* drains: everything posted before is delivered */
    ipi_pending_t pending;                             /* vCPU 2, before VM entry */
    int taken = ipi_take_pending(engine, 2, &pending);
    ipi_engine_destroy(engine);
    return taken == 1 && (pending.vectors[0xFD / 64] >> (0xFD % 64) & 1) ? 0 : 1;
}
