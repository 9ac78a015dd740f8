/*
 * ipi-bench: posting throughput from C (one ipi_post per IPI, and ipi_post_batch) against posting from C# (the
 * same records posted by managed code inside the library through Engine.Post / Engine.PostBatch, via
 * ipi_bench_post_managed), on one engine in one process, rounds interleaved so drift hits every mode alike.
 *
 * One producer (vCPU 0) sends fixed x2APIC IPIs to vCPU 1; the engine runs its pipeline thread. Each figure is
 * end to end: from the first post until the engine has resolved every IPI of the round (counters polled).
 *
 * usage: ipi-bench [--ipis N_PER_ROUND] [--rounds R] [--batch B] [--wait IPI_WAIT_*] [--per-stage]
 * Timed figures are for a quiet machine; CI runs it only briefly to prove it works.
 */
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ipi_engine.h"

#define RECORDS 4096u /* one pass over these is posted repeatedly; vectors cycle over 0x20..0xFF */
#define MODES 4
#define MAX_ROUNDS 64

static const char *const mode_names[MODES] = { "C ipi_post (1 per call)", "C ipi_post_batch", "C# Engine.Post",
                                               "C# Engine.PostBatch" };

static void die(const char *what, int32_t status)
{
    char detail[256];
    ipi_last_error(detail, sizeof detail);
    fprintf(stderr, "ipi-bench: %s failed: %s (%d): %s\n", what, ipi_strerror(status), (int)status, detail);
    exit(2);
}

static double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static uint64_t resolved(ipi_engine_t engine)
{
    ipi_counters_t c;
    memset(&c, 0, sizeof c);
    c.struct_size = sizeof c;
    int32_t status = ipi_counters(engine, &c);
    if (status != IPI_OK)
        die("ipi_counters", status);
    return c.ipis_resolved;
}

/* Posts `repeat` passes over the records in the given mode. */
static void post_round(ipi_engine_t engine, const ipi_exit_t *records, uint32_t repeat, uint32_t batch, int mode)
{
    int32_t status = IPI_OK;
    switch (mode) {
    case 0:
        for (uint32_t r = 0; r < repeat && status == IPI_OK; r++)
            for (uint32_t i = 0; i < RECORDS && status == IPI_OK; i++)
                status = ipi_post(engine, &records[i]);
        break;
    case 1:
        for (uint32_t r = 0; r < repeat && status == IPI_OK; r++)
            for (uint32_t i = 0; i < RECORDS && status == IPI_OK; i += batch)
                status = ipi_post_batch(engine, &records[i], RECORDS - i < batch ? RECORDS - i : batch);
        break;
    case 2:
        status = ipi_bench_post_managed(engine, records, RECORDS, repeat, 0);
        break;
    default:
        status = ipi_bench_post_managed(engine, records, RECORDS, repeat, batch);
        break;
    }
    if (status != IPI_OK)
        die(mode_names[mode], status);
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    uint64_t ipis = 4u << 20;
    uint32_t rounds = 5, batch = 64, wait = IPI_WAIT_DEFAULT, threading = IPI_THREADING_FUSED;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--ipis") && i + 1 < argc)
            ipis = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
            rounds = (uint32_t)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc)
            batch = (uint32_t)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--wait") && i + 1 < argc)
            wait = (uint32_t)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--per-stage"))
            threading = IPI_THREADING_PER_STAGE;
        else {
            fprintf(stderr,
                    "usage: ipi-bench [--ipis N_PER_ROUND] [--rounds R (1..%d)] [--batch B (1..%u)] [--wait 0..4] [--per-stage]\n",
                    MAX_ROUNDS, RECORDS);
            return 2;
        }
    }
    if (rounds < 1 || rounds > MAX_ROUNDS || batch < 1 || batch > RECORDS || ipis < RECORDS) {
        fprintf(stderr, "ipi-bench: need 1..%d rounds, a batch of 1..%u and at least %u IPIs per round\n", MAX_ROUNDS,
                RECORDS, RECORDS);
        return 2;
    }
    uint32_t repeat = (uint32_t)(ipis / RECORDS);
    uint64_t per_round = (uint64_t)repeat * RECORDS;

    static ipi_exit_t records[RECORDS];
    for (uint32_t i = 0; i < RECORDS; i++) {
        uint32_t vector = 0x20u + i % 0xE0u;
        records[i] = (ipi_exit_t){ .src_vcpu = 0, .reg = 0x830, .value = (1ull << 32) | vector, .dest_id = 1, .tag = i };
    }

    ipi_config_t config;
    memset(&config, 0, sizeof config);
    config.struct_size = sizeof config;
    config.vcpu_count = 2;
    config.topology = IPI_TOPOLOGY_X2APIC_PHYSICAL;
    config.wait_strategy = wait;
    config.threading_mode = threading;
    ipi_engine_t engine;
    int32_t status = ipi_engine_create(&config, &engine);
    if (status != IPI_OK)
        die("ipi_engine_create", status);
    if ((status = ipi_engine_start(engine)) != IPI_OK)
        die("ipi_engine_start", status);

    /* Warm-up: one small round of each mode (runtime start-up, page faults, first-call costs). */
    uint64_t expected = resolved(engine);
    for (int mode = 0; mode < MODES; mode++) {
        post_round(engine, records, 1, batch, mode);
        expected += RECORDS;
    }
    while (resolved(engine) < expected)
        sched_yield();

    double rates[MODES][MAX_ROUNDS];
    for (uint32_t round = 0; round < rounds; round++) {
        for (int mode = 0; mode < MODES; mode++) {
            double start = now_seconds();
            post_round(engine, records, repeat, batch, mode);
            expected += per_round;
            while (resolved(engine) < expected)
                sched_yield();
            rates[mode][round] = (double)per_round / (now_seconds() - start);
        }
    }

    printf("ipi-bench: %" PRIu64 " IPIs per round, %u rounds, batch %u, x2APIC unicast vCPU 0 -> 1, %s pipeline, wait %u\n",
           per_round, rounds, batch, threading == IPI_THREADING_FUSED ? "fused" : "per-stage", wait);
    printf("%-26s %16s %16s %16s\n", "mode", "median IPIs/s", "min IPIs/s", "max IPIs/s");
    for (int mode = 0; mode < MODES; mode++) {
        qsort(rates[mode], rounds, sizeof(double), compare_doubles);
        printf("%-26s %16.0f %16.0f %16.0f\n", mode_names[mode], rates[mode][rounds / 2], rates[mode][0],
               rates[mode][rounds - 1]);
    }

    if ((status = ipi_engine_destroy(engine)) != IPI_OK)
        die("ipi_engine_destroy", status);
    return 0;
}
