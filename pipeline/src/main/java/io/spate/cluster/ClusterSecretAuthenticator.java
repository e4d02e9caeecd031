package io.spate.cluster;

import io.aeron.security.Authenticator;
import io.aeron.security.SessionProxy;
import io.spate.pipeline.SharedSecretAuthenticator;
import org.agrona.collections.Long2LongHashMap;

import java.security.MessageDigest;

/**
 * The consensus module's authenticator for {@code bin/spate node --auth-secret-file}: a client session is
 * opened only when its credentials are the shared secret (compared in constant time), as the
 * single-node pipeline's {@link SharedSecretAuthenticator} does for Connect. Cluster ingress is UDP and
 * reachable by any host that can send to the port; this keeps strangers out (the secret travels in
 * clear, like all Aeron UDP traffic).
 * <p>
 * Runs on the consensus module's thread only. Verdicts wait between the connect request and the
 * session's connection; at most the module's concurrent sessions of them.
 */
public final class ClusterSecretAuthenticator implements Authenticator
{
    private static final long ACCEPTED = 1;
    private static final long REFUSED = 2;

    private final byte[] secret;
    private final Long2LongHashMap verdictBySession = new Long2LongHashMap(0);
    private long refused;

    /**
     * @param secret the bytes clients must send ({@link SharedSecretAuthenticator#MIN_SECRET_BYTES}..
     *               {@link SharedSecretAuthenticator#MAX_SECRET_BYTES}).
     */
    public ClusterSecretAuthenticator(final byte[] secret)
    {
        if (secret.length < SharedSecretAuthenticator.MIN_SECRET_BYTES ||
            secret.length > SharedSecretAuthenticator.MAX_SECRET_BYTES)
        {
            throw new IllegalArgumentException("a shared secret must be " + SharedSecretAuthenticator.MIN_SECRET_BYTES +
                ".." + SharedSecretAuthenticator.MAX_SECRET_BYTES + " bytes: " + secret.length);
        }
        this.secret = secret.clone();
    }

    public void onConnectRequest(final long sessionId, final byte[] encodedCredentials, final long nowMs)
    {
        final boolean accepted = null != encodedCredentials && MessageDigest.isEqual(secret, encodedCredentials);
        verdictBySession.put(sessionId, accepted ? ACCEPTED : REFUSED);
    }

    public void onChallengeResponse(final long sessionId, final byte[] encodedCredentials, final long nowMs)
    {
        verdictBySession.put(sessionId, REFUSED); // no challenge is ever sent
    }

    public void onConnectedSession(final SessionProxy sessionProxy, final long nowMs)
    {
        decide(sessionProxy);
    }

    public void onChallengedSession(final SessionProxy sessionProxy, final long nowMs)
    {
        decide(sessionProxy);
    }

    private void decide(final SessionProxy sessionProxy)
    {
        final long verdict = verdictBySession.remove(sessionProxy.sessionId());
        if (verdict == ACCEPTED)
        {
            sessionProxy.authenticate(null);
        }
        else
        {
            refused++;
            sessionProxy.reject();
        }
    }

    /**
     * @return sessions refused so far.
     */
    public long refused()
    {
        return refused;
    }
}
