package io.spate.pipeline;

import io.spate.driver.IdleStrategies;
import io.spate.driver.PerformanceProfile;

import io.spate.client.SpateClient;
import io.spate.codec.DatabaseSchema;

import java.util.List;

/**
 * Configuration of the pipeline process, Aeron style: every value has a system-property default
 * read once here, a fluent setter, and {@link #conclude()} validates them together before start.
 */
public final class PipelineConfiguration
{
    /** The client's: producers and the pipeline read the same properties. */
    public static final String INGRESS_CHANNEL_PROP = SpateClient.Context.INGRESS_CHANNEL_PROP;
    public static final String INGRESS_STREAM_ID_PROP = SpateClient.Context.INGRESS_STREAM_ID_PROP;
    public static final String DISPATCH_STREAM_ID_BASE_PROP = "spate.dispatch.stream.id.base";
    public static final String APPLIED_STREAM_ID_PROP = "spate.applied.stream.id";
    public static final String WORKER_COUNT_PROP = "spate.workers";
    public static final String MODIFY_BUFFER_BYTES_PROP = "spate.modify.buffer.bytes";
    public static final String COPY_MODE_THRESHOLD_BYTES_PROP = "spate.copy.mode.threshold.bytes";
    public static final String MAX_BATCH_BYTES_PROP = "spate.max.batch.bytes";
    public static final String MAX_RECORDS_PER_BATCH_PROP = "spate.max.records.per.batch";
    public static final String MAX_IN_FLIGHT_BATCHES_PROP = "spate.max.in.flight.batches";
    public static final String CONDUCTOR_IDLE_PROP = "spate.conductor.idle.strategy";
    public static final String WORKER_IDLE_PROP = "spate.worker.idle.strategy";
    public static final String THREADING_MODE_PROP = "spate.pipeline.threading.mode";
    public static final String SESSION_TIMEOUT_MS_PROP = "spate.session.timeout.ms";
    /** Acks kept per session, for batches a producer sends again after a reconnect or a restart (SessionSettings). */
    public static final String ACK_LEDGER_BATCHES_PROP = "spate.ack.ledger.batches";
    /** How long a closed session (or one remembered from the log at a restart) may still be resumed. */
    public static final String SESSION_RESUME_WINDOW_MS_PROP = "spate.session.resume.window.ms";
    public static final int DEFAULT_ACK_LEDGER_BATCHES = 1024;
    /** Bytes of acks kept over all sessions (the oldest of all go first past it). */
    public static final String ACK_LEDGER_TOTAL_BYTES_PROP = "spate.ack.ledger.total.bytes";
    public static final long DEFAULT_ACK_LEDGER_TOTAL_BYTES = 256L << 20;
    public static final int MAX_ACK_LEDGER_BATCHES = 1 << 16;
    public static final String SESSION_BACKLOG_BYTES_PROP = "spate.session.backlog.bytes";
    public static final String WORKER_STALL_TIMEOUT_MS_PROP = "spate.worker.stall.timeout.ms";
    public static final String MAX_SESSIONS_PROP = "spate.max.sessions";
    public static final String MAX_CONNECTS_PER_SECOND_PROP = "spate.max.connects.per.second";
    public static final String MAX_RESPONSE_TERM_LENGTH_PROP = "spate.response.max.term.length";
    public static final String MAX_RESPONSE_MTU_LENGTH_PROP = "spate.response.max.mtu.length";
    public static final String ALLOWED_RESPONSE_HOSTS_PROP = "spate.response.allowed.hosts";
    public static final String AUTHENTICATOR_PROP = "spate.authenticator";
    public static final String AUTH_SECRET_FILE_PROP = "spate.auth.secret.file";
    /** Where snapshots live; set, the pipeline is durable (its log recorded by the driver's archive). */
    public static final String DATA_DIR_PROP = "spate.data.dir";
    public static final String LOG_STREAM_ID_PROP = "spate.log.stream.id";
    public static final String LOG_TERM_LENGTH_PROP = "spate.log.term.length";
    public static final String SNAPSHOT_INTERVAL_BYTES_PROP = "spate.snapshot.interval.bytes";
    public static final String SNAPSHOT_INTERVAL_MS_PROP = "spate.snapshot.interval.ms";
    /** The least the driver's archive must promise (none or data); the pipeline refuses to start on less. */
    public static final String SYNC_PROP = "spate.sync";

    /** How the conductor and workers are run; the agents are the same either way. */
    public enum ThreadingMode
    {
        /** One thread per agent: for machines with a core for each. */
        DEDICATED,
        /** Conductor and workers composed on one thread (no hand-off wake-ups): for few cores. */
        SHARED
    }

    public static final String DEFAULT_INGRESS_CHANNEL = SpateClient.Context.DEFAULT_INGRESS_CHANNEL;
    public static final int DEFAULT_INGRESS_STREAM_ID = SpateClient.Context.DEFAULT_INGRESS_STREAM_ID;

    private DatabaseSchema schema;
    private String ingressChannel = System.getProperty(INGRESS_CHANNEL_PROP, DEFAULT_INGRESS_CHANNEL);
    private int ingressStreamId = intProperty(INGRESS_STREAM_ID_PROP, DEFAULT_INGRESS_STREAM_ID);
    private int dispatchStreamIdBase = intProperty(DISPATCH_STREAM_ID_BASE_PROP, 1100);
    private int appliedStreamId = intProperty(APPLIED_STREAM_ID_PROP, 1099);
    private int workerCount = intProperty(WORKER_COUNT_PROP,
        Math.max(1, Runtime.getRuntime().availableProcessors() - 1));
    private int modifyBufferBytes = intProperty(MODIFY_BUFFER_BYTES_PROP, 64 << 20);
    private int copyModeThresholdBytes = intProperty(COPY_MODE_THRESHOLD_BYTES_PROP, -1);
    private int maxBatchBytes = intProperty(MAX_BATCH_BYTES_PROP, 256 << 10);
    private int maxRecordsPerBatch = intProperty(MAX_RECORDS_PER_BATCH_PROP, 8192);
    private int maxInFlightBatches = intProperty(MAX_IN_FLIGHT_BATCHES_PROP, 256);
    /** {@value io.spate.driver.PerformanceProfile#PROFILE_PROP}: the idle strategies' defaults. */
    private final PerformanceProfile profile = PerformanceProfile.current();
    private String conductorIdleStrategy = System.getProperty(CONDUCTOR_IDLE_PROP, profile.agentIdleStrategy());
    private String workerIdleStrategy = System.getProperty(WORKER_IDLE_PROP, profile.agentIdleStrategy());
    private long sessionTimeoutMs = longProperty(SESSION_TIMEOUT_MS_PROP, 10_000);
    private int ackLedgerBatches = (int)longProperty(ACK_LEDGER_BATCHES_PROP, DEFAULT_ACK_LEDGER_BATCHES);
    private long ackLedgerTotalBytes = longProperty(ACK_LEDGER_TOTAL_BYTES_PROP, DEFAULT_ACK_LEDGER_TOTAL_BYTES);
    private long sessionResumeWindowMs = longProperty(SESSION_RESUME_WINDOW_MS_PROP, 300_000);
    private int sessionBacklogBytes = intProperty(SESSION_BACKLOG_BYTES_PROP, 8 << 20);
    private long workerStallTimeoutMs = longProperty(WORKER_STALL_TIMEOUT_MS_PROP, 5_000);
    private FaultInjector faultInjector = FaultInjector.NONE;
    private int maxSessions = intProperty(MAX_SESSIONS_PROP, 1024);
    private int maxConnectsPerSecond = intProperty(MAX_CONNECTS_PER_SECOND_PROP, 200);
    private int maxResponseTermLength = intProperty(MAX_RESPONSE_TERM_LENGTH_PROP, 4 << 20);
    private int maxResponseMtuLength = intProperty(MAX_RESPONSE_MTU_LENGTH_PROP, 64 << 10);
    private List<String> allowedResponseHosts = parseList(System.getProperty(ALLOWED_RESPONSE_HOSTS_PROP, ""));
    private String authenticatorName = System.getProperty(AUTHENTICATOR_PROP, "allow-all");
    private String authSecretFile = System.getProperty(AUTH_SECRET_FILE_PROP);
    private Authenticator authenticator;
    private ThreadingMode threadingMode = threadingModeProperty();
    private String dataDirectory = System.getProperty(DATA_DIR_PROP);
    private int logStreamId = intProperty(LOG_STREAM_ID_PROP, 1098);
    private int logTermLengthBytes = intProperty(LOG_TERM_LENGTH_PROP, 16 << 20);
    private long snapshotIntervalBytes = longProperty(SNAPSHOT_INTERVAL_BYTES_PROP, 1L << 30);
    private long snapshotIntervalMs = longProperty(SNAPSHOT_INTERVAL_MS_PROP, 600_000);
    private String sync = System.getProperty(SYNC_PROP, "none");

    /**
     * Validates the settings together and fills derived ones.
     *
     * @return this.
     */
    public PipelineConfiguration conclude()
    {
        if (null == schema)
        {
            throw new IllegalStateException("a database schema is required");
        }
        require(workerCount >= 1 && workerCount <= 64, WORKER_COUNT_PROP + " must be 1..64: " + workerCount);
        require(maxBatchBytes >= 1024, MAX_BATCH_BYTES_PROP + " must be at least 1024: " + maxBatchBytes);
        require(modifyBufferBytes >= maxBatchBytes,
            MODIFY_BUFFER_BYTES_PROP + " (" + modifyBufferBytes + ") must hold one batch of " + maxBatchBytes);
        if (copyModeThresholdBytes < 0)
        {
            copyModeThresholdBytes = Math.min(modifyBufferBytes / 2, maxBatchBytes);
        }
        require(copyModeThresholdBytes <= modifyBufferBytes,
            COPY_MODE_THRESHOLD_BYTES_PROP + " must not exceed the buffer: " + copyModeThresholdBytes);
        require(maxRecordsPerBatch >= 1 && maxRecordsPerBatch <= 1 << 20,
            MAX_RECORDS_PER_BATCH_PROP + " must be 1..1048576: " + maxRecordsPerBatch);
        require(maxInFlightBatches >= 2 && Integer.bitCount(maxInFlightBatches) == 1,
            MAX_IN_FLIGHT_BATCHES_PROP + " must be a power of two >= 2: " + maxInFlightBatches);
        require(schema.maxRecordLengthBytes() <= maxBatchBytes,
            "a record of this schema may take " + schema.maxRecordLengthBytes() + " bytes, more than " +
            MAX_BATCH_BYTES_PROP + " " + maxBatchBytes);
        require(sessionTimeoutMs >= 100 && sessionTimeoutMs <= 3_600_000,
            SESSION_TIMEOUT_MS_PROP + " must be 100..3600000: " + sessionTimeoutMs);
        require(ackLedgerBatches >= 1 && ackLedgerBatches <= MAX_ACK_LEDGER_BATCHES,
            ACK_LEDGER_BATCHES_PROP + " must be 1.." + MAX_ACK_LEDGER_BATCHES + ": " + ackLedgerBatches);
        require(ackLedgerTotalBytes >= 1 << 20 && ackLedgerTotalBytes <= 1L << 40,
            ACK_LEDGER_TOTAL_BYTES_PROP + " must be 1 MiB..1 TiB: " + ackLedgerTotalBytes);
        require(ackLedgerTotalBytes >= AckLedger.entryBytes(AckWriter.maxAckBytes(maxRecordsPerBatch)),
            ACK_LEDGER_TOTAL_BYTES_PROP + " " + ackLedgerTotalBytes + " cannot hold the ack of one full batch of " +
            maxRecordsPerBatch + " records");
        require(ResumableSessions.ledgerSessionBytes(this) <= AckLedger.MAX_SESSION_BYTES,
            ACK_LEDGER_BATCHES_PROP + " " + ackLedgerBatches + " acks of batches of up to " + maxRecordsPerBatch +
            " records (" + MAX_RECORDS_PER_BATCH_PROP + ") need " + ResumableSessions.ledgerSessionBytes(this) +
            " bytes per session, more than " + AckLedger.MAX_SESSION_BYTES + ": keep fewer acks or smaller batches");
        require(sessionResumeWindowMs >= 0 && sessionResumeWindowMs <= 86_400_000L,
            SESSION_RESUME_WINDOW_MS_PROP + " must be 0..86400000: " + sessionResumeWindowMs);
        require(workerStallTimeoutMs >= 10 && workerStallTimeoutMs <= 3_600_000,
            WORKER_STALL_TIMEOUT_MS_PROP + " must be 10..3600000: " + workerStallTimeoutMs);
        final long minBacklogBytes = 2L * (AckWriter.ackBacklogBytes(maxRecordsPerBatch) +
            ClientSession.backlogBytesFor(ReadQueue.maxAnswerBytes(schema)));
        require(sessionBacklogBytes >= minBacklogBytes && sessionBacklogBytes <= 256 << 20,
            SESSION_BACKLOG_BYTES_PROP + " must hold two acks of a full batch and two read answers (" +
            minBacklogBytes + " bytes here) and be at most 256 MiB: " + sessionBacklogBytes);
        if (null == faultInjector)
        {
            faultInjector = FaultInjector.NONE;
        }
        require(maxSessions >= 1 && maxSessions <= 16_384, MAX_SESSIONS_PROP + " must be 1..16384: " + maxSessions);
        require(maxConnectsPerSecond >= 1 && maxConnectsPerSecond <= 100_000,
            MAX_CONNECTS_PER_SECOND_PROP + " must be 1..100000: " + maxConnectsPerSecond);
        require(maxResponseTermLength >= 64 << 10 && maxResponseTermLength <= 1 << 30,
            MAX_RESPONSE_TERM_LENGTH_PROP + " must be 64 KiB..1 GiB: " + maxResponseTermLength);
        require(maxResponseMtuLength >= 1024 && maxResponseMtuLength <= 64 << 10,
            MAX_RESPONSE_MTU_LENGTH_PROP + " must be 1 KiB..64 KiB: " + maxResponseMtuLength);
        if (null == authenticator)
        {
            authenticator = switch (authenticatorName)
            {
                case "allow-all" -> Authenticator.ALLOW_ALL;
                case "shared-secret" ->
                {
                    require(null != authSecretFile, AUTHENTICATOR_PROP + "=shared-secret needs " + AUTH_SECRET_FILE_PROP);
                    yield new SharedSecretAuthenticator(SharedSecretAuthenticator.readSecret(java.nio.file.Path.of(authSecretFile)));
                }
                default -> throw new IllegalArgumentException(AUTHENTICATOR_PROP + " must be allow-all or shared-secret: " +
                    authenticatorName);
            };
        }
        IdleStrategies.parse(conductorIdleStrategy);
        IdleStrategies.parse(workerIdleStrategy);
        if (null != dataDirectory)
        {
            require(!dataDirectory.isBlank(), DATA_DIR_PROP + " must name a directory");
            require(logTermLengthBytes >= 64 << 10 && logTermLengthBytes <= 1 << 30 &&
                Integer.bitCount(logTermLengthBytes) == 1,
                LOG_TERM_LENGTH_PROP + " must be a power of two, 64 KiB..1 GiB: " + logTermLengthBytes);
            final long maxLogMessageBytes = LogPublisher.maxMessageBytes(maxBatchBytes, maxRecordsPerBatch);
            require(maxLogMessageBytes <= logTermLengthBytes / 8,
                "a full batch (" + MAX_BATCH_BYTES_PROP + " " + maxBatchBytes + ", " + MAX_RECORDS_PER_BATCH_PROP + " " +
                maxRecordsPerBatch + ") makes a log message of up to " + maxLogMessageBytes + " bytes, more than " +
                LOG_TERM_LENGTH_PROP + " / 8 (" + logTermLengthBytes / 8 + ")");
            require(maxBatchBytes <= 1 << 20, MAX_BATCH_BYTES_PROP + " must be at most 1 MiB with a durable log: " +
                maxBatchBytes);
            require(logStreamId != ingressStreamId && logStreamId != appliedStreamId &&
                (logStreamId < dispatchStreamIdBase || logStreamId >= dispatchStreamIdBase + workerCount),
                LOG_STREAM_ID_PROP + " " + logStreamId + " is one of the pipeline's other streams");
            require(snapshotIntervalBytes >= 1 << 20, SNAPSHOT_INTERVAL_BYTES_PROP + " must be at least 1 MiB: " +
                snapshotIntervalBytes);
            require(snapshotIntervalMs >= 0, SNAPSHOT_INTERVAL_MS_PROP + " must be >= 0 (0: by bytes only): " +
                snapshotIntervalMs);
        }
        require("none".equals(sync) || "data".equals(sync), SYNC_PROP + " must be none or data: " + sync);
        return this;
    }

    /**
     * Reads a whole-number property once: a malformed value is an error naming the property, never
     * silently the default (as {@link Integer#getInteger} would make it).
     */
    static int intProperty(final String name, final int defaultValue)
    {
        final long value = longProperty(name, defaultValue);
        if (value < Integer.MIN_VALUE || value > Integer.MAX_VALUE)
        {
            throw new IllegalArgumentException("system property " + name + " is out of range: " + value);
        }
        return (int)value;
    }

    static long longProperty(final String name, final long defaultValue)
    {
        final String text = System.getProperty(name);
        if (null == text || text.isBlank())
        {
            return defaultValue;
        }
        try
        {
            return Long.parseLong(text.trim());
        }
        catch (final NumberFormatException ex)
        {
            throw new IllegalArgumentException("system property " + name + " needs a whole number: " + text);
        }
    }

    private static ThreadingMode threadingModeProperty()
    {
        final String text = System.getProperty(THREADING_MODE_PROP,
            Runtime.getRuntime().availableProcessors() <= 2 ? "shared" : "dedicated");
        try
        {
            return ThreadingMode.valueOf(text.trim().toUpperCase(java.util.Locale.ROOT));
        }
        catch (final IllegalArgumentException ex)
        {
            throw new IllegalArgumentException("system property " + THREADING_MODE_PROP + " must be shared or dedicated: " +
                text);
        }
    }

    private static void require(final boolean condition, final String message)
    {
        if (!condition)
        {
            throw new IllegalArgumentException(message);
        }
    }

    public DatabaseSchema schema()
    {
        return schema;
    }

    public PipelineConfiguration schema(final DatabaseSchema schema)
    {
        this.schema = schema;
        return this;
    }

    public String ingressChannel()
    {
        return ingressChannel;
    }

    public PipelineConfiguration ingressChannel(final String ingressChannel)
    {
        this.ingressChannel = ingressChannel;
        return this;
    }

    public int ingressStreamId()
    {
        return ingressStreamId;
    }

    public PipelineConfiguration ingressStreamId(final int ingressStreamId)
    {
        this.ingressStreamId = ingressStreamId;
        return this;
    }

    public int dispatchStreamIdBase()
    {
        return dispatchStreamIdBase;
    }

    public PipelineConfiguration dispatchStreamIdBase(final int dispatchStreamIdBase)
    {
        this.dispatchStreamIdBase = dispatchStreamIdBase;
        return this;
    }

    public int appliedStreamId()
    {
        return appliedStreamId;
    }

    public PipelineConfiguration appliedStreamId(final int appliedStreamId)
    {
        this.appliedStreamId = appliedStreamId;
        return this;
    }

    public int workerCount()
    {
        return workerCount;
    }

    public PipelineConfiguration workerCount(final int workerCount)
    {
        this.workerCount = workerCount;
        return this;
    }

    public int modifyBufferBytes()
    {
        return modifyBufferBytes;
    }

    public PipelineConfiguration modifyBufferBytes(final int modifyBufferBytes)
    {
        this.modifyBufferBytes = modifyBufferBytes;
        return this;
    }

    public int copyModeThresholdBytes()
    {
        return copyModeThresholdBytes;
    }

    public PipelineConfiguration copyModeThresholdBytes(final int copyModeThresholdBytes)
    {
        this.copyModeThresholdBytes = copyModeThresholdBytes;
        return this;
    }

    public int maxBatchBytes()
    {
        return maxBatchBytes;
    }

    public PipelineConfiguration maxBatchBytes(final int maxBatchBytes)
    {
        this.maxBatchBytes = maxBatchBytes;
        return this;
    }

    public int maxRecordsPerBatch()
    {
        return maxRecordsPerBatch;
    }

    public PipelineConfiguration maxRecordsPerBatch(final int maxRecordsPerBatch)
    {
        this.maxRecordsPerBatch = maxRecordsPerBatch;
        return this;
    }

    public int maxInFlightBatches()
    {
        return maxInFlightBatches;
    }

    public PipelineConfiguration maxInFlightBatches(final int maxInFlightBatches)
    {
        this.maxInFlightBatches = maxInFlightBatches;
        return this;
    }

    public String conductorIdleStrategy()
    {
        return conductorIdleStrategy;
    }

    public PipelineConfiguration conductorIdleStrategy(final String name)
    {
        this.conductorIdleStrategy = name;
        return this;
    }

    public String workerIdleStrategy()
    {
        return workerIdleStrategy;
    }

    public PipelineConfiguration workerIdleStrategy(final String name)
    {
        this.workerIdleStrategy = name;
        return this;
    }

    /**
     * @return how long a producer's answers may stay unsent (it stopped reading, or its response stream
     * is gone) before its session is closed.
     */
    /** @return acks kept per session: a producer keeps at most this many batches unanswered. */
    public int ackLedgerBatches()
    {
        return ackLedgerBatches;
    }

    public PipelineConfiguration ackLedgerBatches(final int batches)
    {
        this.ackLedgerBatches = batches;
        return this;
    }

    /** @return bytes of acks kept over all sessions. */
    public long ackLedgerTotalBytes()
    {
        return ackLedgerTotalBytes;
    }

    public PipelineConfiguration ackLedgerTotalBytes(final long bytes)
    {
        this.ackLedgerTotalBytes = bytes;
        return this;
    }

    /** @return how long a closed session may still be resumed (Reconnect), in ms. */
    public long sessionResumeWindowMs()
    {
        return sessionResumeWindowMs;
    }

    public PipelineConfiguration sessionResumeWindowMs(final long windowMs)
    {
        this.sessionResumeWindowMs = windowMs;
        return this;
    }

    public long sessionTimeoutMs()
    {
        return sessionTimeoutMs;
    }

    public long sessionTimeoutNs()
    {
        return sessionTimeoutMs * 1_000_000L;
    }

    public PipelineConfiguration sessionTimeoutMs(final long sessionTimeoutMs)
    {
        this.sessionTimeoutMs = sessionTimeoutMs;
        return this;
    }

    /**
     * @return most bytes of answers owed to one producer (sent or not): past it, that producer's
     * batches wait at ingress.
     */
    public int sessionBacklogBytes()
    {
        return sessionBacklogBytes;
    }

    public PipelineConfiguration sessionBacklogBytes(final int sessionBacklogBytes)
    {
        this.sessionBacklogBytes = sessionBacklogBytes;
        return this;
    }

    /**
     * @return how long a worker with work may make no progress before it is reported stalled.
     */
    public long workerStallTimeoutMs()
    {
        return workerStallTimeoutMs;
    }

    public PipelineConfiguration workerStallTimeoutMs(final long workerStallTimeoutMs)
    {
        this.workerStallTimeoutMs = workerStallTimeoutMs;
        return this;
    }

    /**
     * @return most producer sessions at once; a Connect past it is refused (TOO_MANY_SESSIONS).
     */
    public int maxSessions()
    {
        return maxSessions;
    }

    public PipelineConfiguration maxSessions(final int maxSessions)
    {
        this.maxSessions = maxSessions;
        return this;
    }

    /**
     * @return Connects handled per second (a burst of as many); past it they are dropped unanswered.
     */
    public int maxConnectsPerSecond()
    {
        return maxConnectsPerSecond;
    }

    public PipelineConfiguration maxConnectsPerSecond(final int maxConnectsPerSecond)
    {
        this.maxConnectsPerSecond = maxConnectsPerSecond;
        return this;
    }

    /**
     * @return the largest term-length a Connect may name for its response channel.
     */
    public int maxResponseTermLength()
    {
        return maxResponseTermLength;
    }

    public PipelineConfiguration maxResponseTermLength(final int maxResponseTermLength)
    {
        this.maxResponseTermLength = maxResponseTermLength;
        return this;
    }

    /**
     * @return the largest mtu a Connect may name for its response channel.
     */
    public int maxResponseMtuLength()
    {
        return maxResponseMtuLength;
    }

    public PipelineConfiguration maxResponseMtuLength(final int maxResponseMtuLength)
    {
        this.maxResponseMtuLength = maxResponseMtuLength;
        return this;
    }

    /**
     * @return hosts UDP response channels may name besides the host a Connect came from.
     */
    public List<String> allowedResponseHosts()
    {
        return allowedResponseHosts;
    }

    public PipelineConfiguration allowedResponseHosts(final List<String> hosts)
    {
        this.allowedResponseHosts = List.copyOf(hosts);
        return this;
    }

    /**
     * @return who may have a session; from {@code spate.authenticator} unless set.
     */
    public Authenticator authenticator()
    {
        return authenticator;
    }

    public PipelineConfiguration authenticator(final Authenticator authenticator)
    {
        this.authenticator = authenticator;
        return this;
    }

    /**
     * @return the name of the authenticator chosen by property (allow-all, shared-secret), or "custom".
     */
    public String authenticatorName()
    {
        return authenticator == null || authenticator == Authenticator.ALLOW_ALL ? authenticatorName :
            authenticator instanceof SharedSecretAuthenticator ? "shared-secret" : "custom";
    }

    /**
     * @return where snapshots live, or null for an in-memory pipeline (acks promise "applied" only).
     */
    public String dataDirectory()
    {
        return dataDirectory;
    }

    public PipelineConfiguration dataDirectory(final String dataDirectory)
    {
        this.dataDirectory = dataDirectory;
        return this;
    }

    public boolean isDurable()
    {
        return null != dataDirectory;
    }

    public int logStreamId()
    {
        return logStreamId;
    }

    public PipelineConfiguration logStreamId(final int logStreamId)
    {
        this.logStreamId = logStreamId;
        return this;
    }

    public int logTermLengthBytes()
    {
        return logTermLengthBytes;
    }

    public PipelineConfiguration logTermLengthBytes(final int logTermLengthBytes)
    {
        this.logTermLengthBytes = logTermLengthBytes;
        return this;
    }

    /**
     * @return log bytes after which a snapshot is taken.
     */
    public long snapshotIntervalBytes()
    {
        return snapshotIntervalBytes;
    }

    public PipelineConfiguration snapshotIntervalBytes(final long snapshotIntervalBytes)
    {
        this.snapshotIntervalBytes = snapshotIntervalBytes;
        return this;
    }

    /**
     * @return time after which a snapshot is taken when the log has grown at all; 0 for by bytes only.
     */
    public long snapshotIntervalMs()
    {
        return snapshotIntervalMs;
    }

    public PipelineConfiguration snapshotIntervalMs(final long snapshotIntervalMs)
    {
        this.snapshotIntervalMs = snapshotIntervalMs;
        return this;
    }

    /**
     * @return the least sync level (none or data) the driver's archive must have.
     */
    public String sync()
    {
        return sync;
    }

    public PipelineConfiguration sync(final String sync)
    {
        this.sync = sync;
        return this;
    }

    private static List<String> parseList(final String text)
    {
        final java.util.ArrayList<String> items = new java.util.ArrayList<>();
        for (final String item : text.split(","))
        {
            if (!item.isBlank())
            {
                items.add(item.trim());
            }
        }
        return List.copyOf(items);
    }

    public FaultInjector faultInjector()
    {
        return faultInjector;
    }

    /**
     * @param faultInjector hooks for fault-injection tests; {@link FaultInjector#NONE} in production.
     * @return this.
     */
    public PipelineConfiguration faultInjector(final FaultInjector faultInjector)
    {
        this.faultInjector = faultInjector;
        return this;
    }

    public ThreadingMode threadingMode()
    {
        return threadingMode;
    }

    public PipelineConfiguration threadingMode(final ThreadingMode threadingMode)
    {
        this.threadingMode = threadingMode;
        return this;
    }

    public String toString()
    {
        return "PipelineConfiguration{schema=" + (null == schema ? "none" : schema.name()) +
            ", ingress=" + ingressChannel + " stream " + ingressStreamId +
            ", workers=" + workerCount +
            ", modifyBufferBytes=" + modifyBufferBytes +
            ", copyModeThresholdBytes=" + copyModeThresholdBytes +
            ", maxBatchBytes=" + maxBatchBytes +
            ", maxRecordsPerBatch=" + maxRecordsPerBatch +
            ", maxInFlightBatches=" + maxInFlightBatches +
            ", dispatchStreamIdBase=" + dispatchStreamIdBase +
            ", appliedStreamId=" + appliedStreamId +
            ", profile=" + profile.profileName() +
            ", conductorIdle=" + conductorIdleStrategy +
            ", workerIdle=" + workerIdleStrategy +
            ", threading=" + threadingMode +
            ", sessionTimeoutMs=" + sessionTimeoutMs +
            ", ackLedgerBatches=" + ackLedgerBatches +
            ", ackLedgerTotalBytes=" + ackLedgerTotalBytes +
            ", sessionResumeWindowMs=" + sessionResumeWindowMs +
            ", sessionBacklogBytes=" + sessionBacklogBytes +
            ", workerStallTimeoutMs=" + workerStallTimeoutMs +
            ", maxSessions=" + maxSessions +
            ", maxConnectsPerSecond=" + maxConnectsPerSecond +
            ", maxResponseTermLength=" + maxResponseTermLength +
            ", allowedResponseHosts=" + allowedResponseHosts +
            ", authenticator=" + authenticatorName() +
            (null == dataDirectory ? ", durable=no" : ", data=" + dataDirectory + ", sync>=" + sync + ", logStream=" +
            logStreamId + ", logTermLength=" + logTermLengthBytes + ", snapshotEvery=" + snapshotIntervalBytes + "B/" +
            snapshotIntervalMs + "ms") + "}";
    }
}
