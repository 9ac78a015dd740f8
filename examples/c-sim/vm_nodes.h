/*
 * vm_nodes: the plumbing of a multi-node VM on one machine, for the examples that run one (c-sim --nodes, c-trace-nodes).
 * The parent process is node 0 and the orchestrator; nodes 1..N-1 are child processes of the same binary (fork + exec of
 * /proc/self/exe with the parent's arguments plus --node K --peer-ports LIST). Each node talks to the orchestrator in
 * lines: it prints "port P" once it listens, then whatever its mode's protocol says ("ready", "result ...", ...), and
 * reads the orchestrator's commands ("go", "stop") from its input. Node 0 runs on a thread of the parent with pipes of its
 * own, so every node speaks the same protocol. A node dials the nodes with a higher id, so they are started first,
 * from N-1 down, each told the ports of the ones before it.
 */
#ifndef VM_NODES_H
#define VM_NODES_H

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#include "ipi_engine.h"

#define VM_MAX_NODES 16u

/* One node's view of its VM. */
typedef struct vm_node_args {
    uint32_t self;                    /* this node's id */
    uint32_t nodes;                   /* nodes in the VM */
    uint32_t ports[VM_MAX_NODES];     /* listen ports of the nodes above self (0 for the others) */
    int argc;                         /* the program's own arguments (mode options) */
    char **argv;
} vm_node_args_t;

/* A node's body: reads commands from `in`, writes lines to `out` (flushed), returns its exit code. */
typedef int (*vm_node_main_fn)(const vm_node_args_t *args, FILE *in, FILE *out);

/* If argv has --node K (a child), runs that node on stdin/stdout and returns its exit code in *exit_code (returns 1);
 * else returns 0 and the caller is the parent. */
int vm_child(int argc, char **argv, vm_node_main_fn node_main, int *exit_code);

/* Parent: starts nodes N-1..1 as children and node 0 on a thread; returns 0 once every node printed its port. */
int vm_start(uint32_t nodes, int argc, char **argv, vm_node_main_fn node_main);

/* Parent: reads one line from every node; each must start with `prefix` (else an error, 1). Lines go into lines[k]. */
int vm_gather(const char *prefix, char lines[][512]);

/* Parent: writes `command` and a newline to every node. */
void vm_broadcast(const char *command);

/* Parent: closes every node's input (end of input means stop), waits for them; returns 0 if all exited 0. */
int vm_finish(void);

/* Node: reads lines until one starting with `command`; 0 on it, 1 at end of input. */
int vm_expect(FILE *in, const char *command);

/* Node: creates this node's engine (x2APIC physical, loopback, the examples' demo key) with vCPU v on placement[v],
 * and starts it; prints "port P" on out. */
int32_t vm_create_node(const vm_node_args_t *args, const ipi_config_t *config, ipi_node_config_t *node,
                       const uint32_t *placement, ipi_engine_t *engine, FILE *out);

/* Node: waits (up to timeout_s) until every link is connected; 0 when they are. */
int vm_wait_links(ipi_engine_t engine, const vm_node_args_t *args, double timeout_s);

/* Node: waits (up to timeout_s) until every link's forwarded records are acknowledged; 0 when they are. */
int vm_wait_acknowledged(ipi_engine_t engine, const vm_node_args_t *args, double timeout_s);

/* Node: waits for every link (60 s), says "ready" on out and waits for "go" on in; 0 then, 1 on a timeout or a
 * missing "go" (the failure is written to out). */
int vm_ready(ipi_engine_t engine, const vm_node_args_t *args, FILE *in, FILE *out);

/* HLT: sleeps until *kicked is set under lock (the kick callback signals kicked_cond), or 1 ms passed (a real VMM
 * also wakes on timers); clears *kicked. */
void vm_halt(pthread_mutex_t *lock, pthread_cond_t *kicked_cond, int *kicked);

/* Prints the failed call, its status and ipi_last_error's sentence on stderr, and exits 2. */
void vm_die(const char *what, int32_t status);

/* Monotonic seconds. */
double vm_now(void);

#endif
