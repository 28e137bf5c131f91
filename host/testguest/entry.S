/* Ring-0 part of the test guest: PVH entry (32-bit), long mode, GDT, TSS, IDT,
 * exception stubs, and the iretq into ring 3. Everything here is static data or
 * straight-line code because ring-0 instructions are emulated (about 1 us each)
 * on software KVM; all the rest of the guest runs in ring 3. */

#define KERNEL_CS 0x08
#define KERNEL_DS 0x10
#define USER_DS   0x1b
#define USER_CS   0x23
#define TSS_SEL   0x28
#define IMAGE_BASE 0x100000

/* XEN_ELFNOTE_PHYS32_ENTRY: the 32-bit physical entry point QEMU and our VMM use. */
        .section .note.Xen, "a"
        .balign 4
        .long 4, 4, 18
        .asciz "Xen"
        .balign 4
        .long pvh_entry

        .section .text.boot, "ax"
boot_base:

/* Exception stubs: 16 bytes each, so that stub n is at stubs + 16 * n. */
        .code64
        .balign 16
stubs:
        .set vec, 0
        .rept 32
        .balign 16
        .if (vec == 8) || (vec >= 10 && vec <= 14) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
        pushq $vec
        .else
        pushq $0
        pushq $vec
        .endif
        jmp trap_common
        .set vec, vec + 1
        .endr

trap_common:
        push %rax
        push %rcx
        push %rdx
        push %rsi
        push %rdi
        push %r8
        push %r9
        push %r10
        push %r11
        mov %rsp, %rdi
        and $-16, %rsp
        call trap_report  /* prints vector, error code, RIP; never returns */
1:      cli
        hlt
        jmp 1b

/* 64-bit TSS: only RSP0 matters (the stack for exceptions taken in ring 3). */
        .balign 16
tss:
        .long 0
        .quad stack0_top
        .fill 88, 1, 0
        .word 0
        .word 104            /* I/O permission bitmap right after the TSS */
        .fill 8192, 1, 0     /* every port allowed in ring 3 (kvm_pvm ignores IOPL) */
        .byte 0xff
tss_end:

        .balign 16
gdt:
        .quad 0
        .quad 0x00AF9A000000FFFF  /* 0x08 kernel code, 64-bit */
        .quad 0x00CF92000000FFFF  /* 0x10 kernel data */
        .quad 0x00CFF2000000FFFF  /* 0x18 user data, DPL 3 */
        .quad 0x00AFFA000000FFFF  /* 0x20 user code, 64-bit, DPL 3 */
        /* 0x28 TSS descriptor; the linker script checks the image offsets fit 16 bits. */
        .word tss_end - tss - 1
        .word (tss - boot_base) & 0xffff
        .byte (IMAGE_BASE >> 16) & 0xff
        .byte 0x89
        .byte 0
        .byte 0
        .long 0
        .long 0
gdt_end:
gdt_ptr:
        .word gdt_end - gdt - 1
        .quad gdt

        .balign 16
idt:
        .set vec, 0
        .rept 32
        .word ((stubs - boot_base) + 16 * vec) & 0xffff
        .word KERNEL_CS
        .byte 0
        .byte 0x8E
        .word (IMAGE_BASE >> 16) & 0xffff
        .long 0
        .long 0
        .set vec, vec + 1
        .endr
        .globl idt_end
idt_end:
idt_ptr:
        .word idt_end - idt - 1
        .quad idt

/* PVH entry: 32-bit protected mode, paging off, %ebx = hvm_start_info. */
        .code32
        .globl pvh_entry
pvh_entry:
        cli
        movl %ebx, start_info_paddr
        movl $pml4, %eax
        movl %eax, %cr3
        movl %cr4, %eax
        orl $0x620, %eax          /* PAE, OSFXSR, OSXMMEXCPT */
        movl %eax, %cr4
        movl $0xC0000080, %ecx    /* EFER.LME */
        rdmsr
        orl $0x100, %eax
        wrmsr
        movl %cr0, %eax
        orl $0x80010001, %eax     /* PG, WP, PE */
        movl %eax, %cr0
        lgdt gdt_ptr
        ljmp $KERNEL_CS, $long_entry

        .code64
long_entry:
        movw $KERNEL_DS, %ax
        movw %ax, %ss
        movq $stack0_top, %rsp
        lidt idt_ptr
        movw $TSS_SEL, %ax
        ltr %ax
        movw $USER_DS, %ax
        movw %ax, %ds
        movw %ax, %es
        xorl %eax, %eax
        movw %ax, %fs
        movw %ax, %gs
        pushq $USER_DS
        pushq $stack3_top
        pushq $0x3002             /* IOPL 3, interrupts off */
        pushq $USER_CS
        pushq $user_start
        iretq

/* Ring 3 from here on. */
user_start:
        call guest_main
2:      pause
        jmp 2b

/* Identity map of the first 4 GiB with 2 MiB pages, user bit set; the top GiB
 * (the PCI MMIO window) uncached. pd_high is filled from ring 3 when a BAR
 * lies above 4 GiB. */
        .section .data.pagetables, "aw"
        .balign 4096
        .globl pml4, pdpt, pd_high
pml4:
        .quad pdpt + 7
        .fill 511, 8, 0
pdpt:
        .quad pd0 + 7, pd0 + 4096 + 7, pd0 + 8192 + 7, pd0 + 12288 + 7
        .fill 508, 8, 0
pd0:
        .set page, 0
        .rept 2048
        .if page < 1536
        .quad (page << 21) | 0x87
        .else
        .quad (page << 21) | 0x9F
        .endif
        .set page, page + 1
        .endr
pd_high:
        .fill 512, 8, 0

        .data
        .balign 8
        .globl start_info_paddr
start_info_paddr:
        .quad 0

        .section .stacks, "aw", @nobits
        .balign 4096
        .skip 16384
stack0_top:
        .skip 65536
        .globl stack3_top
stack3_top:

        .section .note.GNU-stack, "", @progbits
