#!/usr/bin/env python3
"""Writes synthetic traces in the bundled format (traces/README.md) for what the four recorded traces do not
exercise: 8-64 vCPUs, sparse and >255 APIC IDs, several x2APIC clusters, xAPIC cluster mode, NMIs to a mask and to
all-excluding-self, self-IPIs by shorthand and by the SELF IPI MSR, lowest priority, CPU offline/online with INIT/SIPI to a
software-disabled APIC, a kexec-style stop and restart.

A Linux-like guest model emits the writes. deliveries.csv comes from this file's own implementation of the rules
(docs/apic.md plus the QEMU decisions in tests/IpiEngine.Tests/Vectors/qemu/qemu.md), written apart from the C# resolver, and
every IPI the guest aims at particular CPUs is also checked against the CPUs it meant. Deterministic: rerun with
`python3 generate.py` after a rule change and review the diff.
"""
import random

FIXED, LOWPRI, SMI, NMI, INIT, SIPI = 0, 1, 2, 4, 5, 6
MODE_NAMES = {FIXED: "FIXED", LOWPRI: "LOWPRI", SMI: "SMI", NMI: "NMI", INIT: "INIT", SIPI: "SIPI"}
SH_NONE, SH_SELF, SH_ALL, SH_ALL_BUT = 0, 1, 2, 3
LOGICAL = 1 << 11
ASSERT = 1 << 14
LEVEL = 1 << 15


class Apic:
    def __init__(self, initial_id):
        self.id = initial_id
        self.xid = initial_id & 0xFF
        self.ldr = 0          # xAPIC logical ID (LDR bits 31:24)
        self.dfr = 0xF
        self.sw = False
        self.gl = True
        self.x2 = False

    def x2_ldr(self):
        return ((self.id >> 4) << 16) | (1 << (self.id & 0xF))


def matches(t, dest, logical):
    """Does APIC t recognise itself in this destination field (spec 'Who is a destination')."""
    if dest == 0xFFFFFFFF:
        return True
    if t.x2:
        if not logical:
            return dest == t.id
        ldr = t.x2_ldr()
        return (dest >> 16) == (ldr >> 16) and (dest & ldr & 0xFFFF) != 0
    mda = dest & 0xFF
    if dest == 0xFF:
        return True
    if not logical:
        return mda == t.xid
    if t.dfr == 0xF:
        return (mda & t.ldr) != 0
    if t.dfr == 0x0:
        return ((mda >> 4) == 0xF or (mda >> 4) == (t.ldr >> 4)) and (mda & t.ldr & 0xF) != 0
    return False


class Guest:
    def __init__(self, name, ids, seed):
        self.name = name
        self.apics = [Apic(i) for i in ids]
        self.n = len(ids)
        self.latch = [0] * self.n
        self.exits = []
        self.deliveries = []
        self.rng = random.Random(seed)
        self.online = set()

    # ---- the reference rules -------------------------------------------------------------------------------------
    def write(self, src, reg, value, intended=None):
        a = self.apics[src]
        dest_id = 0
        fire = None
        if reg == 0x310:
            assert not a.x2
            self.latch[src] = value
            dest_id = value >> 24
        elif reg == 0x300:
            if a.x2:  # QEMU: destination = bits 63:32 of the 32-bit MMIO write
                self.latch[src] = 0
                fire = (value, 0, True)
            else:
                dest_id = self.latch[src] >> 24
                fire = (value, dest_id, False)
        elif reg == 0x830:
            assert a.x2
            dest_id = value >> 32
            self.latch[src] = dest_id
            fire = (value & 0xFFFFFFFF, dest_id, True)
        elif reg == 0x83F:
            assert a.x2
            fire = ((value & 0xFF) | (SH_SELF << 18), 0, True)
        else:
            self.topology(a, reg, value)
        self.exits.append((src, reg, value, dest_id))
        if fire is not None:
            got = self.fire(src, *fire)
            if intended is not None:
                assert got == sorted(intended), f"{self.name} row {len(self.exits) - 1}: {got} != {sorted(intended)}"
            return got
        return None

    def topology(self, a, reg, value):
        if reg == 0x020 and not a.x2:
            a.xid = (value >> 24) & 0xFF
        elif reg == 0x0D0 and not a.x2:
            a.ldr = (value >> 24) & 0xFF
        elif reg == 0x0E0 and not a.x2:
            a.dfr = (value >> 28) & 0xF
        elif reg == 0x0F0 or (reg == 0x80F and a.x2):
            a.sw = bool(value & 0x100)
        elif reg == 0x01B:
            enable, x2 = bool(value & 0x800), bool(value & 0x400)
            if (x2 and not enable) or (x2 and not a.gl) or (enable and not x2 and a.x2):
                return
            if not enable:
                a.gl, a.x2, a.sw = False, False, False
            else:
                a.gl, a.x2 = True, x2
                if x2:
                    a.ldr = a.x2_ldr() & 0xFF
        else:
            raise ValueError(f"unexpected register {reg:#x}")

    def fire(self, src, low, dest, x2_command):
        mode, vector = (low >> 8) & 7, low & 0xFF
        shorthand, logical = (low >> 18) & 3, bool(low & LOGICAL)
        assert mode in MODE_NAMES and not (mode <= LOWPRI and vector < 16)
        deassert = mode == INIT and not (low & ASSERT) and (low & LEVEL)
        got = []
        if not deassert:
            for v, t in enumerate(self.apics):
                if shorthand == SH_SELF:
                    sel = v == src
                elif shorthand == SH_ALL:
                    sel = True
                elif shorthand == SH_ALL_BUT:
                    sel = v != src
                else:
                    sel = matches(t, dest, logical)
                if sel and t.gl and (t.sw or mode >= SMI):
                    got.append(v)
            if mode == LOWPRI and got:
                got = [got[vector % len(got)]]
        name = "INIT_DEASSERT" if deassert else MODE_NAMES[mode]
        self.deliveries.append((len(self.exits) - 1, src, name, vector, got))
        return got

    # ---- guest behaviour (firmware and a Linux-like kernel) ------------------------------------------------------
    def icr(self, src, low, dest, intended=None):
        """One IPI the way the sender's mode writes it: ICR2 then ICR (xAPIC) or one x2APIC ICR write."""
        if self.apics[src].x2:
            return self.write(src, 0x830, (dest << 32) | low, intended)
        if (low >> 18) & 3 == SH_NONE:
            self.write(src, 0x310, dest << 24)
        return self.write(src, 0x300, low, intended)

    def svr(self, v, on):
        self.write(v, 0x80F if self.apics[v].x2 else 0x0F0, 0x1FF if on else 0xFF)

    def firmware(self):
        self.write(0, 0x0F0, 0x1FF)
        self.write(0, 0x300, (SH_ALL_BUT << 18) | ASSERT | (INIT << 8), range(1, self.n))
        self.write(0, 0x300, (SH_ALL_BUT << 18) | ASSERT | (SIPI << 8) | 0x10, range(1, self.n))

    def local_setup(self, v):
        """setup_local_APIC on vCPU v: x2APIC entry if the kernel uses it, SVR off, logical ID, SVR on."""
        if self.kernel_x2:
            if not self.apics[v].x2:
                self.write(v, 0x01B, 0xFEE00D00 if v == 0 else 0xFEE00C00)
        self.svr(v, False)
        if self.model == "flat":
            self.write(v, 0x0E0, 0xFFFFFFFF)
            self.write(v, 0x0D0, (1 << v) << 24)
        elif self.model == "cluster":
            self.write(v, 0x0E0, 0x0FFFFFFF)
            self.write(v, 0x0D0, self.xapic_cluster_ldr(v) << 24)
        self.svr(v, True)
        self.online.add(v)

    def xapic_cluster_ldr(self, v):
        return ((v // 4) << 4) | (1 << (v % 4))

    def boot_ap(self, src, v):
        dest = self.apics[v].id if self.apics[src].x2 else self.apics[v].xid
        # An APIC still in xAPIC mode compares only its 8-bit ID (QEMU apic_match_dest, KVM agrees): with IDs above 255 an
        # x2APIC INIT/SIPI to ID d also reaches a not yet started APIC whose initial ID has d's low byte.
        reached = [v] + [u for u, a in enumerate(self.apics)
                         if u != v and self.apics[src].x2 and not a.x2 and a.gl and a.xid == dest & 0xFF]
        self.icr(src, LEVEL | ASSERT | (INIT << 8), dest, reached)
        self.icr(src, LEVEL | (INIT << 8), dest, [])
        self.icr(src, (SIPI << 8) | 0x99, dest, reached)
        self.icr(src, (SIPI << 8) | 0x99, dest, reached)
        self.local_setup(v)

    def boot(self):
        self.firmware()
        self.local_setup(0)
        for v in range(1, self.n):
            self.boot_ap(0, v)

    def send_mask(self, src, targets, low):
        """Linux send_IPI_mask: flat in one write, clusters one write per cluster, physical one write per CPU."""
        targets = sorted(targets)
        if not targets:
            return
        if self.model == "flat":
            mda = 0
            for v in targets:
                mda |= 1 << v
            self.icr(src, low | LOGICAL, mda, self.accepting(targets, low))
        elif self.model in ("cluster", "x2cluster"):
            groups = {}
            for v in targets:
                if self.model == "cluster":
                    ldr = self.xapic_cluster_ldr(v)
                    key, bits = ldr >> 4, ldr & 0xF
                else:
                    ldr = self.apics[v].x2_ldr()
                    key, bits = ldr >> 16, ldr & 0xFFFF
                groups.setdefault(key, [0, []])
                groups[key][0] |= bits
                groups[key][1].append(v)
            for key, (bits, members) in sorted(groups.items()):
                dest = (key << 4) | bits if self.model == "cluster" else (key << 16) | bits
                self.icr(src, low | LOGICAL, dest, self.accepting(members, low))
        else:
            for v in targets:
                dest = self.apics[v].id if self.apics[src].x2 else self.apics[v].xid
                self.icr(src, low, dest, self.accepting([v], low))

    def accepting(self, targets, low):
        mode = (low >> 8) & 7
        return [v for v in targets if self.apics[v].gl and (self.apics[v].sw or mode >= SMI)]

    def all_online(self):
        return len(self.online) == self.n

    def workload(self, steps):
        r = self.rng
        for _ in range(steps):
            src = r.choice(sorted(self.online))
            others = sorted(self.online - {src})
            kind = r.randrange(100)
            if kind < 40 and others:
                self.send_mask(src, [r.choice(others)], r.choice([0xFB, 0xFD]))
            elif kind < 60 and others:
                self.send_mask(src, r.sample(others, r.randint(1, len(others))), 0xFC)
            elif kind < 66 and self.all_online():
                self.icr(src, (SH_ALL_BUT << 18) | 0xFC, 0, others)
            elif kind < 72 and others:
                self.send_mask(src, r.sample(others, r.randint(1, len(others))), NMI << 8 | 2)
            elif kind < 76:
                self.icr(src, (SH_ALL_BUT << 18) | (NMI << 8) | 2, 0, [v for v in range(self.n) if v != src])
            elif kind < 82:
                if self.apics[src].x2 and r.randrange(2):
                    self.write(src, 0x83F, 0xF6, [src])
                else:
                    self.icr(src, (SH_SELF << 18) | 0xF6, 0, [src])
            elif kind < 88 and self.model in ("flat", "cluster") and others:
                self.send_lowpri(src, r.sample(others, r.randint(1, len(others))))
            elif kind < 91 and self.model == "cluster":
                bits = r.randint(1, 15)
                intended = [v for v in self.online if self.xapic_cluster_ldr(v) & bits]
                self.icr(src, LOGICAL | 0xFB, 0xF0 | bits, intended)
            elif kind < 93 and self.apics[src].x2:
                self.icr(src, (NMI << 8) | 2, 0xFFFFFFFF, list(range(self.n)))
            elif kind < 95 and len(self.online) > 2:
                self.offline_online(src, r.choice(others))
            else:
                self.send_mask(src, [src], 0xFD)

    def send_lowpri(self, src, targets):
        """Lowest priority to a logical set in one write (flat) or one cluster; the spec's vector-hash pick."""
        if self.model == "cluster":
            cluster = self.xapic_cluster_ldr(targets[0]) >> 4
            targets = [v for v in targets if self.xapic_cluster_ldr(v) >> 4 == cluster]
        mda = 0
        for v in targets:
            mda |= (1 << v) if self.model == "flat" else self.xapic_cluster_ldr(v)
        vector = self.rng.randrange(0x20, 0xF0)
        candidates = sorted(self.accepting(targets, LOWPRI << 8))
        intended = [candidates[vector % len(candidates)]] if candidates else []
        self.icr(src, LOGICAL | (LOWPRI << 8) | vector, mda, intended)

    def offline_online(self, src, v):
        """CPU v goes offline (soft-disables its APIC; an NMI still reaches it) and comes back through INIT/SIPI."""
        self.online.discard(v)
        self.svr(v, False)
        self.send_mask(src, [v], NMI << 8 | 2)
        self.send_mask(src, [v], 0xFD)  # a fixed IPI to an offline, software-disabled CPU reaches nobody
        self.boot_ap(src, v)

    def kexec(self, src):
        """Stop the others (REBOOT vector to all but self), everyone soft-disables, then the new kernel boots them."""
        self.icr(src, (SH_ALL_BUT << 18) | 0xF8, 0, sorted(self.online - {src}))
        for v in sorted(self.online):
            self.svr(v, False)
        self.online = set()
        self.local_setup(src)
        for v in range(self.n):
            if v != src:
                self.boot_ap(src, v)

    def shutdown(self):
        src = 0
        self.icr(src, (SH_ALL_BUT << 18) | 0xF8, 0, sorted(self.online - {src}))
        for v in sorted(self.online - {src}) + [src]:
            self.svr(v, False)

    def save(self):
        with open(f"{self.name}.vcpus.csv", "w") as f:
            f.write("vcpu,apic_id\n")
            for v, a in enumerate(self.apics):
                f.write(f"{v},{a.id:#x}\n")
        with open(f"{self.name}.exits.csv", "w") as f:
            f.write("seq,src_vcpu,reg,value,dest_id\n")
            for seq, (src, reg, value, dest) in enumerate(self.exits):
                f.write(f"{seq},{src},0x{reg:03x},{value:#x},{dest:#x}\n")
        with open(f"{self.name}.deliveries.csv", "w") as f:
            f.write("seq,src_vcpu,delivery_mode,vector,dest_cpus\n")
            for seq, src, mode, vector, got in self.deliveries:
                f.write(f"{seq},{src},{mode},0x{vector:02x},{'|'.join(map(str, got))}\n")


def trace(name, ids, model, kernel_x2, steps, seed, kexec=False):
    g = Guest(name, ids, seed)
    g.model, g.kernel_x2 = model, kernel_x2
    g.boot()
    g.workload(steps)
    if kexec:
        g.kexec(g.rng.choice(sorted(g.online)))
        g.workload(steps // 2)
    g.shutdown()
    g.save()


trace("xapic-flat-smp8", list(range(8)), "flat", False, 600, 1)
trace("xapic-cluster-smp16-sparse", [2 * i for i in range(16)], "cluster", False, 800, 2)
trace("xapic-phys-smp8-sparse", [0, 1, 2, 4, 5, 6, 8, 9], "phys", False, 500, 3, kexec=True)
trace("x2apic-cluster-smp64-sparse", [2 * i for i in range(64)], "x2cluster", True, 1200, 4)
trace("x2apic-phys-smp40-stride8", [8 * i for i in range(40)], "phys", True, 800, 5, kexec=True)
# More vCPUs on one node than a trace-over-nodes node has posting threads (64): vCPUs share posting threads there.
trace("x2apic-phys-smp160", list(range(160)), "phys", True, 700, 6)
