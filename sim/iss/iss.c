/*
 * RV32IM instruction-set simulator of the control core. Decodes and executes one instruction at
 * a time; every exception stops the run with the cause (see spksim/iss.h).
 *
 * Cycle cost table (a simple in-order 3-stage core, enough to see where firmware time goes):
 * 1 cycle per instruction; +1 for loads (memory read stage); +2 for taken branches and jumps
 * (pipeline refill); +2 for multiplies; +32 for divides/remainders (iterative divider);
 * + the window latency for MMIO accesses.
 */
#include "spksim/iss.h"

#include <stdlib.h>
#include <string.h>

enum {
    COST_LOAD = 1,
    COST_TAKEN = 2,
    COST_MUL = 2,
    COST_DIV = 32,
};

struct spk_iss {
    spk_iss_config cfg;
    uint8_t *imem;
    uint8_t *dmem;
    spk_iss_window windows[SPK_ISS_MAX_WINDOWS];
    unsigned nwindows;
    uint32_t x[32];
    uint32_t pc;
    uint64_t cycles;
    uint64_t instret;
    uint64_t since_kick;
};

static int range_in(uint32_t addr, uint64_t n, uint32_t base, uint32_t size) {
    return addr >= base && (uint64_t)(addr - base) + n <= size;
}

static int ranges_overlap(uint32_t a, uint32_t an, uint32_t b, uint32_t bn) {
    return (uint64_t)a < (uint64_t)b + bn && (uint64_t)b < (uint64_t)a + an;
}

spk_iss *spk_iss_create(const spk_iss_config *cfg) {
    if (!cfg || cfg->size < sizeof(spk_iss_config)) return NULL;
    if (!cfg->imem_size || !cfg->dmem_size || (cfg->imem_size | cfg->dmem_size) % 4) return NULL;
    if ((cfg->imem_base | cfg->dmem_base) % 4) return NULL;
    if ((uint64_t)cfg->imem_base + cfg->imem_size > 0x100000000ull ||
        (uint64_t)cfg->dmem_base + cfg->dmem_size > 0x100000000ull)
        return NULL;
    if (ranges_overlap(cfg->imem_base, cfg->imem_size, cfg->dmem_base, cfg->dmem_size)) return NULL;
    spk_iss *iss = calloc(1, sizeof(*iss));
    if (!iss) return NULL;
    iss->cfg = *cfg;
    iss->imem = calloc(1, cfg->imem_size);
    iss->dmem = calloc(1, cfg->dmem_size);
    if (!iss->imem || !iss->dmem) {
        spk_iss_destroy(iss);
        return NULL;
    }
    spk_iss_reset(iss, cfg->imem_base);
    return iss;
}

void spk_iss_destroy(spk_iss *iss) {
    if (!iss) return;
    free(iss->imem);
    free(iss->dmem);
    free(iss);
}

int spk_iss_add_window(spk_iss *iss, const spk_iss_window *w) {
    if (!iss || !w || !w->size || iss->nwindows == SPK_ISS_MAX_WINDOWS) return -1;
    if ((uint64_t)w->base + w->size > 0x100000000ull) return -1;
    if (ranges_overlap(w->base, w->size, iss->cfg.imem_base, iss->cfg.imem_size) ||
        ranges_overlap(w->base, w->size, iss->cfg.dmem_base, iss->cfg.dmem_size))
        return -1;
    for (unsigned i = 0; i < iss->nwindows; i++)
        if (ranges_overlap(w->base, w->size, iss->windows[i].base, iss->windows[i].size)) return -1;
    iss->windows[iss->nwindows++] = *w;
    return 0;
}

/* Host view of a memory range: pointer into imem/dmem or NULL. */
static uint8_t *host_ptr(const spk_iss *iss, uint32_t addr, size_t n) {
    if (range_in(addr, n, iss->cfg.imem_base, iss->cfg.imem_size))
        return iss->imem + (addr - iss->cfg.imem_base);
    if (range_in(addr, n, iss->cfg.dmem_base, iss->cfg.dmem_size))
        return iss->dmem + (addr - iss->cfg.dmem_base);
    return NULL;
}

int spk_iss_write_mem(spk_iss *iss, uint32_t addr, const void *data, size_t n) {
    if (!iss || (!data && n)) return -1;
    uint8_t *p = host_ptr(iss, addr, n);
    if (!p) return -1;
    if (n) memcpy(p, data, n);
    return 0;
}

int spk_iss_read_mem(const spk_iss *iss, uint32_t addr, void *data, size_t n) {
    if (!iss || (!data && n)) return -1;
    const uint8_t *p = host_ptr(iss, addr, n);
    if (!p) return -1;
    if (n) memcpy(data, p, n);
    return 0;
}

void spk_iss_clear_mem(spk_iss *iss) {
    if (!iss) return;
    memset(iss->imem, 0, iss->cfg.imem_size);
    memset(iss->dmem, 0, iss->cfg.dmem_size);
}

void spk_iss_reset(spk_iss *iss, uint32_t pc) {
    if (!iss) return;
    memset(iss->x, 0, sizeof(iss->x));
    iss->pc = pc;
    iss->cycles = iss->instret = iss->since_kick = 0;
}

uint32_t spk_iss_get_reg(const spk_iss *iss, unsigned index) {
    return iss && index < 32 ? iss->x[index] : 0;
}

void spk_iss_set_reg(spk_iss *iss, unsigned index, uint32_t value) {
    if (iss && index > 0 && index < 32) iss->x[index] = value;
}

uint32_t spk_iss_get_pc(const spk_iss *iss) {
    return iss ? iss->pc : 0;
}
void spk_iss_kick_watchdog(spk_iss *iss) {
    if (iss) iss->since_kick = 0;
}
uint64_t spk_iss_cycles(const spk_iss *iss) {
    return iss ? iss->cycles : 0;
}
uint64_t spk_iss_instret(const spk_iss *iss) {
    return iss ? iss->instret : 0;
}

static uint32_t load_le(const uint8_t *p, unsigned size) {
    uint32_t v = 0;
    for (unsigned i = 0; i < size; i++) v |= (uint32_t)p[i] << (8 * i);
    return v;
}

static void store_le(uint8_t *p, unsigned size, uint32_t v) {
    for (unsigned i = 0; i < size; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static const spk_iss_window *find_window(const spk_iss *iss, uint32_t addr, unsigned size) {
    for (unsigned i = 0; i < iss->nwindows; i++)
        if (range_in(addr, size, iss->windows[i].base, iss->windows[i].size))
            return &iss->windows[i];
    return NULL;
}

/* Data load; returns 0 or the cause code. Instruction memory is readable (constants live in
 * .rodata next to the code) but not writable. */
static int data_load(spk_iss *iss, uint32_t addr, unsigned size, uint32_t *value) {
    if (addr % size) return SPK_ISS_CAUSE_LOAD_MISALIGNED;
    const uint8_t *p = host_ptr(iss, addr, size);
    if (p) {
        *value = load_le(p, size);
        return 0;
    }
    const spk_iss_window *w = find_window(iss, addr, size);
    if (!w || !w->read || w->read(w->ctx, addr - w->base, size, value))
        return SPK_ISS_CAUSE_LOAD_FAULT;
    if (size < 4) *value &= (1u << (8 * size)) - 1;
    iss->cycles += w->latency;
    return 0;
}

static int data_store(spk_iss *iss, uint32_t addr, unsigned size, uint32_t value) {
    if (addr % size) return SPK_ISS_CAUSE_STORE_MISALIGNED;
    if (range_in(addr, size, iss->cfg.dmem_base, iss->cfg.dmem_size)) {
        store_le(iss->dmem + (addr - iss->cfg.dmem_base), size, value);
        return 0;
    }
    const spk_iss_window *w = find_window(iss, addr, size);
    if (!w || !w->write) return SPK_ISS_CAUSE_STORE_FAULT;
    if (size < 4) value &= (1u << (8 * size)) - 1;
    if (w->write(w->ctx, addr - w->base, size, value)) return SPK_ISS_CAUSE_STORE_FAULT;
    iss->cycles += w->latency;
    return 0;
}

static int32_t sext(uint32_t v, unsigned bits) {
    uint32_t m = 1u << (bits - 1);
    return (int32_t)((v ^ m) - m);
}

static int32_t imm_i(uint32_t in) {
    return (int32_t)in >> 20;
}
static int32_t imm_s(uint32_t in) {
    return sext(((in >> 25) << 5) | ((in >> 7) & 0x1f), 12);
}
static int32_t imm_b(uint32_t in) {
    uint32_t v = ((in >> 31) << 12) | (((in >> 7) & 1) << 11) | (((in >> 25) & 0x3f) << 5) |
                 (((in >> 8) & 0xf) << 1);
    return sext(v, 13);
}
static int32_t imm_j(uint32_t in) {
    uint32_t v = ((in >> 31) << 20) | (((in >> 12) & 0xff) << 12) | (((in >> 20) & 1) << 11) |
                 (((in >> 21) & 0x3ff) << 1);
    return sext(v, 21);
}

/* RV32M; funct3 selects the operation. Division follows the spec's corner cases (no traps). */
static uint32_t exec_muldiv(spk_iss *iss, unsigned f3, uint32_t a, uint32_t b) {
    int32_t sa = (int32_t)a, sb = (int32_t)b;
    iss->cycles += f3 < 4 ? COST_MUL : COST_DIV;
    switch (f3) {
    case 0:
        return (uint32_t)((uint64_t)a * b);
    case 1:
        return (uint32_t)((uint64_t)((int64_t)sa * sb) >> 32);
    case 2:
        return (uint32_t)((uint64_t)((int64_t)sa * (int64_t)(uint64_t)b) >> 32);
    case 3:
        return (uint32_t)(((uint64_t)a * b) >> 32);
    case 4:
        if (b == 0) return 0xffffffffu;
        if (sa == INT32_MIN && sb == -1) return a;
        return (uint32_t)(sa / sb);
    case 5:
        return b == 0 ? 0xffffffffu : a / b;
    case 6:
        if (b == 0) return a;
        if (sa == INT32_MIN && sb == -1) return 0;
        return (uint32_t)(sa % sb);
    default:
        return b == 0 ? a : a % b;
    }
}

/* Register-register and register-immediate ALU; returns -1 for an illegal encoding. */
static int exec_alu(unsigned f3, unsigned f7, uint32_t a, uint32_t b, int is_imm, uint32_t *out) {
    unsigned shamt = b & 31;
    switch (f3) {
    case 0:
        if (!is_imm && f7 == 0x20)
            *out = a - b;
        else if (is_imm || f7 == 0)
            *out = a + b;
        else
            return -1;
        return 0;
    case 1:
        if (f7) return -1;
        *out = a << shamt;
        return 0;
    case 2:
        *out = (int32_t)a < (int32_t)b;
        break;
    case 3:
        *out = a < b;
        break;
    case 4:
        *out = a ^ b;
        break;
    case 5:
        if (f7 == 0)
            *out = a >> shamt;
        else if (f7 == 0x20)
            *out = (uint32_t)((int32_t)a >> shamt);
        else
            return -1;
        return 0;
    case 6:
        *out = a | b;
        break;
    default:
        *out = a & b;
        break;
    }
    return !is_imm && f7 ? -1 : 0;
}

static int branch_taken(unsigned f3, uint32_t a, uint32_t b, int *taken) {
    switch (f3) {
    case 0:
        *taken = a == b;
        return 0;
    case 1:
        *taken = a != b;
        return 0;
    case 4:
        *taken = (int32_t)a < (int32_t)b;
        return 0;
    case 5:
        *taken = (int32_t)a >= (int32_t)b;
        return 0;
    case 6:
        *taken = a < b;
        return 0;
    case 7:
        *taken = a >= b;
        return 0;
    default:
        return -1;
    }
}

/* Read-only counter CSRs (rdcycle/rdtime/rdinstret and their high halves). */
static int read_counter_csr(const spk_iss *iss, unsigned csr, uint32_t *out) {
    switch (csr) {
    case 0xc00:
    case 0xc01:
        *out = (uint32_t)iss->cycles;
        return 0;
    case 0xc80:
    case 0xc81:
        *out = (uint32_t)(iss->cycles >> 32);
        return 0;
    case 0xc02:
        *out = (uint32_t)iss->instret;
        return 0;
    case 0xc82:
        *out = (uint32_t)(iss->instret >> 32);
        return 0;
    default:
        return -1;
    }
}

typedef struct step_out {
    int cause; /* -1: none */
    uint32_t tval;
    int wfi;
} step_out;

static int exec_system(spk_iss *iss, uint32_t in, unsigned rd, unsigned f3, unsigned rs1,
                       step_out *so) {
    if (f3 == 0) {
        if (in == 0x00000073u) return SPK_ISS_CAUSE_ECALL;
        if (in == 0x00100073u) return SPK_ISS_CAUSE_BREAKPOINT;
        if (in == 0x10500073u) {
            so->wfi = 1;
            return -1;
        }
        return SPK_ISS_CAUSE_ILLEGAL;
    }
    /* Only csrrs/csrrc with rs1 = x0 (pure reads) of the counters. */
    uint32_t v;
    if ((f3 != 2 && f3 != 3) || rs1 != 0 || read_counter_csr(iss, in >> 20, &v))
        return SPK_ISS_CAUSE_ILLEGAL;
    if (rd) iss->x[rd] = v;
    return -1;
}

/* Execute the instruction at pc. Returns via so; updates pc on success. */
static void step(spk_iss *iss, step_out *so) {
    uint32_t pc = iss->pc;
    so->cause = -1;
    so->wfi = 0;
    if (pc % 4) {
        so->cause = SPK_ISS_CAUSE_FETCH_MISALIGNED;
        so->tval = pc;
        return;
    }
    if (!range_in(pc, 4, iss->cfg.imem_base, iss->cfg.imem_size)) {
        so->cause = SPK_ISS_CAUSE_FETCH_FAULT;
        so->tval = pc;
        return;
    }
    uint32_t in = load_le(iss->imem + (pc - iss->cfg.imem_base), 4);
    unsigned op = in & 0x7f, rd = (in >> 7) & 31, f3 = (in >> 12) & 7, rs1 = (in >> 15) & 31;
    unsigned rs2 = (in >> 20) & 31, f7 = in >> 25;
    uint32_t a = iss->x[rs1], b = iss->x[rs2], result = 0, next = pc + 4;
    int writes = 1, cause = -1;
    so->tval = in;
    switch (op) {
    case 0x37:
        result = in & 0xfffff000u;
        break;
    case 0x17:
        result = pc + (in & 0xfffff000u);
        break;
    case 0x6f:
        result = pc + 4;
        next = pc + (uint32_t)imm_j(in);
        iss->cycles += COST_TAKEN;
        break;
    case 0x67:
        if (f3) cause = SPK_ISS_CAUSE_ILLEGAL;
        result = pc + 4;
        next = (a + (uint32_t)imm_i(in)) & ~1u;
        iss->cycles += COST_TAKEN;
        break;
    case 0x63: {
        int taken;
        writes = 0;
        if (branch_taken(f3, a, b, &taken))
            cause = SPK_ISS_CAUSE_ILLEGAL;
        else if (taken) {
            next = pc + (uint32_t)imm_b(in);
            iss->cycles += COST_TAKEN;
        }
        break;
    }
    case 0x03: {
        static const unsigned sizes[8] = {1, 2, 4, 0, 1, 2, 0, 0};
        unsigned size = sizes[f3];
        uint32_t addr = a + (uint32_t)imm_i(in);
        if (!size) {
            cause = SPK_ISS_CAUSE_ILLEGAL;
            break;
        }
        cause = data_load(iss, addr, size, &result);
        if (cause) {
            so->tval = addr;
            break;
        }
        cause = -1;
        if (f3 < 4 && size < 4) result = (uint32_t)sext(result, 8 * size);
        iss->cycles += COST_LOAD;
        break;
    }
    case 0x23: {
        unsigned size = f3 < 3 ? 1u << f3 : 0;
        uint32_t addr = a + (uint32_t)imm_s(in);
        writes = 0;
        if (!size) {
            cause = SPK_ISS_CAUSE_ILLEGAL;
            break;
        }
        cause = data_store(iss, addr, size, b);
        if (cause)
            so->tval = addr;
        else
            cause = -1;
        break;
    }
    case 0x13: {
        /* Shift immediates carry their funct7 in the immediate; other ops have no funct7. */
        unsigned f7i = (f3 == 1 || f3 == 5) ? f7 : 0;
        uint32_t imm = (f3 == 1 || f3 == 5) ? rs2 : (uint32_t)imm_i(in);
        if (exec_alu(f3, f7i, a, imm, 1, &result)) cause = SPK_ISS_CAUSE_ILLEGAL;
        break;
    }
    case 0x33:
        if (f7 == 1)
            result = exec_muldiv(iss, f3, a, b);
        else if (exec_alu(f3, f7, a, b, 0, &result))
            cause = SPK_ISS_CAUSE_ILLEGAL;
        break;
    case 0x0f:
        writes = 0;
        break; /* fence / fence.i: one hart, in-order: nothing to order */
    case 0x73:
        writes = 0;
        cause = exec_system(iss, in, rd, f3, rs1, so);
        break;
    default:
        cause = SPK_ISS_CAUSE_ILLEGAL;
        break;
    }
    /* A jump or taken branch to a misaligned target traps on the jump itself (RISC-V: the
     * reported PC is the jump's, tval the target), which points at the bug. */
    if (cause < 0 && next % 4) {
        cause = SPK_ISS_CAUSE_FETCH_MISALIGNED;
        so->tval = next;
    }
    if (cause >= 0) {
        so->cause = cause;
        if (cause == SPK_ISS_CAUSE_ECALL || cause == SPK_ISS_CAUSE_BREAKPOINT) so->tval = 0;
        return;
    }
    if (writes && rd) iss->x[rd] = result;
    iss->pc = next;
    iss->cycles += 1;
    iss->instret += 1;
}

spk_iss_stop spk_iss_run(spk_iss *iss, uint64_t max_instructions, spk_iss_result *res) {
    spk_iss_result local;
    if (!res) res = &local;
    memset(res, 0, sizeof(*res));
    if (!iss) {
        res->stop = SPK_ISS_STOP_TRAP;
        res->cause = SPK_ISS_CAUSE_FETCH_FAULT;
        return res->stop;
    }
    res->stop = SPK_ISS_STOP_BUDGET;
    for (uint64_t i = 0; i < max_instructions; i++) {
        if (iss->cfg.watchdog && iss->since_kick >= iss->cfg.watchdog) {
            res->stop = SPK_ISS_STOP_WATCHDOG;
            break;
        }
        step_out so;
        step(iss, &so);
        if (so.cause >= 0) {
            res->stop = SPK_ISS_STOP_TRAP;
            res->cause = (uint32_t)so.cause;
            res->tval = so.tval;
            res->pc = iss->pc;
            return res->stop;
        }
        res->executed++;
        iss->since_kick++;
        if (so.wfi) {
            res->stop = SPK_ISS_STOP_WFI;
            break;
        }
    }
    res->pc = iss->pc;
    return res->stop;
}

const char *spk_iss_cause_str(uint32_t cause) {
    switch (cause) {
    case SPK_ISS_CAUSE_FETCH_MISALIGNED:
        return "instruction address misaligned";
    case SPK_ISS_CAUSE_FETCH_FAULT:
        return "instruction access fault";
    case SPK_ISS_CAUSE_ILLEGAL:
        return "illegal instruction";
    case SPK_ISS_CAUSE_BREAKPOINT:
        return "breakpoint";
    case SPK_ISS_CAUSE_LOAD_MISALIGNED:
        return "load address misaligned";
    case SPK_ISS_CAUSE_LOAD_FAULT:
        return "load access fault";
    case SPK_ISS_CAUSE_STORE_MISALIGNED:
        return "store address misaligned";
    case SPK_ISS_CAUSE_STORE_FAULT:
        return "store access fault";
    case SPK_ISS_CAUSE_ECALL:
        return "environment call";
    default:
        return "unknown cause";
    }
}

const char *spk_iss_stop_str(spk_iss_stop stop) {
    switch (stop) {
    case SPK_ISS_STOP_BUDGET:
        return "instruction budget used";
    case SPK_ISS_STOP_WFI:
        return "waiting for interrupt";
    case SPK_ISS_STOP_TRAP:
        return "trap";
    case SPK_ISS_STOP_WATCHDOG:
        return "watchdog expired";
    default:
        return "unknown stop";
    }
}
