package io.spate.pipeline;

import org.agrona.DirectBuffer;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;

/**
 * Accepts a producer whose credentials are the shared secret, compared in constant time. Meant for UDP
 * ingress, where any host that reaches the port could otherwise produce; pair it with a network the
 * operator trusts (the secret travels in clear over UDP, like everything else on Aeron's UDP channels).
 */
public final class SharedSecretAuthenticator implements Authenticator
{
    /** Shortest secret accepted: a guessable secret protects nothing. */
    public static final int MIN_SECRET_BYTES = 16;
    /** Longest secret accepted (a Connect carries it). */
    public static final int MAX_SECRET_BYTES = 4096;

    private final byte[] secret;
    private final byte[] candidate;

    /**
     * @param secret the bytes producers must send.
     */
    public SharedSecretAuthenticator(final byte[] secret)
    {
        if (secret.length < MIN_SECRET_BYTES || secret.length > MAX_SECRET_BYTES)
        {
            throw new IllegalArgumentException("a shared secret must be " + MIN_SECRET_BYTES + ".." + MAX_SECRET_BYTES +
                " bytes: " + secret.length);
        }
        this.secret = secret.clone();
        this.candidate = new byte[secret.length];
    }

    /**
     * Reads a secret from a file: its bytes, without one trailing newline.
     *
     * @param file the secret file (keep it readable by the service's user only).
     * @return the bytes.
     * @throws IllegalArgumentException naming the file when it cannot be read.
     */
    public static byte[] readSecret(final Path file)
    {
        try
        {
            String text = Files.readString(file, StandardCharsets.UTF_8);
            if (text.endsWith("\n"))
            {
                text = text.substring(0, text.length() - (text.endsWith("\r\n") ? 2 : 1));
            }
            return text.getBytes(StandardCharsets.UTF_8);
        }
        catch (final IOException | RuntimeException ex)
        {
            throw new IllegalArgumentException("cannot read the secret file " + file + ": " + ex.getMessage());
        }
    }

    public String authenticate(
        final long clientId, final DirectBuffer credentials, final int offset, final int lengthBytes,
        final String sourceIdentity)
    {
        if (lengthBytes != secret.length)
        {
            return "wrong credentials (a shared secret is required)";
        }
        credentials.getBytes(offset, candidate, 0, lengthBytes);
        return MessageDigest.isEqual(secret, candidate) ? null : "wrong credentials (a shared secret is required)";
    }
}
