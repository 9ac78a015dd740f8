/* vm_nodes: see vm_nodes.h. */
#include "vm_nodes.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The examples' pre-shared key. A real VM reads its key from a file every node's host was given. */
static const uint8_t demo_key[32] = { 0x49, 0x50, 0x49, 0x20, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x20, 0x6b, 0x65, 0x79, 0x21,
                                      0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef };

typedef struct vm_peer_process {
    FILE *to;          /* the node's input */
    FILE *from;        /* the node's output */
    pid_t pid;         /* 0 for node 0 (a thread) */
} vm_peer_process_t;

static vm_peer_process_t g_nodes[VM_MAX_NODES];
static uint32_t g_node_count;
static pthread_t g_node0_thread;
static int g_node0_started;
static int g_node0_exit;
static vm_node_args_t g_node0_args;
static FILE *g_node0_in, *g_node0_out;
static vm_node_main_fn g_node0_main;

void vm_die(const char *what, int32_t status)
{
    char detail[512];
    ipi_last_error(detail, sizeof detail);
    fprintf(stderr, "%s failed: %s (%d): %s\n", what, ipi_strerror(status), (int)status, detail);
    exit(2);
}

double vm_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void sleep_ms(long ms)
{
    struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&t, NULL);
}

static int parse_ports(const char *list, uint32_t self, uint32_t nodes, uint32_t *ports)
{
    /* "p_{self+1},...,p_{N-1}" */
    const char *p = list;
    for (uint32_t k = self + 1; k < nodes; k++) {
        char *end;
        unsigned long port = strtoul(p, &end, 10);
        if (end == p || port == 0 || port > 65535)
            return 1;
        ports[k] = (uint32_t)port;
        p = *end == ',' ? end + 1 : end;
    }
    return 0;
}

int vm_child(int argc, char **argv, vm_node_main_fn node_main, int *exit_code)
{
    vm_node_args_t args;
    memset(&args, 0, sizeof args);
    int is_child = 0;
    const char *ports = "";
    for (int i = 1; i + 1 < argc; i++) {
        if (!strcmp(argv[i], "--node")) {
            args.self = (uint32_t)strtoul(argv[i + 1], NULL, 10);
            is_child = 1;
        } else if (!strcmp(argv[i], "--peer-ports")) {
            ports = argv[i + 1];
        } else if (!strcmp(argv[i], "--nodes")) {
            args.nodes = (uint32_t)strtoul(argv[i + 1], NULL, 10);
        }
    }
    if (!is_child)
        return 0;
    if (args.nodes < 2 || args.nodes > VM_MAX_NODES || args.self == 0 || args.self >= args.nodes
        || parse_ports(ports, args.self, args.nodes, args.ports)) {
        fprintf(stderr, "node: bad --node / --nodes / --peer-ports (internal arguments of the parent)\n");
        *exit_code = 2;
        return 1;
    }
    args.argc = argc;
    args.argv = argv;
    *exit_code = node_main(&args, stdin, stdout);
    return 1;
}

static void *node0_thread(void *unused)
{
    (void)unused;
    g_node0_exit = g_node0_main(&g_node0_args, g_node0_in, g_node0_out);
    fclose(g_node0_out); /* end of its output */
    return NULL;
}

static int read_line(FILE *from, char *line, size_t size)
{
    if (fgets(line, (int)size, from) == NULL)
        return 1;
    line[strcspn(line, "\n")] = 0;
    return 0;
}

int vm_start(uint32_t nodes, int argc, char **argv, vm_node_main_fn node_main)
{
    uint32_t ports[VM_MAX_NODES] = { 0 };
    g_node_count = nodes;
    signal(SIGPIPE, SIG_IGN); /* a node that died shows as a failed read, not a killed parent */
    for (uint32_t k = nodes; k-- > 0;) {
        int down[2], up[2];
        if (pipe(down) != 0 || pipe(up) != 0) {
            perror("pipe");
            return 1;
        }
        if (k == 0) {
            g_node0_args.self = 0;
            g_node0_args.nodes = nodes;
            memcpy(g_node0_args.ports, ports, sizeof ports);
            g_node0_args.argc = argc;
            g_node0_args.argv = argv;
            g_node0_in = fdopen(down[0], "r");
            g_node0_out = fdopen(up[1], "w");
            g_node0_main = node_main;
            g_nodes[0].pid = 0;
            if (pthread_create(&g_node0_thread, NULL, node0_thread, NULL) != 0)
                return 1;
            g_node0_started = 1;
        } else {
            char port_list[VM_MAX_NODES * 16] = "";
            for (uint32_t j = k + 1; j < nodes; j++) {
                char one[16];
                snprintf(one, sizeof one, "%s%u", j == k + 1 ? "" : ",", ports[j]);
                strcat(port_list, one);
            }
            char node_arg[16];
            snprintf(node_arg, sizeof node_arg, "%u", k);
            char nodes_arg[16];
            snprintf(nodes_arg, sizeof nodes_arg, "%u", nodes);
            char **child_argv = calloc((size_t)argc + 7, sizeof *child_argv);
            if (child_argv == NULL)
                return 1;
            for (int i = 0; i < argc; i++)
                child_argv[i] = argv[i];
            child_argv[argc] = "--node";
            child_argv[argc + 1] = node_arg;
            child_argv[argc + 2] = "--peer-ports";
            child_argv[argc + 3] = k + 1 < nodes ? port_list : "";
            child_argv[argc + 4] = "--nodes";
            child_argv[argc + 5] = nodes_arg;
            pid_t pid = fork();
            if (pid < 0) {
                perror("fork");
                return 1;
            }
            if (pid == 0) {
                dup2(down[0], 0);
                dup2(up[1], 1);
                for (uint32_t j = k; j < nodes; j++) { /* no child holds another node's pipes open */
                    if (g_nodes[j].to != NULL) {
                        close(fileno(g_nodes[j].to));
                        close(fileno(g_nodes[j].from));
                    }
                }
                close(down[0]); close(down[1]); close(up[0]); close(up[1]);
                execv("/proc/self/exe", child_argv);
                perror("execv /proc/self/exe");
                _exit(2);
            }
            free(child_argv);
            g_nodes[k].pid = pid;
            close(down[0]);
            close(up[1]);
        }
        g_nodes[k].to = fdopen(down[1], "w");
        g_nodes[k].from = fdopen(up[0], "r");
        char line[512];
        if (read_line(g_nodes[k].from, line, sizeof line) || sscanf(line, "port %u", &ports[k]) != 1) {
            fprintf(stderr, "node %u did not start (said \"%s\")\n", k, line);
            return 1;
        }
    }
    return 0;
}

int vm_gather(const char *prefix, char lines[][512])
{
    int failed = 0;
    for (uint32_t k = 0; k < g_node_count; k++) {
        if (read_line(g_nodes[k].from, lines[k], 512)) {
            fprintf(stderr, "node %u ended before \"%s\"\n", k, prefix);
            lines[k][0] = 0;
            failed = 1;
        } else if (strncmp(lines[k], prefix, strlen(prefix)) != 0) {
            fprintf(stderr, "node %u said \"%s\", expected \"%s\"\n", k, lines[k], prefix);
            failed = 1;
        }
    }
    return failed;
}

void vm_broadcast(const char *command)
{
    for (uint32_t k = 0; k < g_node_count; k++) {
        fprintf(g_nodes[k].to, "%s\n", command);
        fflush(g_nodes[k].to);
    }
}

int vm_finish(void)
{
    int failed = 0;
    for (uint32_t k = 0; k < g_node_count; k++) {
        if (g_nodes[k].to != NULL)
            fclose(g_nodes[k].to);
    }
    if (g_node0_started) {
        pthread_join(g_node0_thread, NULL);
        failed |= g_node0_exit != 0;
    }
    for (uint32_t k = 1; k < g_node_count; k++) {
        int status = 0;
        if (g_nodes[k].pid <= 0)
            continue;
        while (waitpid(g_nodes[k].pid, &status, 0) < 0 && errno == EINTR) {
        }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "node %u exited with %d\n", k, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
            failed = 1;
        }
    }
    for (uint32_t k = 0; k < g_node_count; k++) {
        if (g_nodes[k].from != NULL)
            fclose(g_nodes[k].from);
    }
    return failed;
}

int vm_expect(FILE *in, const char *command)
{
    char line[512];
    while (!read_line(in, line, sizeof line)) {
        if (!strncmp(line, command, strlen(command)))
            return 0;
    }
    return 1;
}

int32_t vm_create_node(const vm_node_args_t *args, const ipi_config_t *config, ipi_node_config_t *node,
                       const uint32_t *placement, ipi_engine_t *engine, FILE *out)
{
    ipi_peer_t peers[VM_MAX_NODES];
    uint32_t count = 0;
    for (uint32_t k = 0; k < args->nodes; k++) {
        if (k == args->self)
            continue;
        peers[count].node = k;
        peers[count].port = k > args->self ? args->ports[k] : 0;  /* this node dials the higher ids */
        peers[count].host = k > args->self ? "127.0.0.1" : NULL;
        count++;
    }
    node->struct_size = sizeof *node;
    node->node_id = args->self;
    node->placement = placement;
    node->placement_count = config->vcpu_count;
    node->peers = peers;
    node->peer_count = count;
    node->key = demo_key;
    node->key_length = sizeof demo_key;
    node->listen_host = "127.0.0.1";
    node->listen_port = 0; /* ephemeral: told to the orchestrator */
    int32_t status = ipi_node_create(config, node, engine);
    if (status != IPI_OK)
        return status;
    if ((status = ipi_engine_start(*engine)) != IPI_OK)
        return status;
    uint32_t port = 0;
    if ((status = ipi_node_port(*engine, &port)) != IPI_OK)
        return status;
    fprintf(out, "port %u\n", port);
    fflush(out);
    return IPI_OK;
}

static int links_satisfy(ipi_engine_t engine, const vm_node_args_t *args, int want_acknowledged)
{
    for (uint32_t k = 0; k < args->nodes; k++) {
        if (k == args->self)
            continue;
        ipi_link_t link;
        memset(&link, 0, sizeof link);
        link.struct_size = sizeof link;
        int32_t status = ipi_node_link(engine, k, &link);
        if (status != IPI_OK)
            vm_die("ipi_node_link", status);
        if (want_acknowledged ? link.acknowledged != link.forwarded : link.state != IPI_LINK_CONNECTED)
            return 0;
    }
    return 1;
}

static int wait_links(ipi_engine_t engine, const vm_node_args_t *args, double timeout_s, int want_acknowledged)
{
    double deadline = vm_now() + timeout_s;
    while (!links_satisfy(engine, args, want_acknowledged)) {
        if (vm_now() > deadline)
            return 1;
        sleep_ms(2);
    }
    return 0;
}

int vm_wait_links(ipi_engine_t engine, const vm_node_args_t *args, double timeout_s)
{
    return wait_links(engine, args, timeout_s, 0);
}

int vm_wait_acknowledged(ipi_engine_t engine, const vm_node_args_t *args, double timeout_s)
{
    return wait_links(engine, args, timeout_s, 1);
}

int vm_ready(ipi_engine_t engine, const vm_node_args_t *args, FILE *in, FILE *out)
{
    if (vm_wait_links(engine, args, 60)) {
        fprintf(out, "failed: links did not come up within 60 s\n");
        fflush(out);
        return 1;
    }
    fprintf(out, "ready\n");
    fflush(out);
    return vm_expect(in, "go");
}

void vm_halt(pthread_mutex_t *lock, pthread_cond_t *kicked_cond, int *kicked)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_nsec += 1000000;
    if (deadline.tv_nsec >= 1000000000) {
        deadline.tv_sec += 1;
        deadline.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(lock);
    while (!*kicked) {
        if (pthread_cond_timedwait(kicked_cond, lock, &deadline) != 0)
            break;
    }
    *kicked = 0;
    pthread_mutex_unlock(lock);
}
