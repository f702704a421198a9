// sqz_shim.cpp: the C ABI between the Rust harness (sim::rtl) and one Verilated `sqz_top`.
//
// Every operation is batched: an AXI4-Lite transaction, a whole H2C burst, a whole C2H read or a
// run of N cycles is one call, so the FFI is crossed per transaction, never per cycle. Random
// back-pressure (H2C valid gaps, C2H ready drops, AXI4-Lite ready/valid delays) comes from small
// xorshift64 generators seeded from Rust, so a failing case replays exactly.
//
// The file is compiled once per preset; build.rs defines
//   SQZ_MODEL    the Verilated class (Vsqz_top_<preset>, from verilator --prefix)
//   SQZ_HEADER   its header as a string
//   SQZ_FN(n)    the exported name of function n (sqz_<preset>_n), so presets link side by side
//   SQZ_TRACE    1 = VCD, 2 = FST (only with the cargo feature `trace` / `trace-fst`)

#include <cstdint>
#include <cstring>
#include <memory>

#include "verilated.h"
#include SQZ_HEADER

#if SQZ_TRACE == 1
#include "verilated_vcd_c.h"
typedef VerilatedVcdC SqzTraceFile;
#elif SQZ_TRACE == 2
#include "verilated_fst_c.h"
typedef VerilatedFstC SqzTraceFile;
#endif

namespace {

// Return codes shared with sim::rtl (src/rtl_ffi.rs).
const int SQZ_OK = 0;
const int SQZ_ETIMEOUT = -1;
const int SQZ_ENOTRACE = -2;
const int SQZ_EARG = -3;

// Stop conditions of sqz_pump (bit set; the pump stops as soon as any requested one holds).
const uint32_t STOP_IN_DONE = 1;   // every H2C beat accepted
const uint32_t STOP_TLAST = 2;     // a C2H beat with tlast accepted
const uint32_t STOP_IRQ = 4;       // irq is high
const uint32_t STOP_OUT_FULL = 8;  // the C2H buffer is full

struct Rng {
    uint64_t s;
    void seed(uint64_t v) { s = v ? v : 0x9E3779B97F4A7C15ull; }
    uint64_t next() {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        return s;
    }
    // True with probability pct/256 (pct >= 256: always).
    bool chance(uint32_t pct) { return pct >= 256 || (uint32_t)(next() & 0xFF) < pct; }
};

struct Sim {
    VerilatedContext* ctx;
    SQZ_MODEL* top;
    uint64_t cycles;
    Rng h2c, c2h, axil;
    uint32_t h2c_valid_pct;  // chance (of 256) that a pending H2C beat is offered in a cycle
    uint32_t c2h_ready_pct;  // chance (of 256) that m_axis_tready is high in a cycle
    uint32_t axil_pct;       // chance (of 256) per cycle that an AXI4-Lite ready/valid is raised
    // C2H protocol monitor: once m_axis_tvalid is high it must stay high, with tdata/tkeep/tlast
    // stable, until the beat is accepted (AXI4-Stream). Checked on every clock edge.
    bool c2h_pending;
    uint64_t c2h_data;
    uint32_t c2h_side;
    uint64_t protocol_errors;
#ifdef SQZ_TRACE
    SqzTraceFile* tfp;
#endif

    // Settle combinational logic after inputs changed (clock low).
    void settle() {
        top->eval();
#ifdef SQZ_TRACE
        if (tfp) tfp->dump(cycles * 2);
#endif
    }
    // One rising edge. The clock is lowered without an eval: the next settle() evaluates the
    // falling edge together with the next cycle's inputs (two evals per cycle, not three).
    void tick() {
        monitor();
        top->clk = 1;
        top->eval();
#ifdef SQZ_TRACE
        if (tfp) tfp->dump(cycles * 2 + 1);
#endif
        top->clk = 0;
        cycles++;
    }
    // Called before each rising edge, after settle().
    void monitor() {
        if (!top->resetn) {
            c2h_pending = false;
            return;
        }
        uint32_t side = (uint32_t)top->m_axis_tkeep | ((uint32_t)top->m_axis_tlast << 8);
        if (c2h_pending && (!top->m_axis_tvalid || top->m_axis_tdata != c2h_data || side != c2h_side))
            protocol_errors++;
        c2h_pending = top->m_axis_tvalid && !top->m_axis_tready;
        c2h_data = top->m_axis_tdata;
        c2h_side = side;
    }
    // AXI: a master may raise a VALID only at a rising edge after ARESETn is high. Traffic
    // starts right there: the engine holds TREADY low while its registered reset is still
    // reaching its children, so nothing offered early is lost.
    void after_reset() {
        settle();
        tick();
        settle();
    }
    void idle_inputs() {
        top->s_axil_awvalid = 0;
        top->s_axil_wvalid = 0;
        top->s_axil_bready = 0;
        top->s_axil_arvalid = 0;
        top->s_axil_rready = 0;
        top->s_axis_tvalid = 0;
        top->s_axis_tlast = 0;
        top->m_axis_tready = 0;
    }
};

}  // namespace

extern "C" {

// Result of one sqz_pump call.
struct SqzPump {
    uint64_t cycles;       // cycles run by this call
    uint64_t in_accepted;  // H2C beats accepted
    uint64_t out_count;    // C2H beats collected
    uint64_t out_lasts;    // C2H beats that carried tlast
    uint32_t out_bad_keep; // C2H beats whose tkeep was not all ones
    int32_t stopped;       // 1: a requested stop condition held; 0: the cycle budget ran out
};

void* SQZ_FN(new)(void) {
    Sim* s = new Sim();
    s->ctx = new VerilatedContext();
    s->ctx->randReset(0);
#ifdef SQZ_TRACE
    s->ctx->traceEverOn(true);
    s->tfp = nullptr;
#endif
    s->top = new SQZ_MODEL(s->ctx, "TOP");
    s->cycles = 0;
    s->h2c.seed(1);
    s->c2h.seed(2);
    s->axil.seed(3);
    s->h2c_valid_pct = 256;
    s->c2h_ready_pct = 256;
    s->axil_pct = 256;
    s->c2h_pending = false;
    s->c2h_data = 0;
    s->c2h_side = 0;
    s->protocol_errors = 0;
    s->top->clk = 0;
    s->top->resetn = 0;
    s->idle_inputs();
    s->top->s_axil_awaddr = 0;
    s->top->s_axil_araddr = 0;
    s->top->s_axil_wdata = 0;
    s->top->s_axil_wstrb = 0;
    s->top->s_axis_tdata = 0;
    s->top->s_axis_tkeep = 0;
    // Synchronous active-low reset, held for several cycles.
    for (int i = 0; i < 8; i++) {
        s->settle();
        s->tick();
    }
    s->top->resetn = 1;
    s->after_reset();
    return s;
}

void SQZ_FN(free)(void* p) {
    Sim* s = static_cast<Sim*>(p);
    if (!s) return;
#ifdef SQZ_TRACE
    if (s->tfp) {
        s->tfp->close();
        delete s->tfp;
    }
#endif
    s->top->final();
    delete s->top;
    delete s->ctx;
    delete s;
}

// Pulse resetn low for `cycles` cycles (>= 2).
void SQZ_FN(reset)(void* p, uint32_t cycles) {
    Sim* s = static_cast<Sim*>(p);
    s->idle_inputs();
    s->top->resetn = 0;
    for (uint32_t i = 0; i < (cycles < 2 ? 2 : cycles); i++) {
        s->settle();
        s->tick();
    }
    s->top->resetn = 1;
    s->after_reset();
}

uint64_t SQZ_FN(cycles)(void* p) { return static_cast<Sim*>(p)->cycles; }

// C2H protocol violations seen by the monitor since the model was made.
uint64_t SQZ_FN(protocol_errors)(void* p) { return static_cast<Sim*>(p)->protocol_errors; }

uint32_t SQZ_FN(irq)(void* p) {
    Sim* s = static_cast<Sim*>(p);
    s->settle();
    return s->top->irq;
}

// Back-pressure: probabilities out of 256 (256 = never stalls) and generator seeds.
void SQZ_FN(set_pressure)(void* p, uint32_t h2c_valid_pct, uint64_t h2c_seed, uint32_t c2h_ready_pct,
                          uint64_t c2h_seed, uint32_t axil_pct, uint64_t axil_seed) {
    Sim* s = static_cast<Sim*>(p);
    s->h2c_valid_pct = h2c_valid_pct;
    s->c2h_ready_pct = c2h_ready_pct;
    s->axil_pct = axil_pct;
    s->h2c.seed(h2c_seed);
    s->c2h.seed(c2h_seed);
    s->axil.seed(axil_seed);
}

// One AXI4-Lite write. AW and W are offered independently (each after a random delay when
// axil_pct < 256) and held until accepted; bready is raised after a random delay.
int SQZ_FN(axil_write)(void* p, uint32_t addr, uint32_t data, uint32_t strb, uint64_t timeout,
                       uint32_t* resp) {
    Sim* s = static_cast<Sim*>(p);
    auto* t = s->top;
    bool aw_done = false, w_done = false;
    t->s_axil_awaddr = addr;
    t->s_axil_wdata = data;
    t->s_axil_wstrb = strb;
    t->s_axil_bready = 0;
    for (uint64_t c = 0; c < timeout; c++) {
        if (!aw_done && !t->s_axil_awvalid && s->axil.chance(s->axil_pct)) t->s_axil_awvalid = 1;
        if (!w_done && !t->s_axil_wvalid && s->axil.chance(s->axil_pct)) t->s_axil_wvalid = 1;
        if (aw_done && w_done && !t->s_axil_bready && s->axil.chance(s->axil_pct)) t->s_axil_bready = 1;
        s->settle();
        bool aw_hs = t->s_axil_awvalid && t->s_axil_awready;
        bool w_hs = t->s_axil_wvalid && t->s_axil_wready;
        bool b_hs = t->s_axil_bvalid && t->s_axil_bready;
        if (b_hs && resp) *resp = t->s_axil_bresp;
        s->tick();
        if (aw_hs) {
            aw_done = true;
            t->s_axil_awvalid = 0;
        }
        if (w_hs) {
            w_done = true;
            t->s_axil_wvalid = 0;
        }
        if (b_hs) {
            t->s_axil_bready = 0;
            s->settle();
            return SQZ_OK;
        }
    }
    t->s_axil_awvalid = 0;
    t->s_axil_wvalid = 0;
    t->s_axil_bready = 0;
    s->settle();
    return SQZ_ETIMEOUT;
}

// One AXI4-Lite read; rready is raised after a random delay.
int SQZ_FN(axil_read)(void* p, uint32_t addr, uint64_t timeout, uint32_t* data, uint32_t* resp) {
    Sim* s = static_cast<Sim*>(p);
    auto* t = s->top;
    bool ar_done = false;
    t->s_axil_araddr = addr;
    t->s_axil_rready = 0;
    for (uint64_t c = 0; c < timeout; c++) {
        if (!ar_done && !t->s_axil_arvalid && s->axil.chance(s->axil_pct)) t->s_axil_arvalid = 1;
        if (ar_done && !t->s_axil_rready && s->axil.chance(s->axil_pct)) t->s_axil_rready = 1;
        s->settle();
        bool ar_hs = t->s_axil_arvalid && t->s_axil_arready;
        bool r_hs = t->s_axil_rvalid && t->s_axil_rready;
        if (r_hs) {
            if (data) *data = t->s_axil_rdata;
            if (resp) *resp = t->s_axil_rresp;
        }
        s->tick();
        if (ar_hs) {
            ar_done = true;
            t->s_axil_arvalid = 0;
        }
        if (r_hs) {
            t->s_axil_rready = 0;
            s->settle();
            return SQZ_OK;
        }
    }
    t->s_axil_arvalid = 0;
    t->s_axil_rready = 0;
    s->settle();
    return SQZ_ETIMEOUT;
}

// Drive both streams for up to `max_cycles` cycles: offer `in[0..n_in]` on H2C (tlast on the last
// beat when `last_at_end`), collect C2H beats into `out[0..out_max]` (tkeep into `keep` when not
// null; tready stays low once the buffer is full), and stop early on any condition in `stop`.
int SQZ_FN(pump)(void* p, const uint64_t* in, uint64_t n_in, uint32_t last_at_end, uint64_t* out,
                 uint8_t* keep, uint64_t out_max, uint64_t max_cycles, uint32_t stop, SqzPump* r) {
    Sim* s = static_cast<Sim*>(p);
    auto* t = s->top;
    if (!r || (n_in && !in) || (out_max && !out)) return SQZ_EARG;
    std::memset(r, 0, sizeof(*r));
    uint64_t idx = 0;
    bool offered = false;
    t->s_axis_tkeep = 0xFF;
    for (uint64_t c = 0; c < max_cycles; c++) {
        if (idx < n_in && !offered && s->h2c.chance(s->h2c_valid_pct)) {
            offered = true;
            t->s_axis_tdata = in[idx];
            t->s_axis_tlast = (last_at_end && idx + 1 == n_in) ? 1 : 0;
        }
        t->s_axis_tvalid = offered ? 1 : 0;
        t->m_axis_tready = (r->out_count < out_max && s->c2h.chance(s->c2h_ready_pct)) ? 1 : 0;
        s->settle();
        bool in_hs = t->s_axis_tvalid && t->s_axis_tready;
        bool out_hs = t->m_axis_tvalid && t->m_axis_tready;
        bool got_last = false;
        if (out_hs) {
            out[r->out_count] = t->m_axis_tdata;
            if (keep) keep[r->out_count] = t->m_axis_tkeep;
            if (t->m_axis_tkeep != 0xFF) r->out_bad_keep++;
            if (t->m_axis_tlast) {
                r->out_lasts++;
                got_last = true;
            }
            r->out_count++;
        }
        s->tick();
        r->cycles++;
        if (in_hs) {
            idx++;
            offered = false;
        }
        bool done = ((stop & STOP_IN_DONE) && idx == n_in) || ((stop & STOP_TLAST) && got_last) ||
                    ((stop & STOP_OUT_FULL) && r->out_count == out_max);
        if (!done && (stop & STOP_IRQ)) {
            s->settle();
            done = t->irq;
        }
        if (done) {
            r->stopped = 1;
            break;
        }
    }
    r->in_accepted = idx;
    t->s_axis_tvalid = 0;
    t->s_axis_tlast = 0;
    t->m_axis_tready = 0;
    s->settle();
    return SQZ_OK;
}

int SQZ_FN(trace_open)(void* p, const char* path) {
#ifdef SQZ_TRACE
    Sim* s = static_cast<Sim*>(p);
    if (!path) return SQZ_EARG;
    if (s->tfp) {
        s->tfp->close();
        delete s->tfp;
    }
    s->tfp = new SqzTraceFile();
    s->top->trace(s->tfp, 99);
    s->tfp->open(path);
    s->settle();
    return SQZ_OK;
#else
    (void)p;
    (void)path;
    return SQZ_ENOTRACE;
#endif
}

int SQZ_FN(trace_close)(void* p) {
#ifdef SQZ_TRACE
    Sim* s = static_cast<Sim*>(p);
    if (s->tfp) {
        s->tfp->close();
        delete s->tfp;
        s->tfp = nullptr;
    }
    return SQZ_OK;
#else
    (void)p;
    return SQZ_ENOTRACE;
#endif
}

}  // extern "C"
