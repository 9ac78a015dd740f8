/*
 * ipi_engine.h - the C ABI of IpiEngine, a lock-free engine that resolves x86 inter-processor
 * interrupts (IPIs) per the Intel SDM and delivers them into per-vCPU posted-interrupt descriptors.
 *
 * Library: libipi_engine.so.1 (a NativeAOT shared library; it carries its own .NET runtime, so the
 * host needs no .NET install). Link with `pkg-config --cflags --libs ipi_engine`.
 *
 * Conventions
 *  - Every function is prefixed ipi_ and returns an int32_t status: IPI_OK (0) or a negative
 *    IPI_E_* code; ipi_strerror() names each one. Nothing ever aborts the host: null pointers,
 *    unknown or destroyed handles, out-of-range vCPUs and bad configs are reported as codes.
 *  - Only fixed-width integers, pointers and structs of them cross the boundary (no bool, no enum).
 *  - Structs a caller passes in or fills start with uint32_t struct_size = sizeof(the struct), so a
 *    later library version can append fields and still serve callers built against this header.
 *  - An engine is an opaque 64-bit handle (slot and generation): a destroyed handle is detected
 *    and refused with IPI_E_BAD_HANDLE, it is never dereferenced.
 *  - Threads: ipi_post / ipi_try_post / ipi_post_batch for one source vCPU must come from one
 *    thread at a time (each vCPU has a single-producer ring; that is a vCPU thread's natural shape).
 *    ipi_pending / ipi_take_pending (one atomic exchange per word), ipi_counters,
 *    ipi_topology_write, ipi_node_link and ipi_engine_stop may be called from any thread.
 *    ipi_engine_destroy must not race with other calls on the same engine. A node's injector runs on its
 *    transport threads and may not post (see ipi_inject_fn).
 *  - Stop: a post racing with ipi_engine_stop either returns IPI_OK and its record is delivered by the
 *    stop's drain, or returns IPI_E_STOPPED (a batch: per record, see ipi_post_batch); once
 *    ipi_engine_stop has returned every post returns IPI_E_STOPPED. Every ipi_engine_stop, also two at once, returns only when the engine is drained.
 *  - Never call into the library from a signal handler; the kick callback may run on any engine
 *    thread, concurrently with itself (see ipi_kick_fn), and must only wake the vCPU (set a flag,
 *    signal a condition variable, write an eventfd).
 *  - Register numbers are the hardware's: xAPIC MMIO offsets (0x300 ICR low fires, 0x310 ICR high
 *    latches) or x2APIC MSR numbers (0x830 ICR, 0x83F SELF IPI); topology registers likewise.
 *  - Supported platform: 64-bit Linux (LP64), checked below.
 */
#ifndef IPI_ENGINE_H
#define IPI_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#define IPI_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#define IPI_ALIGNAS(n) alignas(n)
#define IPI_ALIGNOF(t) alignof(t)
#else
#define IPI_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#define IPI_ALIGNAS(n) _Alignas(n)
#define IPI_ALIGNOF(t) _Alignof(t)
#endif

/* Version of this ABI: major in bits 31:16, minor in bits 15:0. A library with the same major and a
 * minor at least the header's serves this header; compare with ipi_abi_version() at start-up. */
#define IPI_ABI_VERSION_MAJOR 1u
#define IPI_ABI_VERSION_MINOR 13u /* 1.1: IPI_E_FAULTED; 1.2: nodes of a multi-host VM (ipi_node_*), counters appended;
                                    1.3: ipi_descriptor, ipi_vcpu_set_running, IPI_THREADING_INLINE;
                                    1.4: ipi_counters_t.undelivered, IPI_LINK_FAULT_*, ipi_node_faults,
                                    ipi_node_config_t.placement_count, ipi_config_t.apic_id_count;
                                    1.5: IPI_CONFIG_NO_ASSIST;
                                    1.6: ipi_config_t.pipeline_cpus, pipeline_cpu_count;
                                    1.7: ipi_node_send_batch_begin, _flush, _end;
                                    1.8: ipi_link_t.flush_sends and the time in each IPI_LINK_* state;
                                    1.9: IPI_LINK_FAULT_TOO_MANY_HANDSHAKES;
                                    1.10: IPI_REJECT_RESERVED_BITS_SET, ipi_counters_t.rejected_reserved_bits;
                                    1.11: IPI_LINK_FAULT_SINK_FAILED;
                                    1.12: ipi_post_batch_ex;
                                    1.13: ipi_node_faults_t.topology_write_failures_applied and
                                    rejected_handshakes, and a failed
                                    ipi_engine_start leaves the engine failed (IPI_E_FAULTED from then on) */
#define IPI_ABI_VERSION ((IPI_ABI_VERSION_MAJOR << 16) | IPI_ABI_VERSION_MINOR)

/* ---- status codes ------------------------------------------------------------------------ */
#define IPI_OK                0  /* success */
#define IPI_E_NULL_POINTER  (-1) /* a required pointer argument is NULL */
#define IPI_E_STRUCT_SIZE   (-2) /* struct_size is 0 or smaller than this ABI's first layout */
#define IPI_E_BAD_CONFIG    (-3) /* a config field is out of range (vCPU count, topology, ring capacity, ...) */
#define IPI_E_BAD_HANDLE    (-4) /* the engine handle is 0, unknown, or already destroyed */
#define IPI_E_VCPU_RANGE    (-5) /* a vCPU index is not below the engine's vCPU count */
#define IPI_E_BAD_REGISTER  (-6) /* ipi_topology_write with a register that is not a topology register */
#define IPI_E_STOPPED       (-7) /* the engine was stopped: it accepts no more records */
#define IPI_E_STATE         (-8) /* the call does not fit the engine's state (e.g. started twice) */
#define IPI_E_WOULD_BLOCK   (-9) /* the source vCPU's ring is full (ipi_try_post; ipi_post before start): nothing posted */
#define IPI_E_LIMIT        (-10) /* too many engines alive at once (IPI_MAX_ENGINES) */
#define IPI_E_NO_MEMORY    (-11) /* the engine's memory could not be allocated */
#define IPI_E_INTERNAL     (-12) /* an unexpected failure inside the library (a bug: please report it) */
#define IPI_E_FAULTED      (-13) /* the engine's pipeline failed: it accepts no more records (ipi_last_error says why) */
#define IPI_E_NETWORK      (-14) /* a node could not listen on its address (ABI 1.2; ipi_last_error says why) */
#define IPI_E_NOT_REPLICATED (-15) /* a node's topology write was not confirmed by every node in time (ABI 1.2) */

/* ---- limits and option values -------------------------------------------------------------- */
#define IPI_MAX_ENGINES   256u   /* engines alive at once in one process */
#define IPI_MAX_VCPUS   65535u   /* vCPU indices fit 16 bits in the engine's records */

/* ipi_config.topology: how the APICs are set up when the engine is created. */
#define IPI_TOPOLOGY_RESET            1u /* the SDM reset state (globally enabled, software-disabled, xAPIC,
                                            LDR 0, DFR flat) with apic_ids; the guest sets the rest through writes */
#define IPI_TOPOLOGY_XAPIC_FLAT       2u /* xAPIC logical flat, as an OS sets it up (at most 8 vCPUs) */
#define IPI_TOPOLOGY_XAPIC_CLUSTER    3u /* xAPIC logical cluster (at most 60 vCPUs) */
#define IPI_TOPOLOGY_XAPIC_PHYSICAL   4u /* xAPIC physical destinations (at most 255 vCPUs) */
#define IPI_TOPOLOGY_X2APIC_PHYSICAL  5u /* x2APIC, physical destinations */
#define IPI_TOPOLOGY_X2APIC_CLUSTER   6u /* x2APIC, logical cluster destinations */

/* ipi_config.flags */
#define IPI_CONFIG_SPARSE_IDS         0x1u /* configured topologies: give the vCPUs non-contiguous APIC IDs */
#define IPI_CONFIG_NO_POST_TIMESTAMP  0x2u /* never read the clock on a post (without it: every post of a node engine, ipi_node_create's, reads it) */
#define IPI_CONFIG_NO_ASSIST          0x4u /* fused threading: an ipi_post never delivers (or kicks) on the posting thread;
                                              it wakes the parked pipeline thread instead (ABI 1.5; a 1.4 library refuses
                                              the bit with IPI_E_BAD_CONFIG) */

/* ipi_config.threading_mode */
#define IPI_THREADING_FUSED      0u /* one pipeline thread runs every stage (best on few cores; default); while it is
                                       parked, an ipi_post resolves and delivers (and kicks) its own vCPU's records on
                                       the posting thread instead of waking it (unless IPI_CONFIG_NO_ASSIST) */
#define IPI_THREADING_PER_STAGE  1u /* one thread per stage (scales on many cores) */
#define IPI_THREADING_INLINE     2u /* no engine thread: each ipi_post resolves and delivers (and kicks) on the posting
                                       thread before it returns; deterministic; posts from several threads are
                                       serialised by a lock (ABI 1.3) */

/* ipi_config.wait_strategy: how engine threads and a waiting ipi_post wait */
#define IPI_WAIT_DEFAULT    0u /* hybrid: spins briefly, yields, then parks (behaves when threads outnumber cores) */
#define IPI_WAIT_BUSY_SPIN  1u
#define IPI_WAIT_YIELDING   2u
#define IPI_WAIT_SLEEPING   3u
#define IPI_WAIT_BLOCKING   4u

/* ipi_config.back_pressure: what ipi_post does when the source vCPU's ring is full */
#define IPI_BACK_PRESSURE_WAIT  0u /* wait for room; nothing is ever lost (default) */
#define IPI_BACK_PRESSURE_DROP  1u /* drop the record and count it as rejected (IPI_REJECT_DROPPED) */

/* ipi_pending.flags */
#define IPI_PENDING_NMI   0x1u
#define IPI_PENDING_SMI   0x2u
#define IPI_PENDING_INIT  0x4u
#define IPI_PENDING_SIPI  0x8u /* ipi_pending.sipi_vector holds the start-up vector */

/* ---- nodes of a multi-host VM (ABI 1.2) ------------------------------------------------------ */
#define IPI_MAX_NODE_ID   1023u  /* node ids go from 0 to this */
#define IPI_MAX_KEY_LENGTH 1024u /* ipi_node_config_t.key_length at most (ABI 1.4 checks it) */

/* ipi_node_config_t.flags */
#define IPI_NODE_ENCRYPT        0x1u /* encrypt frames with AES-256-GCM (every node must agree); without it frames are authenticated (AES-256-GMAC), not encrypted */
#define IPI_NODE_X2APIC_RECORDS 0x2u /* ipi_inject_fn records: ICR high is the 32-bit x2APIC destination (without it: xAPIC ICR2, destination << 24) */

/* ipi_node_config_t.local_targets: who serves the destinations that live on this node */
#define IPI_LOCAL_TARGETS_ENGINE  0u /* the engine delivers them into its descriptors (default) */
#define IPI_LOCAL_TARGETS_KERNEL  1u /* the host's kernel already did at the ICR write: counted served_by_host, only remote ones are forwarded */

/* ipi_node_config_t.full_queue: what forwarding does when a peer's outbound queue is full */
#define IPI_FULL_QUEUE_WAIT  0u /* wait for room: nothing lost (default) */
#define IPI_FULL_QUEUE_FAIL  1u /* declare the peer unreachable: its IPIs are refused and counted in peer_unreachable */

/* ipi_link_t.state */
#define IPI_LINK_DOWN            0u /* no connection and no attempt running */
#define IPI_LINK_RECONNECTING    1u /* a connection is being made or authenticated */
#define IPI_LINK_CONNECTED       2u /* authenticated, and the peer's queue has room */
#define IPI_LINK_BACK_PRESSURED  3u /* authenticated, but the peer's queue is full */

/* ipi_link_t.last_fault: why a link's last connection closed or was refused (ABI 1.4 names them; the values are those
 * of the Goodbye frame's reason, docs/wire-format.md "Close reasons", and never change). */
#define IPI_LINK_FAULT_NONE                      0u /* no fault yet */
#define IPI_LINK_FAULT_SHUTDOWN                  1u /* the node is shutting down */
#define IPI_LINK_FAULT_CONNECTION_LOST           2u /* the peer or the network closed the connection */
#define IPI_LINK_FAULT_BAD_MAGIC                 3u /* a frame did not start with the magic number */
#define IPI_LINK_FAULT_UNSUPPORTED_VERSION       4u /* the peer speaks another protocol version */
#define IPI_LINK_FAULT_UNKNOWN_FRAME_KIND        5u /* a frame kind this version does not define */
#define IPI_LINK_FAULT_RESERVED_BITS_SET         6u /* reserved header bits were set */
#define IPI_LINK_FAULT_LENGTH_OUT_OF_BOUNDS      7u /* a payload length or record count past the bound */
#define IPI_LINK_FAULT_TRUNCATED_FRAME           8u /* the stream ended inside a frame */
#define IPI_LINK_FAULT_UNEXPECTED_FRAME          9u /* a frame not allowed at that point of the conversation */
#define IPI_LINK_FAULT_UNKNOWN_NODE             10u /* the peer claimed a node id this node does not expect */
#define IPI_LINK_FAULT_WRONG_KEY                11u /* the peer could not prove it holds the pre-shared key */
#define IPI_LINK_FAULT_RECORD_OUTSIDE_PLACEMENT 12u /* a record named a vCPU not placed where the link says */
#define IPI_LINK_FAULT_SEQUENCE_GAP             13u /* a delivery frame started past the next expected sequence */
#define IPI_LINK_FAULT_BAD_ACKNOWLEDGEMENT      14u /* an acknowledgement covered records its connection had not sent */
#define IPI_LINK_FAULT_PEER_SILENT              15u /* nothing heard from the peer for longer than the silence timeout */
#define IPI_LINK_FAULT_HANDSHAKE_TIMEOUT        16u /* the handshake did not finish in time */
#define IPI_LINK_FAULT_REPLACED                 17u /* a newer connection from the same peer replaced this one */
#define IPI_LINK_FAULT_TOPOLOGY_MISMATCH        18u /* the nodes disagree on the VM's topology (digests, or a replayed write) */
#define IPI_LINK_FAULT_BAD_MAC                  19u /* a frame failed authentication; nothing from it was applied */
#define IPI_LINK_FAULT_PROTECTION_MISMATCH      20u /* the peers disagree on IPI_NODE_ENCRYPT */
#define IPI_LINK_FAULT_TOO_MANY_HANDSHAKES      21u /* 64 accepted connections were still authenticating: closed unheard (ABI 1.9) */
#define IPI_LINK_FAULT_SINK_FAILED              22u /* this node's sink threw on a frame (a C# host's injector or its own sink;
                                                      never a C injector, which may not throw): nothing of it counts as applied
                                                      but what went through before the throw, and the peer resends the rest
                                                      after a redial with backoff (ABI 1.11) */
#define IPI_LINK_FAULTS                         32u /* length of ipi_node_faults_t.link_faults (room for later reasons) */

/* Index into ipi_node_faults_t.topology_write_failures: why a topology write of this node failed (ABI 1.4). */
#define IPI_TOPOLOGY_WRITE_NOT_ORDERED    0u /* the sequencer (the lowest node id) did not order it in time: its link was down or refused, or it was recovering;
                                               or it ordered it but this node had not taken it yet (it may still be applied everywhere) */
#define IPI_TOPOLOGY_WRITE_NOT_CONFIRMED  1u /* ordered and taken here (kept by any recovery), but some node did not confirm it in time */
#define IPI_TOPOLOGY_WRITE_STOPPED        2u /* the node stopped while the write was in flight */
#define IPI_TOPOLOGY_WRITE_FAILURES       4u /* length of ipi_node_faults_t.topology_write_failures */

/* ipi_pi_desc_t.control (descriptor bits 319:256, as VT-x and VT-d define them) */
#define IPI_PI_ON               0x1ull /* bit 256, outstanding notification: set with the kick, cleared by the take */
#define IPI_PI_SN               0x2ull /* bit 257, suppress notification: the vCPU runs (ipi_vcpu_set_running) */
#define IPI_PI_NV_SHIFT         16     /* bits 279:272, notification vector (the engine leaves it 0) */
#define IPI_PI_NDST_SHIFT       32     /* bits 319:288, notification destination (the engine leaves it 0) */

/* ipi_pi_desc_t.events: the engine's NMI/SMI/INIT/SIPI state, in bytes the hardware reserves. The bits are the
 * IPI_PENDING_* flags; bits 15:8 hold the pending SIPI's vector. */
#define IPI_PI_EVENTS_SIPI_VECTOR_SHIFT 8

/* Index into ipi_counters.rejected_by_reason: why a posted record produced no IPI. */
#define IPI_REJECT_UNKNOWN_SOURCE          1u
#define IPI_REJECT_UNKNOWN_REGISTER        2u
#define IPI_REJECT_RESERVED_DELIVERY_MODE  3u
#define IPI_REJECT_ILLEGAL_VECTOR          4u /* fixed / lowest priority with a vector below 16 */
#define IPI_REJECT_INVALID_SHORTHAND       5u
#define IPI_REJECT_WRONG_APIC_MODE         6u /* xAPIC register in x2APIC mode or the reverse */
#define IPI_REJECT_SOURCE_DISABLED         7u /* the source APIC is globally disabled */
#define IPI_REJECT_DROPPED                 8u /* ring full under IPI_BACK_PRESSURE_DROP */
#define IPI_REJECT_INVALID_REMOTE_DESTINATION 9u /* a forwarded delivery named no local vCPU: counted in remote_rejected, not here */
#define IPI_REJECT_ENGINE_FAULTED         10u /* posted before the pipeline failed, never resolved (ABI 1.1) */
#define IPI_REJECT_NOT_AN_MSI_ADDRESS     11u /* an MSI whose address is outside 0xFEExxxxx (ABI 1.4) */
#define IPI_REJECT_INVALID_HYPERCALL      12u /* KVM_HC_SEND_IPI with a logical destination or a shorthand in a3 (ABI 1.4) */
#define IPI_REJECT_DESTINATION_BEYOND_VM  13u /* KVM_HC_SEND_IPI naming an APIC ID above the VM's highest (ABI 1.4) */
#define IPI_REJECT_MASKED_PIN             14u /* an IOAPIC assertion on a masked pin (ABI 1.4) */
#define IPI_REJECT_UNKNOWN_PIN            15u /* an IOAPIC pin past the last redirection entry (ABI 1.4) */
#define IPI_REJECT_REASONS                16u /* length of rejected_by_reason (every slot used since ABI 1.4) */
#define IPI_REJECT_RESERVED_BITS_SET      16u /* an x2APIC ICR write with bits 31:20, 17:16 or 13 set, or a SELF IPI write with a
                                                 bit above 7 (the WRMSR faults): counted in rejected_reserved_bits, not in
                                                 rejected_by_reason (ABI 1.10) */

/* ---- types ------------------------------------------------------------------------------ */

/* An engine: an opaque handle, never a pointer. 0 is never a valid engine. */
typedef uint64_t ipi_engine_t;
#define IPI_NULL_ENGINE ((ipi_engine_t)0)

/* Wakes vCPU `vcpu` because interrupts became pending for it and no kick is outstanding: a vCPU is
 * kicked again only after ipi_take_pending has taken its interrupts. Called from any engine thread
 * (the pipeline's; in fused mode also a posting thread, inside its ipi_post, that found the pipeline
 * parked; or a transport thread applying deliveries from another node), possibly concurrently with
 * itself for different vCPUs: it must be thread-safe. In inline mode, and for records posted before
 * start, it may also run inside ipi_engine_start, ipi_engine_stop or ipi_topology_write on the calling
 * thread (they deliver what waits in the rings). Must not block (nor take a lock that a thread may hold
 * while it calls ipi_post, ipi_engine_start, ipi_engine_stop or ipi_topology_write), must not call back
 * into the library and must not let a C++ exception escape. */
typedef void (*ipi_kick_fn)(void *context, uint32_t vcpu);

/* How to build an engine. Zero it, set struct_size = sizeof(ipi_config_t), then the fields you need. */
typedef struct ipi_config_t {
    uint32_t struct_size;      /* sizeof(ipi_config_t) */
    uint32_t vcpu_count;       /* 1 .. IPI_MAX_VCPUS (and what the topology can hold) */
    uint32_t topology;         /* IPI_TOPOLOGY_* (required: 0 is refused) */
    uint32_t flags;            /* IPI_CONFIG_* */
    uint32_t ring_capacity;    /* per-vCPU ring entries, a power of two up to 2^24; 0 = the engine's default */
    uint32_t threading_mode;   /* IPI_THREADING_* */
    uint32_t wait_strategy;    /* IPI_WAIT_* */
    uint32_t back_pressure;    /* IPI_BACK_PRESSURE_* */
    const uint32_t *apic_ids;  /* IPI_TOPOLOGY_RESET: vcpu_count initial APIC IDs, or NULL for 0..n-1 */
    ipi_kick_fn kick;          /* optional: called when a vCPU has new pending interrupts */
    void *kick_context;        /* passed to kick unchanged */
    /* ABI 1.4 (a caller built against an older header passes struct_size 56: its apic_ids are not length-checked): */
    uint32_t apic_id_count;    /* entries in apic_ids: vcpu_count when apic_ids is set (IPI_TOPOLOGY_RESET only), else 0 */
    uint32_t reserved;         /* 0 */
    /* ABI 1.6 (a caller built against an older header passes struct_size 56 or 64: the OS places the threads): */
    const uint32_t *pipeline_cpus; /* optional (Linux): the logical CPU of each pipeline thread, in pipeline order:
                                      IPI_THREADING_FUSED one; IPI_THREADING_PER_STAGE three (gather, resolve,
                                      deliver) or one for all; IPI_THREADING_INLINE has none. Each must be a CPU the
                                      thread calling ipi_engine_create (or ipi_node_create) may run on. NULL: the OS
                                      places the threads */
    uint32_t pipeline_cpu_count;   /* entries in pipeline_cpus: 0 when it is NULL */
    uint32_t reserved2;            /* 0 */
} ipi_config_t;

/* One trapped APIC register write, exactly as the hypervisor hands it to userspace. */
typedef struct ipi_exit_t {
    uint32_t src_vcpu;  /* the vCPU that wrote (dense index from 0) */
    uint32_t reg;       /* register: 0x300 / 0x310 / 0x830 / 0x83F, or a topology register */
    uint64_t value;     /* the value written (64 bits for the x2APIC ICR) */
    uint32_t dest_id;   /* the destination id the hypervisor reported (informational) */
    uint32_t reserved;  /* set to 0 */
    uint64_t tag;       /* yours: returned with the deliveries of this record's IPI */
} ipi_exit_t;

/* What a vCPU takes before re-entry: like the PIR-to-IRR sync at VM entry. */
typedef struct ipi_pending_t {
    uint64_t vectors[4];   /* fixed / lowest-priority vectors: bit (v % 64) of vectors[v / 64] */
    uint32_t flags;        /* IPI_PENDING_* */
    uint32_t sipi_vector;  /* valid when flags has IPI_PENDING_SIPI */
} ipi_pending_t;

/* One vCPU's posted-interrupt descriptor, in the hardware's format (Intel SDM Vol. 3C "Posted-Interrupt
 * Processing", VT-d "Posted-Interrupt Descriptor"; Linux's struct pi_desc), at the address ipi_descriptor gives:
 * 64 bytes, 64-byte aligned. Read-only for the host: the engine writes it with atomic read-modify-writes only,
 * so read it with atomic loads (e.g. __atomic_load_n(&d->pir[w], __ATOMIC_ACQUIRE)); take what is pending
 * with ipi_take_pending, which clears ON, events and PIR in the order that loses no interrupt.
 * Protocol: a delivery ORs the PIR (and events), then sets ON and kicks if ON and SN were both clear.
 * While SN is set (ipi_vcpu_set_running) a delivery sets PIR / events bits only: no ON, no kick. */
typedef struct ipi_pi_desc_t {
    IPI_ALIGNAS(64) uint64_t pir[4]; /* bits 255:0: vector v pending = bit (v % 64) of pir[v / 64] */
    uint64_t control;                /* bits 319:256: IPI_PI_ON, IPI_PI_SN, NV, NDST */
    uint64_t events;                 /* reserved by the hardware; the engine's pending NMI/SMI/INIT/SIPI */
    uint64_t reserved[2];            /* zero */
} ipi_pi_desc_t;

/* A snapshot of the engine's accounting. Every posted record is counted once:
 *   posted = latched + (topology_writes - peer_topology_writes) + ipis_resolved + rejected
 *   each resolved destination: destinations_resolved = delivered + coalesced + forwarded + served_by_host + peer_unreachable
 *                                                      + undelivered */
typedef struct ipi_counters_t {
    uint32_t struct_size;          /* in: sizeof(ipi_counters_t); the library fills at most that much */
    uint32_t reserved;
    uint64_t posted;               /* records accepted by ipi_post / ipi_try_post / ipi_post_batch, and topology
                                      writes applied by ipi_topology_write */
    uint64_t latched;              /* ICR high (0x310) writes: latch only */
    uint64_t topology_writes;      /* topology register writes applied */
    uint64_t ipis_resolved;        /* firing writes resolved to an IPI (even one with no destination) */
    uint64_t rejected;             /* records that produced no IPI; by reason below */
    uint64_t destinations_resolved;/* (IPI, destination vCPU) pairs */
    uint64_t delivered;            /* pairs that set a pending bit or flag */
    uint64_t coalesced;            /* pairs whose vector was already pending (as in a real IRR) */
    uint64_t forwarded;            /* pairs sent to another host */
    uint64_t no_destination;       /* IPIs that matched no vCPU */
    uint64_t notifications;        /* kick callbacks made */
    uint64_t rejected_by_reason[IPI_REJECT_REASONS]; /* index: IPI_REJECT_* */
    uint64_t remote_delivered;     /* deliveries forwarded by another host that set a pending bit or flag here */
    uint64_t remote_coalesced;     /* ... that were already pending here */
    uint64_t remote_rejected;      /* ... that named no local vCPU */
    /* ABI 1.2 (a caller built against 1.0 / 1.1 passes a smaller struct_size and does not get these): */
    uint64_t served_by_host;       /* local pairs the host's kernel served (IPI_LOCAL_TARGETS_KERNEL) */
    uint64_t peer_unreachable;     /* pairs for another node refused because that peer was unreachable (IPI_FULL_QUEUE_FAIL) */
    uint64_t peer_topology_writes; /* topology writes of other nodes applied here (also counted in topology_writes) */
    /* ABI 1.4: */
    uint64_t undelivered;          /* pairs resolved but never delivered because the pipeline failed (IPI_E_FAULTED) first */
    /* ABI 1.10: */
    uint64_t rejected_reserved_bits; /* records rejected as IPI_REJECT_RESERVED_BITS_SET (also counted in rejected) */
} ipi_counters_t;

/* A peer node of a multi-host VM and where to reach it. */
typedef struct ipi_peer_t {
    uint32_t node;         /* its node id (0 .. IPI_MAX_NODE_ID, not this node's) */
    uint32_t port;         /* its listen port: needed for a peer with a higher id (this node dials it), else 0 */
    const char *host;      /* its IP address as text ("127.0.0.1", "::1"; no DNS names); NULL for a peer with a lower id */
} ipi_peer_t;

/* One IPI another node forwarded to a vCPU of this node: the KVM_DSM_IPI record (what the distributed-VM KVM
 * patch's inject ioctl takes). icr_low is the ICR low dword the source wrote (vector, delivery mode, ...); icr_high
 * is rebuilt from the destination field (IPI_NODE_X2APIC_RECORDS: the 32-bit x2APIC destination; else xAPIC ICR2,
 * the 8-bit destination in bits 31:24); dest_id is the destination field itself. */
typedef struct ipi_injection_t {
    uint32_t target_vcpu;  /* the destination vCPU the sending node resolved (a vCPU of this node) */
    uint32_t icr_low;
    uint32_t icr_high;
    uint32_t dest_id;
} ipi_injection_t;

/* The same for an x2APIC guest as one 64-bit ICR value (what a WRMSR 0x830 wrote: destination in bits 63:32). */
typedef struct ipi_x2apic_injection_t {
    uint32_t target_vcpu;
    uint32_t reserved;     /* 0 */
    uint64_t icr;
} ipi_x2apic_injection_t;

/* Hands `count` forwarded IPIs (one record each, in the order they arrived) to the host, which injects them (a
 * KVM_DSM_IPI ioctl per record, or a pending set its vCPU threads take). The array is valid only during the call.
 * Threads: called on the node's transport threads, one call at a time per peer link; links to different peers may
 * call concurrently, so it must be thread-safe. It must return promptly and must not let a C++ exception escape.
 * It may call ipi_pending, ipi_take_pending, ipi_counters and ipi_node_link; it must NOT post (ipi_post,
 * ipi_try_post, ipi_post_batch, ipi_topology_write: a receive thread waiting on a full ring would stop the very link
 * whose acknowledgements make room) and must not stop or destroy the engine. To answer an injected IPI, wake the
 * vCPU thread and post from there. */
typedef void (*ipi_inject_fn)(void *context, const ipi_injection_t *records, uint32_t count);
typedef void (*ipi_inject_x2apic_fn)(void *context, const ipi_x2apic_injection_t *records, uint32_t count);

/* How an engine joins a multi-host VM as one of its nodes (ipi_node_create). Zero it, set struct_size, then the fields.
 * Every node of the VM is given the same vCPU count, topology and placement. This node listens for the peers with a
 * lower id and dials those with a higher id (so their host and port are needed). */
typedef struct ipi_node_config_t {
    uint32_t struct_size;        /* sizeof(ipi_node_config_t) */
    uint32_t node_id;            /* this node: 0 .. IPI_MAX_NODE_ID */
    const uint32_t *placement;   /* the node of each vCPU: ipi_config_t.vcpu_count entries; each must be this node or a peer */
    const ipi_peer_t *peers;     /* every other node of the VM */
    uint32_t peer_count;         /* at most IPI_MAX_NODE_ID */
    uint32_t key_length;         /* bytes of key, 16 .. IPI_MAX_KEY_LENGTH */
    const uint8_t *key;          /* the VM's pre-shared key (never sent: the handshake proves it); copied at create */
    const char *listen_host;     /* IP address to listen on; NULL: 127.0.0.1 */
    uint32_t listen_port;        /* 0: an ephemeral port (ipi_node_port tells which, after start) */
    uint32_t flags;              /* IPI_NODE_* */
    uint32_t local_targets;      /* IPI_LOCAL_TARGETS_* */
    uint32_t queue_records;      /* each peer's outbound queue in records: a power of two, 64 to 2^30; 0: 2^24 */
    uint32_t full_queue;         /* IPI_FULL_QUEUE_* */
    uint32_t topology_write_timeout_ms; /* how long a topology write may take to reach every node; 0: 5000 */
    ipi_inject_fn inject;        /* optional: forwarded IPIs go here as KVM_DSM_IPI records ... */
    ipi_inject_x2apic_fn inject_x2apic; /* ... or here as 64-bit ICRs (at most one of the two); neither: into
                                           this engine's descriptors (kick, ipi_take_pending) like local deliveries */
    void *inject_context;        /* passed to inject / inject_x2apic unchanged */
    /* ABI 1.4 (a caller built against 1.2 / 1.3 passes struct_size 96 and its placement is not length-checked): */
    uint32_t placement_count;    /* entries in placement: must equal ipi_config_t.vcpu_count */
    uint32_t reserved;           /* 0 */
} ipi_node_config_t;

/* One link to a peer: its health and counters. Sending side: forwarded = acknowledged + in flight; refused records
 * are unreachable (IPI_FULL_QUEUE_FAIL) or abandoned (the engine stopped while the queue stayed full). Receiving
 * side: every record that arrived was applied once or discarded as a duplicate resend. */
typedef struct ipi_link_t {
    uint32_t struct_size;        /* in: sizeof(ipi_link_t); the library fills at most that much */
    uint32_t peer_node;
    uint32_t state;              /* IPI_LINK_* */
    uint32_t last_fault;         /* why the last connection closed or was refused: IPI_LINK_FAULT_* */
    uint64_t forwarded;          /* records handed to this link for the peer */
    uint64_t acknowledged;       /* ... that the peer confirmed */
    uint64_t records_sent;       /* records written to the wire (resends included) */
    uint64_t applied;            /* records from the peer applied here, each once */
    uint64_t duplicates;         /* records from the peer discarded as resends */
    uint64_t abandoned;          /* records refused because the engine stopped while the queue stayed full */
    uint64_t unreachable;        /* records refused because the peer was declared unreachable */
    uint64_t connections;        /* authenticated connections made */
    uint64_t stalled_ns;         /* time forwarding waited for room in this peer's full queue */
    /* ABI 1.8 (a caller built against an older header passes struct_size 88 and does not get these): */
    uint64_t flush_sends;        /* sends that an ipi_node_send_batch_flush made on its own thread (the link's
                                    send loop parked); a flush that found the loop running notified it instead */
    uint64_t down_ns;            /* time this link spent in IPI_LINK_DOWN since the node was created */
    uint64_t reconnecting_ns;    /* ... in IPI_LINK_RECONNECTING */
    uint64_t connected_ns;       /* ... in IPI_LINK_CONNECTED */
    uint64_t back_pressured_ns;  /* ... in IPI_LINK_BACK_PRESSURED */
} ipi_link_t;

/* A node's fault counts (ABI 1.4): every connection closed or refused, by reason (all links together, and connections
 * from strangers that never became a link), and every failed topology write of this node, by reason. */
typedef struct ipi_node_faults_t {
    uint32_t struct_size;        /* in: sizeof(ipi_node_faults_t); the library fills at most that much */
    uint32_t reserved;
    uint64_t link_faults[IPI_LINK_FAULTS];                     /* index: IPI_LINK_FAULT_* */
    uint64_t topology_write_failures[IPI_TOPOLOGY_WRITE_FAILURES]; /* index: IPI_TOPOLOGY_WRITE_*; each also returned IPI_E_NOT_REPLICATED */
    /* ABI 1.13 (a caller built against an older header passes struct_size 296 and does not get them): */
    uint64_t topology_write_failures_applied; /* of the failed calls above (all reasons), those whose write is applied on
                                    this node all the same, before the call failed (NOT_CONFIRMED) or since (a write that
                                    reached the sequencer): ipi_counters_t.posted and topology_writes count each such write
                                    once, and retrying it as that vCPU's next topology write applies nothing twice. The
                                    failures minus this are the failed writes not applied here (yet). */
    uint64_t rejected_handshakes; /* ABI 1.13: handshakes the other side ended with a goodbye that proved no key (untagged):
                                    a peer holding another key, or anyone who reaches the port; not a reason of
                                    link_faults, since such a goodbye's claimed reason is not believed (C#'s
                                    NodeTransport.RejectedHandshakes) */
} ipi_node_faults_t;

/* ---- layout checks: the C# side asserts the same numbers (tests/IpiEngine.Tests/Native) ---- */
IPI_STATIC_ASSERT(sizeof(void *) == 8, "ipi_engine.h supports LP64 targets only");
IPI_STATIC_ASSERT(sizeof(ipi_config_t) == 80, "ipi_config layout");
IPI_STATIC_ASSERT(offsetof(ipi_config_t, vcpu_count) == 4, "ipi_config layout");
IPI_STATIC_ASSERT(offsetof(ipi_config_t, topology) == 8, "ipi_config layout");
IPI_STATIC_ASSERT(offsetof(ipi_config_t, flags) == 12, "ipi_config layout");
IPI_STATIC_ASSERT(offsetof(ipi_config_t, ring_capacity) == 16, "ipi_config layout");
IPI_STATIC_ASSERT(offsetof(ipi_config_t, threading_mode) == 20, "ipi_config layout");
IPI_STATIC_ASSERT(offsetof(ipi_config_t, wait_strategy) == 24, "ipi_config layout");
IPI_STATIC_ASSERT(offsetof(ipi_config_t, back_pressure) == 28, "ipi_config layout");
IPI_STATIC_ASSERT(offsetof(ipi_config_t, apic_ids) == 32, "ipi_config layout");
IPI_STATIC_ASSERT(offsetof(ipi_config_t, kick) == 40, "ipi_config layout");
IPI_STATIC_ASSERT(offsetof(ipi_config_t, kick_context) == 48, "ipi_config layout");
IPI_STATIC_ASSERT(offsetof(ipi_config_t, apic_id_count) == 56, "ipi_config layout");
IPI_STATIC_ASSERT(offsetof(ipi_config_t, reserved) == 60, "ipi_config layout");
IPI_STATIC_ASSERT(offsetof(ipi_config_t, pipeline_cpus) == 64, "ipi_config layout");
IPI_STATIC_ASSERT(offsetof(ipi_config_t, pipeline_cpu_count) == 72, "ipi_config layout");
IPI_STATIC_ASSERT(offsetof(ipi_config_t, reserved2) == 76, "ipi_config layout");
IPI_STATIC_ASSERT(sizeof(ipi_exit_t) == 32, "ipi_exit layout");
IPI_STATIC_ASSERT(offsetof(ipi_exit_t, reg) == 4, "ipi_exit layout");
IPI_STATIC_ASSERT(offsetof(ipi_exit_t, value) == 8, "ipi_exit layout");
IPI_STATIC_ASSERT(offsetof(ipi_exit_t, dest_id) == 16, "ipi_exit layout");
IPI_STATIC_ASSERT(offsetof(ipi_exit_t, reserved) == 20, "ipi_exit layout");
IPI_STATIC_ASSERT(offsetof(ipi_exit_t, tag) == 24, "ipi_exit layout");
IPI_STATIC_ASSERT(sizeof(ipi_pending_t) == 40, "ipi_pending layout");
IPI_STATIC_ASSERT(offsetof(ipi_pending_t, flags) == 32, "ipi_pending layout");
IPI_STATIC_ASSERT(offsetof(ipi_pending_t, sipi_vector) == 36, "ipi_pending layout");
IPI_STATIC_ASSERT(sizeof(ipi_counters_t) == 288, "ipi_counters layout");
IPI_STATIC_ASSERT(offsetof(ipi_counters_t, posted) == 8, "ipi_counters layout");
IPI_STATIC_ASSERT(offsetof(ipi_counters_t, notifications) == 88, "ipi_counters layout");
IPI_STATIC_ASSERT(offsetof(ipi_counters_t, rejected_by_reason) == 96, "ipi_counters layout");
IPI_STATIC_ASSERT(offsetof(ipi_counters_t, remote_delivered) == 224, "ipi_counters layout");
IPI_STATIC_ASSERT(offsetof(ipi_counters_t, remote_rejected) == 240, "ipi_counters layout");
IPI_STATIC_ASSERT(offsetof(ipi_counters_t, served_by_host) == 248, "ipi_counters layout");
IPI_STATIC_ASSERT(offsetof(ipi_counters_t, peer_unreachable) == 256, "ipi_counters layout");
IPI_STATIC_ASSERT(offsetof(ipi_counters_t, peer_topology_writes) == 264, "ipi_counters layout");
IPI_STATIC_ASSERT(offsetof(ipi_counters_t, undelivered) == 272, "ipi_counters layout");
IPI_STATIC_ASSERT(sizeof(ipi_peer_t) == 16, "ipi_peer layout");
IPI_STATIC_ASSERT(offsetof(ipi_peer_t, port) == 4, "ipi_peer layout");
IPI_STATIC_ASSERT(offsetof(ipi_peer_t, host) == 8, "ipi_peer layout");
IPI_STATIC_ASSERT(sizeof(ipi_injection_t) == 16, "ipi_injection layout");
IPI_STATIC_ASSERT(offsetof(ipi_injection_t, icr_low) == 4, "ipi_injection layout");
IPI_STATIC_ASSERT(offsetof(ipi_injection_t, icr_high) == 8, "ipi_injection layout");
IPI_STATIC_ASSERT(offsetof(ipi_injection_t, dest_id) == 12, "ipi_injection layout");
IPI_STATIC_ASSERT(sizeof(ipi_x2apic_injection_t) == 16, "ipi_x2apic_injection layout");
IPI_STATIC_ASSERT(offsetof(ipi_x2apic_injection_t, icr) == 8, "ipi_x2apic_injection layout");
IPI_STATIC_ASSERT(sizeof(ipi_node_config_t) == 104, "ipi_node_config layout");
IPI_STATIC_ASSERT(offsetof(ipi_node_config_t, node_id) == 4, "ipi_node_config layout");
IPI_STATIC_ASSERT(offsetof(ipi_node_config_t, placement) == 8, "ipi_node_config layout");
IPI_STATIC_ASSERT(offsetof(ipi_node_config_t, peers) == 16, "ipi_node_config layout");
IPI_STATIC_ASSERT(offsetof(ipi_node_config_t, peer_count) == 24, "ipi_node_config layout");
IPI_STATIC_ASSERT(offsetof(ipi_node_config_t, key_length) == 28, "ipi_node_config layout");
IPI_STATIC_ASSERT(offsetof(ipi_node_config_t, key) == 32, "ipi_node_config layout");
IPI_STATIC_ASSERT(offsetof(ipi_node_config_t, listen_host) == 40, "ipi_node_config layout");
IPI_STATIC_ASSERT(offsetof(ipi_node_config_t, listen_port) == 48, "ipi_node_config layout");
IPI_STATIC_ASSERT(offsetof(ipi_node_config_t, flags) == 52, "ipi_node_config layout");
IPI_STATIC_ASSERT(offsetof(ipi_node_config_t, local_targets) == 56, "ipi_node_config layout");
IPI_STATIC_ASSERT(offsetof(ipi_node_config_t, queue_records) == 60, "ipi_node_config layout");
IPI_STATIC_ASSERT(offsetof(ipi_node_config_t, full_queue) == 64, "ipi_node_config layout");
IPI_STATIC_ASSERT(offsetof(ipi_node_config_t, topology_write_timeout_ms) == 68, "ipi_node_config layout");
IPI_STATIC_ASSERT(offsetof(ipi_node_config_t, inject) == 72, "ipi_node_config layout");
IPI_STATIC_ASSERT(offsetof(ipi_node_config_t, inject_x2apic) == 80, "ipi_node_config layout");
IPI_STATIC_ASSERT(offsetof(ipi_node_config_t, inject_context) == 88, "ipi_node_config layout");
IPI_STATIC_ASSERT(offsetof(ipi_node_config_t, placement_count) == 96, "ipi_node_config layout");
IPI_STATIC_ASSERT(offsetof(ipi_node_config_t, reserved) == 100, "ipi_node_config layout");
IPI_STATIC_ASSERT(sizeof(ipi_node_faults_t) == 312, "ipi_node_faults layout");
IPI_STATIC_ASSERT(offsetof(ipi_node_faults_t, link_faults) == 8, "ipi_node_faults layout");
IPI_STATIC_ASSERT(offsetof(ipi_node_faults_t, topology_write_failures) == 264, "ipi_node_faults layout");
IPI_STATIC_ASSERT(offsetof(ipi_node_faults_t, topology_write_failures_applied) == 296, "ipi_node_faults layout");
IPI_STATIC_ASSERT(offsetof(ipi_node_faults_t, rejected_handshakes) == 304, "ipi_node_faults layout");
IPI_STATIC_ASSERT(sizeof(ipi_link_t) == 128, "ipi_link layout");
IPI_STATIC_ASSERT(offsetof(ipi_link_t, forwarded) == 16, "ipi_link layout");
IPI_STATIC_ASSERT(offsetof(ipi_link_t, stalled_ns) == 80, "ipi_link layout");
IPI_STATIC_ASSERT(offsetof(ipi_link_t, flush_sends) == 88, "ipi_link layout");
IPI_STATIC_ASSERT(offsetof(ipi_link_t, back_pressured_ns) == 120, "ipi_link layout");

IPI_STATIC_ASSERT(sizeof(ipi_pi_desc_t) == 64, "ipi_pi_desc layout: 512 bits, as VT-x's");
IPI_STATIC_ASSERT(IPI_ALIGNOF(ipi_pi_desc_t) == 64, "ipi_pi_desc layout: 64-byte aligned, as VT-x requires");
IPI_STATIC_ASSERT(offsetof(ipi_pi_desc_t, pir) == 0, "ipi_pi_desc layout: PIR in bits 255:0");
IPI_STATIC_ASSERT(offsetof(ipi_pi_desc_t, control) == 32, "ipi_pi_desc layout: ON at bit 256");
IPI_STATIC_ASSERT(offsetof(ipi_pi_desc_t, events) == 40, "ipi_pi_desc layout: engine events in reserved bits 383:320");

/* ---- functions ---------------------------------------------------------------------------- */

/* IPI_ABI_VERSION of the loaded library. */
uint32_t ipi_abi_version(void);

/* A static, NUL-terminated English sentence for a status code (never NULL; unknown codes get one too). */
const char *ipi_strerror(int32_t status);

/* A sentence about the last call that failed on the calling thread, more specific than ipi_strerror
 * (which field, which vCPU, what the engine said): copied into buffer as NUL-terminated UTF-8,
 * truncated to capacity. Returns the sentence's full length in bytes without the NUL (0 if no call
 * failed on this thread yet). Like errno, a successful call leaves it unchanged. */
int32_t ipi_last_error(char *buffer, uint32_t capacity);

/* Creates an engine (this also starts the library's runtime: do it outside any measured loop).
 * On success *out_engine is the new handle; on failure it is IPI_NULL_ENGINE. */
int32_t ipi_engine_create(const ipi_config_t *config, ipi_engine_t *out_engine);

/* Starts the engine's pipeline thread(s). Records posted before start wait in the rings (a topology write
 * before start delivers them first, on its thread, so they resolve with the old topology); until then ipi_post
 * does not wait (a full ring gives IPI_E_WOULD_BLOCK) and ipi_post_batch returns IPI_E_STATE. IPI_E_STATE if
 * already started, IPI_E_STOPPED if stopped. A start that fails (IPI_E_FAULTED, ipi_last_error says why: the
 * pipeline failed delivering the records posted before it, or its threads could not be made) leaves the engine
 * failed for good: every later ipi_engine_start and post returns IPI_E_FAULTED with that reason (IPI_E_STOPPED once
 * stopped); ipi_engine_stop and ipi_engine_destroy work as after a pipeline failure. */
int32_t ipi_engine_start(ipi_engine_t engine);

/* Posts one exit record (an ICR write, an ICR high latch, or a topology write). Under
 * IPI_BACK_PRESSURE_WAIT it waits while the source's ring is full. Topology writes are applied in
 * order: IPIs posted before one resolve with the old topology, those after with the new. */
int32_t ipi_post(ipi_engine_t engine, const ipi_exit_t *record);

/* Like ipi_post, but returns IPI_E_WOULD_BLOCK instead of waiting when the ring is full. */
int32_t ipi_try_post(ipi_engine_t engine, const ipi_exit_t *record);

/* Posts `count` records with one boundary crossing, each source vCPU's records in order. As for ipi_post, no
 * other thread may post for those source vCPUs meanwhile. Every record's vCPU is checked first: if one is out
 * of range, nothing is posted, and before start (IPI_E_STATE) nothing is posted either. Records are published
 * in pieces (a run of one source, at most 64 records, ended early by a topology write or by a full ring), so a
 * failure after that (IPI_E_STOPPED from a racing stop, IPI_E_FAULTED, IPI_E_NOT_REPLICATED from a topology
 * write) may come after a first part of the batch was posted: those records are delivered, the rest are not.
 * A host that must know how many were posted calls ipi_post_batch_ex. */
int32_t ipi_post_batch(ipi_engine_t engine, const ipi_exit_t *exits, uint32_t count);

/* ipi_post_batch that says how far it got (ABI 1.12): *out_posted is how many of the leading records were posted
 * (taken, then delivered or counted like any post), whatever the status; none after them was. It is count with
 * IPI_OK, 0 when the batch was refused whole (IPI_E_VCPU_RANGE, IPI_E_STATE, ...), and in between when a failure came
 * part way (a topology write refused with IPI_E_NOT_REPLICATED is not counted, as ipi_post would not count it), so
 * a host resumes at exits[*out_posted]. IPI_E_NULL_POINTER if out_posted is NULL (then nothing is posted). */
int32_t ipi_post_batch_ex(ipi_engine_t engine, const ipi_exit_t *exits, uint32_t count, uint32_t *out_posted);

/* Applies a topology register write of `vcpu` (APIC ID 0x020, LDR 0x0D0, DFR 0x0E0, SVR 0x0F0 /
 * 0x80F, IA32_APIC_BASE 0x01B), ordered with the IPIs as ipi_post orders it. */
int32_t ipi_topology_write(ipi_engine_t engine, uint32_t vcpu, uint32_t reg, uint64_t value);

/* The pre-entry check: 1 if `vcpu` has anything pending, 0 if not, or a negative IPI_E_* code. */
int32_t ipi_pending(ipi_engine_t engine, uint32_t vcpu);

/* Takes (and clears) everything pending for `vcpu` into *out: 1 if anything was taken, 0 if
 * nothing was (then *out is all zero), or a negative IPI_E_* code. */
int32_t ipi_take_pending(ipi_engine_t engine, uint32_t vcpu, ipi_pending_t *out);

/* The address of `vcpu`'s posted-interrupt descriptor (ipi_pi_desc_t) into *out (ABI 1.3): fixed for the
 * engine's life, valid until ipi_engine_destroy (not after). A pre-entry check can read it directly instead of
 * calling ipi_pending. Descriptors of different vCPUs are not contiguous: ask for each one. */
int32_t ipi_descriptor(ipi_engine_t engine, uint32_t vcpu, const ipi_pi_desc_t **out);

/* Sets (running != 0) or clears (running == 0) `vcpu`'s SN bit (ABI 1.3). While set, deliveries make interrupts
 * pending without kicking: a running vCPU checks its descriptor by itself before each entry. Returns 1 if
 * something is pending, 0 if not, or a negative IPI_E_* code. Clearing it returns 1 when interrupts arrived
 * unkicked (ON is then set): take them before halting, no kick will come for them. Any thread, usually the vCPU's. */
int32_t ipi_vcpu_set_running(ipi_engine_t engine, uint32_t vcpu, uint32_t running);

/* Fills *out (at most out->struct_size bytes) with a snapshot of the counters. */
int32_t ipi_counters(ipi_engine_t engine, ipi_counters_t *out);

/* Stops the engine after delivering everything posted before the call (drain). Posting afterwards
 * returns IPI_E_STOPPED; taking pending interrupts and reading counters still work. Any thread; a
 * second call returns when the engine is drained. IPI_E_FAULTED (every call) if the pipeline failed. */
int32_t ipi_engine_stop(ipi_engine_t engine);

/* Stops (draining) if needed and frees the engine. The handle becomes invalid: using it again,
 * destroying it twice included, returns IPI_E_BAD_HANDLE. IPI_OK once freed, also after a pipeline
 * failure (ipi_engine_stop reports IPI_E_FAULTED, and so does every post before it; after it a post
 * reports IPI_E_STOPPED, as after any stop). Should closing a node's links fail unexpectedly, it returns
 * IPI_E_INTERNAL (ipi_last_error says why), and the engine is freed all the same: the handle is invalid
 * whatever it returns, except IPI_E_BAD_HANDLE for a handle that was not valid. */
int32_t ipi_engine_destroy(ipi_engine_t engine);

/* ---- nodes of a multi-host VM (ABI 1.2) ---- */

/* Creates an engine that is node `node->node_id` of a VM spread over several hosts: IPIs to vCPUs placed on another
 * node are forwarded over an authenticated TCP link to that node, and what peers forward arrives here (into the
 * engine's descriptors, or to node->inject / inject_x2apic). Returns an ordinary engine handle: ipi_post,
 * ipi_take_pending, ipi_counters, ipi_engine_stop and ipi_engine_destroy work on it as on any engine.
 * ipi_engine_start opens the listener (IPI_E_NETWORK if it cannot; the call may then be repeated), starts dialing the
 * peers with a higher id and starts the pipeline; links come up in the background (ipi_node_link). A topology write
 * (ipi_topology_write, or a posted topology record) is VM-wide: it is applied on every node in one order for the
 * whole VM, and the call returns once every node applied it (IPI_E_NOT_REPLICATED after topology_write_timeout_ms).
 * ipi_engine_stop drains the pipeline; the links keep running (forwarded records still reach their peers, and
 * peers' records still arrive) until ipi_engine_destroy closes them. The strings and arrays are copied. */
int32_t ipi_node_create(const ipi_config_t *config, const ipi_node_config_t *node, ipi_engine_t *out_engine);

/* Fills *out (at most out->struct_size bytes) with the link to peer `peer_node`: IPI_E_STATE if the engine is not a
 * node, IPI_E_BAD_CONFIG if peer_node is not one of its peers. Any thread. */
int32_t ipi_node_link(ipi_engine_t engine, uint32_t peer_node, ipi_link_t *out);

/* Fills *out (at most out->struct_size bytes, at least 296) with the node's fault counts (ABI 1.4): IPI_E_STATE if the
 * engine is not a node. Any thread. */
int32_t ipi_node_faults(ipi_engine_t engine, ipi_node_faults_t *out);

/* The port the node listens on (useful with listen_port 0): IPI_E_STATE before ipi_engine_start or if not a node. */
int32_t ipi_node_port(ipi_engine_t engine, uint32_t *out_port);

/* Send batches (ABI 1.7): a vCPU thread that handles a run of exits before it re-enters the guest can send its link
 * frames itself, once per run, instead of having each forward wake the link's sender on another thread (which on a
 * loaded host waits for a core). Between ipi_node_send_batch_begin and _end on a thread, the records that thread's
 * posts forward to other nodes (in the pipeline passes the engine runs on it when its pipeline thread is parked) and
 * the acknowledgements of what this node receives wait for ipi_node_send_batch_flush, which sends them on the calling
 * thread; records forwarded by the engine's own pipeline thread still go at once. _end flushes and closes the batch.
 * Nothing waits longer than half the heartbeat interval, and a cut link still loses and doubles nothing. One batch per
 * thread; each call refers to the calling thread's batch: IPI_E_STATE if the engine is not a node, if _begin finds a
 * batch open on this thread, or if _flush or _end finds none. Typical loop: _begin; for each run: ipi_post...,
 * _flush, re-enter the guest; _end. */
int32_t ipi_node_send_batch_begin(ipi_engine_t engine);
int32_t ipi_node_send_batch_flush(ipi_engine_t engine);
int32_t ipi_node_send_batch_end(ipi_engine_t engine);

/* Benchmark aid: posts `count` records `repeat` times from managed code inside the library, the way
 * a C# embedder would (batch_size 0: one Post per record; else PostBatch of that many), so a C
 * driver can compare C and C# posting on one engine in one process. */
int32_t ipi_bench_post_managed(ipi_engine_t engine, const ipi_exit_t *exits, uint32_t count,
                               uint32_t repeat, uint32_t batch_size);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* IPI_ENGINE_H */
