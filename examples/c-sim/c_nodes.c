/*
 * c-sim --nodes N: the whole VM spread over N nodes on this machine (vm_nodes.h: node 0 is this process, nodes 1..N-1
 * child processes of the same binary, linked over loopback by the engine's authenticated TCP links). vCPU v lives on
 * node v % N. Each node is a C program shaped like the userspace of a distributed-VM KVM host:
 *   - a thread per local vCPU runs its exit loop: each exit is an x2APIC ICR write (WRMSR 0x830) -> ipi_post();
 *   - with --local-targets kernel, the node serves the IPI's targets on this node itself before posting, as KVM does at
 *     the ICR write (kernel_serve below: a small resolver, physical destinations and the all-excluding-self shorthand of
 *     an x2APIC physical topology with APIC ID = vCPU index, which is all this example sends); the engine forwards only
 *     the remote targets. With --local-targets engine, the engine delivers local targets into its descriptors and kicks;
 *   - forwarded IPIs arrive as KVM_DSM_IPI-style records (the 64-bit ICR companion, ipi_inject_x2apic_fn) and are
 *     "re-injected" into a per-vCPU pending set, and the vCPU thread is woken;
 *   - before re-entry the vCPU takes what is pending (its pending set, and ipi_take_pending for engine deliveries); now
 *     and then it halts until kicked;
 *   - with --send-batch K, each vCPU thread holds a send batch (ipi_node_send_batch_begin) and sends its link frames
 *     itself every K exits (ipi_node_send_batch_flush) and before it halts, instead of having each forward wake the
 *     link's sender on another thread.
 * The vector of every IPI names its source (0x20 + source vCPU) and the workload is a seeded script every node can
 * recompute, so each node checks, per (source, destination) pair, that every IPI reached every destination on it exactly
 * once: injected and kernel-served ones are counted one by one. Engine-delivered local ones coalesce like a real IRR,
 * so for them the check is the engine's count (delivered + coalesced) against the script, plus every pair present.
 * Exits 0 only if every node's checks pass.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "c_nodes.h"
#include "vm_nodes.h"

#define X2APIC_ICR 0x830u
#define SHORTHAND_ALL_EXCLUDING_SELF (3u << 18)
#define VECTOR_BASE 0x20u
#define MAX_VCPUS 64u
#define BROADCAST_EVERY 16u   /* every 16th IPI of a vCPU is a CALL_FUNCTION-style all-excluding-self shorthand */

typedef struct node_vcpu {
    uint32_t index;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t kicked_cond;
    int kicked;
    atomic_uint_fast64_t pending[MAX_VCPUS];  /* the pending set: IPIs re-injected or kernel-served, by source vCPU */
    atomic_int any_pending;
    uint64_t taken[MAX_VCPUS];               /* from the pending set, by source (one per IPI: counted, never coalesced) */
    uint64_t engine_taken[MAX_VCPUS];        /* engine-delivered vectors taken, by source (coalesced like an IRR) */
    uint64_t ipis_sent;
} node_vcpu_t;

typedef struct node_state {
    ipi_engine_t engine;
    uint32_t self, nodes, vcpu_count, halt_every, kernel, send_batch;
    uint64_t ipis_per_vcpu;
    uint32_t placement[MAX_VCPUS];
    node_vcpu_t *vcpus;                      /* every vCPU of the VM; only local ones run */
    atomic_uint_fast64_t misrouted;          /* injected records naming no local vCPU or no script vector */
} node_state_t;

/* The script: the destination of vCPU `src`'s IPI number i, or MAX_VCPUS for the all-excluding-self shorthand. */
static uint32_t script_destination(uint32_t src, uint64_t i, uint32_t vcpus)
{
    if (i % BROADCAST_EVERY == BROADCAST_EVERY - 1)
        return MAX_VCPUS;
    uint64_t x = (i + 1) * 0x9E3779B97F4A7C15ull ^ (uint64_t)(src + 1) * 0xC2B2AE3D27D4EB4Full;
    x ^= x >> 31;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 29;
    uint32_t dest = (uint32_t)(x % (vcpus - 1));
    return dest >= src ? dest + 1 : dest;
}

/* expected[src * vcpus + dest]: IPIs from src that must reach dest, over the whole script. */
static void script_expectation(uint32_t vcpus, uint64_t ipis, uint64_t *expected)
{
    memset(expected, 0, sizeof(uint64_t) * vcpus * vcpus);
    for (uint32_t s = 0; s < vcpus; s++) {
        for (uint64_t i = 0; i < ipis; i++) {
            uint32_t d = script_destination(s, i, vcpus);
            for (uint32_t t = 0; t < vcpus; t++) {
                if (d == MAX_VCPUS ? t != s : t == d)
                    expected[s * vcpus + t]++;
            }
        }
    }
}

static void wake(node_vcpu_t *v)
{
    pthread_mutex_lock(&v->lock);
    v->kicked = 1;
    pthread_cond_signal(&v->kicked_cond);
    pthread_mutex_unlock(&v->lock);
}

/* Puts one IPI from `source` into vCPU `target`'s pending set and wakes it (what an injected KVM_DSM_IPI does). */
static void inject_one(node_state_t *node, uint32_t target, uint32_t source)
{
    node_vcpu_t *v = &node->vcpus[target];
    atomic_fetch_add_explicit(&v->pending[source], 1, memory_order_relaxed);
    atomic_store_explicit(&v->any_pending, 1, memory_order_release); /* after the count: the taker sees both */
    wake(v);
}

/* The engine's kick: vCPU `index` has engine-delivered interrupts pending. Any engine thread; only wakes. */
static void on_kick(void *context, uint32_t index)
{
    wake(&((node_state_t *)context)->vcpus[index]);
}

/* The receiving side: each forwarded IPI, as the 64-bit ICR the source wrote, re-injected into its target. */
static void on_inject(void *context, const ipi_x2apic_injection_t *records, uint32_t count)
{
    node_state_t *node = context;
    for (uint32_t i = 0; i < count; i++) {
        uint32_t target = records[i].target_vcpu;
        uint32_t vector = (uint32_t)(records[i].icr & 0xFF);
        if (target < node->vcpu_count && node->placement[target] == node->self && vector >= VECTOR_BASE
            && vector - VECTOR_BASE < node->vcpu_count)
            inject_one(node, target, vector - VECTOR_BASE);
        else
            atomic_fetch_add_explicit(&node->misrouted, 1, memory_order_relaxed); /* fails the check */
    }
}

/* KVM's part with the kernel serving local targets: deliver the ICR write's targets on this node, at the write. */
static void kernel_serve(node_state_t *node, uint32_t src, uint32_t dest)
{
    for (uint32_t t = 0; t < node->vcpu_count; t++) {
        if (node->placement[t] == node->self && (dest == MAX_VCPUS ? t != src : t == dest))
            inject_one(node, t, src);
    }
}

/* The pre-run hook: take the pending set and the engine's pending vectors. Returns 1 if anything was taken. */
static int take_pending(node_state_t *node, node_vcpu_t *v)
{
    int took = 0;
    if (atomic_exchange_explicit(&v->any_pending, 0, memory_order_acquire)) { /* pairs with inject_one's release */
        for (uint32_t s = 0; s < MAX_VCPUS; s++) {
            uint64_t n = atomic_exchange_explicit(&v->pending[s], 0, memory_order_relaxed);
            v->taken[s] += n;
            took |= n != 0;
        }
    }
    int32_t has = ipi_pending(node->engine, v->index);
    if (has < 0)
        vm_die("ipi_pending", has);
    if (has) {
        ipi_pending_t pending;
        int32_t status = ipi_take_pending(node->engine, v->index, &pending);
        if (status < 0)
            vm_die("ipi_take_pending", status);
        for (uint32_t vector = VECTOR_BASE; vector < VECTOR_BASE + node->vcpu_count; vector++) {
            if (pending.vectors[vector / 64] >> (vector % 64) & 1)
                v->engine_taken[vector - VECTOR_BASE]++;
        }
        took = 1;
    }
    return took;
}


static node_state_t *g_node; /* the vCPU threads' node (one node per process, or node 0 in the parent) */

static void *vcpu_loop(void *arg)
{
    node_vcpu_t *v = arg;
    node_state_t *node = g_node;
    int32_t status;
    if (node->send_batch != 0 && (status = ipi_node_send_batch_begin(node->engine)) != IPI_OK)
        vm_die("ipi_node_send_batch_begin", status);
    for (uint64_t i = 0; i < node->ipis_per_vcpu; i++) {
        /* KVM_RUN returned: the guest wrote the ICR. */
        uint32_t dest = script_destination(v->index, i, node->vcpu_count);
        uint32_t vector = VECTOR_BASE + v->index;
        uint64_t icr = dest == MAX_VCPUS ? (SHORTHAND_ALL_EXCLUDING_SELF | vector) : ((uint64_t)dest << 32 | vector);
        if (node->kernel)
            kernel_serve(node, v->index, dest);
        ipi_exit_t exit_record = { .src_vcpu = v->index, .reg = X2APIC_ICR, .value = icr,
                                   .dest_id = dest == MAX_VCPUS ? 0 : dest, .reserved = 0, .tag = i };
        status = ipi_post(node->engine, &exit_record);
        if (status != IPI_OK)
            vm_die("ipi_post", status);
        v->ipis_sent++;
        take_pending(node, v);
        int halting = node->halt_every != 0 && i % node->halt_every == node->halt_every - 1;
        if (node->send_batch != 0 && (halting || i % node->send_batch == node->send_batch - 1)
            && (status = ipi_node_send_batch_flush(node->engine)) != IPI_OK)
            vm_die("ipi_node_send_batch_flush", status);
        if (halting && !take_pending(node, v))
            vm_halt(&v->lock, &v->kicked_cond, &v->kicked);
    }
    if (node->send_batch != 0 && (status = ipi_node_send_batch_end(node->engine)) != IPI_OK)
        vm_die("ipi_node_send_batch_end", status);
    return NULL;
}

static int check(FILE *err, uint32_t self, const char *what, uint64_t left, uint64_t right)
{
    if (left != right)
        fprintf(err, "node %u: check %s FAILED (%" PRIu64 " vs %" PRIu64 ")\n", self, what, left, right);
    return left == right;
}

static int parse_options(const vm_node_args_t *args, node_state_t *node, FILE *err)
{
    node->vcpu_count = 2 * args->nodes;
    node->ipis_per_vcpu = 20000;
    node->halt_every = 64;
    for (int i = 1; i < args->argc; i++) {
        const char *a = args->argv[i];
        const char *value = i + 1 < args->argc ? args->argv[i + 1] : NULL;
        if (!strcmp(a, "--vcpus") && value) {
            node->vcpu_count = (uint32_t)strtoul(value, NULL, 10);
            i++;
        } else if (!strcmp(a, "--ipis") && value) {
            node->ipis_per_vcpu = strtoull(value, NULL, 10);
            i++;
        } else if (!strcmp(a, "--halt-every") && value) {
            node->halt_every = (uint32_t)strtoul(value, NULL, 10);
            i++;
        } else if (!strcmp(a, "--send-batch") && value) {
            node->send_batch = (uint32_t)strtoul(value, NULL, 10);
            i++;
        } else if (!strcmp(a, "--local-targets") && value && (!strcmp(value, "kernel") || !strcmp(value, "engine"))) {
            node->kernel = !strcmp(value, "kernel");
            i++;
        } else if ((!strcmp(a, "--nodes") || !strcmp(a, "--node") || !strcmp(a, "--peer-ports")) && value) {
            i++;
        } else {
            fprintf(err, "usage: c-sim --nodes N (2..%u) [--vcpus V (N..%u)] [--ipis PER_VCPU] [--local-targets kernel|engine] [--halt-every K] [--send-batch K]\n",
                    VM_MAX_NODES, MAX_VCPUS);
            return 1;
        }
    }
    if (node->vcpu_count < args->nodes || node->vcpu_count > MAX_VCPUS) {
        fprintf(err, "c-sim: --vcpus must be between the node count (%u) and %u\n", args->nodes, MAX_VCPUS);
        return 1;
    }
    return 0;
}

int c_nodes_options_ok(int argc, char **argv, uint32_t nodes)
{
    vm_node_args_t args = { .self = 0, .nodes = nodes, .argc = argc, .argv = argv };
    node_state_t probe;
    memset(&probe, 0, sizeof probe);
    return nodes >= 2 && nodes <= VM_MAX_NODES && parse_options(&args, &probe, stderr) == 0;
}

int c_nodes_node(const vm_node_args_t *args, FILE *in, FILE *out)
{
    node_state_t node;
    memset(&node, 0, sizeof node);
    if (parse_options(args, &node, stderr))
        return 2;
    node.self = args->self;
    node.nodes = args->nodes;
    g_node = &node;
    node.vcpus = calloc(node.vcpu_count, sizeof *node.vcpus);
    uint64_t *expected = calloc((size_t)node.vcpu_count * node.vcpu_count, sizeof *expected);
    if (node.vcpus == NULL || expected == NULL)
        return 2;
    for (uint32_t v = 0; v < node.vcpu_count; v++) {
        node.placement[v] = v % node.nodes;
        node.vcpus[v].index = v;
        pthread_mutex_init(&node.vcpus[v].lock, NULL);
        pthread_cond_init(&node.vcpus[v].kicked_cond, NULL);
    }
    script_expectation(node.vcpu_count, node.ipis_per_vcpu, expected);

    ipi_config_t config;
    memset(&config, 0, sizeof config);
    config.struct_size = sizeof config;
    config.vcpu_count = node.vcpu_count;
    config.topology = IPI_TOPOLOGY_X2APIC_PHYSICAL;
    config.kick = on_kick;
    config.kick_context = &node;
    ipi_node_config_t node_config;
    memset(&node_config, 0, sizeof node_config);
    node_config.local_targets = node.kernel ? IPI_LOCAL_TARGETS_KERNEL : IPI_LOCAL_TARGETS_ENGINE;
    node_config.queue_records = 1u << 16;
    node_config.inject_x2apic = on_inject;
    node_config.inject_context = &node;
    int32_t status = vm_create_node(args, &config, &node_config, node.placement, &node.engine, out);
    if (status != IPI_OK)
        vm_die("creating the node", status);
    if (vm_ready(node.engine, args, in, out)) {
        /* Told to stop before the run: the engine's kick and inject contexts point at this frame, so it goes first. */
        if ((status = ipi_engine_destroy(node.engine)) != IPI_OK)
            vm_die("ipi_engine_destroy", status);
        free(node.vcpus);
        free(expected);
        return 1;
    }

    for (uint32_t v = node.self; v < node.vcpu_count; v += node.nodes)
        pthread_create(&node.vcpus[v].thread, NULL, vcpu_loop, &node.vcpus[v]);
    for (uint32_t v = node.self; v < node.vcpu_count; v += node.nodes)
        pthread_join(node.vcpus[v].thread, NULL);
    if ((status = ipi_engine_stop(node.engine)) != IPI_OK) /* drains this node's pipeline; the links keep running */
        vm_die("ipi_engine_stop", status);

    /* What must arrive here from the other nodes, and what this node must deliver or serve itself. */
    uint64_t arrivals = 0, local = 0, remote = 0, sent = 0;
    for (uint32_t s = 0; s < node.vcpu_count; s++) {
        for (uint32_t t = 0; t < node.vcpu_count; t++) {
            uint64_t n = expected[s * node.vcpu_count + t];
            int from_here = node.placement[s] == node.self, to_here = node.placement[t] == node.self;
            arrivals += !from_here && to_here ? n : 0;
            local += from_here && to_here ? n : 0;
            remote += from_here && !to_here ? n : 0;
        }
        sent += node.placement[s] == node.self ? node.ipis_per_vcpu : 0;
    }
    double deadline = vm_now() + 60;
    uint64_t injected;
    do {
        injected = 0;
        for (uint32_t t = node.self; t < node.vcpu_count; t += node.nodes) {
            take_pending(&node, &node.vcpus[t]);
            for (uint32_t s = 0; s < node.vcpu_count; s++)
                injected += node.placement[s] != node.self ? node.vcpus[t].taken[s] : 0;
        }
        if (injected < arrivals)
            nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
    } while (injected < arrivals && vm_now() < deadline);
    int acknowledged = vm_wait_acknowledged(node.engine, args, 60) == 0;

    ipi_counters_t c;
    memset(&c, 0, sizeof c);
    c.struct_size = sizeof c;
    if ((status = ipi_counters(node.engine, &c)) != IPI_OK)
        vm_die("ipi_counters", status);
    int ok = acknowledged;
    if (!acknowledged)
        fprintf(stderr, "node %u: forwarded records not all acknowledged within 60 s\n", node.self);
    ok &= check(stderr, node.self, "IPIs resolved == IPIs sent", c.ipis_resolved, sent);
    ok &= check(stderr, node.self, "nothing rejected", c.rejected, 0);
    ok &= check(stderr, node.self, "destinations == delivered + coalesced + forwarded + served by host + unreachable + undelivered",
                c.destinations_resolved, c.delivered + c.coalesced + c.forwarded + c.served_by_host + c.peer_unreachable + c.undelivered);
    ok &= check(stderr, node.self, "nothing undelivered (no pipeline fault)", c.undelivered, 0);
    ok &= check(stderr, node.self, "forwarded == remote targets of the script", c.forwarded, remote);
    ok &= check(stderr, node.self, "no peer unreachable", c.peer_unreachable, 0);
    ok &= check(stderr, node.self, "served by host == local targets (kernel) or 0", c.served_by_host, node.kernel ? local : 0);
    ok &= check(stderr, node.self, "engine deliveries == local targets (engine) or 0", c.delivered + c.coalesced, node.kernel ? 0 : local);
    ok &= check(stderr, node.self, "forwarded arrivals went to the injector, none into descriptors", c.remote_delivered + c.remote_coalesced, 0);
    uint64_t doubled = 0, lost = 0, missing_pairs = 0;
    for (uint32_t t = node.self; t < node.vcpu_count; t += node.nodes) {
        const node_vcpu_t *v = &node.vcpus[t];
        for (uint32_t s = 0; s < node.vcpu_count; s++) {
            uint64_t want = expected[s * node.vcpu_count + t];
            int counted = node.placement[s] != node.self || node.kernel;
            uint64_t got = counted ? v->taken[s] : want; /* engine-delivered local pairs: checked in aggregate */
            doubled += got > want ? got - want : 0;
            lost += got < want ? want - got : 0;
            if (!counted && (want != 0) != (v->engine_taken[s] != 0))
                missing_pairs++;
            if (!counted && v->taken[s] != 0)
                doubled += v->taken[s]; /* a local pair re-injected: it came over a link */
        }
    }
    ok &= check(stderr, node.self, "IPIs that reached a destination here twice", doubled, 0);
    ok &= check(stderr, node.self, "IPIs that never reached a destination here", lost, 0);
    ok &= check(stderr, node.self, "engine-delivered local pairs missing or misrouted", missing_pairs, 0);
    ok &= check(stderr, node.self, "injected records for no local vCPU", atomic_load(&node.misrouted), 0);
    uint64_t flush_sends = 0; /* ABI 1.8: sends this node's vCPU threads made themselves (--send-batch) */
    for (uint32_t k = 0; k < node.nodes; k++) {
        ipi_link_t link;
        memset(&link, 0, sizeof link);
        link.struct_size = sizeof link;
        if (k != node.self && (status = ipi_node_link(node.engine, k, &link)) == IPI_OK)
            flush_sends += link.flush_sends;
    }
    fprintf(out, "result %s sent=%" PRIu64 " local=%" PRIu64 " forwarded=%" PRIu64 " arrived=%" PRIu64 " flush_sends=%" PRIu64 "\n",
            ok ? "ok" : "FAILED", sent, local, c.forwarded, injected, flush_sends);
    fflush(out);

    vm_expect(in, "stop"); /* keep the links up until every node is done: their acknowledgements may still be on the way */
    if ((status = ipi_engine_destroy(node.engine)) != IPI_OK)
        vm_die("ipi_engine_destroy", status);
    for (uint32_t v = 0; v < node.vcpu_count; v++) {
        pthread_mutex_destroy(&node.vcpus[v].lock);
        pthread_cond_destroy(&node.vcpus[v].kicked_cond);
    }
    free(node.vcpus);
    free(expected);
    return ok ? 0 : 1;
}

int c_nodes_run(int argc, char **argv, uint32_t nodes)
{
    static char lines[VM_MAX_NODES][512];
    if (vm_start(nodes, argc, argv, c_nodes_node)) {
        vm_finish();
        return 1;
    }
    int failed = vm_gather("ready", lines);
    double start = vm_now();
    vm_broadcast(failed ? "stop" : "go");
    failed |= vm_gather("result", lines);
    double elapsed = vm_now() - start;
    uint64_t sent = 0, forwarded = 0, local = 0;
    for (uint32_t k = 0; k < nodes; k++) {
        uint64_t s = 0, l = 0, f = 0, a = 0;
        char verdict[16] = "";
        if (sscanf(lines[k], "result %15s sent=%" SCNu64 " local=%" SCNu64 " forwarded=%" SCNu64 " arrived=%" SCNu64, verdict, &s, &l, &f, &a) != 5
            || strcmp(verdict, "ok") != 0)
            failed = 1;
        printf("  node %u: %s\n", k, lines[k]);
        sent += s;
        forwarded += f;
        local += l;
    }
    vm_broadcast("stop");
    failed |= vm_finish();
    printf("c-sim: %u nodes, %" PRIu64 " IPIs in %.3f s = %.0f IPIs/s; cross-node destinations %" PRIu64 " = %.0f /s, local %" PRIu64 "\n",
           nodes, sent, elapsed, (double)sent / elapsed, forwarded, (double)forwarded / elapsed, local);
    printf("c-sim: %s\n", failed ? "CHECKS FAILED" : "every IPI reached every destination exactly once");
    return failed ? 1 : 0;
}
