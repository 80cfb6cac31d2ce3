/**
 * Vireo's service provider interface: what CPU backends, device models, storage formats and
 * network backends implement, and what the runtime offers them. Third-party bundles compile
 * against these packages only.
 *
 * <p>Two kinds of failure run through the SPI: {@link org.vireo.api.GuestException} (the
 * guest's fault; the VM keeps running) and {@link org.vireo.api.VireoException} (a host-side
 * failure with a message for the user).
 */
package org.vireo.api;
