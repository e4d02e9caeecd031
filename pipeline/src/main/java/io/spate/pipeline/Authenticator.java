package io.spate.pipeline;

import org.agrona.DirectBuffer;

/**
 * Decides whether a producer may have a session, in the spirit of Aeron Cluster's {@code Authenticator}:
 * called by the conductor for every Connect that passed the channel and schema checks, with the
 * credentials the producer sent. It runs on the conductor's thread: it must answer at once (no I/O).
 */
@FunctionalInterface
public interface Authenticator
{
    /** Every producer that can reach ingress may connect: for IPC with a private driver directory. */
    Authenticator ALLOW_ALL = (clientId, credentials, offset, lengthBytes, sourceIdentity) -> null;

    /**
     * @param clientId       the producer's own label (untrusted).
     * @param credentials    holding what the producer sent.
     * @param offset         where the credentials start.
     * @param lengthBytes    their length (0: none sent).
     * @param sourceIdentity where the Connect came from ({@code aeron:ipc}, or host:port for UDP).
     * @return null to accept; otherwise one line saying why not (the producer sees it).
     */
    String authenticate(long clientId, DirectBuffer credentials, int offset, int lengthBytes, String sourceIdentity);
}
