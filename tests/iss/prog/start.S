/* Entry of the cross-compiled test program: a0 holds the seed set by the test; the result goes
 * to the test's MMIO window at 0x40000000, then ebreak hands control back. */
    .section .text.start, "ax"
    .globl _start
_start:
    la sp, __stack_top
    call spk_iss_kernel
    li t0, 0x40000000
    sw a0, 0(t0)
    ebreak
