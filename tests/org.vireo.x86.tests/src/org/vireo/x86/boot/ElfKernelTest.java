package org.vireo.x86.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

import org.junit.jupiter.api.Test;
import org.vireo.api.VireoException;
import org.vireo.api.memory.GuestMemory;
import org.vireo.core.memory.MappedGuestMemory;

/** ELF64 parsing and loading, and the fields a broken vmlinux is refused for. */
class ElfKernelTest {

    private static ElfKernel parse(byte[] elf) throws VireoException {
        return ElfKernel.parse("vmlinux-test", ByteBuffer.wrap(elf));
    }

    private static void assertRefused(byte[] elf, String... words) {
        VireoException e = assertThrows(VireoException.class, () -> parse(elf));
        assertTrue(e.getMessage().startsWith("vmlinux-test: "), "names the file: " + e.getMessage());
        for (String w : words) {
            assertTrue(e.getMessage().contains(w), "message should mention '" + w + "': " + e.getMessage());
        }
    }

    private static ByteBuffer le(byte[] b) {
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** Offset of program header {@code i} in the test ELF. */
    private static int ph(int i) {
        return 64 + i * 56;
    }

    @Test
    void parsesSegmentsEntryAndPvhNote() throws Exception {
        ElfKernel k = parse(TestImages.elf());
        assertEquals(2, k.segments().size());
        ElfKernel.Segment text = k.segments().get(0);
        assertEquals(TestImages.KERNEL_PADDR, text.physAddr());
        assertEquals(TestImages.KERNEL_VADDR, text.virtAddr());
        assertEquals(TestImages.TEXT_SIZE, text.fileSize());
        assertEquals(TestImages.TEXT_SIZE + TestImages.BSS_SIZE, text.memSize());
        assertEquals(TestImages.KERNEL_PADDR, k.entry());
        assertEquals(TestImages.PVH_ENTRY, k.pvhEntry().getAsLong());
        assertEquals(0x20_0000, k.maxAlignment());
    }

    @Test
    void loadsSegmentsAtPhysicalAddressesAndZeroesTheTail() throws Exception {
        ElfKernel k = parse(TestImages.elf());
        try (GuestMemory mem = MappedGuestMemory.flat(32 << 20)) {
            // Dirty the bss first: loading must clear it.
            mem.fill(TestImages.KERNEL_PADDR, 0x10000, (byte) 0xee);
            k.load(mem);
            for (int i : new int[] {0, 1, 0x123, TestImages.TEXT_SIZE - 1}) {
                assertEquals(TestImages.pattern(0, i), mem.readByte(TestImages.KERNEL_PADDR + i));
            }
            assertEquals(TestImages.pattern(1, 5), mem.readByte(TestImages.DATA_PADDR + 5));
            for (int i = TestImages.TEXT_SIZE; i < TestImages.TEXT_SIZE + TestImages.BSS_SIZE; i += 97) {
                assertEquals(0, mem.readByte(TestImages.KERNEL_PADDR + i), "bss byte " + i);
            }
            assertEquals((byte) 0xee, mem.readByte(TestImages.KERNEL_PADDR + TestImages.TEXT_SIZE
                    + TestImages.BSS_SIZE), "nothing written past p_memsz");
        }
    }

    @Test
    void noPvhNoteIsFine() throws Exception {
        TestImages.ElfBuilder b = new TestImages.ElfBuilder();
        b.pvhNote = false;
        assertFalse(parse(b.build()).pvhEntry().isPresent());
    }

    @Test
    void translatesAVirtualEntryThroughItsSegment() throws Exception {
        TestImages.ElfBuilder b = new TestImages.ElfBuilder();
        b.entry = TestImages.KERNEL_VADDR + 0x40;
        assertEquals(TestImages.KERNEL_PADDR + 0x40, parse(b.build()).entry());
    }

    @Test
    void refusesWrongIdentClassMachineAndType() {
        TestImages.ElfBuilder b = new TestImages.ElfBuilder();
        b.elfClass = 1;
        assertRefused(b.build(), "EI_CLASS", "is 1", "ELFCLASS64");
        b = new TestImages.ElfBuilder();
        b.machine = 3;
        assertRefused(b.build(), "e_machine is 3", "EM_X86_64");
        b = new TestImages.ElfBuilder();
        b.type = 3;
        assertRefused(b.build(), "e_type is 3", "ET_EXEC");
        byte[] notElf = TestImages.elf();
        notElf[1] = 'X';
        assertRefused(notElf, "not an ELF");
        byte[] bigEndian = TestImages.elf();
        bigEndian[5] = 2;
        assertRefused(bigEndian, "EI_DATA");
    }

    @Test
    void refusesSegmentPastTheEndOfTheFile() {
        byte[] elf = TestImages.elf();
        le(elf).putLong(ph(1) + 32, 0x10_0000);   // p_filesz of the data segment
        le(elf).putLong(ph(1) + 40, 0x10_0000);
        assertRefused(elf, "program header 1", "p_offset", "p_filesz 0x100000", "past the end");
    }

    @Test
    void refusesHugeOffsetsWithoutOverflow() {
        byte[] elf = TestImages.elf();
        le(elf).putLong(ph(0) + 8, 0x7fff_ffff_ffff_f000L);   // p_offset
        assertRefused(elf, "program header 0", "p_offset 0x7ffffffffffff000");
        elf = TestImages.elf();
        le(elf).putLong(ph(0) + 8, -4096L);
        assertRefused(elf, "p_offset");
    }

    @Test
    void refusesFileSizeLargerThanMemorySize() {
        byte[] elf = TestImages.elf();
        le(elf).putLong(ph(1) + 40, 0x10);   // p_memsz < p_filesz
        assertRefused(elf, "p_filesz 0x800 is larger than p_memsz 0x10");
    }

    @Test
    void refusesAbsurdPhysicalAddresses() {
        byte[] elf = TestImages.elf();
        le(elf).putLong(ph(1) + 24, 0xffff_ffff_ffff_0000L);   // p_paddr
        assertRefused(elf, "p_paddr 0xffffffffffff0000", "physical address");
        elf = TestImages.elf();
        le(elf).putLong(ph(1) + 40, 1L << 60);                  // p_memsz
        assertRefused(elf, "p_memsz 0x1000000000000000");
    }

    @Test
    void refusesOverlappingSegments() {
        byte[] elf = TestImages.elf();
        le(elf).putLong(ph(1) + 24, TestImages.KERNEL_PADDR + 0x1000);
        assertRefused(elf, "overlap", "0x1001000");
    }

    @Test
    void refusesEntryOutsideEverySegment() {
        TestImages.ElfBuilder b = new TestImages.ElfBuilder();
        b.entry = 0x5000_0000L;
        assertRefused(b.build(), "e_entry 0x50000000", "no PT_LOAD");
    }

    @Test
    void refusesTruncatedHeaderAndProgramHeaders() {
        byte[] elf = TestImages.elf();
        assertRefused(Arrays.copyOf(elf, 40), "shorter than the 64-byte ELF header");
        assertRefused(Arrays.copyOf(elf, 100), "e_phoff", "past the end");
        byte[] many = TestImages.elf();
        le(many).putShort(0x38, (short) 0xffff);
        assertRefused(many, "e_phnum is 65535");
        byte[] wrongSize = TestImages.elf();
        le(wrongSize).putShort(0x36, (short) 32);
        assertRefused(wrongSize, "e_phentsize is 32");
    }

    @Test
    void refusesElfWithoutLoadableSegments() {
        byte[] elf = TestImages.elf();
        le(elf).putInt(ph(0), 6);   // PT_PHDR
        le(elf).putInt(ph(1), 6);
        assertRefused(elf, "no PT_LOAD");
    }

    @Test
    void refusesNoteRunningPastItsSegment() {
        byte[] elf = TestImages.elf();
        int noteAt = (int) le(elf).getLong(ph(2) + 8);
        le(elf).putInt(noteAt + 4, 0x1000);   // n_descsz of the first note
        assertRefused(elf, "PT_NOTE", "n_descsz 4096", "past the end of its segment");
    }
}
