/* Start-up code of the control core: stack and global pointer, BSS zeroing, then main().
 * The host loads .text/.rodata/.data straight into the memories from the ELF, so nothing needs
 * copying. If main() ever returns, ebreak stops the core (the host reports it with the PC). */
    .section .text.start, "ax"
    .globl _start
_start:
    .option push
    .option norelax
    la gp, __global_pointer$
    .option pop
    la sp, __stack_top
    la t0, __bss_start
    la t1, __bss_end
1:  bgeu t0, t1, 2f
    sw zero, 0(t0)
    addi t0, t0, 4
    j 1b
2:  call main
    ebreak
