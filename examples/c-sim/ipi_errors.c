/*
 * ipi-errors: the C ABI's error paths, called from C as a host would call them. Every bad call must come back
 * as a status code (never a crash or an abort): null config, bad sizes and values, null and stale handles,
 * double destroy, out-of-range vCPUs, posting after stop, too many engines, bad node configs (ABI 1.2), and
 * callers that pass older struct sizes (the ABI 1.1 counters, the ABI 1.4 node faults).
 * Prints one line per check and exits 1 if any failed.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "ipi_engine.h"

static int g_checks;
static int g_failures;

#define EXPECT_STATUS(call, expected)                                                                          \
    do {                                                                                                       \
        int32_t got_ = (call);                                                                                 \
        g_checks++;                                                                                            \
        if (got_ != (expected)) {                                                                              \
            g_failures++;                                                                                      \
            printf("  FAILED line %d: %s -> %d (%s), expected %d (%s)\n", __LINE__, #call, (int)got_,         \
                   ipi_strerror(got_), (int)(expected), ipi_strerror(expected));                               \
        }                                                                                                      \
    } while (0)

#define EXPECT_TRUE(cond)                                                                                      \
    do {                                                                                                       \
        g_checks++;                                                                                            \
        if (!(cond)) {                                                                                         \
            g_failures++;                                                                                      \
            printf("  FAILED line %d: %s\n", __LINE__, #cond);                                                 \
        }                                                                                                      \
    } while (0)

static ipi_config_t valid_config(uint32_t vcpus)
{
    ipi_config_t config;
    memset(&config, 0, sizeof config);
    config.struct_size = sizeof config;
    config.vcpu_count = vcpus;
    config.topology = IPI_TOPOLOGY_X2APIC_PHYSICAL;
    config.ring_capacity = 64;
    return config;
}

static ipi_exit_t icr(uint32_t src, uint32_t dest, uint32_t vector)
{
    ipi_exit_t record = { .src_vcpu = src, .reg = 0x830, .value = ((uint64_t)dest << 32) | vector, .dest_id = dest };
    return record;
}

static void strings_and_version(void)
{
    EXPECT_TRUE(ipi_abi_version() == IPI_ABI_VERSION);
    for (int32_t s = IPI_OK; s >= IPI_E_NOT_REPLICATED; s--) {
        const char *text = ipi_strerror(s);
        EXPECT_TRUE(text != NULL && text[0] != '\0');
        EXPECT_TRUE(strcmp(text, ipi_strerror(-999)) != 0); /* each code has its own sentence */
    }
    EXPECT_TRUE(ipi_strerror(12345) != NULL);
}

static void bad_configs(void)
{
    ipi_engine_t engine = 42;
    ipi_config_t config = valid_config(4);
    EXPECT_STATUS(ipi_engine_create(NULL, &engine), IPI_E_NULL_POINTER);
    EXPECT_TRUE(engine == IPI_NULL_ENGINE);
    EXPECT_STATUS(ipi_engine_create(&config, NULL), IPI_E_NULL_POINTER);

    config.struct_size = 0;
    EXPECT_STATUS(ipi_engine_create(&config, &engine), IPI_E_STRUCT_SIZE);
    config.struct_size = 8;
    EXPECT_STATUS(ipi_engine_create(&config, &engine), IPI_E_STRUCT_SIZE);

    config = valid_config(0);
    EXPECT_STATUS(ipi_engine_create(&config, &engine), IPI_E_BAD_CONFIG);
    config = valid_config(4);
    config.topology = 0;
    EXPECT_STATUS(ipi_engine_create(&config, &engine), IPI_E_BAD_CONFIG);
    config.topology = 99;
    EXPECT_STATUS(ipi_engine_create(&config, &engine), IPI_E_BAD_CONFIG);
    config = valid_config(4);
    config.ring_capacity = 3;
    EXPECT_STATUS(ipi_engine_create(&config, &engine), IPI_E_BAD_CONFIG);
    config = valid_config(4);
    config.threading_mode = 7;
    EXPECT_STATUS(ipi_engine_create(&config, &engine), IPI_E_BAD_CONFIG);
    config = valid_config(4);
    config.wait_strategy = 9;
    EXPECT_STATUS(ipi_engine_create(&config, &engine), IPI_E_BAD_CONFIG);
    config = valid_config(4);
    config.back_pressure = 5;
    EXPECT_STATUS(ipi_engine_create(&config, &engine), IPI_E_BAD_CONFIG);
    config = valid_config(4);
    config.flags = 0x80;
    EXPECT_STATUS(ipi_engine_create(&config, &engine), IPI_E_BAD_CONFIG);
    /* ABI 1.4: apic_ids comes with its length, and only with IPI_TOPOLOGY_RESET */
    static const uint32_t ids[4] = { 0, 1, 2, 3 };
    config = valid_config(4);
    config.topology = IPI_TOPOLOGY_RESET;
    config.apic_ids = ids;
    config.apic_id_count = 3;
    EXPECT_STATUS(ipi_engine_create(&config, &engine), IPI_E_BAD_CONFIG);
    config.struct_size = offsetof(ipi_config_t, apic_id_count); /* a caller built before 1.4: not length-checked */
    EXPECT_STATUS(ipi_engine_create(&config, &engine), IPI_OK);
    EXPECT_STATUS(ipi_engine_destroy(engine), IPI_OK);
    config.struct_size = sizeof config;
    config.apic_id_count = 4;
    config.topology = IPI_TOPOLOGY_X2APIC_PHYSICAL; /* a configured topology has its own IDs */
    EXPECT_STATUS(ipi_engine_create(&config, &engine), IPI_E_BAD_CONFIG);
    /* ABI 1.6: pipeline_cpus comes with its length, which must fit the threading mode */
    static const uint32_t cpus[3] = { 0, 0, 0 };
    config = valid_config(4);
    config.pipeline_cpu_count = 1; /* a count without the array */
    EXPECT_STATUS(ipi_engine_create(&config, &engine), IPI_E_BAD_CONFIG);
    config.pipeline_cpus = cpus;
    config.pipeline_cpu_count = 3; /* fused mode runs one pipeline thread */
    EXPECT_STATUS(ipi_engine_create(&config, &engine), IPI_E_BAD_CONFIG);
    config.threading_mode = IPI_THREADING_INLINE; /* no pipeline thread to pin */
    config.pipeline_cpu_count = 1;
    EXPECT_STATUS(ipi_engine_create(&config, &engine), IPI_E_BAD_CONFIG);
    config.threading_mode = IPI_THREADING_PER_STAGE;
    config.pipeline_cpu_count = 2; /* three stages: three CPUs, or one for all */
    EXPECT_STATUS(ipi_engine_create(&config, &engine), IPI_E_BAD_CONFIG);
    config.struct_size = offsetof(ipi_config_t, pipeline_cpus); /* a caller built before 1.6: not read */
    EXPECT_STATUS(ipi_engine_create(&config, &engine), IPI_OK);
    EXPECT_STATUS(ipi_engine_destroy(engine), IPI_OK);
    config = valid_config(9);
    config.topology = IPI_TOPOLOGY_XAPIC_FLAT; /* flat logical mode holds 8 APICs */
    EXPECT_STATUS(ipi_engine_create(&config, &engine), IPI_E_BAD_CONFIG);
    EXPECT_TRUE(engine == IPI_NULL_ENGINE);

    /* The detail of the last failure names the field; a short buffer is truncated and NUL-terminated. */
    char detail[256];
    config = valid_config(4);
    config.ring_capacity = 3;
    EXPECT_STATUS(ipi_engine_create(&config, &engine), IPI_E_BAD_CONFIG);
    int32_t length = ipi_last_error(detail, sizeof detail);
    EXPECT_TRUE(length > 0 && strstr(detail, "ring_capacity") != NULL);
    printf("  last error after ring_capacity 3: %s\n", detail);
    char tiny[5];
    EXPECT_TRUE(ipi_last_error(tiny, sizeof tiny) == length && strlen(tiny) == sizeof tiny - 1);
    EXPECT_TRUE(ipi_last_error(NULL, 0) == length);
}

static void bad_handles(void)
{
    ipi_exit_t record = icr(0, 1, 0x40);
    ipi_pending_t pending;
    ipi_counters_t counters;
    memset(&counters, 0, sizeof counters);
    counters.struct_size = sizeof counters;
    const ipi_engine_t bogus[] = { IPI_NULL_ENGINE, 0xDEADBEEFull, 0xFFFFFFFFFFFFFFFFull, (7ull << 32) | 1u };
    for (size_t i = 0; i < sizeof bogus / sizeof bogus[0]; i++) {
        EXPECT_STATUS(ipi_engine_start(bogus[i]), IPI_E_BAD_HANDLE);
        EXPECT_STATUS(ipi_post(bogus[i], &record), IPI_E_BAD_HANDLE);
        EXPECT_STATUS(ipi_post_batch(bogus[i], &record, 1), IPI_E_BAD_HANDLE);
        EXPECT_STATUS(ipi_pending(bogus[i], 0), IPI_E_BAD_HANDLE);
        EXPECT_STATUS(ipi_take_pending(bogus[i], 0, &pending), IPI_E_BAD_HANDLE);
        EXPECT_STATUS(ipi_counters(bogus[i], &counters), IPI_E_BAD_HANDLE);
        EXPECT_STATUS(ipi_engine_stop(bogus[i]), IPI_E_BAD_HANDLE);
        EXPECT_STATUS(ipi_engine_destroy(bogus[i]), IPI_E_BAD_HANDLE);
    }
}

static void life_cycle(void)
{
    ipi_config_t config = valid_config(4);
    ipi_engine_t engine = IPI_NULL_ENGINE;
    EXPECT_STATUS(ipi_engine_create(&config, &engine), IPI_OK);
    EXPECT_TRUE(engine != IPI_NULL_ENGINE);
    EXPECT_STATUS(ipi_engine_start(engine), IPI_OK);
    EXPECT_STATUS(ipi_engine_start(engine), IPI_E_STATE);

    ipi_exit_t good = icr(0, 1, 0x40);
    ipi_exit_t out_of_range = icr(4, 1, 0x40);
    ipi_exit_t batch[3] = { icr(0, 1, 0x41), icr(9, 1, 0x42), icr(1, 0, 0x43) };
    ipi_pending_t pending;
    ipi_counters_t counters;
    memset(&counters, 0, sizeof counters);

    EXPECT_STATUS(ipi_post(engine, NULL), IPI_E_NULL_POINTER);
    EXPECT_STATUS(ipi_try_post(engine, NULL), IPI_E_NULL_POINTER);
    EXPECT_STATUS(ipi_post(engine, &out_of_range), IPI_E_VCPU_RANGE);
    EXPECT_STATUS(ipi_post_batch(engine, NULL, 2), IPI_E_NULL_POINTER);
    EXPECT_STATUS(ipi_post_batch(engine, NULL, 0), IPI_OK);
    EXPECT_STATUS(ipi_post_batch(engine, batch, 3), IPI_E_VCPU_RANGE); /* all or nothing */
    uint32_t posted = 7;
    EXPECT_STATUS(ipi_post_batch_ex(engine, batch, 3, &posted), IPI_E_VCPU_RANGE);
    EXPECT_TRUE(posted == 0); /* and says so */
    EXPECT_STATUS(ipi_post_batch_ex(engine, batch, 3, NULL), IPI_E_NULL_POINTER);
    EXPECT_STATUS(ipi_pending(engine, 4), IPI_E_VCPU_RANGE);
    EXPECT_STATUS(ipi_take_pending(engine, 4, &pending), IPI_E_VCPU_RANGE);
    EXPECT_STATUS(ipi_take_pending(engine, 0, NULL), IPI_E_NULL_POINTER);
    EXPECT_STATUS(ipi_topology_write(engine, 0, 0x300, 0), IPI_E_BAD_REGISTER);
    EXPECT_STATUS(ipi_topology_write(engine, 0, 0x1000000u, 0), IPI_E_BAD_REGISTER);
    EXPECT_STATUS(ipi_topology_write(engine, 4, 0x80F, 0x1FF), IPI_E_VCPU_RANGE);
    EXPECT_STATUS(ipi_counters(engine, NULL), IPI_E_NULL_POINTER);
    EXPECT_STATUS(ipi_counters(engine, &counters), IPI_E_STRUCT_SIZE); /* struct_size 0 */

    EXPECT_STATUS(ipi_post(engine, &good), IPI_OK);
    EXPECT_STATUS(ipi_engine_stop(engine), IPI_OK); /* drains */
    counters.struct_size = sizeof counters;
    EXPECT_STATUS(ipi_counters(engine, &counters), IPI_OK);
    EXPECT_TRUE(counters.posted == 1);        /* the refused batch posted nothing */
    EXPECT_TRUE(counters.ipis_resolved == 1);
    EXPECT_STATUS(ipi_take_pending(engine, 1, &pending), 1); /* delivered before stop returned */
    EXPECT_TRUE(pending.vectors[1] == 1ull && pending.vectors[0] == 0 && pending.flags == 0); /* vector 0x40 */
    EXPECT_STATUS(ipi_pending(engine, 1), 0);

    EXPECT_STATUS(ipi_post(engine, &good), IPI_E_STOPPED);
    EXPECT_STATUS(ipi_try_post(engine, &good), IPI_E_STOPPED);
    EXPECT_STATUS(ipi_post_batch(engine, &good, 1), IPI_E_STOPPED);
    posted = 7;
    EXPECT_STATUS(ipi_post_batch_ex(engine, &good, 1, &posted), IPI_E_STOPPED);
    EXPECT_TRUE(posted == 0);
    EXPECT_STATUS(ipi_topology_write(engine, 0, 0x80F, 0x1FF), IPI_E_STOPPED);
    EXPECT_STATUS(ipi_engine_start(engine), IPI_E_STOPPED);
    EXPECT_STATUS(ipi_engine_stop(engine), IPI_OK); /* idempotent */

    EXPECT_STATUS(ipi_engine_destroy(engine), IPI_OK);
    EXPECT_STATUS(ipi_engine_destroy(engine), IPI_E_BAD_HANDLE); /* double destroy */
    EXPECT_STATUS(ipi_post(engine, &good), IPI_E_BAD_HANDLE);     /* use after destroy */

    /* A new engine may reuse the slot; the old handle must still miss. */
    ipi_engine_t again = IPI_NULL_ENGINE;
    EXPECT_STATUS(ipi_engine_create(&config, &again), IPI_OK);
    EXPECT_TRUE(again != engine);
    EXPECT_STATUS(ipi_engine_start(engine), IPI_E_BAD_HANDLE);
    EXPECT_STATUS(ipi_engine_destroy(again), IPI_OK); /* destroy without start or stop */
}

/* A caller built against ABI 1.1 passes the 248-byte ipi_counters_t: the fields 1.2 appended stay untouched. */
static void old_counters_caller(void)
{
    ipi_config_t config = valid_config(2);
    ipi_engine_t engine = IPI_NULL_ENGINE;
    EXPECT_STATUS(ipi_engine_create(&config, &engine), IPI_OK);
    ipi_counters_t counters;
    memset(&counters, 0xAB, sizeof counters);
    counters.struct_size = offsetof(ipi_counters_t, served_by_host); /* 248: the 1.1 layout's size */
    EXPECT_STATUS(ipi_counters(engine, &counters), IPI_OK);
    EXPECT_TRUE(counters.posted == 0 && counters.remote_rejected == 0);
    EXPECT_TRUE(counters.served_by_host == 0xABABABABABABABABull && counters.peer_topology_writes == 0xABABABABABABABABull);
    memset(&counters, 0xAB, sizeof counters);
    counters.struct_size = offsetof(ipi_counters_t, undelivered); /* 272: the 1.2 / 1.3 layout's size */
    EXPECT_STATUS(ipi_counters(engine, &counters), IPI_OK);
    EXPECT_TRUE(counters.peer_topology_writes == 0 && counters.undelivered == 0xABABABABABABABABull);
    EXPECT_STATUS(ipi_engine_destroy(engine), IPI_OK);
}

/* Nodes of a multi-host VM (ABI 1.2): bad node configs and node calls on the wrong engine come back as codes. */
static void bad_nodes(void)
{
    static const uint8_t key[32] = { 1, 2, 3 };
    const uint32_t placement[2] = { 0, 1 };
    ipi_peer_t peer = { .node = 1, .port = 9, .host = "127.0.0.1" };
    ipi_config_t config = valid_config(2);
    ipi_node_config_t node;
    memset(&node, 0, sizeof node);
    node.struct_size = sizeof node;
    node.placement = placement;
    node.placement_count = 2;
    node.peers = &peer;
    node.peer_count = 1;
    node.key = key;
    node.key_length = sizeof key;
    ipi_engine_t engine = 42;
    EXPECT_STATUS(ipi_node_create(&config, NULL, &engine), IPI_E_NULL_POINTER);
    EXPECT_TRUE(engine == IPI_NULL_ENGINE);
    EXPECT_STATUS(ipi_node_create(NULL, &node, &engine), IPI_E_NULL_POINTER);
    EXPECT_STATUS(ipi_node_create(&config, &node, NULL), IPI_E_NULL_POINTER);
    node.struct_size = 8;
    EXPECT_STATUS(ipi_node_create(&config, &node, &engine), IPI_E_STRUCT_SIZE);
    node.struct_size = sizeof node;
    node.key_length = 15;
    EXPECT_STATUS(ipi_node_create(&config, &node, &engine), IPI_E_BAD_CONFIG);
    node.key_length = sizeof key;
    peer.host = "localhost"; /* IP literals only */
    EXPECT_STATUS(ipi_node_create(&config, &node, &engine), IPI_E_BAD_CONFIG);
    peer.host = "127.0.0.1";
    node.local_targets = 7;
    EXPECT_STATUS(ipi_node_create(&config, &node, &engine), IPI_E_BAD_CONFIG);
    node.local_targets = IPI_LOCAL_TARGETS_KERNEL;
    node.peer_count = 0; /* vCPU 1 on node 1, which is not a peer */
    EXPECT_STATUS(ipi_node_create(&config, &node, &engine), IPI_E_BAD_CONFIG);
    node.peer_count = 1;
    node.placement_count = 3; /* ABI 1.4: the placement's length is checked against vcpu_count */
    EXPECT_STATUS(ipi_node_create(&config, &node, &engine), IPI_E_BAD_CONFIG);
    node.struct_size = offsetof(ipi_node_config_t, placement_count); /* a 1.2 / 1.3 caller: no length to check */
    EXPECT_STATUS(ipi_node_create(&config, &node, &engine), IPI_OK);
    EXPECT_STATUS(ipi_engine_destroy(engine), IPI_OK);
    node.struct_size = sizeof node;
    node.placement_count = 2;

    EXPECT_STATUS(ipi_node_create(&config, &node, &engine), IPI_OK);
    ipi_link_t link;
    memset(&link, 0, sizeof link);
    link.struct_size = sizeof link;
    uint32_t port = 0;
    EXPECT_STATUS(ipi_node_port(engine, &port), IPI_E_STATE); /* not started: not listening */
    EXPECT_STATUS(ipi_node_link(engine, 1, &link), IPI_OK);
    EXPECT_TRUE(link.peer_node == 1 && link.state == IPI_LINK_DOWN && link.forwarded == 0);
    EXPECT_STATUS(ipi_node_link(engine, 3, &link), IPI_E_BAD_CONFIG); /* not a peer */
    memset(&link, 0xAB, sizeof link);
    link.struct_size = offsetof(ipi_link_t, flush_sends); /* a caller built against ABI 1.2-1.7 */
    EXPECT_STATUS(ipi_node_link(engine, 1, &link), IPI_OK);
    EXPECT_TRUE(link.forwarded == 0 && link.flush_sends == 0xABABABABABABABABull); /* nothing written past its struct */
    link.struct_size = sizeof link;
    EXPECT_STATUS(ipi_node_link(engine, 1, &link), IPI_OK);
    EXPECT_TRUE(link.flush_sends == 0 && link.connected_ns == 0 && link.back_pressured_ns == 0); /* ABI 1.8; never connected */
    ipi_node_faults_t faults;
    memset(&faults, 0xAB, sizeof faults);
    faults.struct_size = sizeof faults;
    EXPECT_STATUS(ipi_node_faults(engine, &faults), IPI_OK); /* ABI 1.4 */
    EXPECT_TRUE(faults.link_faults[IPI_LINK_FAULT_PROTECTION_MISMATCH] == 0 && faults.topology_write_failures[IPI_TOPOLOGY_WRITE_NOT_ORDERED] == 0);
    EXPECT_TRUE(faults.topology_write_failures_applied == 0 && faults.rejected_handshakes == 0); /* ABI 1.13 */
    memset(&faults, 0xAB, sizeof faults);
    faults.struct_size = offsetof(ipi_node_faults_t, topology_write_failures_applied); /* a caller built against ABI 1.4-1.12 */
    EXPECT_STATUS(ipi_node_faults(engine, &faults), IPI_OK);
    EXPECT_TRUE(faults.topology_write_failures[IPI_TOPOLOGY_WRITE_NOT_ORDERED] == 0 && faults.topology_write_failures_applied == 0xABABABABABABABABull
                && faults.rejected_handshakes == 0xABABABABABABABABull); /* nothing written past its struct */
    faults.struct_size = 8;
    EXPECT_STATUS(ipi_node_faults(engine, &faults), IPI_E_STRUCT_SIZE);
    EXPECT_STATUS(ipi_node_faults(engine, NULL), IPI_E_NULL_POINTER);
    EXPECT_STATUS(ipi_engine_destroy(engine), IPI_OK);
    EXPECT_STATUS(ipi_node_link(engine, 1, &link), IPI_E_BAD_HANDLE);

    ipi_engine_t plain = IPI_NULL_ENGINE;
    EXPECT_STATUS(ipi_engine_create(&config, &plain), IPI_OK);
    EXPECT_STATUS(ipi_node_link(plain, 1, &link), IPI_E_STATE); /* not a node */
    EXPECT_STATUS(ipi_node_port(plain, &port), IPI_E_STATE);
    EXPECT_STATUS(ipi_node_port(plain, NULL), IPI_E_NULL_POINTER);
    faults.struct_size = sizeof faults;
    EXPECT_STATUS(ipi_node_faults(plain, &faults), IPI_E_STATE);
    EXPECT_STATUS(ipi_engine_destroy(plain), IPI_OK);
}

static void too_many_engines(void)
{
    static ipi_engine_t engines[IPI_MAX_ENGINES];
    ipi_config_t config = valid_config(1);
    config.ring_capacity = 2;
    uint32_t created = 0;
    while (created < IPI_MAX_ENGINES && ipi_engine_create(&config, &engines[created]) == IPI_OK)
        created++;
    EXPECT_TRUE(created == IPI_MAX_ENGINES);
    ipi_engine_t extra = 42;
    EXPECT_STATUS(ipi_engine_create(&config, &extra), IPI_E_LIMIT);
    EXPECT_TRUE(extra == IPI_NULL_ENGINE);
    for (uint32_t i = 0; i < created; i++)
        EXPECT_STATUS(ipi_engine_destroy(engines[i]), IPI_OK);
}

int main(void)
{
    strings_and_version();
    bad_configs();
    bad_handles();
    life_cycle();
    old_counters_caller();
    bad_nodes();
    too_many_engines();
    printf("ipi-errors: %d checks, %d failed\n", g_checks, g_failures);
    return g_failures == 0 ? 0 : 1;
}
