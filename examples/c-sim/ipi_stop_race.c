/*
 * ipi-stop-race: ipi_engine_stop racing posting threads and a second stopper, from C (issue 17, items 4 and 5).
 * Repeated cycles on rings of 2 records: 4 vCPU threads post until refused while 2 threads stop the engine at once.
 * Every cycle must hold: a post returns IPI_OK (and its record is resolved by the drain) or IPI_E_STOPPED, never
 * anything else and never IPI_OK once an ipi_engine_stop has returned; every ipi_engine_stop returns IPI_OK with
 * nothing in flight; posted equals the IPI_OK count, and every posted record is resolved.
 * Bounded: at most 200 cycles or about 2 seconds. Exits 1 on any violation.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ipi_engine.h"

#define VCPUS 4
#define STOPPERS 2

typedef struct {
    ipi_engine_t engine;
    atomic_int stops_returned;
    atomic_long ok[VCPUS];
    long ok_after_stop[VCPUS];
    int32_t other_status[VCPUS];
    int64_t in_flight[STOPPERS];
    int32_t stop_status[STOPPERS];
} cycle_t;

typedef struct {
    cycle_t *cycle;
    uint32_t index;
} arg_t;

static double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void *produce(void *p)
{
    arg_t *arg = (arg_t *)p;
    cycle_t *c = arg->cycle;
    uint32_t vcpu = arg->index;
    double deadline = now_seconds() + 10.0;
    for (uint64_t tag = 0; now_seconds() < deadline; tag++) {
        int stopped = atomic_load(&c->stops_returned) > 0;
        uint32_t dest = (vcpu + 1) % VCPUS;
        ipi_exit_t record = { .src_vcpu = vcpu, .reg = 0x830, .value = ((uint64_t)dest << 32) | (0x20 + tag % 200),
                              .dest_id = dest, .tag = tag };
        int32_t status = ipi_post(c->engine, &record);
        if (status == IPI_E_STOPPED)
            return NULL;
        if (status != IPI_OK) {
            c->other_status[vcpu] = status;
            return NULL;
        }
        atomic_fetch_add(&c->ok[vcpu], 1);
        c->ok_after_stop[vcpu] += stopped;
    }
    return NULL;
}

static void *stop(void *p)
{
    arg_t *arg = (arg_t *)p;
    cycle_t *c = arg->cycle;
    c->stop_status[arg->index] = ipi_engine_stop(c->engine);
    ipi_counters_t counters;
    memset(&counters, 0, sizeof counters);
    counters.struct_size = sizeof counters;
    ipi_counters(c->engine, &counters);
    c->in_flight[arg->index] = (int64_t)(counters.posted - counters.latched - counters.topology_writes
                                         - counters.ipis_resolved - counters.rejected);
    atomic_fetch_add(&c->stops_returned, 1);
    return NULL;
}

static int run_cycle(int number, uint32_t threading)
{
    static cycle_t c;
    memset(&c, 0, sizeof c);
    ipi_config_t config;
    memset(&config, 0, sizeof config);
    config.struct_size = sizeof config;
    config.vcpu_count = VCPUS;
    config.topology = IPI_TOPOLOGY_X2APIC_PHYSICAL;
    config.ring_capacity = 2;
    config.threading_mode = threading;
    if (ipi_engine_create(&config, &c.engine) != IPI_OK || ipi_engine_start(c.engine) != IPI_OK) {
        printf("cycle %d: create/start failed\n", number);
        return 1;
    }

    pthread_t producers[VCPUS], stoppers[STOPPERS];
    arg_t producer_args[VCPUS], stopper_args[STOPPERS];
    for (uint32_t i = 0; i < VCPUS; i++) {
        producer_args[i] = (arg_t){ &c, i };
        pthread_create(&producers[i], NULL, produce, &producer_args[i]);
    }
    double warm = now_seconds() + 0.2;
    while (atomic_load(&c.ok[0]) < 2 && now_seconds() < warm)
        sched_yield();
    for (uint32_t i = 0; i < STOPPERS; i++) {
        stopper_args[i] = (arg_t){ &c, i };
        pthread_create(&stoppers[i], NULL, stop, &stopper_args[i]);
    }
    for (int i = 0; i < STOPPERS; i++)
        pthread_join(stoppers[i], NULL);
    for (int i = 0; i < VCPUS; i++)
        pthread_join(producers[i], NULL);

    int failures = 0;
    long ok = 0;
    for (int i = 0; i < STOPPERS; i++) {
        if (c.stop_status[i] != IPI_OK || c.in_flight[i] != 0) {
            printf("cycle %d: ipi_engine_stop returned %d with %lld records in flight\n", number, (int)c.stop_status[i],
                   (long long)c.in_flight[i]);
            failures++;
        }
    }
    for (int i = 0; i < VCPUS; i++) {
        ok += atomic_load(&c.ok[i]);
        if (c.other_status[i] != 0 || c.ok_after_stop[i] != 0) {
            printf("cycle %d: vCPU %d got status %d (%s); IPI_OK after stop returned: %ld\n", number, i,
                   (int)c.other_status[i], ipi_strerror(c.other_status[i]), c.ok_after_stop[i]);
            failures++;
        }
    }
    ipi_counters_t counters;
    memset(&counters, 0, sizeof counters);
    counters.struct_size = sizeof counters;
    ipi_counters(c.engine, &counters);
    if (counters.posted != (uint64_t)ok || counters.ipis_resolved + counters.rejected != counters.posted
        || counters.destinations_resolved != counters.delivered + counters.coalesced + counters.forwarded) {
        printf("cycle %d: posted %llu, IPI_OK %ld, resolved %llu, rejected %llu\n", number,
               (unsigned long long)counters.posted, ok, (unsigned long long)counters.ipis_resolved,
               (unsigned long long)counters.rejected);
        failures++;
    }
    ipi_engine_destroy(c.engine);
    return failures;
}

int main(void)
{
    double deadline = now_seconds() + 2.0;
    int cycles = 0, failures = 0;
    while (cycles < 4 || (cycles < 200 && now_seconds() < deadline)) {
        failures += run_cycle(cycles, cycles % 2 == 0 ? IPI_THREADING_FUSED : IPI_THREADING_PER_STAGE);
        cycles++;
    }
    printf("ipi-stop-race: %d cycles, %d violations\n", cycles, failures);
    return failures == 0 ? 0 : 1;
}
