// Minimal Verilator testbench for sqz_top used by hdl's own RTL tests (hdl/tests/rtl.rs).
// Reads a command script on stdin, drives the AXI4-Lite and AXI4-Stream ports, prints results:
//   R n            reset for n cycles
//   W off val      AXI4-Lite write (prints "bresp R")
//   Q off          AXI4-Lite read (prints "reg OFF VAL RESP")
//   S n b0 .. bn-1 stream n 64-bit beats (hex) into H2C
//   O nbytes       run until nbytes arrived on C2H (random back-pressure), prints "out HEX..", "tlast_ok X"
//   P max          poll STATUS (offset given by the script as "P max status_off") until bit DONE or ERROR
//   C n            run n idle cycles
#include "Vsqz_top.h"
#include "verilated.h"
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>
#include <iostream>

static Vsqz_top* top;
static VerilatedContext* ctx;
static uint64_t cycles = 0;
static unsigned rng = 12345;
static int backpressure = 0;
static unsigned rnd() { rng = rng * 1103515245u + 12345u; return (rng >> 16) & 0x7fff; }

static void tick() {
    top->clk = 0; top->eval();
    top->clk = 1; top->eval();
    cycles++;
}

static void axil_write(uint32_t off, uint32_t val) {
    top->s_axil_awaddr = off; top->s_axil_awvalid = 1;
    top->s_axil_wdata = val; top->s_axil_wstrb = 0xF; top->s_axil_wvalid = 1;
    top->s_axil_bready = 1;
    int guard = 0;
    for (;;) {
        top->clk = 0; top->eval();
        bool hs = top->s_axil_awready && top->s_axil_wready;
        top->clk = 1; top->eval(); cycles++;
        if (hs) break;
        if (++guard > 1000) { printf("error write_timeout\n"); exit(2); }
    }
    top->s_axil_awvalid = 0; top->s_axil_wvalid = 0;
    guard = 0;
    for (;;) {
        top->clk = 0; top->eval();
        if (top->s_axil_bvalid) { printf("bresp %d\n", top->s_axil_bresp); tick(); break; }
        top->clk = 1; top->eval(); cycles++;
        if (++guard > 1000) { printf("error bresp_timeout\n"); exit(2); }
    }
    top->s_axil_bready = 0;
}

static uint32_t axil_read(uint32_t off, int* resp) {
    top->s_axil_araddr = off; top->s_axil_arvalid = 1; top->s_axil_rready = 1;
    int guard = 0;
    for (;;) {
        top->clk = 0; top->eval();
        bool hs = top->s_axil_arready;
        top->clk = 1; top->eval(); cycles++;
        if (hs) break;
        if (++guard > 1000) { printf("error ar_timeout\n"); exit(2); }
    }
    top->s_axil_arvalid = 0;
    guard = 0;
    for (;;) {
        top->clk = 0; top->eval();
        if (top->s_axil_rvalid) {
            uint32_t v = top->s_axil_rdata; *resp = top->s_axil_rresp;
            top->clk = 1; top->eval(); cycles++;
            top->s_axil_rready = 0;
            return v;
        }
        top->clk = 1; top->eval(); cycles++;
        if (++guard > 1000) { printf("error r_timeout\n"); exit(2); }
    }
}

int main(int argc, char** argv) {
    ctx = new VerilatedContext;
    ctx->commandArgs(argc, argv);
    top = new Vsqz_top{ctx};
    if (getenv("SQZ_TB_BACKPRESSURE")) backpressure = atoi(getenv("SQZ_TB_BACKPRESSURE"));
    std::string cmd;
    std::vector<uint8_t> out;
    while (std::cin >> cmd) {
        if (cmd == "R") {
            int n; std::cin >> n;
            top->resetn = 0;
            for (int i = 0; i < n; i++) tick();
            top->resetn = 1; tick();
        } else if (cmd == "W") {
            uint32_t off, val; std::cin >> std::hex >> off >> val >> std::dec;
            axil_write(off, val);
        } else if (cmd == "Q") {
            uint32_t off; std::cin >> std::hex >> off >> std::dec;
            int resp; uint32_t v = axil_read(off, &resp);
            printf("reg %x %x %d\n", off, v, resp);
        } else if (cmd == "S") {
            size_t n; std::cin >> n;
            std::vector<uint64_t> beats(n);
            for (size_t i = 0; i < n; i++) { std::cin >> std::hex >> beats[i] >> std::dec; }
            size_t i = 0; uint64_t guard = 0;
            while (i < n) {
                bool v = backpressure ? (rnd() % 4 != 0) : true;
                top->s_axis_tdata = beats[i]; top->s_axis_tkeep = 0xFF;
                top->s_axis_tlast = (i + 1 == n); top->s_axis_tvalid = v;
                top->clk = 0; top->eval();
                bool hs = v && top->s_axis_tready;
                top->clk = 1; top->eval(); cycles++;
                if (hs) i++;
                if (++guard > 100000000ull) { printf("error h2c_timeout %zu\n", i); exit(2); }
            }
            top->s_axis_tvalid = 0;
        } else if (cmd == "O") {
            size_t nbytes; std::cin >> nbytes;
            size_t got = 0; uint64_t guard = 0; int tlast_ok = 1;
            out.clear();
            while (got < nbytes) {
                bool r = backpressure ? (rnd() % 3 != 0) : true;
                top->m_axis_tready = r;
                top->clk = 0; top->eval();
                bool hs = r && top->m_axis_tvalid;
                uint64_t d = top->m_axis_tdata; bool last = top->m_axis_tlast;
                top->clk = 1; top->eval(); cycles++;
                if (hs) {
                    for (int b = 0; b < 8; b++) out.push_back((d >> (8 * b)) & 0xFF);
                    got += 8;
                    if (last != (got >= nbytes)) tlast_ok = 0;
                }
                if (++guard > 2000000000ull) { printf("error c2h_timeout %zu\n", got); exit(2); }
            }
            top->m_axis_tready = 0;
            printf("out ");
            for (size_t k = 0; k < nbytes; k++) printf("%02x", out[k]);
            printf("\ntlast_ok %d\n", tlast_ok);
        } else if (cmd == "P") {
            uint64_t maxc; uint32_t soff; std::cin >> maxc >> std::hex >> soff >> std::dec;
            uint64_t start = cycles;
            for (;;) {
                int resp; uint32_t st = axil_read(soff, &resp);
                if (st & 6) { printf("status %x cycles %llu\n", st, (unsigned long long)(cycles - start)); break; }
                for (int i = 0; i < 16; i++) tick();
                if (cycles - start > maxc) { printf("status_timeout %x\n", st); break; }
            }
        } else if (cmd == "C") {
            uint64_t n; std::cin >> n;
            for (uint64_t i = 0; i < n; i++) tick();
        }
        fflush(stdout);
    }
    printf("total_cycles %llu\n", (unsigned long long)cycles);
    top->final();
    delete top;
    delete ctx;
    return 0;
}
