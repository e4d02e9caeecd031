package io.spate.pipeline;

/**
 * A token bucket for Connects: each opens a publication (a driver round trip and a log buffer), so a
 * flood of them is refused before it costs anything. Tokens refill at {@code connectsPerSecond} up to
 * a burst of the same size. Single-threaded (the conductor's).
 */
final class ConnectRateLimiter
{
    private final long nanosPerToken;
    private final long burstTokens;
    private long tokens;
    private long lastRefillNs;

    ConnectRateLimiter(final int connectsPerSecond, final long nowNs)
    {
        if (connectsPerSecond < 1)
        {
            throw new IllegalArgumentException("connects per second must be at least 1: " + connectsPerSecond);
        }
        this.nanosPerToken = 1_000_000_000L / connectsPerSecond;
        this.burstTokens = connectsPerSecond;
        this.tokens = connectsPerSecond;
        this.lastRefillNs = nowNs;
    }

    /**
     * @return true when a Connect may be handled now (a token taken), false when over the rate.
     */
    boolean tryAcquire(final long nowNs)
    {
        final long elapsedNs = nowNs - lastRefillNs;
        if (elapsedNs >= nanosPerToken)
        {
            final long refill = elapsedNs / nanosPerToken;
            tokens = Math.min(burstTokens, tokens + refill);
            lastRefillNs += refill * nanosPerToken;
        }
        if (tokens > 0)
        {
            tokens--;
            return true;
        }
        return false;
    }
}
