/**
 * The x86 PC board: memory map, Linux boot, firmware tables and the legacy devices every PC
 * has. The board is registered as an {@link org.vireo.api.board.Board} service of type "pc".
 */
package org.vireo.x86;
