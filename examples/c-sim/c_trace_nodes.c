/*
 * c-trace-nodes: replays a recorded trace (traces/NAME.{vcpus,exits,deliveries}.csv) over a VM of C nodes (default 2;
 * vm_nodes.h: node 0 in this process, the others child processes on loopback), vCPU v on node v % N, and compares
 * what was delivered with the trace's reference deliveries.
 *
 * Each node walks the exits in order and posts the rows of its own vCPUs (ipi_post), one at a time: after each it waits
 * until the engine has resolved and delivered it, then takes every local vCPU's pending interrupts, so each local
 * delivery is attributed to its row and compared with that row's reference destinations on this node, exactly. IPIs for
 * vCPUs on another node are forwarded by the engine and arrive there through the KVM_DSM_IPI injector (ipi_inject_fn);
 * a link delivers in order, so each node compares the records from each peer, in order, with the reference deliveries
 * that peer's rows make to this node. Topology rows are where the nodes meet: every node stops at the row, the node of
 * the writing vCPU applies it with ipi_topology_write (which returns once every node applied it: the VM-wide order), and
 * all go on together. Exits 0 only if every node matched the reference exactly.
 *
 * usage: c-trace-nodes --trace traces/x2apic-phys-smp8 [--nodes N]
 */
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "vm_nodes.h"

#define MAX_VCPUS 256u
#define MAX_PEERS VM_MAX_NODES

typedef struct trace_row { uint32_t seq, src, reg; uint64_t value; uint32_t dest_id; } trace_row_t;

/* One delivery as both sides can see it: target vCPU, delivery-mode class and vector (0 where the pending flags carry none). */
typedef struct delivery { uint32_t seq, target, mode, vector; } delivery_t;

enum { MODE_FIXED = 0, MODE_SMI = 2, MODE_NMI = 4, MODE_INIT = 5, MODE_SIPI = 6 };

typedef struct growable { delivery_t *items; size_t count, capacity; } growable_t;

static void push(growable_t *list, delivery_t d)
{
    if (list->count == list->capacity) {
        list->capacity = list->capacity ? list->capacity * 2 : 1024;
        list->items = realloc(list->items, list->capacity * sizeof *list->items);
        if (list->items == NULL)
            exit(2);
    }
    list->items[list->count++] = d;
}

typedef struct trace_node {
    uint32_t self, nodes, vcpus;
    uint32_t placement[MAX_VCPUS];
    uint32_t apic_ids[MAX_VCPUS];
    trace_row_t *rows;
    size_t row_count;
    growable_t expected_local, expected_from[MAX_PEERS], local, from[MAX_PEERS];
    pthread_mutex_t arrivals_lock;
    uint64_t misrouted;
} trace_node_t;

static int is_topology_register(uint32_t reg)
{
    return reg == 0x020 || reg == 0x0D0 || reg == 0x0E0 || reg == 0x0F0 || reg == 0x80F || reg == 0x01B;
}

/* The mode as compared: lowest priority counts as fixed (both land in the vectors); INIT, NMI, SMI carry no vector. */
static delivery_t normalized(uint32_t seq, uint32_t target, uint32_t mode, uint32_t vector)
{
    if (mode == 1)
        mode = MODE_FIXED;
    delivery_t d = { seq, target, mode, mode == MODE_FIXED || mode == MODE_SIPI ? vector : 0 };
    return d;
}

/* Forwarded IPIs, as KVM_DSM_IPI records: appended in arrival order to the list of the node that sent them. */
static void on_inject(void *context, const ipi_injection_t *records, uint32_t count)
{
    trace_node_t *node = context;
    pthread_mutex_lock(&node->arrivals_lock);
    for (uint32_t i = 0; i < count; i++) {
        uint32_t target = records[i].target_vcpu;
        /* The record does not name its sender: with 2 nodes it is the other one; with more, the trace's source is
         * unknown here, so arrivals are pooled under peer 0 and compared as a merged list (see compare below). */
        uint32_t from = node->nodes == 2 ? 1 - node->self : 0;
        if (target >= node->vcpus || node->placement[target] != node->self)
            node->misrouted++;
        else
            push(&node->from[from], normalized(0, target, (records[i].icr_low >> 8) & 7, records[i].icr_low & 0xFF));
    }
    pthread_mutex_unlock(&node->arrivals_lock);
}

static FILE *open_part(const char *trace, const char *part)
{
    char path[1024];
    snprintf(path, sizeof path, "%s.%s.csv", trace, part);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        fprintf(stderr, "c-trace-nodes: cannot open %s\n", path);
    return f;
}

static int load(trace_node_t *node, const char *trace)
{
    char line[4096];
    FILE *f = open_part(trace, "vcpus");
    if (f == NULL)
        return 1;
    if (fgets(line, sizeof line, f) == NULL) { /* header */
        fclose(f);
        return 1;
    }
    while (fgets(line, sizeof line, f) && node->vcpus < MAX_VCPUS) {
        unsigned v, id;
        if (sscanf(line, "%u,%x", &v, &id) == 2 && v == node->vcpus)
            node->apic_ids[node->vcpus++] = id;
    }
    fclose(f);
    if ((f = open_part(trace, "exits")) == NULL)
        return 1;
    size_t capacity = 0;
    if (fgets(line, sizeof line, f) == NULL) { /* header */
        fclose(f);
        return 1;
    }
    while (fgets(line, sizeof line, f)) {
        trace_row_t r;
        if (sscanf(line, "%u,%u,%x,%" SCNx64 ",%x", &r.seq, &r.src, &r.reg, &r.value, &r.dest_id) != 5)
            continue;
        if (node->row_count == capacity) {
            capacity = capacity ? capacity * 2 : 4096;
            if ((node->rows = realloc(node->rows, capacity * sizeof *node->rows)) == NULL)
                return 1;
        }
        node->rows[node->row_count++] = r;
    }
    fclose(f);
    if ((f = open_part(trace, "deliveries")) == NULL)
        return 1;
    if (fgets(line, sizeof line, f) == NULL) { /* header */
        fclose(f);
        return 1;
    }
    while (fgets(line, sizeof line, f)) {
        unsigned seq, src, vector;
        char mode_name[32];
        int used = 0;
        if (sscanf(line, "%u,%u,%31[^,],%x,%n", &seq, &src, mode_name, &vector, &used) != 4 || src >= node->vcpus)
            continue;
        uint32_t mode = !strcmp(mode_name, "LOWPRI") ? 1 : !strcmp(mode_name, "SMI") ? MODE_SMI : !strcmp(mode_name, "NMI") ? MODE_NMI
                      : !strcmp(mode_name, "INIT") ? MODE_INIT : !strcmp(mode_name, "SIPI") ? MODE_SIPI : MODE_FIXED;
        for (char *p = line + used; *p && *p != '\n';) {
            char *end;
            unsigned long dest = strtoul(p, &end, 10);
            if (end == p)
                break;
            if (dest < node->vcpus && node->placement[dest] == node->self) {
                delivery_t d = normalized(seq, (uint32_t)dest, mode, vector);
                if (node->placement[src] == node->self)
                    push(&node->expected_local, d);
                else
                    push(&node->expected_from[node->nodes == 2 ? 1 - node->self : 0], d);
            }
            p = *end == '|' ? end + 1 : end;
        }
    }
    fclose(f);
    return 0;
}

/* Waits until everything posted is resolved and every resolved destination delivered, forwarded, served or (after a
 * pipeline fault) counted undelivered, in which case the comparison with the reference fails. */
static void wait_settled(ipi_engine_t engine)
{
    for (;;) {
        ipi_counters_t c;
        memset(&c, 0, sizeof c);
        c.struct_size = sizeof c;
        int32_t status = ipi_counters(engine, &c);
        if (status != IPI_OK)
            vm_die("ipi_counters", status);
        if (c.posted == c.latched + (c.topology_writes - c.peer_topology_writes) + c.ipis_resolved + c.rejected
            && c.destinations_resolved == c.delivered + c.coalesced + c.forwarded + c.served_by_host + c.peer_unreachable
                                        + c.undelivered)
            return;
        sched_yield();
    }
}

/* Takes every local vCPU's pending interrupts: the deliveries of row `seq`. */
static void take_local(trace_node_t *node, ipi_engine_t engine, uint32_t seq)
{
    for (uint32_t v = node->self; v < node->vcpus; v += node->nodes) {
        ipi_pending_t p;
        int32_t taken = ipi_take_pending(engine, v, &p);
        if (taken < 0)
            vm_die("ipi_take_pending", taken);
        if (taken == 0)
            continue;
        for (uint32_t vector = 0; vector < 256; vector++) {
            if (p.vectors[vector / 64] >> (vector % 64) & 1)
                push(&node->local, normalized(seq, v, MODE_FIXED, vector));
        }
        if (p.flags & IPI_PENDING_NMI)
            push(&node->local, normalized(seq, v, MODE_NMI, 0));
        if (p.flags & IPI_PENDING_SMI)
            push(&node->local, normalized(seq, v, MODE_SMI, 0));
        if (p.flags & IPI_PENDING_INIT)
            push(&node->local, normalized(seq, v, MODE_INIT, 0));
        if (p.flags & IPI_PENDING_SIPI)
            push(&node->local, normalized(seq, v, MODE_SIPI, p.sipi_vector));
    }
}

static int compare_delivery(const void *a, const void *b)
{
    const delivery_t *x = a, *y = b;
    if (x->seq != y->seq) return x->seq < y->seq ? -1 : 1;
    if (x->target != y->target) return x->target < y->target ? -1 : 1;
    if (x->mode != y->mode) return x->mode < y->mode ? -1 : 1;
    return x->vector < y->vector ? -1 : x->vector > y->vector;
}

/* Compares two lists; `with_seq` 0 ignores the row (arrivals do not carry it). Returns the number of differences. */
static uint64_t differences(const char *what, uint32_t self, growable_t *want, growable_t *got, int sorted_per_row)
{
    if (sorted_per_row) {
        qsort(want->items, want->count, sizeof *want->items, compare_delivery);
        qsort(got->items, got->count, sizeof *got->items, compare_delivery);
    }
    uint64_t diff = want->count > got->count ? want->count - got->count : got->count - want->count;
    size_t n = want->count < got->count ? want->count : got->count;
    for (size_t i = 0; i < n; i++) {
        const delivery_t *w = &want->items[i], *g = &got->items[i];
        if (w->target != g->target || w->mode != g->mode || w->vector != g->vector || (sorted_per_row && w->seq != g->seq)) {
            if (diff == 0)
                fprintf(stderr, "node %u: %s #%zu: reference seq %u -> vCPU %u mode %u vector %#x, got vCPU %u mode %u vector %#x\n",
                        self, what, i, w->seq, w->target, w->mode, w->vector, g->target, g->mode, g->vector);
            diff++;
        }
    }
    if (want->count != got->count)
        fprintf(stderr, "node %u: %s: reference %zu deliveries, got %zu\n", self, what, want->count, got->count);
    return diff;
}

static int trace_node_main(const vm_node_args_t *args, FILE *in, FILE *out)
{
    static trace_node_t node; /* large; one per process (node 0's thread in the parent) */
    memset(&node, 0, sizeof node);
    node.self = args->self;
    node.nodes = args->nodes;
    pthread_mutex_init(&node.arrivals_lock, NULL);
    const char *trace = NULL;
    for (int i = 1; i + 1 < args->argc; i++) {
        if (!strcmp(args->argv[i], "--trace"))
            trace = args->argv[i + 1];
    }
    /* The placement needs the vCPU count: read it first, then the rest with the placement known. */
    for (uint32_t v = 0; v < MAX_VCPUS; v++)
        node.placement[v] = v % node.nodes;
    if (trace == NULL || load(&node, trace) || node.vcpus < node.nodes) {
        fprintf(stderr, "node %u: cannot load the trace (or it has fewer vCPUs than nodes)\n", node.self);
        fprintf(out, "port 0\n");
        fflush(out);
        return 2;
    }

    ipi_config_t config;
    memset(&config, 0, sizeof config);
    config.struct_size = sizeof config;
    config.vcpu_count = node.vcpus;
    config.topology = IPI_TOPOLOGY_RESET;
    config.apic_ids = node.apic_ids;
    config.apic_id_count = node.vcpus;
    ipi_node_config_t node_config;
    memset(&node_config, 0, sizeof node_config);
    node_config.inject = on_inject;
    node_config.inject_context = &node;
    node_config.queue_records = 1u << 16;
    ipi_engine_t engine;
    int32_t status = vm_create_node(args, &config, &node_config, node.placement, &engine, out);
    if (status != IPI_OK)
        vm_die("creating the node", status);
    if (vm_ready(engine, args, in, out))
        return 1;

    for (size_t i = 0; i < node.row_count; i++) {
        const trace_row_t *r = &node.rows[i];
        if (r->src >= node.vcpus)
            continue;
        if (is_topology_register(r->reg)) {
            /* Every node meets here; the writer's node applies the write VM-wide; all go on once it has. */
            fprintf(out, "at %u\n", r->seq);
            fflush(out);
            if (vm_expect(in, "go"))
                return 1;
            if (node.placement[r->src] == node.self && (status = ipi_topology_write(engine, r->src, r->reg, r->value)) != IPI_OK)
                vm_die("ipi_topology_write", status);
            fprintf(out, "after %u\n", r->seq);
            fflush(out);
            if (vm_expect(in, "go"))
                return 1;
            continue;
        }
        if (node.placement[r->src] != node.self)
            continue;
        ipi_exit_t record = { .src_vcpu = r->src, .reg = r->reg, .value = r->value, .dest_id = r->dest_id, .reserved = 0, .tag = r->seq };
        if ((status = ipi_post(engine, &record)) != IPI_OK)
            vm_die("ipi_post", status);
        wait_settled(engine);
        take_local(&node, engine, r->seq);
    }
    if ((status = ipi_engine_stop(engine)) != IPI_OK)
        vm_die("ipi_engine_stop", status);
    if (vm_wait_acknowledged(engine, args, 60))
        fprintf(stderr, "node %u: forwarded records not all acknowledged within 60 s\n", node.self);
    /* Wait for the arrivals the reference promises (bounded). */
    size_t promised = 0;
    for (uint32_t k = 0; k < MAX_PEERS; k++)
        promised += node.expected_from[k].count;
    double deadline = vm_now() + 60;
    for (;;) {
        pthread_mutex_lock(&node.arrivals_lock);
        size_t arrived = 0;
        for (uint32_t k = 0; k < MAX_PEERS; k++)
            arrived += node.from[k].count;
        pthread_mutex_unlock(&node.arrivals_lock);
        if (arrived >= promised || vm_now() > deadline)
            break;
        sched_yield();
    }
    fprintf(out, "done\n"); /* every node has what it will get: only now is a late extra arrival ruled out */
    fflush(out);
    if (vm_expect(in, "check"))
        return 1;

    pthread_mutex_lock(&node.arrivals_lock);
    uint64_t diff = differences("local", node.self, &node.expected_local, &node.local, 1);
    size_t arrived = 0;
    for (uint32_t k = 0; k < MAX_PEERS; k++) {
        /* With 2 nodes the peer's arrivals keep the peer's row order: compared in order. With more, rows of several
         * peers interleave by link timing, so the pooled list is compared as a multiset (sorted, seq ignored). */
        if (node.nodes > 2) {
            for (size_t i = 0; i < node.expected_from[k].count; i++)
                node.expected_from[k].items[i].seq = 0;
        }
        diff += differences("arrivals", node.self, &node.expected_from[k], &node.from[k], node.nodes > 2);
        arrived += node.from[k].count;
    }
    diff += node.misrouted;
    pthread_mutex_unlock(&node.arrivals_lock);
    fprintf(out, "result %s local=%zu arrived=%zu differences=%" PRIu64 "\n", diff == 0 ? "ok" : "FAILED", node.local.count, arrived, diff);
    fflush(out);
    vm_expect(in, "stop");
    if ((status = ipi_engine_destroy(engine)) != IPI_OK)
        vm_die("ipi_engine_destroy", status);
    return diff == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    int node_exit;
    if (vm_child(argc, argv, trace_node_main, &node_exit))
        return node_exit;
    uint32_t nodes = 2;
    const char *trace = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--nodes") && i + 1 < argc)
            nodes = (uint32_t)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--trace") && i + 1 < argc)
            trace = argv[++i];
        else
            trace = NULL, i = argc;
    }
    if (trace == NULL || nodes < 2 || nodes > VM_MAX_NODES) {
        fprintf(stderr, "usage: c-trace-nodes --trace DIR/NAME (NAME.vcpus.csv, NAME.exits.csv, NAME.deliveries.csv) [--nodes 2..%u]\n", VM_MAX_NODES);
        return 2;
    }
    static char lines[VM_MAX_NODES][512];
    if (vm_start(nodes, argc, argv, trace_node_main)) {
        vm_finish();
        return 1;
    }
    int failed = vm_gather("ready", lines);
    vm_broadcast(failed ? "stop" : "go");
    double start = vm_now();
    uint32_t barriers = 0;
    while (!failed) {
        failed |= vm_gather("", lines);
        if (failed || strncmp(lines[0], "at ", 3) != 0)
            break;
        for (uint32_t k = 1; k < nodes; k++)
            failed |= strcmp(lines[k], lines[0]) != 0; /* every node at the same row */
        vm_broadcast("go");
        failed |= vm_gather("after", lines);
        vm_broadcast("go");
        barriers++;
    }
    for (uint32_t k = 0; k < nodes && !failed; k++)
        failed |= strcmp(lines[k], "done") != 0;
    vm_broadcast("check");
    failed |= vm_gather("result", lines);
    for (uint32_t k = 0; k < nodes; k++) {
        printf("  node %u: %s\n", k, lines[k]);
        failed |= strncmp(lines[k], "result ok", 9) != 0;
    }
    vm_broadcast("stop");
    failed |= vm_finish();
    printf("c-trace-nodes: %s over %u nodes, %u topology rows met, %.3f s: %s\n", trace, nodes, barriers, vm_now() - start,
           failed ? "DIFFERS from the reference" : "every delivery matches the reference");
    return failed ? 1 : 0;
}
