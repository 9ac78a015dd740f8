/*
 * c-sim: a small simulator embedding IpiEngine from C. Each vCPU is a pthread running a loop shaped like a KVM
 * userspace's exit loop:
 *   - "run the guest" until an exit; here every exit is the guest writing the ICR to send an IPI
 *     (x2APIC: one WRMSR 0x830; xAPIC: an MMIO write of ICR high 0x310 that latches, then ICR low 0x300 that fires)
 *     -> ipi_post() the record exactly as the hypervisor would hand it over;
 *   - before re-entry, the pre-run hook: read the vCPU's posted-interrupt descriptor in place (ipi_descriptor: the
 *     hardware's layout, PIR and ON) and, if anything is there, ipi_take_pending() (the vectors to inject);
 *   - while "in the guest" the vCPU is marked running (ipi_vcpu_set_running: the descriptor's SN bit), so deliveries
 *     make interrupts pending without kicking it; now and then the guest idles (HLT): the vCPU clears SN, takes what
 *     arrived unkicked, or else sleeps until the engine's kick callback wakes it.
 * At the end it stops the engine (drain), takes what is left, prints IPIs/s and the engine's counters, and checks
 * that everything posted was accounted for and that every delivered interrupt was taken exactly once.
 *
 * usage: c-sim [--vcpus N] [--ipis PER_VCPU] [--xapic] [--halt-every K]
 *        c-sim --nodes N [--local-targets kernel|engine] [--vcpus V] [--ipis PER_VCPU]   (a multi-node VM: c_nodes.c)
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "c_nodes.h"
#include "vm_nodes.h"
#include "ipi_engine.h"

#define X2APIC_ICR 0x830u
#define XAPIC_ICR_LOW 0x300u
#define XAPIC_ICR_HIGH 0x310u

/* One vCPU's state, shared by its thread and the engine's kick callback. */
typedef struct vcpu {
    uint32_t index;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t kicked_cond;
    int kicked;                 /* set by the kick, cleared by the vCPU when it wakes */
    uint64_t exits_posted;      /* records this vCPU posted (an xAPIC IPI takes two) */
    uint64_t ipis_sent;
    uint64_t vectors_taken;     /* fixed vectors taken before re-entry */
    uint64_t halts;
    const ipi_pi_desc_t *desc;  /* this vCPU's posted-interrupt descriptor (read in place, never written) */
    uint64_t pir_bits_missed;   /* PIR bits read in place that the following take did not return (must stay 0) */
} vcpu_t;

typedef struct sim {
    ipi_engine_t engine;
    vcpu_t *vcpus;
    uint32_t vcpu_count;
    uint64_t ipis_per_vcpu;
    uint32_t halt_every;
    int xapic;
} sim_t;

static sim_t g_sim;

static void die(const char *what, int32_t status)
{
    char detail[256];
    ipi_last_error(detail, sizeof detail);
    fprintf(stderr, "c-sim: %s failed: %s (%d): %s\n", what, ipi_strerror(status), (int)status, detail);
    exit(2);
}

/* The engine calls this on its pipeline thread (or inside an ipi_post that found it parked) when `index` got new
 * pending interrupts: wake that vCPU, nothing more. */
/* The kick may come from any engine thread, concurrently with itself (local deliveries from the pipeline,
 * remote ones from transport threads): the vCPU's mutex makes it safe. */
static void on_kick(void *context, uint32_t index)
{
    sim_t *sim = (sim_t *)context;
    vcpu_t *v = &sim->vcpus[index];
    pthread_mutex_lock(&v->lock);
    v->kicked = 1;
    pthread_cond_signal(&v->kicked_cond);
    pthread_mutex_unlock(&v->lock);
}

static uint64_t popcount64(uint64_t x)
{
    return (uint64_t)__builtin_popcountll(x);
}

/* The pre-run hook: read the descriptor in place (no library call when nothing is pending, like a CPU checking
 * ON / the PIR at VM entry), then take what is pending and "inject" it (here: count it). Only this vCPU's thread
 * takes its interrupts, so a PIR bit seen here stays set until the take: the take must return it.
 * Returns 1 if anything was taken. */
static int take_pending(sim_t *sim, vcpu_t *v)
{
    uint64_t seen[4];
    uint64_t any = __atomic_load_n(&v->desc->control, __ATOMIC_ACQUIRE) & IPI_PI_ON;
    any |= __atomic_load_n(&v->desc->events, __ATOMIC_ACQUIRE);
    for (int w = 0; w < 4; w++) {
        seen[w] = __atomic_load_n(&v->desc->pir[w], __ATOMIC_ACQUIRE);
        any |= seen[w];
    }
    if (any == 0)
        return 0;
    ipi_pending_t pending;
    int32_t taken = ipi_take_pending(sim->engine, v->index, &pending);
    if (taken < 0)
        die("ipi_take_pending", taken);
    for (int w = 0; w < 4; w++) {
        v->vectors_taken += popcount64(pending.vectors[w]);
        v->pir_bits_missed += popcount64(seen[w] & ~pending.vectors[w]);
    }
    return taken;
}

/* Marks the vCPU running (in the guest: no kicks) or not; returns 1 if something is pending. */
static int set_running(sim_t *sim, vcpu_t *v, uint32_t running)
{
    int32_t status = ipi_vcpu_set_running(sim->engine, v->index, running);
    if (status < 0)
        die("ipi_vcpu_set_running", status);
    return status;
}

/* HLT: sleep until kicked (or 1 ms passed), and count it. */
static void halt(vcpu_t *v)
{
    vm_halt(&v->lock, &v->kicked_cond, &v->kicked);
    v->halts++;
}

static void post(sim_t *sim, vcpu_t *v, uint32_t reg, uint64_t value, uint32_t dest_id, uint64_t tag)
{
    ipi_exit_t exit_record = { .src_vcpu = v->index, .reg = reg, .value = value, .dest_id = dest_id, .reserved = 0, .tag = tag };
    int32_t status = ipi_post(sim->engine, &exit_record);
    if (status != IPI_OK)
        die("ipi_post", status);
    v->exits_posted++;
}

static void *vcpu_loop(void *arg)
{
    vcpu_t *v = (vcpu_t *)arg;
    sim_t *sim = &g_sim;
    uint64_t seed = 0x9E3779B97F4A7C15ull * (v->index + 1);
    set_running(sim, v, 1); /* entering the guest */
    for (uint64_t i = 0; i < sim->ipis_per_vcpu; i++) {
        /* KVM_RUN returned with an ICR write: a fixed IPI to another vCPU (APIC ID = vCPU index here). */
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t dest = (uint32_t)((seed >> 33) % (sim->vcpu_count - 1));
        if (dest >= v->index)
            dest++;
        uint32_t vector = 0x20u + (uint32_t)((seed >> 17) % 0xDF); /* 0x20..0xFE: legal fixed vectors */
        if (sim->xapic) {
            post(sim, v, XAPIC_ICR_HIGH, (uint64_t)dest << 24, dest, i);          /* latches, never fires */
            post(sim, v, XAPIC_ICR_LOW, vector, dest, i);                          /* fixed, physical: fires */
        } else {
            post(sim, v, X2APIC_ICR, ((uint64_t)dest << 32) | vector, dest, i);    /* one WRMSR: fires */
        }
        v->ipis_sent++;

        /* Pre-run hook before re-entering the guest. */
        take_pending(sim, v);

        /* Now and then the guest executes HLT: leave the guest (clear SN), then wait for a kick unless something is
         * already pending (a clear that reports pending means interrupts arrived unkicked: take them, no wait). */
        if (sim->halt_every != 0 && i % sim->halt_every == sim->halt_every - 1) {
            int arrived_unkicked = set_running(sim, v, 0); /* from now on deliveries kick */
            if (!take_pending(sim, v) && !arrived_unkicked)
                halt(v);
            set_running(sim, v, 1);
        }
    }
    set_running(sim, v, 0);
    return NULL;
}

static double seconds_since(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

static int check(const char *what, uint64_t left, uint64_t right)
{
    int ok = left == right;
    printf("  check %-52s %s (%" PRIu64 " vs %" PRIu64 ")\n", what, ok ? "ok" : "FAILED", left, right);
    return ok;
}

int main(int argc, char **argv)
{
    /* The multi-node mode (c_nodes.c): a child node, or the parent of the whole VM. Before any ipi_* call, so the
     * children are forked before the library's runtime starts any thread. */
    int node_exit;
    if (vm_child(argc, argv, c_nodes_node, &node_exit))
        return node_exit;
    for (int i = 1; i + 1 < argc; i++) {
        if (!strcmp(argv[i], "--nodes")) {
            uint32_t nodes = (uint32_t)strtoul(argv[i + 1], NULL, 10);
            return c_nodes_options_ok(argc, argv, nodes) ? c_nodes_run(argc, argv, nodes) : 2;
        }
    }

    sim_t *sim = &g_sim;
    sim->vcpu_count = 4;
    sim->ipis_per_vcpu = 250000;
    sim->halt_every = 64;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--vcpus") && i + 1 < argc)
            sim->vcpu_count = (uint32_t)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--ipis") && i + 1 < argc)
            sim->ipis_per_vcpu = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--halt-every") && i + 1 < argc)
            sim->halt_every = (uint32_t)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--xapic"))
            sim->xapic = 1;
        else {
            fprintf(stderr, "usage: c-sim [--vcpus N (2..255)] [--ipis PER_VCPU] [--xapic] [--halt-every K]\n"
                            "       c-sim --nodes N [--local-targets kernel|engine] [--vcpus V] [--ipis PER_VCPU] [--halt-every K] [--send-batch K]\n");
            return 2;
        }
    }
    if (sim->vcpu_count < 2 || sim->vcpu_count > 255) {
        fprintf(stderr, "c-sim: --vcpus must be between 2 and 255\n");
        return 2;
    }

    /* The header's rule: the same major, and a minor at least the header's (this program uses 1.6 structures). */
    if (ipi_abi_version() >> 16 != IPI_ABI_VERSION_MAJOR || (ipi_abi_version() & 0xFFFFu) < IPI_ABI_VERSION_MINOR) {
        fprintf(stderr, "c-sim: library ABI %#x cannot serve the header's %#x\n", ipi_abi_version(), IPI_ABI_VERSION);
        return 2;
    }

    sim->vcpus = calloc(sim->vcpu_count, sizeof *sim->vcpus);
    if (sim->vcpus == NULL)
        return 2;
    for (uint32_t i = 0; i < sim->vcpu_count; i++) {
        sim->vcpus[i].index = i;
        pthread_mutex_init(&sim->vcpus[i].lock, NULL);
        pthread_cond_init(&sim->vcpus[i].kicked_cond, NULL);
    }

    ipi_config_t config;
    memset(&config, 0, sizeof config);
    config.struct_size = sizeof config;
    config.vcpu_count = sim->vcpu_count;
    config.topology = sim->xapic ? IPI_TOPOLOGY_XAPIC_PHYSICAL : IPI_TOPOLOGY_X2APIC_PHYSICAL;
    config.threading_mode = IPI_THREADING_FUSED;
    config.wait_strategy = IPI_WAIT_DEFAULT;
    config.back_pressure = IPI_BACK_PRESSURE_WAIT;
    config.kick = on_kick;
    config.kick_context = sim;
    int32_t status = ipi_engine_create(&config, &sim->engine);
    if (status != IPI_OK)
        die("ipi_engine_create", status);
    for (uint32_t i = 0; i < sim->vcpu_count; i++)
        if ((status = ipi_descriptor(sim->engine, i, &sim->vcpus[i].desc)) != IPI_OK)
            die("ipi_descriptor", status);
    if ((status = ipi_engine_start(sim->engine)) != IPI_OK)
        die("ipi_engine_start", status);

    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (uint32_t i = 0; i < sim->vcpu_count; i++)
        pthread_create(&sim->vcpus[i].thread, NULL, vcpu_loop, &sim->vcpus[i]);
    for (uint32_t i = 0; i < sim->vcpu_count; i++)
        pthread_join(sim->vcpus[i].thread, NULL);
    /* Stop drains: everything posted is delivered before it returns. */
    if ((status = ipi_engine_stop(sim->engine)) != IPI_OK)
        die("ipi_engine_stop", status);
    double elapsed = seconds_since(&start);
    /* The vCPU threads are gone: take what they had not taken yet. */
    for (uint32_t i = 0; i < sim->vcpu_count; i++)
        take_pending(sim, &sim->vcpus[i]);

    uint64_t sent = 0, exits = 0, taken = 0, halts = 0, missed = 0;
    for (uint32_t i = 0; i < sim->vcpu_count; i++) {
        missed += sim->vcpus[i].pir_bits_missed;
        sent += sim->vcpus[i].ipis_sent;
        exits += sim->vcpus[i].exits_posted;
        taken += sim->vcpus[i].vectors_taken;
        halts += sim->vcpus[i].halts;
    }

    ipi_counters_t c;
    memset(&c, 0, sizeof c);
    c.struct_size = sizeof c;
    if ((status = ipi_counters(sim->engine, &c)) != IPI_OK)
        die("ipi_counters", status);

    printf("c-sim: %u vCPUs (%s), %" PRIu64 " IPIs in %.3f s = %.0f IPIs/s (%" PRIu64 " halts)\n", sim->vcpu_count,
           sim->xapic ? "xAPIC physical, ICR2 latch + ICR" : "x2APIC physical, MSR 0x830", sent, elapsed,
           (double)sent / elapsed, halts);
    printf("engine counters: posted %" PRIu64 ", latched %" PRIu64 ", topology %" PRIu64 ", resolved %" PRIu64
           ", rejected %" PRIu64 ", destinations %" PRIu64 ", delivered %" PRIu64 ", coalesced %" PRIu64
           ", forwarded %" PRIu64 ", no destination %" PRIu64 ", notifications %" PRIu64 "\n",
           c.posted, c.latched, c.topology_writes, c.ipis_resolved, c.rejected, c.destinations_resolved, c.delivered,
           c.coalesced, c.forwarded, c.no_destination, c.notifications);

    int ok = 1;
    ok &= check("engine posted == records the vCPUs posted", c.posted, exits);
    ok &= check("posted == latched + topology + resolved + rejected", c.posted,
                c.latched + c.topology_writes + c.ipis_resolved + c.rejected);
    ok &= check("rejected == 0", c.rejected, 0);
    ok &= check("resolved IPIs == IPIs sent", c.ipis_resolved, sent);
    ok &= check("destinations == IPIs sent (all unicast)", c.destinations_resolved, sent);
    ok &= check("destinations == delivered + coalesced + forwarded + undelivered", c.destinations_resolved,
                c.delivered + c.coalesced + c.forwarded + c.undelivered);
    ok &= check("undelivered == 0 (no pipeline fault)", c.undelivered, 0);
    ok &= check("vectors taken by the vCPUs == delivered", taken, c.delivered);
    ok &= check("PIR bits read in place and not taken == 0", missed, 0);

    if ((status = ipi_engine_destroy(sim->engine)) != IPI_OK)
        die("ipi_engine_destroy", status);
    for (uint32_t i = 0; i < sim->vcpu_count; i++) {
        pthread_mutex_destroy(&sim->vcpus[i].lock);
        pthread_cond_destroy(&sim->vcpus[i].kicked_cond);
    }
    free(sim->vcpus);
    printf("c-sim: %s\n", ok ? "all checks ok" : "CHECKS FAILED");
    return ok ? 0 : 1;
}
