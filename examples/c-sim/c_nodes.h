/* c-sim --nodes N: see c_nodes.c. */
#ifndef C_NODES_H
#define C_NODES_H

#include <stdint.h>
#include <stdio.h>

#include "vm_nodes.h"

/* 1 if the multi-node options are valid (prints the usage on stderr if not). */
int c_nodes_options_ok(int argc, char **argv, uint32_t nodes);

/* Parent: runs the N-node VM and returns the exit code (0 only if every node's checks passed). */
int c_nodes_run(int argc, char **argv, uint32_t nodes);

/* One node's body (the parent runs node 0 with it; children run theirs through vm_child). */
int c_nodes_node(const vm_node_args_t *args, FILE *in, FILE *out);

#endif
