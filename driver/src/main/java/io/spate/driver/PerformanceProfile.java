package io.spate.driver;

import java.util.Locale;

/**
 * Named sets of defaults for how Spate's threads wait, chosen with the system property
 * {@value #PROFILE_PROP} (or a command's {@code --profile}); a setting given on its own (an idle strategy
 * property) still wins over its profile's default.
 * <ul>
 *     <li>{@code default}: every agent and the client back off (spin, yield, then park up to
 *     {@link IdleStrategies#backoffMaxParkNs()}). Right for a machine with fewer cores than busy threads:
 *     a hand-off may wait for a parked thread, but nobody starves.</li>
 *     <li>{@code low-latency}: the pipeline's agents and the client's waits busy-spin, the driver (its
 *     conductor, and the archive sharing its thread) backs off. Needs a core per spinning thread: the
 *     pipeline's thread (shared threading; one more per worker with dedicated threading), one per producer
 *     thread, plus a little for the driver. With fewer cores the spinners take turns with each other and
 *     with the driver, and tails grow instead of shrinking.</li>
 * </ul>
 */
public enum PerformanceProfile
{
    DEFAULT("default", "backoff", "backoff"),
    LOW_LATENCY("low-latency", "busy", "backoff");

    /** System property naming the profile. */
    public static final String PROFILE_PROP = "spate.profile";

    private final String profileName;
    private final String agentIdleStrategy;
    private final String driverIdleStrategy;

    PerformanceProfile(final String profileName, final String agentIdleStrategy, final String driverIdleStrategy)
    {
        this.profileName = profileName;
        this.agentIdleStrategy = agentIdleStrategy;
        this.driverIdleStrategy = driverIdleStrategy;
    }

    /**
     * @return the name {@link #parse} takes.
     */
    public String profileName()
    {
        return profileName;
    }

    /**
     * @return the idle strategy ({@link IdleStrategies}) of the pipeline's conductor and workers, and of the
     * client's waits.
     */
    public String agentIdleStrategy()
    {
        return agentIdleStrategy;
    }

    /**
     * @return the idle strategy of the media driver's agents (and of the archive's).
     */
    public String driverIdleStrategy()
    {
        return driverIdleStrategy;
    }

    /**
     * @param name {@code default} or {@code low-latency}; case and surrounding blanks are ignored.
     * @return the profile.
     * @throws IllegalArgumentException naming the valid names.
     */
    public static PerformanceProfile parse(final String name)
    {
        final String key = null == name ? "" : name.trim().toLowerCase(Locale.ROOT);
        for (final PerformanceProfile profile : values())
        {
            if (profile.profileName.equals(key))
            {
                return profile;
            }
        }
        throw new IllegalArgumentException("unknown profile '" + name + "'; valid names: default, low-latency");
    }

    /**
     * @return the profile {@value #PROFILE_PROP} names, {@link #DEFAULT} when it is unset or blank.
     * @throws IllegalArgumentException naming the property when it holds no profile's name.
     */
    public static PerformanceProfile current()
    {
        final String name = System.getProperty(PROFILE_PROP);
        if (null == name || name.isBlank())
        {
            return DEFAULT;
        }
        try
        {
            return parse(name);
        }
        catch (final IllegalArgumentException ex)
        {
            throw new IllegalArgumentException("system property " + PROFILE_PROP + ": " + ex.getMessage(), ex);
        }
    }
}
