// spk-board-sim: the Verilated iCEBreaker board top (spk_icebreaker_top with SPK_BOARD_SIM: the
// PLL bypassed, board_map.json's sim parameters) behind a pty or a TCP socket, so that the
// host's fpga backend talks to the same Verilog that goes into the bitstream, byte for byte.
// The UART pins are driven and sampled bit-serially (sim_uart.h).
//
//   spk-board-sim              open a pty, print "spk-board-sim: pty /dev/pts/N", serve it
//   spk-board-sim --socket P   listen on 127.0.0.1:P (0: any free port), print
//                              "spk-board-sim: socket 127.0.0.1:P", serve one connection
//   --trace FILE.fst           dump the board's waveforms (slow)
// Exits 0 when the peer closes (the pty's last other opener, or the connection) or on SIGTERM
// or SIGINT; 2 on bad arguments, 1 on a system error.
//
// Time: the model runs as fast as it can while the link or the engine has work; after 5,000
// cycles with nothing to do it advances about 1,000 cycles per millisecond of wall time (the
// board's CLOCK_KHZ in this build is 1000), so the receive timeout of 20,000 cycles is about
// 20 ms of wall time for a host that stopped in the middle of a frame.
#include <arpa/inet.h>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <netinet/in.h>
#include <poll.h>
#include <string>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>
#include <vector>

#include "Vboard.h"
#include "sim_uart.h"
#include "verilated.h"
#include "verilated_fst_c.h"

namespace {

constexpr unsigned kClksPerBit = 4;    // board_map.json uart.sim.clks_per_bit (rtl/board.mk)
constexpr unsigned kIdleGrace = 5000;  // cycles with nothing to do before pacing
constexpr unsigned kPaceCycles = 1000; // cycles per millisecond while paced

volatile sig_atomic_t g_stop = 0;
void on_signal(int) {
    g_stop = 1;
}

int usage() {
    fprintf(stderr, "usage: spk-board-sim [--socket PORT] [--trace FILE.fst]\n");
    return 2;
}

// A pty master in raw mode; the slave stays open here until the peer sent its first byte, so
// that the peer's open/close before that is not taken as the end.
int open_pty(int *slave, std::string *name) {
    int m = posix_openpt(O_RDWR | O_NOCTTY);
    if (m < 0 || grantpt(m) != 0 || unlockpt(m) != 0) {
        perror("spk-board-sim: posix_openpt");
        return -1;
    }
    const char *n = ptsname(m);
    if (!n) {
        perror("spk-board-sim: ptsname");
        return -1;
    }
    *name = n;
    *slave = open(n, O_RDWR | O_NOCTTY);
    if (*slave < 0) {
        perror("spk-board-sim: open pty slave");
        return -1;
    }
    struct termios t;
    if (tcgetattr(*slave, &t) != 0) {
        perror("spk-board-sim: tcgetattr");
        return -1;
    }
    cfmakeraw(&t);
    if (tcsetattr(*slave, TCSANOW, &t) != 0) {
        perror("spk-board-sim: tcsetattr");
        return -1;
    }
    fcntl(m, F_SETFL, fcntl(m, F_GETFL) | O_NONBLOCK);
    return m;
}

int open_socket(long port, int *listener) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0) {
        perror("spk-board-sim: socket");
        return -1;
    }
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(s, reinterpret_cast<struct sockaddr *>(&a), sizeof a) != 0 || listen(s, 1) != 0) {
        fprintf(stderr, "spk-board-sim: cannot listen on 127.0.0.1:%ld: %s\n", port,
                strerror(errno));
        return -1;
    }
    socklen_t len = sizeof a;
    getsockname(s, reinterpret_cast<struct sockaddr *>(&a), &len);
    printf("spk-board-sim: socket 127.0.0.1:%u\n", ntohs(a.sin_port));
    fflush(stdout);
    *listener = s;
    int c = -1;
    while (!g_stop && c < 0) {
        c = accept(s, nullptr, nullptr);
        if (c < 0 && errno != EINTR) {
            perror("spk-board-sim: accept");
            return -1;
        }
    }
    if (c >= 0) fcntl(c, F_SETFL, fcntl(c, F_GETFL) | O_NONBLOCK);
    return c;
}

} // namespace

int main(int argc, char **argv) {
    long port = -1;
    const char *trace = nullptr;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--socket") && i + 1 < argc) {
            char *end;
            errno = 0;
            port = strtol(argv[++i], &end, 10);
            if (errno || *end || port < 0 || port > 65535) {
                fprintf(stderr, "spk-board-sim: --socket: bad port '%s' (0..65535)\n", argv[i]);
                return 2;
            }
        } else if (!strcmp(argv[i], "--trace") && i + 1 < argc) {
            trace = argv[++i];
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage();
            return 0;
        } else {
            fprintf(stderr, "spk-board-sim: unknown argument '%s'\n", argv[i]);
            return usage();
        }
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGINT, &sa, nullptr);
    signal(SIGPIPE, SIG_IGN);

    int fd, slave = -1, listener = -1;
    bool is_pty = port < 0;
    if (is_pty) {
        std::string name;
        fd = open_pty(&slave, &name);
        if (fd < 0) return 1;
        printf("spk-board-sim: pty %s\n", name.c_str());
        fflush(stdout);
    } else {
        fd = open_socket(port, &listener);
        if (fd < 0) return g_stop ? 0 : 1;
    }

    auto ctx = std::make_unique<VerilatedContext>();
    ctx->traceEverOn(trace != nullptr);
    auto top = std::make_unique<Vboard>(ctx.get());
    std::unique_ptr<VerilatedFstC> tfp;
    if (trace) {
        tfp = std::make_unique<VerilatedFstC>();
        top->trace(tfp.get(), 99);
        tfp->open(trace);
    }
    spkboard::UartDriver drv(kClksPerBit);
    spkboard::UartSampler smp(kClksPerBit);
    std::vector<uint8_t> out;
    uint64_t cycle = 0;
    unsigned idle = 0;
    top->BTN_N = 1;
    top->RX = 1;
    top->CLK = 0;
    top->eval();
    // power-on: the board holds itself in reset for its first cycles (spk_icebreaker_top), and
    // a byte sent then would be lost; nothing is read from the peer before this
    for (int c = 0; c < 64; c++) {
        top->CLK = 1;
        top->eval();
        top->CLK = 0;
        top->eval();
        cycle++;
    }

    int rc = 0;
    while (!g_stop) {
        // the link: take what the peer sent, send what the board answered
        bool paced = idle >= kIdleGrace && out.empty();
        struct pollfd p = {fd, static_cast<short>(POLLIN | (out.empty() ? 0 : POLLOUT)), 0};
        int n = poll(&p, 1, paced ? 1 : 0);
        if (n < 0 && errno != EINTR) {
            perror("spk-board-sim: poll");
            rc = 1;
            break;
        }
        bool peer_gone = false;
        if (n > 0 && (p.revents & POLLIN)) {
            uint8_t buf[4096];
            ssize_t r = read(fd, buf, sizeof buf);
            if (r > 0) {
                for (ssize_t i = 0; i < r; i++) drv.push(buf[i]);
                if (slave >= 0) { // the peer is there: from now on its close ends the run
                    close(slave);
                    slave = -1;
                }
            } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
                peer_gone = true;
            }
        } else if (n > 0 && (p.revents & (POLLHUP | POLLERR)) && slave < 0) {
            peer_gone = true;
        }
        if (peer_gone) break;
        if (!out.empty()) {
            ssize_t w = write(fd, out.data(), out.size());
            if (w > 0)
                out.erase(out.begin(), out.begin() + w);
            else if (w < 0 && errno != EAGAIN && errno != EINTR)
                break; // the peer closed
        }
        // the board: a chunk of cycles (fewer while paced, so time follows the wall clock)
        unsigned chunk = paced ? kPaceCycles : 2000;
        for (unsigned c = 0; c < chunk; c++) {
            top->RX = static_cast<uint8_t>(drv.level());
            top->CLK = 1;
            top->eval();
            if (tfp) tfp->dump(2 * cycle);
            top->CLK = 0;
            top->eval();
            if (tfp) tfp->dump(2 * cycle + 1);
            cycle++;
            uint8_t b;
            if (smp.sample(top->TX, &b)) out.push_back(b);
            bool busy = !drv.idle() || !smp.idle() || top->TX == 0 || top->LED1;
            idle = busy ? 0 : idle + 1;
            if (busy && paced) break; // leave the paced loop as soon as there is work
        }
    }
    if (tfp) tfp->close();
    top->final();
    if (slave >= 0) close(slave);
    close(fd);
    if (listener >= 0) close(listener);
    return rc;
}
