/*
 * Native oracle for Vireo's software x86-64 CPU: runs short instruction sequences on the
 * host CPU in user mode and prints the resulting registers, flags and data buffer, so that
 * NativeOracleTest can compare the emulator against real silicon.
 *
 * Input, one case per line (all numbers hex, no 0x):
 *   R0 .. R15 RFLAGS POINTERS DATA CODE
 * POINTERS is a bit mask of registers whose value is an offset into the data buffer; the
 * oracle adds the buffer's address before running and subtracts it afterwards, so results
 * do not depend on where the buffer lies. The buffer lies below 4 GiB, so a pointer may
 * carry junk in its upper half for instructions that use 32-bit addresses. RSP (R4) is a
 * pointer too when the case uses the stack (PUSH, POP, ENTER...); otherwise it points at a
 * scratch stack and is reported as its change, which must be 0. DATA is DATA_SIZE bytes,
 * CODE the instruction bytes (at most MAX_CODE).
 *
 * Output, one line per case:
 *   OK R0 .. R15 RFLAGS DATA      (RFLAGS: the arithmetic flags and DF)
 *   FAULT DE|UD|GP                 (SIGFPE, SIGILL, SIGSEGV/SIGBUS)
 *   ERROR message                  (a malformed line)
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define DATA_SIZE 256
#define MAX_CODE 64
#define FLAGS_MASK 0x0cd5u /* CF PF AF ZF SF DF OF */

/* Register file in the order of the ModRM encoding: RAX RCX RDX RBX RSP RBP RSI RDI R8..R15. */
struct regs {
    uint64_t r[16];
    uint64_t flags;
};

/* Shared with the assembly below by name, so the exit stub needs no free register. */
struct regs oracle_in, oracle_out;
void *oracle_code;
uint64_t oracle_saved_rsp;
/* The initial flags, split the way the entry sequence loads them without a stack. */
uint8_t oracle_df, oracle_of, oracle_ah;

void oracle_enter(void);
void oracle_exit(void);

/*
 * oracle_enter: saves the callee-saved registers, loads the flags and every register from
 * oracle_in and jumps to the case's code. The flags are set without touching the stack
 * (which may be the data buffer): DF by STD, OF by an 8-bit ADD that overflows or not, the
 * rest by SAHF. The code ends with a jump to oracle_exit, which stores every register, goes
 * back to the oracle's stack, stores RFLAGS into oracle_out, resets RFLAGS (DF and AC
 * clear, as the ABI wants) and returns to oracle_enter's caller.
 */
__asm__(
    ".text\n"
    ".globl oracle_enter\n"
    "oracle_enter:\n"
    "  push %rbx\n push %rbp\n push %r12\n push %r13\n push %r14\n push %r15\n"
    "  mov %rsp, oracle_saved_rsp(%rip)\n"
    "  cld\n"
    "  testb $1, oracle_df(%rip)\n"
    "  jz 1f\n"
    "  std\n"
    "1:\n"
    "  movb oracle_of(%rip), %al\n"
    "  addb $0x7f, %al\n"
    "  movb oracle_ah(%rip), %ah\n"
    "  sahf\n"
    "  mov oracle_in+32(%rip), %rsp\n"
    "  mov oracle_in+0(%rip), %rax\n"
    "  mov oracle_in+8(%rip), %rcx\n"
    "  mov oracle_in+16(%rip), %rdx\n"
    "  mov oracle_in+24(%rip), %rbx\n"
    "  mov oracle_in+40(%rip), %rbp\n"
    "  mov oracle_in+48(%rip), %rsi\n"
    "  mov oracle_in+56(%rip), %rdi\n"
    "  mov oracle_in+64(%rip), %r8\n"
    "  mov oracle_in+72(%rip), %r9\n"
    "  mov oracle_in+80(%rip), %r10\n"
    "  mov oracle_in+88(%rip), %r11\n"
    "  mov oracle_in+96(%rip), %r12\n"
    "  mov oracle_in+104(%rip), %r13\n"
    "  mov oracle_in+112(%rip), %r14\n"
    "  mov oracle_in+120(%rip), %r15\n"
    "  jmp *oracle_code(%rip)\n"
    ".globl oracle_exit\n"
    "oracle_exit:\n"
    "  mov %rax, oracle_out+0(%rip)\n"
    "  mov %rcx, oracle_out+8(%rip)\n"
    "  mov %rdx, oracle_out+16(%rip)\n"
    "  mov %rbx, oracle_out+24(%rip)\n"
    "  mov %rsp, oracle_out+32(%rip)\n"
    "  mov %rbp, oracle_out+40(%rip)\n"
    "  mov %rsi, oracle_out+48(%rip)\n"
    "  mov %rdi, oracle_out+56(%rip)\n"
    "  mov %r8, oracle_out+64(%rip)\n"
    "  mov %r9, oracle_out+72(%rip)\n"
    "  mov %r10, oracle_out+80(%rip)\n"
    "  mov %r11, oracle_out+88(%rip)\n"
    "  mov %r12, oracle_out+96(%rip)\n"
    "  mov %r13, oracle_out+104(%rip)\n"
    "  mov %r14, oracle_out+112(%rip)\n"
    "  mov %r15, oracle_out+120(%rip)\n"
    "  mov oracle_saved_rsp(%rip), %rsp\n"
    "  pushfq\n"
    "  popq oracle_out+128(%rip)\n"
    "  pushq $0x202\n"
    "  popfq\n"
    "  pop %r15\n pop %r14\n pop %r13\n pop %r12\n pop %rbp\n pop %rbx\n"
    "  ret\n");

static sigjmp_buf fault_jump;

static void on_fault(int sig, siginfo_t *info, void *context) {
    (void) info;
    (void) context;
    siglongjmp(fault_jump, sig);
}

static int hex_value(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Parses a hex number token at *p; returns 0 on failure. */
static int parse_u64(char **p, uint64_t *out) {
    char *s = *p;
    while (*s == ' ') s++;
    uint64_t v = 0;
    int digits = 0;
    int d;
    while ((d = hex_value(*s)) >= 0) {
        v = (v << 4) | (uint64_t) d;
        s++;
        digits++;
    }
    *p = s;
    *out = v;
    return digits > 0 && digits <= 16;
}

/* Parses a hex byte string token; returns its length or -1. */
static int parse_bytes(char **p, uint8_t *out, int max) {
    char *s = *p;
    while (*s == ' ') s++;
    int n = 0;
    while (hex_value(s[0]) >= 0 && hex_value(s[1]) >= 0) {
        if (n == max) return -1;
        out[n++] = (uint8_t) (hex_value(s[0]) << 4 | hex_value(s[1]));
        s += 2;
    }
    *p = s;
    return n;
}

int main(void) {
    setvbuf(stdout, NULL, _IOFBF, 1 << 20);
    uint8_t *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    /*
     * The data buffer sits inside its own mapping so stray accesses fault instead of
     * corrupting the oracle, and below 4 GiB so that cases with the address-size prefix
     * (0x67: ESI, EDI, 32-bit effective addresses) can reach it.
     */
    uint8_t *data_pages = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
    if (page == MAP_FAILED || data_pages == MAP_FAILED) {
        printf("ERROR mmap failed\n");
        return 1;
    }
    uint8_t *data = data_pages + 4096;
    /* Cases that do not use the stack still need RSP to point somewhere harmless. */
    static uint64_t scratch_stack[1024];
    uint64_t scratch_top = (uint64_t) (uintptr_t) &scratch_stack[512];
    /* Signal handlers run on their own stack: RSP may point into the data buffer. */
    static uint8_t signal_stack[1 << 16];
    stack_t ss = {.ss_sp = signal_stack, .ss_size = sizeof signal_stack, .ss_flags = 0};
    sigaltstack(&ss, NULL);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGFPE, &sa, NULL);
    sigaction(SIGILL, &sa, NULL);
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);

    static char line[8192];
    while (fgets(line, sizeof line, stdin)) {
        char *p = line;
        struct regs in;
        uint64_t pointers;
        uint8_t code[MAX_CODE];
        int ok = 1;
        for (int k = 0; k < 16 && ok; k++) ok = parse_u64(&p, &in.r[k]);
        ok = ok && parse_u64(&p, &in.flags) && parse_u64(&p, &pointers);
        ok = ok && parse_bytes(&p, data, DATA_SIZE) == DATA_SIZE;
        int length = ok ? parse_bytes(&p, code, MAX_CODE) : -1;
        if (!ok || length <= 0) {
            printf("ERROR malformed case line\n");
            continue;
        }
        memcpy(page, code, (size_t) length);
        /* jmp qword [rip+0]; dq oracle_exit */
        static const uint8_t jump[] = {0xff, 0x25, 0, 0, 0, 0};
        memcpy(page + length, jump, sizeof jump);
        uint64_t exit_address = (uint64_t) (uintptr_t) &oracle_exit;
        memcpy(page + length + sizeof jump, &exit_address, 8);
        __builtin___clear_cache((char *) page, (char *) page + 4096);

        for (int k = 0; k < 16; k++) {
            if (pointers >> k & 1) in.r[k] += (uint64_t) (uintptr_t) data;
        }
        if (!(pointers >> 4 & 1)) in.r[4] = scratch_top;
        oracle_df = in.flags >> 10 & 1;
        oracle_of = in.flags >> 11 & 1;
        oracle_ah = (uint8_t) (in.flags & 0xd5);
        oracle_in = in;
        oracle_code = page;
        int sig = sigsetjmp(fault_jump, 1);
        if (sig == 0) {
            oracle_enter();
        } else {
            __asm__ volatile("cld");
            printf("FAULT %s\n", sig == SIGFPE ? "DE" : sig == SIGILL ? "UD" : "GP");
            continue;
        }
        struct regs out = oracle_out;
        printf("OK");
        for (int k = 0; k < 16; k++) {
            uint64_t v = out.r[k];
            if (pointers >> k & 1) v -= (uint64_t) (uintptr_t) data;
            else if (k == 4) v -= scratch_top;
            printf(" %llx", (unsigned long long) v);
        }
        printf(" %llx ", (unsigned long long) (out.flags & FLAGS_MASK));
        for (int k = 0; k < DATA_SIZE; k++) printf("%02x", data[k]);
        printf("\n");
    }
    return 0;
}
