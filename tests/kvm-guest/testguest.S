/*
 * testguest: a small bare-metal x86-64 program that checks a Vireo CPU backend end to end.
 *
 * Vireo's loader (org.vireo.x86.boot.LinuxBoot) loads this ELF at its p_paddr (1 MiB) and
 * enters _start in 64-bit mode: identity page tables for 0-4 GiB (CR3 = 0x9000), the loader's
 * GDT, RSP = 0x8ff0, interrupts off. From there the program prints one line per check on
 * COM1, posts its verdict in the test device's RESULT register and resets the machine through
 * the i8042. See README.md for the lines and how to run it.
 *
 * Conventions: AT&T syntax. Subroutines may clobber rax, rcx, rdx, rsi, rdi and r8-r11 (the
 * SysV caller-saved registers) and keep rbx, rbp and r12-r15. r15 collects failure bits for
 * RESULT through the whole run.
 */

/* ---- the machine ---------------------------------------------------------------------- */

        .equ COM1,              0x3f8
        .equ COM1_LSR,          COM1 + 5
        .equ LSR_THR_EMPTY,     0x20

        .equ I8042_COMMAND,     0x64
        .equ I8042_PULSE_RESET, 0xfe

        .equ PIC_MASTER_DATA,   0x21
        .equ PIC_SLAVE_DATA,    0xa1

        /* The test device (org.vireo.x86.dev.TestDevice) at its default address, port, GSI. */
        .equ TESTDEV,           0xfeb00000
        .equ TD_ID,             0x00
        .equ TD_SCRATCH,        0x04
        .equ TD_IRQ,            0x08
        .equ TD_IRQ_COUNT,      0x0c
        .equ TD_MMIO_ACCESSES,  0x10
        .equ TD_RESULT,         0x14
        .equ TD_ID_VALUE,       0x54535456      /* "VTST" */
        .equ TD_IRQ_PULSE,      1
        .equ TESTDEV_PORT,      0xf4
        .equ TESTDEV_GSI,       5

        /* Local APIC, xAPIC mode (Intel SDM vol. 3 §11.4.1, table 11-1). */
        .equ LAPIC,             0xfee00000
        .equ LAPIC_ID,          0x020
        .equ LAPIC_TPR,         0x080
        .equ LAPIC_EOI,         0x0b0
        .equ LAPIC_SVR,         0x0f0
        .equ LAPIC_ICR_LOW,     0x300
        .equ LAPIC_ICR_HIGH,    0x310
        .equ LAPIC_LVT_TIMER,   0x320
        .equ LAPIC_LVT_LINT0,   0x350
        .equ LAPIC_TIMER_INIT,  0x380
        .equ LAPIC_TIMER_DIV,   0x3e0
        .equ SVR_ENABLE,        0x100
        .equ LVT_MASKED,        0x10000
        .equ LVT_PERIODIC,      0x20000
        .equ ICR_BUSY,          0x1000          /* delivery status: send pending */
        .equ ICR_INIT,          0x4500          /* INIT, level assert, edge, physical */
        .equ ICR_STARTUP,       0x4600          /* STARTUP; the vector is the page number */

        /* I/O APIC (82093AA datasheet §3): index register, data window, redirection table. */
        .equ IOAPIC,            0xfec00000
        .equ IOAPIC_IOWIN,      0x10
        .equ IOAPIC_REDTBL,     0x10            /* entry n: registers 0x10 + 2n (low), + 1 (high) */

        .equ MSR_EFER,          0xc0000080
        .equ EFER_LME,          0x100

        /* Our descriptors: the same selectors in the main GDT and the AP trampoline's. */
        .equ CODE_SEL,          0x08
        .equ DATA_SEL,          0x10

        /* Interrupt vectors. */
        .equ IRQ_VECTOR,        0x30            /* the test device's interrupt */
        .equ TIMER_VECTOR,      0x31            /* LAPIC timer: wakes HLT so the IRQ wait is bounded */
        .equ SPURIOUS_VECTOR,   0xff

        /* Where APs start: a free page below 1 MiB (LowMemory leaves 0x1000-0x6fff unused). */
        .equ TRAMPOLINE,        0x3000

        .equ MAX_CPUS,          64              /* CPUs the MP table walk keeps */
        .equ BSP_STACK_SIZE,    16384
        .equ AP_STACK_SIZE,     4096
        .equ STUB_SIZE,         16              /* bytes per interrupt entry stub */

        .equ IRQ_WAIT_HALTS,    100             /* HLTs (each ended by an interrupt) to wait for the IRQ */
        .equ TIMER_COUNT,       2000000         /* LAPIC timer period, divide by 1: 2 ms on KVM (1 GHz), 80 ms on emu */
        .equ ICR_POLLS,         1000000
        .equ INIT_DELAY_TSC,    20000000        /* ~10 ms at 2 GHz: after INIT (MP spec B.4) */
        .equ SIPI_DELAY_TSC,    1000000         /* ~0.5 ms at 2 GHz (the MP spec asks 200 us): after each STARTUP */
        .equ AP_WAIT_TSC,       0x200000000     /* ~3 s at 3 GHz for one AP to report */
        .equ PIO_LOOPS,         100000

        /* Failure bits posted in RESULT; an unexpected exception or interrupt posts 0x100 | vector. */
        .equ FAIL_MMIO,         0x01
        .equ FAIL_IRQ,          0x02
        .equ FAIL_MPTABLE,      0x04
        .equ FAIL_SMP,          0x08
        .equ FAIL_PIO,          0x10
        .equ FAIL_VECTOR,       0x100

/* ---- the boot CPU -------------------------------------------------------------------- */

        .text
        .code64
        .globl _start
_start:
        cli
        cld
        lea     bsp_stack_top(%rip), %rsp
        xor     %r15d, %r15d
        call    build_idt
        call    load_descriptor_tables

        lea     msg_start(%rip), %rsi
        call    print_line

        call    check_mmio
        call    check_irq
        call    check_smp
        call    check_pio

        /* Post the verdict, say goodbye, pull the reset line. */
        mov     $TESTDEV, %eax
        mov     %r15d, TD_RESULT(%rax)
        test    %r15d, %r15d
        jz      1f
        call    line_begin
        lea     msg_failed_result(%rip), %rsi
        call    puts
        mov     %r15, %rdi
        call    put_hex
        call    line_end
1:      lea     msg_done(%rip), %rsi
        call    print_line
        jmp     reset_machine

/* Pulses the CPU reset line through the keyboard controller; halts if nobody listens. */
reset_machine:
        mov     $I8042_PULSE_RESET, %al
        out     %al, $I8042_COMMAND
1:      cli
        hlt
        jmp     1b

/* Loads our GDT and IDT and reloads every segment register from the new GDT. */
load_descriptor_tables:
        lgdt    gdt_ptr(%rip)
        lidt    idt_ptr(%rip)
        mov     $DATA_SEL, %eax
        mov     %eax, %ds
        mov     %eax, %es
        mov     %eax, %ss
        mov     %eax, %fs
        mov     %eax, %gs
        /* CS only changes through a far transfer: return to 1f through our code selector. */
        pushq   $CODE_SEL
        lea     1f(%rip), %rax
        push    %rax
        lretq
1:      ret

/* ---- 2. MMIO -------------------------------------------------------------------------- */

check_mmio:
        push    %rbx
        push    %r12
        push    %r13
        mov     $TESTDEV, %ebx
        mov     TD_ID(%rbx), %r12d                 /* r12: ID */
        movl    $0xa5c35a3c, TD_SCRATCH(%rbx)
        mov     TD_SCRATCH(%rbx), %r13d            /* r13: scratch read back */
        cmp     $TD_ID_VALUE, %r12d
        jne     1f
        cmp     $0xa5c35a3c, %r13d
        jne     1f
        /* The device counts MMIO accesses: two reads in a row differ by one. */
        mov     TD_MMIO_ACCESSES(%rbx), %eax
        mov     TD_MMIO_ACCESSES(%rbx), %ecx
        sub     %eax, %ecx
        cmp     $1, %ecx
        jne     1f

        call    line_begin
        lea     msg_mmio_ok(%rip), %rsi
        call    puts
        mov     %r12d, %eax                         /* the ID's four bytes, in memory order */
        mov     $4, %ebx
2:      push    %rax
        call    put_char
        pop     %rax
        shr     $8, %eax
        dec     %ebx
        jnz     2b
        call    line_end
        jmp     3f

1:      or      $FAIL_MMIO, %r15d
        call    line_begin
        lea     msg_mmio_failed(%rip), %rsi
        call    puts
        mov     %r12, %rdi
        call    put_hex
        lea     msg_scratch(%rip), %rsi
        call    puts
        mov     %r13, %rdi
        call    put_hex
        call    line_end
3:      pop     %r13
        pop     %r12
        pop     %rbx
        ret

/* ---- 3. an interrupt through the IOAPIC and the local APIC ----------------------------- */

check_irq:
        push    %rbx
        push    %r12
        /* Mask both 8259s: with their outputs on LINT0 (virtual wire), an unprogrammed PIC
         * would deliver the same IRQ a second time with vector 5. LINT0 is masked below too. */
        mov     $0xff, %al
        out     %al, $PIC_SLAVE_DATA
        out     %al, $PIC_MASTER_DATA

        mov     $LAPIC, %ebx
        mov     LAPIC_ID(%rbx), %eax
        shr     $24, %eax
        mov     %eax, bsp_apic_id(%rip)
        movl    $LVT_MASKED, LAPIC_LVT_LINT0(%rbx)
        movl    $0, LAPIC_TPR(%rbx)                 /* accept every priority class */
        movl    $(SVR_ENABLE | SPURIOUS_VECTOR), LAPIC_SVR(%rbx)

        /* The LAPIC timer, periodic: each tick ends a HLT, so waiting for the IRQ is bounded. */
        movl    $0xb, LAPIC_TIMER_DIV(%rbx)         /* divide by 1 */
        movl    $(LVT_PERIODIC | TIMER_VECTOR), LAPIC_LVT_TIMER(%rbx)
        movl    $TIMER_COUNT, LAPIC_TIMER_INIT(%rbx)

        /* Redirection entry for the test device's GSI: high half (destination) first, then
         * the low half, which unmasks it: vector 0x30, fixed, physical, active high, edge. */
        mov     $IOAPIC, %ecx
        movl    $(IOAPIC_REDTBL + 2 * TESTDEV_GSI + 1), (%rcx)
        mov     bsp_apic_id(%rip), %eax
        shl     $24, %eax
        mov     %eax, IOAPIC_IOWIN(%rcx)
        movl    $(IOAPIC_REDTBL + 2 * TESTDEV_GSI), (%rcx)
        movl    $IRQ_VECTOR, IOAPIC_IOWIN(%rcx)

        movl    $0, irq_count(%rip)
        mov     $TESTDEV, %eax
        movl    $TD_IRQ_PULSE, TD_IRQ(%rax)

        mov     $IRQ_WAIT_HALTS, %r12d
1:      cmpl    $0, irq_count(%rip)
        jne     2f
        /* STI's shadow covers HLT: an interrupt already pending wakes the HLT, none is lost. */
        sti
        hlt
        cli
        dec     %r12d
        jnz     1b

2:      /* Quiet again: timer off, redirection entry masked. */
        movl    $LVT_MASKED, LAPIC_LVT_TIMER(%rbx)
        movl    $0, LAPIC_TIMER_INIT(%rbx)
        mov     $IOAPIC, %ecx
        movl    $(IOAPIC_REDTBL + 2 * TESTDEV_GSI), (%rcx)
        movl    $(LVT_MASKED | IRQ_VECTOR), IOAPIC_IOWIN(%rcx)

        call    line_begin
        cmpl    $1, irq_count(%rip)
        jne     3f
        lea     msg_irq_ok(%rip), %rsi
        call    puts
        mov     irq_vector(%rip), %edi
        call    put_hex
        jmp     4f
3:      or      $FAIL_IRQ, %r15d
        lea     msg_irq_failed(%rip), %rsi
        call    puts
        mov     irq_count(%rip), %edi
        call    put_dec
        lea     msg_timer_ticks(%rip), %rsi
        call    puts
        mov     timer_ticks(%rip), %edi
        call    put_dec
4:      call    line_end
        pop     %r12
        pop     %rbx
        ret

/* ---- 4. SMP: the MP table, then INIT-SIPI-SIPI to each application processor ------------ */

check_smp:
        push    %rbx
        push    %r12
        push    %r13
        push    %r14
        call    find_mp_config
        test    %rax, %rax
        jnz     1f
        or      $(FAIL_MPTABLE | FAIL_SMP), %r15d
        lea     msg_mp_missing(%rip), %rsi
        call    print_line
        jmp     9f

1:      /* Walk the base entries (MP spec §4.3): processors are 20 bytes, the rest 8. */
        mov     %rax, %rbx                          /* rbx: configuration table */
        movzwl  4(%rbx), %r13d
        add     %rbx, %r13                          /* r13: end of the base table */
        movzwl  34(%rbx), %ecx                      /* entry count */
        lea     44(%rbx), %rsi
        xor     %r12d, %r12d                        /* r12: enabled processors */
        xor     %r14d, %r14d                        /* r14: APs listed in ap_ids */
2:      test    %ecx, %ecx
        jz      5f
        cmp     %r13, %rsi
        jae     5f
        movzbl  (%rsi), %eax
        test    %eax, %eax
        jnz     4f
        testb   $1, 3(%rsi)                         /* CPU flags: EN */
        jz      3f
        inc     %r12d
        movzbl  1(%rsi), %eax                       /* local APIC id */
        cmp     bsp_apic_id(%rip), %eax
        je      3f
        cmp     $MAX_CPUS, %r14d
        jae     3f
        lea     ap_ids(%rip), %rdx
        mov     %al, (%rdx,%r14)
        inc     %r14d
3:      add     $20, %rsi
        dec     %ecx
        jmp     2b
4:      cmp     $4, %eax                            /* types 1-4 are 8 bytes; others end the walk */
        ja      5f
        add     $8, %rsi
        dec     %ecx
        jmp     2b

5:      call    line_begin
        lea     msg_mp_cpus(%rip), %rsi
        call    puts
        mov     %r12, %rdi
        call    put_dec
        call    line_end

        test    %r14d, %r14d
        jz      8f

        /* Copy the trampoline below 1 MiB and give it our page tables. */
        lea     trampoline_start(%rip), %rsi
        mov     $TRAMPOLINE, %edi
        mov     $(trampoline_end - trampoline_start), %ecx
        rep movsb
        mov     %cr3, %rax
        mov     %eax, TRAMPOLINE + (trampoline_cr3 - trampoline_start)

        /* One AP at a time, so each has the printer to itself and a missing one is named. */
        xor     %ebx, %ebx                          /* rbx: index in ap_ids */
6:      lea     ap_ids(%rip), %rax
        movzbl  (%rax,%rbx), %r12d                  /* r12: the AP's APIC id */
        mov     ap_started(%rip), %r13d
        inc     %r13d                               /* r13: ap_started once it is up */
        mov     %r12d, %edi
        call    start_ap
        rdtsc
        shl     $32, %rdx
        or      %rdx, %rax
        movabs  $AP_WAIT_TSC, %rcx
        add     %rax, %rcx                          /* rcx: deadline */
7:      cmp     ap_started(%rip), %r13d
        jbe     71f
        pause
        push    %rcx
        rdtsc
        shl     $32, %rdx
        or      %rdx, %rax
        pop     %rcx
        cmp     %rcx, %rax
        jb      7b
        call    line_begin                          /* timed out */
        lea     msg_ap_failed(%rip), %rsi
        call    puts
        mov     %r12, %rdi
        call    put_dec
        call    line_end
71:     inc     %ebx
        cmp     %r14d, %ebx
        jb      6b

8:      /* All up? */
        mov     ap_started(%rip), %eax
        cmp     %r14d, %eax
        jne     81f
        call    line_begin
        lea     msg_smp_ok(%rip), %rsi
        call    puts
        mov     ap_started(%rip), %edi
        inc     %edi
        call    put_dec
        call    line_end
        jmp     9f
81:     or      $FAIL_SMP, %r15d
        call    line_begin
        lea     msg_smp_failed(%rip), %rsi
        call    puts
        mov     ap_started(%rip), %edi
        inc     %edi
        call    put_dec
        lea     msg_expected(%rip), %rsi
        call    puts
        lea     1(%r14), %rdi
        call    put_dec
        call    line_end

9:      pop     %r14
        pop     %r13
        pop     %r12
        pop     %rbx
        ret

/*
 * Wakes the AP with APIC id edi: INIT, then two STARTUP IPIs pointing at the trampoline page,
 * with the delays of the MP spec (appendix B.4) and Intel SDM vol. 3 §9.4.4.1.
 */
start_ap:
        push    %rbx
        push    %r12
        mov     $LAPIC, %ebx
        mov     %edi, %r12d
        shl     $24, %r12d                          /* r12: ICR high, destination field */

        call    icr_wait
        mov     %r12d, LAPIC_ICR_HIGH(%rbx)
        movl    $ICR_INIT, LAPIC_ICR_LOW(%rbx)      /* the write to the low half sends */
        call    icr_wait
        mov     $INIT_DELAY_TSC, %edi
        call    tsc_delay

        call    send_startup
        call    send_startup
        pop     %r12
        pop     %rbx
        ret

/* One STARTUP IPI to the AP whose ICR high word is in r12 (start_ap's), then a short wait. */
send_startup:
        mov     %r12d, LAPIC_ICR_HIGH(%rbx)
        movl    $(ICR_STARTUP | (TRAMPOLINE >> 12)), LAPIC_ICR_LOW(%rbx)
        call    icr_wait
        mov     $SIPI_DELAY_TSC, %edi
        jmp     tsc_delay

/* Waits (bounded) until the local APIC has sent the last IPI: ICR delivery status idle. */
icr_wait:
        mov     $LAPIC, %eax
        mov     $ICR_POLLS, %ecx
1:      testl   $ICR_BUSY, LAPIC_ICR_LOW(%rax)
        jz      2f
        pause
        dec     %ecx
        jnz     1b
2:      ret

/* Spins with PAUSE for rdi TSC cycles. */
tsc_delay:
        rdtsc
        shl     $32, %rdx
        or      %rdx, %rax
        lea     (%rax,%rdi), %rcx
1:      pause
        rdtsc
        shl     $32, %rdx
        or      %rdx, %rax
        cmp     %rcx, %rax
        jb      1b
        ret

/* Returns in rax the MP configuration table, or 0: the floating pointer is searched where
 * the MP spec §4 says a BIOS leaves it (the EBDA's first KiB and 0xf0000-0xfffff). */
find_mp_config:
        mov     $0x9fc00, %edi
        mov     $0xa0000, %esi
        call    scan_mp
        test    %rax, %rax
        jnz     1f
        mov     $0xf0000, %edi
        mov     $0x100000, %esi
        call    scan_mp
        test    %rax, %rax
        jz      2f
1:      mov     4(%rax), %eax                       /* physical address of the configuration table */
        test    %eax, %eax
        jz      2f                                  /* a default configuration: no table */
        cmpl    $0x504d4350, (%rax)                 /* "PCMP" */
        jne     2f
        mov     %rax, %rdi
        movzwl  4(%rax), %ecx                       /* base table length, header included */
        cmp     $44, %ecx
        jb      2f
        push    %rax
        call    checksum
        mov     %eax, %ecx
        pop     %rax
        test    %cl, %cl
        jz      3f
2:      xor     %eax, %eax
3:      ret

/* Searches [rdi, rsi) on 16-byte boundaries for a floating pointer with a good checksum;
 * returns its address in rax, or 0. */
scan_mp:
1:      cmp     %rsi, %rdi
        jae     3f
        cmpl    $0x5f504d5f, (%rdi)                 /* "_MP_" */
        jne     2f
        movzbl  8(%rdi), %ecx                       /* length in 16-byte units */
        shl     $4, %ecx
        jz      2f
        call    checksum
        test    %al, %al
        jnz     2f
        mov     %rdi, %rax
        ret
2:      add     $16, %rdi
        jmp     1b
3:      xor     %eax, %eax
        ret

/* The byte sum of ecx (> 0) bytes at rdi, in al; 0 for a good MP structure. */
checksum:
        xor     %eax, %eax
        mov     %rdi, %rdx
1:      add     (%rdx), %al
        inc     %rdx
        dec     %ecx
        jnz     1b
        ret

/* ---- 5. a port I/O loop: the cost of an exit ------------------------------------------ */

check_pio:
        push    %rbx
        push    %r12
        push    %r13
        mov     $TESTDEV_PORT, %edx
        in      %dx, %eax
        mov     %eax, %r12d                         /* r12: the counter before */
        rdtsc
        shl     $32, %rdx
        or      %rdx, %rax
        mov     %rax, %r13                          /* r13: TSC before */
        mov     $PIO_LOOPS, %ecx
        mov     $TESTDEV_PORT, %edx
1:      out     %eax, %dx
        dec     %ecx
        jnz     1b
        rdtsc
        shl     $32, %rdx
        or      %rdx, %rax
        sub     %r13, %rax
        mov     %rax, %r13                          /* r13: cycles */

        call    line_begin
        lea     msg_pio_writes(%rip), %rsi
        call    puts
        mov     $PIO_LOOPS, %edi
        call    put_dec
        lea     msg_pio_tsc(%rip), %rsi
        call    puts
        mov     %r13, %rdi
        call    put_dec
        call    line_end

        mov     $TESTDEV_PORT, %edx
        in      %dx, %eax
        sub     %r12d, %eax
        cmp     $PIO_LOOPS, %eax
        je      2f
        or      $FAIL_PIO, %r15d
        mov     %eax, %ebx
        call    line_begin
        lea     msg_pio_failed(%rip), %rsi
        call    puts
        mov     %rbx, %rdi
        call    put_dec
        call    line_end
2:      pop     %r13
        pop     %r12
        pop     %rbx
        ret

/* ---- the console: COM1, one line at a time under a spinlock ---------------------------- */

/* Takes the console and prints the "testguest: " prefix. */
line_begin:
1:      mov     $1, %eax
        xchg    %eax, console_lock(%rip)            /* xchg with memory is locked */
        test    %eax, %eax
        jz      3f
2:      pause
        cmpl    $0, console_lock(%rip)
        jne     2b
        jmp     1b
3:      lea     msg_prefix(%rip), %rsi
        jmp     puts

/* Ends the line and gives the console back. */
line_end:
        lea     msg_newline(%rip), %rsi
        call    puts
        movl    $0, console_lock(%rip)
        ret

/* Prints "testguest: " + the string at rsi + a newline. */
print_line:
        push    %rsi
        call    line_begin
        pop     %rsi
        call    puts
        jmp     line_end

/* Prints the NUL-terminated string at rsi. */
puts:
1:      movzbl  (%rsi), %eax
        test    %eax, %eax
        jz      2f
        call    put_char
        inc     %rsi
        jmp     1b
2:      ret

/* Prints the byte in al once the transmitter holding register is empty (LSR bit 5). */
put_char:
        mov     %eax, %r8d
        mov     $COM1_LSR, %edx
1:      in      %dx, %al
        test    $LSR_THR_EMPTY, %al
        jz      1b
        mov     %r8d, %eax
        mov     $COM1, %edx
        out     %al, %dx
        ret

/* Prints rdi as "0x" and lowercase hex digits. */
put_hex:
        lea     msg_0x(%rip), %rsi
        push    %rdi
        call    puts
        pop     %rdi
        mov     $16, %ecx
        jmp     put_unsigned

/* Prints rdi in decimal. */
put_dec:
        mov     $10, %ecx

/* Prints rdi in base ecx (2-16), built right to left in a buffer on the stack. */
put_unsigned:
        sub     $32, %rsp
        lea     31(%rsp), %rsi
        movb    $0, (%rsi)
        mov     %rdi, %rax
1:      xor     %edx, %edx
        div     %rcx
        lea     digits(%rip), %r9
        movzbl  (%r9,%rdx), %edx
        dec     %rsi
        mov     %dl, (%rsi)
        test    %rax, %rax
        jnz     1b
        call    puts
        add     $32, %rsp
        ret

/* ---- interrupts ----------------------------------------------------------------------- */

/* Fills the IDT: every vector gets its entry stub, then 0x30, 0x31 and 0xff their handlers. */
build_idt:
        xor     %edi, %edi
        lea     isr_stubs(%rip), %rsi
1:      push    %rsi
        push    %rdi
        call    set_gate
        pop     %rdi
        pop     %rsi
        add     $STUB_SIZE, %rsi
        inc     %edi
        cmp     $256, %edi
        jb      1b
        mov     $IRQ_VECTOR, %edi
        lea     irq_handler(%rip), %rsi
        call    set_gate
        mov     $TIMER_VECTOR, %edi
        lea     timer_handler(%rip), %rsi
        call    set_gate
        mov     $SPURIOUS_VECTOR, %edi
        lea     spurious_handler(%rip), %rsi
        jmp     set_gate

/* IDT entry rdi -> handler rsi: a 64-bit interrupt gate, present, DPL 0 (SDM vol. 3 §6.14.1). */
set_gate:
        shl     $4, %rdi
        lea     idt(%rip), %rax
        add     %rax, %rdi
        mov     %rsi, %rax
        mov     %ax, (%rdi)                         /* offset 15:0 */
        movw    $CODE_SEL, 2(%rdi)
        movw    $0x8e00, 4(%rdi)                    /* IST 0; P, DPL 0, type 0xe */
        shr     $16, %rax
        mov     %ax, 6(%rdi)                        /* offset 31:16 */
        shr     $16, %rax
        mov     %eax, 8(%rdi)                       /* offset 63:32 */
        movl    $0, 12(%rdi)
        ret

/* The test device's interrupt: count it, remember the vector, EOI. */
irq_handler:
        push    %rax
        movl    $IRQ_VECTOR, irq_vector(%rip)
        lock incl irq_count(%rip)
        mov     $LAPIC, %eax
        movl    $0, LAPIC_EOI(%rax)
        pop     %rax
        iretq

timer_handler:
        push    %rax
        lock incl timer_ticks(%rip)
        mov     $LAPIC, %eax
        movl    $0, LAPIC_EOI(%rax)
        pop     %rax
        iretq

/* A spurious interrupt is not in service: no EOI (SDM vol. 3 §11.9). */
spurious_handler:
        iretq

/*
 * One 16-byte stub per vector: push a zero where the CPU pushes no error code, push the
 * vector, go to fatal_vector. Vectors 8, 10-14, 17, 21, 29 and 30 have an error code.
 */
        .equ ERROR_CODE_VECTORS, 0x60227d00
        .balign STUB_SIZE
isr_stubs:
        .set vector, 0
        .rept 256
        .balign STUB_SIZE
        .if vector >= 32 || ((ERROR_CODE_VECTORS >> (vector & 31)) & 1) == 0
        pushq   $0
        .endif
        pushq   $vector
        jmp     fatal_vector
        .set vector, vector + 1
        .endr

/* An exception or an interrupt nobody expects: say which and where, post it, reset. */
fatal_vector:
        movl    $0, console_lock(%rip)              /* going down: break the lock if we hold it */
        mov     (%rsp), %rbx                        /* vector */
        mov     16(%rsp), %r12                      /* RIP */
        call    line_begin
        lea     msg_exception(%rip), %rsi
        cmp     $32, %rbx
        jb      1f
        lea     msg_unexpected(%rip), %rsi
1:      call    puts
        mov     %rbx, %rdi
        call    put_dec
        lea     msg_at(%rip), %rsi
        call    puts
        mov     %r12, %rdi
        call    put_hex
        call    line_end
        or      $FAIL_VECTOR, %ebx
        mov     $TESTDEV, %eax
        mov     %ebx, TD_RESULT(%rax)
        jmp     reset_machine

/* ---- application processors ----------------------------------------------------------- */

/* Where the trampoline jumps once the AP is in 64-bit mode with our page tables. */
ap_entry:
        /* Take a stack: a slot of ap_stacks, handed out by an atomic counter. */
        mov     $1, %eax
        lock xadd %eax, ap_stack_next(%rip)
        cmp     $MAX_CPUS, %eax
        jae     ap_park
        inc     %eax
        imul    $AP_STACK_SIZE, %eax
        lea     ap_stacks(%rip), %rsp
        add     %rax, %rsp
        call    load_descriptor_tables

        mov     $LAPIC, %ebx
        movl    $(SVR_ENABLE | SPURIOUS_VECTOR), LAPIC_SVR(%rbx)
        mov     LAPIC_ID(%rbx), %r12d
        shr     $24, %r12d
        call    line_begin
        lea     msg_ap_up(%rip), %rsi
        call    puts
        mov     %r12, %rdi
        call    put_dec
        call    line_end
        lock incl ap_started(%rip)
ap_park:
        cli
1:      hlt
        jmp     1b

/*
 * The AP trampoline, copied to TRAMPOLINE (a page the STARTUP IPI names): the AP starts here
 * in real mode at CS:IP = 0x0300:0000. It goes straight to 64-bit mode the way Intel SDM
 * vol. 3 §10.8.5 lists the steps: a GDT with a 64-bit code segment, CR4.PAE, CR3, EFER.LME,
 * then CR0.PG with CR0.PE in the same write, and a far jump into the 64-bit segment.
 * Everything it reads lies in its own page; the BSP patches trampoline_cr3 after the copy.
 */
        .balign 16
trampoline_start:
        .code16
        cli
        mov     %cs, %ax
        mov     %ax, %ds
        lgdtl   trampoline_gdt_ptr - trampoline_start  /* 32-bit operand: the whole base */
        mov     %cr4, %eax
        or      $0x20, %eax                         /* PAE */
        mov     %eax, %cr4
        mov     trampoline_cr3 - trampoline_start, %eax
        mov     %eax, %cr3
        mov     $MSR_EFER, %ecx
        rdmsr
        or      $EFER_LME, %eax
        wrmsr
        mov     $0x80000031, %eax                   /* PG | NE | ET | PE, caches on */
        mov     %eax, %cr0
        ljmpl   $CODE_SEL, $(TRAMPOLINE + trampoline_64 - trampoline_start)
        .code64
trampoline_64:
        mov     $DATA_SEL, %eax
        mov     %eax, %ds
        mov     %eax, %es
        mov     %eax, %ss
        mov     %eax, %fs
        mov     %eax, %gs
        movabs  $ap_entry, %rax                     /* out of the low page, into the ELF */
        jmp     *%rax
        .balign 8
trampoline_gdt:
        .quad   0
        .quad   0x00af9b000000ffff                  /* 0x08: 64-bit code, accessed */
        .quad   0x00cf93000000ffff                  /* 0x10: data, accessed */
trampoline_gdt_end:
trampoline_gdt_ptr:
        .word   trampoline_gdt_end - trampoline_gdt - 1
        .long   TRAMPOLINE + trampoline_gdt - trampoline_start
trampoline_cr3:
        .long   0
trampoline_end:

/* ---- data ----------------------------------------------------------------------------- */

        .section .rodata
digits:             .ascii "0123456789abcdef"
msg_prefix:         .asciz "testguest: "
msg_newline:        .asciz "\r\n"
msg_0x:             .asciz "0x"
msg_start:          .asciz "start"
msg_mmio_ok:        .asciz "mmio ok id="
msg_mmio_failed:    .asciz "mmio FAILED id="
msg_scratch:        .asciz " scratch="
msg_irq_ok:         .asciz "irq ok vector="
msg_irq_failed:     .asciz "irq FAILED interrupts="
msg_timer_ticks:    .asciz " timer_ticks="
msg_mp_missing:     .asciz "mp table FAILED: no MP floating pointer with a valid configuration table"
msg_mp_cpus:        .asciz "mp table cpus="
msg_ap_up:          .asciz "ap up apic="
msg_ap_failed:      .asciz "ap FAILED apic="
msg_smp_ok:         .asciz "smp ok cpus="
msg_smp_failed:     .asciz "smp FAILED cpus="
msg_expected:       .asciz " expected="
msg_pio_writes:     .asciz "pio loop writes="
msg_pio_tsc:        .asciz " tsc="
msg_pio_failed:     .asciz "pio loop FAILED counter went up by "
msg_failed_result:  .asciz "FAILED result="
msg_done:           .asciz "done"
msg_exception:      .asciz "exception "
msg_unexpected:     .asciz "unexpected interrupt "
msg_at:             .asciz " at "

        .data
        .balign 16
gdt:
        .quad   0
        .quad   0x00af9b000000ffff                  /* CODE_SEL: 64-bit code, accessed */
        .quad   0x00cf93000000ffff                  /* DATA_SEL: data, accessed */
gdt_end:
        .balign 8
        .word   0, 0, 0                             /* so that the base below is 8-byte aligned */
gdt_ptr:
        .word   gdt_end - gdt - 1
        .quad   gdt
        .balign 8
        .word   0, 0, 0
idt_ptr:
        .word   256 * 16 - 1
        .quad   idt

        .balign 4
console_lock:   .long 0
bsp_apic_id:    .long 0
irq_count:      .long 0
irq_vector:     .long 0
timer_ticks:    .long 0
ap_started:     .long 0
ap_stack_next:  .long 0

        .bss
        .balign 4096
idt:            .skip 256 * 16
ap_ids:         .skip MAX_CPUS
        .balign 4096
bsp_stack:      .skip BSP_STACK_SIZE
bsp_stack_top:
ap_stacks:      .skip MAX_CPUS * AP_STACK_SIZE

        .section .note.GNU-stack, "", @progbits
