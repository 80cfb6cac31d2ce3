package org.vireo.core.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.stream.Collectors;

import org.junit.jupiter.api.Test;
import org.vireo.api.vm.ConfigException;
import org.vireo.api.vm.ConfigProblem;
import org.vireo.api.vm.VmConfig;

class VmConfigCodecTest {

    private static final String GOOD = """
            {
              "name": "web-1",
              "cpu": "emu",
              "vcpus": 2,
              "memory": "512M",
              "boot": { "kernel": "vmlinuz", "initrd": "initrd.gz", "cmdline": "console=ttyS0 quiet" },
              "devices": [
                { "type": "virtio-blk", "id": "disk0", "path": "disk.qcow2", "readonly": true, "queues": 2 },
                { "type": "virtio-rng" }
              ]
            }
            """;

    @Test
    void readsEveryFieldOfAGoodConfig() throws Exception {
        VmConfig c = VmConfigCodec.parse(GOOD, "vm.json");
        assertEquals("web-1", c.name());
        assertEquals("emu", c.cpu());
        assertEquals(2, c.vcpus());
        assertEquals(512L << 20, c.memoryBytes());
        assertEquals("vmlinuz", c.boot().kernel());
        assertEquals("initrd.gz", c.boot().initrd());
        assertEquals("console=ttyS0 quiet", c.boot().cmdline());
        assertEquals(2, c.devices().size());
        assertEquals("disk0", c.devices().get(0).id());
        assertEquals("disk.qcow2", c.devices().get(0).string("path").orElseThrow());
        assertEquals(true, c.devices().get(0).flag("readonly").orElseThrow());
        assertEquals(2L, c.devices().get(0).number("queues").orElseThrow());
        assertEquals("virtiorng1", c.devices().get(1).id(), "an entry without id gets one from its type and index");
    }

    @Test
    void defaultsApplyToAMinimalConfig() throws Exception {
        VmConfig c = VmConfigCodec.parse("{\"name\":\"a\",\"boot\":{\"kernel\":\"k\"}}", "x");
        assertEquals(VmConfig.CPU_AUTO, c.cpu());
        assertEquals(1, c.vcpus());
        assertEquals(256L << 20, c.memoryBytes());
        assertEquals("", c.boot().cmdline());
        assertEquals(List.of(), c.devices());
    }

    @Test
    void formatThenParseGivesTheSameConfig() throws Exception {
        VmConfig c = VmConfigCodec.parse(GOOD, "vm.json");
        assertEquals(c, VmConfigCodec.parse(VmConfigCodec.format(c), "again"));
    }

    @Test
    void memoryAsANumberIsMebibytes() throws Exception {
        VmConfig c = VmConfigCodec.parse("{\"name\":\"a\",\"memory\":1024,\"boot\":{\"kernel\":\"k\"}}", "x");
        assertEquals(1L << 30, c.memoryBytes());
    }

    @Test
    void malformedJsonIsReportedWithTheFileName() {
        ConfigException e = assertThrows(ConfigException.class, () -> VmConfigCodec.parse("{\"name\": ", "bad.json"));
        assertTrue(e.getMessage().startsWith("bad.json is not a valid VM config"), e.getMessage());
        assertTrue(e.getMessage().contains("malformed JSON"), e.getMessage());
    }

    @Test
    void everyProblemIsListedWithItsPathValueAndWhatIsAllowed() {
        String json = """
                {
                  "name": "bad name!",
                  "vcpus": 0,
                  "memory": "12Q",
                  "colour": "red",
                  "boot": { "initrd": 5 },
                  "devices": [ { "id": "x" }, "disk", { "type": "a", "id": "d" }, { "type": "b", "id": "d" } ]
                }
                """;
        ConfigException e = assertThrows(ConfigException.class, () -> VmConfigCodec.parse(json, "vm.json"));
        List<String> paths = e.problems().stream().map(ConfigProblem::path).collect(Collectors.toList());
        assertEquals(List.of("colour", "name", "vcpus", "memory", "boot.kernel", "boot.initrd", "devices[0].type",
                "devices[1]", "devices[3].id"), paths);
        ConfigProblem vcpus = e.problems().get(2);
        assertEquals("0", vcpus.found());
        assertTrue(vcpus.expected().contains("from 1 to"), vcpus.expected());
        ConfigProblem memory = e.problems().get(3);
        assertEquals("\"12Q\"", memory.found());
        assertTrue(e.getMessage().contains("memory: \"12Q\"; expected a size"), e.getMessage());
        assertTrue(e.getMessage().contains("colour: an unknown field; expected one of [boot, cpu, devices, memory, name, vcpus]"),
                e.getMessage());
    }

    @Test
    void memoryOutOfRangeOrUnalignedIsRefused() {
        for (String m : new String[] {"\"1M\"", "\"2T\"", "\"1000000\"", "-5", "1.5", "true"}) {
            ConfigException e = assertThrows(ConfigException.class,
                    () -> VmConfigCodec.parse("{\"name\":\"a\",\"memory\":" + m + ",\"boot\":{\"kernel\":\"k\"}}", "x"),
                    m);
            assertEquals("memory", e.problems().get(0).path(), m);
        }
    }

    @Test
    void aDocumentThatIsNotAnObjectIsRefused() {
        ConfigException e = assertThrows(ConfigException.class, () -> VmConfigCodec.parse("[1,2]", "x"));
        assertEquals("a list", e.problems().get(0).found());
    }

    @Test
    void sizesParseWithUnits() {
        assertEquals(256L << 20, VmConfigCodec.parseSize("256M"));
        assertEquals(2L << 30, VmConfigCodec.parseSize("2G"));
        assertEquals(4096L, VmConfigCodec.parseSize("4096"));
        assertEquals(null, VmConfigCodec.parseSize("lots"));
        assertEquals(null, VmConfigCodec.parseSize("99999999999999999999G"));
        assertEquals("256M", VmConfigCodec.formatSize(256L << 20));
        assertEquals("1G", VmConfigCodec.formatSize(1L << 30));
    }
}
