package io.spate.client;

import io.aeron.Aeron;
import io.aeron.ExclusivePublication;
import io.aeron.FragmentAssembler;
import io.aeron.Publication;
import io.aeron.Subscription;
import io.aeron.logbuffer.Header;
import io.spate.codec.DatabaseSchema;
import io.spate.codec.FieldDefinition;
import io.spate.codec.RecordFraming;
import io.spate.codec.RecordWriter;
import io.spate.codec.TypeDefinition;
import io.spate.codec.WireBounds;
import io.spate.wire.AckDecoder;
import io.spate.wire.BatchHeaderEncoder;
import io.spate.wire.ConnectEncoder;
import io.spate.wire.ConnectResponseDecoder;
import io.spate.wire.ConnectStatus;
import io.spate.wire.MessageHeaderDecoder;
import io.spate.wire.MessageHeaderEncoder;
import io.spate.wire.ReadKind;
import io.spate.wire.ReadRequestEncoder;
import io.spate.wire.ReadResponseDecoder;
import io.spate.wire.ReconnectEncoder;
import io.spate.wire.RecordStatus;
import io.spate.wire.SessionCloseReason;
import io.spate.wire.SessionClosedDecoder;
import io.spate.wire.SessionSettingsDecoder;
import org.agrona.CloseHelper;
import org.agrona.DirectBuffer;
import org.agrona.collections.Long2ObjectHashMap;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.BusySpinIdleStrategy;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.SleepingIdleStrategy;
import org.agrona.concurrent.YieldingIdleStrategy;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * A producer application's view of Spate. Records are written into a client batch with typed
 * setters (by field handle, or by name for convenience) and sent by {@link #flush()}; the pipeline
 * answers each batch with one ack. Not thread-safe: one client per producer thread.
 * <ul>
 * <li>Results: {@link #flushAndAwait()} and {@link #flushAsync()} give the outcome of every record written
 * since the previous call, however many batches that took; the allocation-free path is an
 * {@link AckListener} (then the only way), called from {@link #poll()} with the ack decoder itself.</li>
 * <li>Back pressure: {@link #flush()} blocks up to the configured timeout and then throws;
 * {@link #tryFlush()} returns {@link #BACK_PRESSURED} at once ("try later").</li>
 * <li>Reads: {@link #count(TypeDefinition)} and {@link #get(TypeDefinition, long)} are answered after
 * every write this client sent before them (read-your-writes).</li>
 * </ul>
 * Acks and read answers arrive only while someone calls {@link #poll()}; blocking calls poll.
 * <p>
 * <b>One outcome per record, in order.</b> Every batch sent stays retained, bytes and all, until its outcome: its
 * ack, or a failure when it can never be answered. A failure names why; a {@code flushAsync()} future whose
 * write had such a batch fails with it, its {@link SpateClientException#partialResult()} holding every record
 * of the write (answered or not: nothing is dropped, no result shifts to another record); a listener gets
 * {@link AckListener#onBatchFailed(long, int, String)}. At most {@link #maxInFlightBatches()} batches
 * ({@link Context#maxInFlightBatches(int)}, lowered to the server's ack ledger) and
 * {@link Context#maxInFlightBytes(int)} bytes are retained; beyond them {@link #tryFlush()} returns
 * {@link #BACK_PRESSURED}.
 * <p>
 * <b>SessionSettings.</b> Right after a session opens, the server says how many acks it keeps per session
 * ({@code ledgerBatches}) and how large a batch may be ({@code maxBatchBytes} of records,
 * {@code maxRecordsPerBatch}). The client keeps at most {@code min(maxInFlightBatches, ledgerBatches)} batches
 * unanswered, so every batch it may resend is answered from the ledger; it ends its batches at the smaller of its
 * own and the server's bounds, and refuses {@link #updateCreated(TypeDefinition, int)} past them (a
 * {@link SpateClientException}, nothing written). A server that sends none leaves the client its own bounds
 * (until they come, {@link #tryFlush()} polls before sending, so settings later than the handshake waited for
 * are in force before the next batch).
 * <p>
 * <b>Single-node sessions.</b> The pipeline answers Connect with {@code ConnectResponse}: OPENED (then
 * SessionSettings), or a refusal that {@link #connect(Context)} throws with the pipeline's line. When the session
 * ends:
 * <ul>
 * <li>because the pipeline went away ({@code SessionClosed PIPELINE_STOPPING}, its response stream gone, or
 * nobody subscribed to the ingress any more) with batches unanswered and {@link Context#reconnect(boolean)} on:
 * the client keeps them and takes the session back, from {@link #poll()} and every send: {@code Reconnect}
 * (its client id, the session, schema, response stream, credentials) once a pipeline is subscribed again (again
 * after {@value #RECONNECT_RETRY_MS} ms without an answer, or at once when the ingress was seen without a
 * pipeline since), within the client's timeout. Sending is back
 * pressure meanwhile. Its answer:
 * <ul>
 * <li>OPENED, same session: taken back ({@link #resumedSessions()}); every unanswered batch is sent again, oldest
 * first and unchanged (same correlation ids), before anything new; the pipeline answers each once (its original
 * ack, a fresh one, or {@link RecordStatus#ALREADY_APPLIED} when applied before and its ack left the ledger:
 * outcome and ids unknown, see {@link BatchResult#isOutcomeKnown(int)}).</li>
 * <li>UNKNOWN_SESSION (the pipeline restarted without its data, or the session's acks left its ledger): every
 * unanswered batch fails, oldest first, saying its outcome is unknown and why; the next send opens a new session
 * with Connect ({@link #reconnects()}).</li>
 * <li>OPENED with another session: the unanswered batches fail the same way; the new session is used.</li>
 * <li>a refusal (SCHEMA_MISMATCH, NOT_AUTHENTICATED, TOO_MANY_SESSIONS): they fail the same way; the session stays
 * closed, and the next send's Connect says why as at connect.</li>
 * <li>no answer within the timeout (no pipeline came back): they fail, "may or may not have been applied".</li>
 * </ul></li>
 * <li>for any other reason ({@code SessionClosed NOT_READING, RESPONSE_STREAM_LOST, REPLACED, PRODUCER_GONE,
 * PROTOCOL_ERROR}), with nothing unanswered, or with reconnect off: the unanswered batches fail, oldest first, with
 * the reason ("may or may not have been applied"); the next send opens a new session with Connect (reconnect on)
 * or throws the reason (off).</li>
 * </ul>
 * <p>
 * <b>Cluster mode</b> ({@link Context#clusterIngressEndpoints(String)}): the same API against a replicated Spate
 * on Aeron Cluster. There is no Connect handshake: the session is the cluster session (credentials go in its
 * connect request); the cluster's SessionSettings come on egress once it is open. When a new leader is elected
 * the client sends every retained batch again, oldest first and unchanged, then the read in flight, before
 * anything new: the cluster applies a batch once and answers a resent one with its original ack, delivered here
 * once. While the cluster has no leader, sending is back pressure. If the cluster session ends for good (no new
 * leader in time, or the cluster closed it), the unanswered batches fail saying they may or may not have been
 * applied; the next send opens a new cluster session (reconnect on).
 */
public final class SpateClient implements AutoCloseable
{
    /** {@link #tryFlush()}: the pipeline pushes back, try later; the batch is kept. */
    public static final long BACK_PRESSURED = -2;
    /** {@link #flush()}: there was nothing to send. */
    public static final long NOTHING_TO_FLUSH = -1;
    /** Most records whose outcomes wait for a flushAsync() when no listener takes them. */
    public static final int MAX_UNCLAIMED_RECORDS = 1 << 24;
    /** Bytes of a client batch when not configured, if the ingress channel carries messages that long. */
    public static final int DEFAULT_BATCH_BYTES = 64 << 10;
    /**
     * Single-node: how long the handshake waits, after the session opened, for the pipeline's SessionSettings
     * (sent right behind its ConnectResponse); a pipeline that sends none leaves the client its own bounds.
     */
    public static final long SESSION_SETTINGS_WAIT_MS = 10;
    /** Cluster mode: the same, for the SessionSettings the cluster sends once the session's opening is committed. */
    public static final long CLUSTER_SESSION_SETTINGS_WAIT_MS = 1_000;
    /**
     * Single-node: a Reconnect without an answer is sent again after this long, until the client's timeout (and at
     * once when the ingress was seen without a pipeline since it was sent: a new one may have missed it).
     */
    public static final long RECONNECT_RETRY_MS = 1_000;
    /** Bytes the ring of unanswered batches starts with: it doubles on demand up to maxInFlightBytes. */
    static final int INITIAL_UNACKED_BYTES = 64 << 10;
    private static final int BATCH_HEADER_LENGTH_BYTES =
        MessageHeaderEncoder.ENCODED_LENGTH + BatchHeaderEncoder.BLOCK_LENGTH;
    private static final int BATCH_RECORD_COUNT_OFFSET =
        MessageHeaderEncoder.ENCODED_LENGTH + BatchHeaderEncoder.recordCountEncodingOffset();

    /**
     * Allocation-free ack path: called from {@link #poll()} with the decoder wrapped over the ack.
     */
    @FunctionalInterface
    public interface AckListener
    {
        /**
         * A batch's answer, once per batch, in the order the batches were sent. Its status is
         * {@link RecordStatus#ALREADY_APPLIED} (no created ids) for a batch sent again that the server had applied
         * before and whose original ack it no longer keeps: applied once, what it did is not known.
         *
         * @param ack the decoder, wrapped over the ack; valid during the call only.
         */
        void onAck(AckDecoder ack);

        /**
         * A batch sent that will never be answered (its session ended and could not be resumed, or the session
         * it was sent on is unknown to the pipeline now): its outcome, in order with the acks (every batch gets
         * exactly one of onAck or onBatchFailed). Its records may or may not have been applied; the reason says why
         * the answer is missing.
         * <p>
         * The default throws a {@link SpateClientException} with the reason out of the call that polled (one per
         * such batch), so that no failure passes unseen: override it to take failures as outcomes.
         *
         * @param correlationId the batch's, as {@link SpateClient#flush()} returned it.
         * @param recordCount   records of the batch.
         * @param reason        why there is no answer, for people.
         */
        default void onBatchFailed(final long correlationId, final int recordCount, final String reason)
        {
            throw new SpateClientException("batch " + correlationId + " (" + recordCount + " record(s)) will get " +
                "no ack: " + reason + " (override AckListener.onBatchFailed to take such outcomes)");
        }
    }

    /** Settings of a client; system-property defaults, fluent setters. */
    public static final class Context
    {
        /** System property naming the ingress channel; the pipeline reads it too. */
        public static final String INGRESS_CHANNEL_PROP = "spate.ingress.channel";
        /** System property naming the ingress stream id; the pipeline reads it too. */
        public static final String INGRESS_STREAM_ID_PROP = "spate.ingress.stream.id";
        /** The ingress channel when {@link #INGRESS_CHANNEL_PROP} is not set. */
        public static final String DEFAULT_INGRESS_CHANNEL = "aeron:ipc";
        /** The ingress stream id when {@link #INGRESS_STREAM_ID_PROP} is not set. */
        public static final int DEFAULT_INGRESS_STREAM_ID = 1001;
        /**
         * System property naming the idle strategy: backoff, sleeping, yielding or busy. Default: busy under
         * the {@code low-latency} profile ({@value #PROFILE_PROP}), else backoff.
         */
        public static final String IDLE_STRATEGY_PROP = "spate.client.idle.strategy";
        /** The profile Spate's processes share (io.spate.driver.PerformanceProfile; read here by name). */
        public static final String PROFILE_PROP = "spate.profile";
        /**
         * System property with the cluster members' ingress endpoints, Aeron Cluster's format
         * ({@code 0=localhost:20002,1=localhost:20102,2=localhost:20202}): when set, the client runs in cluster mode.
         */
        public static final String CLUSTER_INGRESS_ENDPOINTS_PROP = "spate.cluster.ingress.endpoints";
        /** System property naming the channel the cluster's answers (egress) come back on, in cluster mode. */
        public static final String CLUSTER_EGRESS_CHANNEL_PROP = "spate.cluster.egress.channel";
        /** The egress channel when {@link #CLUSTER_EGRESS_CHANNEL_PROP} is not set: any free local port. */
        public static final String DEFAULT_CLUSTER_EGRESS_CHANNEL = "aeron:udp?endpoint=localhost:0";
        /** System property naming the ingress channel each member's endpoint is put into, in cluster mode. */
        public static final String CLUSTER_INGRESS_CHANNEL_PROP = "spate.cluster.ingress.channel";
        /** The cluster ingress channel when {@link #CLUSTER_INGRESS_CHANNEL_PROP} is not set. */
        public static final String DEFAULT_CLUSTER_INGRESS_CHANNEL = "aeron:udp";
        /** System property: most batches sent and not yet acked (each is retained until its outcome). */
        public static final String MAX_IN_FLIGHT_BATCHES_PROP = "spate.client.max.in.flight.batches";
        /** Batches in flight when {@link #MAX_IN_FLIGHT_BATCHES_PROP} is not set. */
        public static final int DEFAULT_MAX_IN_FLIGHT_BATCHES = 256;
        /**
         * Most batches in flight allowed: the servers' default ack ledger (1024 acks per session); a smaller ledger
         * (SessionSettings) lowers the bound in force.
         */
        public static final int MAX_IN_FLIGHT_BATCHES_LIMIT = UnackedBatches.MAX_BATCHES_LIMIT;
        /** System property: most bytes of batches sent and not yet acked. */
        public static final String MAX_IN_FLIGHT_BYTES_PROP = "spate.client.max.in.flight.bytes";
        /** Bytes in flight when {@link #MAX_IN_FLIGHT_BYTES_PROP} is not set: 16 MiB. */
        public static final int DEFAULT_MAX_IN_FLIGHT_BYTES = 16 << 20;
        /** Fewest bytes in flight allowed (one batch must fit too: checked at connect). */
        public static final int MIN_MAX_IN_FLIGHT_BYTES = 1024;
        /** Most bytes in flight allowed: 1 GiB. */
        public static final int MAX_MAX_IN_FLIGHT_BYTES = 1 << 30;

        private Aeron aeron;
        private String aeronDirectoryName = System.getProperty("spate.driver.dir", io.aeron.CommonContext.getAeronDirectoryName());
        private DatabaseSchema schema;
        private String ingressChannel = System.getProperty(INGRESS_CHANNEL_PROP, DEFAULT_INGRESS_CHANNEL);
        private int ingressStreamId = Integer.getInteger(INGRESS_STREAM_ID_PROP, DEFAULT_INGRESS_STREAM_ID);
        private String responseChannel = System.getProperty("spate.client.response.channel", "aeron:ipc");
        private int responseStreamId = Integer.getInteger("spate.client.response.stream.id", 0);
        private long clientId = Long.getLong("spate.client.id", 0);
        private int batchCapacityBytes = Integer.getInteger("spate.client.batch.bytes", 0);
        private int maxRecordsPerBatch = Integer.getInteger("spate.client.max.records.per.batch", 1024);
        private long timeoutNs = Long.getLong("spate.client.timeout.ms", 10_000) * 1_000_000L;
        private long connectTimeoutNs;
        private IdleStrategy idleStrategy;
        private String idleStrategyName = System.getProperty(IDLE_STRATEGY_PROP,
            "low-latency".equalsIgnoreCase(System.getProperty(PROFILE_PROP, "").trim()) ? "busy" : "backoff");
        private byte[] credentials;
        private boolean reconnect = !"false".equals(System.getProperty("spate.client.reconnect"));
        private String clusterIngressEndpoints =
            checkClusterIngressEndpoints(System.getProperty(CLUSTER_INGRESS_ENDPOINTS_PROP));
        private String clusterIngressChannel = checkClusterIngressChannel(
            System.getProperty(CLUSTER_INGRESS_CHANNEL_PROP, DEFAULT_CLUSTER_INGRESS_CHANNEL));
        private String clusterEgressChannel = checkClusterEgressChannel(
            System.getProperty(CLUSTER_EGRESS_CHANNEL_PROP, DEFAULT_CLUSTER_EGRESS_CHANNEL));
        private int maxInFlightBatches = checkMaxInFlightBatches(
            intProperty(MAX_IN_FLIGHT_BATCHES_PROP, DEFAULT_MAX_IN_FLIGHT_BATCHES));
        private int maxInFlightBytes = checkMaxInFlightBytes(
            intProperty(MAX_IN_FLIGHT_BYTES_PROP, DEFAULT_MAX_IN_FLIGHT_BYTES));

        /**
         * Reads the defaults from the system properties.
         *
         * @throws IllegalArgumentException naming the property when a cluster or in-flight property
         *                                  ({@value #CLUSTER_INGRESS_ENDPOINTS_PROP}, ...) holds a bad value.
         */
        public Context()
        {
        }

        public Context aeron(final Aeron aeron)
        {
            this.aeron = aeron;
            return this;
        }

        public Context aeronDirectoryName(final String name)
        {
            this.aeronDirectoryName = name;
            return this;
        }

        public Context schema(final DatabaseSchema schema)
        {
            this.schema = schema;
            return this;
        }

        public Context ingressChannel(final String channel)
        {
            this.ingressChannel = channel;
            return this;
        }

        public Context ingressStreamId(final int streamId)
        {
            this.ingressStreamId = streamId;
            return this;
        }

        public Context responseChannel(final String channel)
        {
            this.responseChannel = channel;
            return this;
        }

        public Context responseStreamId(final int streamId)
        {
            this.responseStreamId = streamId;
            return this;
        }

        public Context clientId(final long clientId)
        {
            this.clientId = clientId;
            return this;
        }

        /**
         * @param bytes most bytes of one client batch; 0 (the default): 64 KiB, or what the ingress channel
         *              carries in one message (its term length / 8) when that is less. More than the channel
         *              carries is refused at connect.
         * @return this.
         */
        public Context batchCapacityBytes(final int bytes)
        {
            this.batchCapacityBytes = bytes;
            return this;
        }

        public Context maxRecordsPerBatch(final int records)
        {
            this.maxRecordsPerBatch = records;
            return this;
        }

        public Context timeoutMs(final long timeoutMs)
        {
            this.timeoutNs = timeoutMs * 1_000_000L;
            return this;
        }

        /**
         * @param timeoutMs how long opening a session waits for the pipeline (or the cluster) to answer, at connect
         *                  and whenever a new session is opened; default: {@link #timeoutMs(long)}. A tool that
         *                  must fail fast when nothing runs, yet wait out a pipeline restart later, sets it lower.
         */
        public Context connectTimeoutMs(final long timeoutMs)
        {
            this.connectTimeoutNs = timeoutMs * 1_000_000L;
            return this;
        }

        long connectTimeoutNs()
        {
            return connectTimeoutNs > 0 ? connectTimeoutNs : timeoutNs;
        }

        /**
         * @param idleStrategy how the client waits in blocking calls (connect, flush, reads, close); used by the
         *                     client connected with this context, so never give one to clients of other threads.
         *                     Default: a new {@link BackoffIdleStrategy} per client (10 spins, 5 yields, then
         *                     parks from 1 µs doubling up to 1 ms), or the one named by {@value #IDLE_STRATEGY_PROP}.
         * @return this.
         */
        public Context idleStrategy(final IdleStrategy idleStrategy)
        {
            this.idleStrategy = java.util.Objects.requireNonNull(idleStrategy, "idleStrategy");
            return this;
        }

        /**
         * @param name backoff (the default), sleeping (parks 1 ms), yielding or busy, case ignored: each client
         *             connected with this context gets a new strategy of that name.
         * @return this.
         * @throws IllegalArgumentException naming the valid names when {@code name} is none of them.
         */
        public Context idleStrategy(final String name)
        {
            idleStrategyNamed(name);
            this.idleStrategyName = name;
            this.idleStrategy = null;
            return this;
        }

        private static IdleStrategy idleStrategyNamed(final String name)
        {
            return switch (null == name ? "" : name.trim().toLowerCase(Locale.ROOT))
            {
                case "backoff" -> new BackoffIdleStrategy(10, 5, 1_000, 1_000_000);
                case "sleeping" -> new SleepingIdleStrategy(1_000_000);
                case "yielding" -> new YieldingIdleStrategy();
                case "busy" -> new BusySpinIdleStrategy();
                default -> throw new IllegalArgumentException(
                    "unknown idle strategy '" + name + "'; valid names: backoff, sleeping, yielding, busy");
            };
        }

        /**
         * @param reconnect whether a session that ended is taken back or replaced (true by default): single-node,
         *                  one that ended because the pipeline went away, with batches unanswered, is taken back
         *                  with Reconnect and they are resent; any other closed session (or one that could not be
         *                  taken back) is replaced by a new one on the next send or read. Off: the unanswered
         *                  batches fail and later sends throw the reason.
         * @return this.
         */
        public Context reconnect(final boolean reconnect)
        {
            this.reconnect = reconnect;
            return this;
        }

        /**
         * @param credentials what the pipeline's authenticator checks (e.g. its shared secret); none by default.
         * @return this.
         */
        public Context credentials(final byte[] credentials)
        {
            this.credentials = null == credentials ? null : credentials.clone();
            return this;
        }

        /**
         * @param endpoints the cluster members' ingress endpoints, Aeron Cluster's format
         *                  ({@code 0=localhost:20002,1=localhost:20102,2=localhost:20202}): the client runs in
         *                  cluster mode, through {@code AeronCluster} with its own Aeron (its own media driver);
         *                  null or blank: single-node mode (the default, unless {@value #CLUSTER_INGRESS_ENDPOINTS_PROP}
         *                  is set). The ingress and response channel settings apply to single-node mode only.
         * @return this.
         * @throws IllegalArgumentException saying what is wrong when an item is not {@code ID=HOST:PORT} or an id
         *                                  is repeated.
         */
        public Context clusterIngressEndpoints(final String endpoints)
        {
            this.clusterIngressEndpoints = checkClusterIngressEndpoints(endpoints);
            return this;
        }

        /**
         * @param channel the channel each member's endpoint is put into; {@value #DEFAULT_CLUSTER_INGRESS_CHANNEL}
         *                unless {@value #CLUSTER_INGRESS_CHANNEL_PROP} says otherwise (e.g. to add a term-length).
         * @return this.
         * @throws IllegalArgumentException when it is not an aeron:udp channel.
         */
        public Context clusterIngressChannel(final String channel)
        {
            this.clusterIngressChannel = checkClusterIngressChannel(channel);
            return this;
        }

        /**
         * @param channel where the cluster's answers (acks, read answers) come back: an aeron:udp channel with an
         *                endpoint the nodes can reach; {@value #DEFAULT_CLUSTER_EGRESS_CHANNEL} (any free port)
         *                unless {@value #CLUSTER_EGRESS_CHANNEL_PROP} says otherwise.
         * @return this.
         * @throws IllegalArgumentException when it is not an aeron:udp channel with an endpoint.
         */
        public Context clusterEgressChannel(final String channel)
        {
            this.clusterEgressChannel = checkClusterEgressChannel(channel);
            return this;
        }

        /**
         * @param batches most batches sent and not yet acked, 1..{@value #MAX_IN_FLIGHT_BATCHES_LIMIT}
         *                (default {@value #DEFAULT_MAX_IN_FLIGHT_BATCHES}, or {@value #MAX_IN_FLIGHT_BATCHES_PROP}):
         *                each is retained to be resent (to a new leader, or to a pipeline that takes the session
         *                back); the server's SessionSettings lower it to its ack ledger when that is smaller. At the
         *                limit {@link #tryFlush()} returns {@link #BACK_PRESSURED} until an answer comes.
         * @return this.
         * @throws IllegalArgumentException when out of range.
         */
        public Context maxInFlightBatches(final int batches)
        {
            this.maxInFlightBatches = checkMaxInFlightBatches(batches);
            return this;
        }

        /**
         * @param bytes most bytes of batches sent and not yet acked (one ring, grown on demand up to this),
         *              {@value #MIN_MAX_IN_FLIGHT_BYTES}..{@value #MAX_MAX_IN_FLIGHT_BYTES}, and at least one batch
         *              (checked at connect); default 16 MiB, or {@value #MAX_IN_FLIGHT_BYTES_PROP}.
         * @return this.
         * @throws IllegalArgumentException when out of range.
         */
        public Context maxInFlightBytes(final int bytes)
        {
            this.maxInFlightBytes = checkMaxInFlightBytes(bytes);
            return this;
        }

        /**
         * @return whether the client runs in cluster mode: cluster ingress endpoints are set.
         */
        public boolean isClusterMode()
        {
            return null != clusterIngressEndpoints;
        }

        private static int intProperty(final String name, final int defaultValue)
        {
            final String value = System.getProperty(name);
            if (null == value || value.isBlank())
            {
                return defaultValue;
            }
            try
            {
                return Integer.parseInt(value.trim());
            }
            catch (final NumberFormatException ex)
            {
                throw new IllegalArgumentException("system property " + name + " needs a whole number: " + value);
            }
        }

        private static int checkMaxInFlightBatches(final int batches)
        {
            if (batches < 1 || batches > MAX_IN_FLIGHT_BATCHES_LIMIT)
            {
                throw new IllegalArgumentException("maxInFlightBatches (" + MAX_IN_FLIGHT_BATCHES_PROP + ") must be 1.." +
                    MAX_IN_FLIGHT_BATCHES_LIMIT + " (the cluster answers resent batches from a ledger of the last " +
                    MAX_IN_FLIGHT_BATCHES_LIMIT + "): " + batches);
            }
            return batches;
        }

        private static int checkMaxInFlightBytes(final int bytes)
        {
            if (bytes < MIN_MAX_IN_FLIGHT_BYTES || bytes > MAX_MAX_IN_FLIGHT_BYTES)
            {
                throw new IllegalArgumentException("maxInFlightBytes (" + MAX_IN_FLIGHT_BYTES_PROP + ") must be " +
                    MIN_MAX_IN_FLIGHT_BYTES + ".." + MAX_MAX_IN_FLIGHT_BYTES + ": " + bytes);
            }
            return bytes;
        }

        /**
         * @return the endpoints trimmed, or null when blank (single-node mode).
         */
        static String checkClusterIngressEndpoints(final String endpoints)
        {
            if (null == endpoints || endpoints.isBlank())
            {
                return null;
            }
            final String trimmed = endpoints.trim();
            final java.util.HashSet<Integer> ids = new java.util.HashSet<>();
            final StringBuilder normalized = new StringBuilder(trimmed.length());
            for (final String untrimmed : trimmed.split(",", -1))
            {
                final String item = untrimmed.trim();
                final int equals = item.indexOf('=');
                final int colon = item.lastIndexOf(':');
                int id = -1;
                int port = -1;
                try
                {
                    id = equals > 0 ? Integer.parseInt(item.substring(0, equals)) : -1;
                    port = colon > equals + 1 ? Integer.parseInt(item.substring(colon + 1)) : -1;
                }
                catch (final NumberFormatException ignore)
                {
                    // reported below
                }
                if (id < 0 || port < 1 || port > 65_535 || item.indexOf('=', equals + 1) >= 0 ||
                    item.chars().anyMatch(Character::isWhitespace))
                {
                    throw new IllegalArgumentException("clusterIngressEndpoints (" + CLUSTER_INGRESS_ENDPOINTS_PROP +
                        ") must be ID=HOST:PORT,... (member ids from 0, ports 1..65535, e.g. " +
                        "0=localhost:20002,1=localhost:20102,2=localhost:20202): '" + item + "' in " + trimmed);
                }
                if (!ids.add(id))
                {
                    throw new IllegalArgumentException("clusterIngressEndpoints (" + CLUSTER_INGRESS_ENDPOINTS_PROP +
                        ") names member " + id + " twice: " + trimmed);
                }
                normalized.append(normalized.isEmpty() ? "" : ",").append(item);
            }
            return normalized.toString();
        }

        private static String checkClusterIngressChannel(final String channel)
        {
            if (!isUdpChannel(channel))
            {
                throw new IllegalArgumentException("clusterIngressChannel (" + CLUSTER_INGRESS_CHANNEL_PROP +
                    ") must be an aeron:udp channel (each member's endpoint is put into it): " + channel);
            }
            return channel.trim();
        }

        private static String checkClusterEgressChannel(final String channel)
        {
            if (!isUdpChannel(channel) || null == io.aeron.ChannelUri.parse(channel.trim()).get("endpoint"))
            {
                throw new IllegalArgumentException("clusterEgressChannel (" + CLUSTER_EGRESS_CHANNEL_PROP +
                    ") must be aeron:udp?endpoint=HOST:PORT, an address the nodes can reach (port 0: any free " +
                    "one): " + channel);
            }
            return channel.trim();
        }

        private static boolean isUdpChannel(final String channel)
        {
            if (null == channel || channel.isBlank())
            {
                return false;
            }
            try
            {
                return io.aeron.ChannelUri.parse(channel.trim()).isUdp();
            }
            catch (final RuntimeException ex)
            {
                return false;
            }
        }
    }

    private final Context context;
    private final DatabaseSchema schema;
    private final Aeron aeron;
    private final boolean ownsAeron;
    /** The last error the client's own Aeron reported (e.g. its media driver lost), for the reason a session ends. */
    private volatile String aeronError;
    /** Single-node mode: the ingress publication, the response stream and its assembler; null in cluster mode. */
    private final ExclusivePublication ingress;
    private final Subscription responses;
    private final FragmentAssembler responseAssembler;
    /** Cluster mode: the cluster session, its unacked batches and resends; null in single-node mode. */
    private final ClusterConnection cluster;
    private final IdleStrategy idle;
    private final RecordWriter writer;
    private final UnsafeBuffer batchBuffer;
    private final UnsafeBuffer messageBuffer = new UnsafeBuffer(new byte[1024]);
    private final MessageHeaderDecoder headerDecoder = new MessageHeaderDecoder();
    private final MessageHeaderEncoder headerEncoder = new MessageHeaderEncoder();
    private final AckDecoder ackDecoder = new AckDecoder();
    private final ReadResponseDecoder readResponseDecoder = new ReadResponseDecoder();
    private final SessionClosedDecoder sessionClosedDecoder = new SessionClosedDecoder();
    private final SessionSettingsDecoder sessionSettingsDecoder = new SessionSettingsDecoder();
    /** Every batch sent without an answer yet, oldest first, with its bytes as sent (both modes). */
    private final UnackedBatches unacked;
    /** Why there is no open session (it closed, or is being taken back); null while it is open. */
    private String closedReason;
    /** Single-node: the session ended because the pipeline went away and is being taken back with Reconnect. */
    private boolean resuming;
    private long resumeDeadlineNs;
    private long closedAtNs;
    private boolean reconnectSent;
    private boolean reconnectMayBeLost;
    private long reconnectSentNs;
    /** Single-node: the unacked batches go again (after a resume), from resendSequence, before anything new. */
    private boolean resendPending;
    private long resendSequence;
    private long resentBatches;
    private long resumedSessions;
    /** Non-null while the unacked batches are being failed, oldest first, with this reason (they get no answer). */
    private String failingReason;
    private String lastFailureReason;
    private long failedBatches;
    /** The Aeron session id of the image the pipeline answers this session on (single-node). */
    private int pipelineImageSessionId;
    private int connectImageSessionId;
    /** The session whose SessionSettings are taken (the one open, or being opened); 0: none. */
    private long settingsSessionId;
    private boolean settingsKnown;
    private int serverLedgerBatches;
    private int serverMaxBatchBytes;
    private int serverMaxRecordsPerBatch;
    /** A batch's bounds now: this client's, or the server's (SessionSettings) when smaller. */
    private int maxRecordsPerBatch;
    private int maxBatchRecordBytes;
    private final UnsafeBuffer handshakeBuffer;
    /** Outcomes of the records written since the last flushAsync(); reused while only a listener reads them. */
    private PendingWrite currentWrite = new PendingWrite();
    /** Writes a flushAsync() future waits for. */
    private final ArrayList<PendingWrite> sealedWrites = new ArrayList<>();
    private final Long2ObjectHashMap<PendingWrite> writeByCorrelation = new Long2ObjectHashMap<>();
    private final long clientId;
    private long sessionId;
    private final int responseStreamId;
    private long reconnects;
    private boolean closed;
    /** Connect/Reconnect answers are taken for correlation ids firstConnectCorrelationId..connectCorrelationId. */
    private long firstConnectCorrelationId;
    private long connectCorrelationId;
    private ConnectStatus connectStatus;
    private long connectSessionId;
    private String connectDetail;
    private final int maxRecordLengthBytes;
    private AckListener ackListener;
    private TypeDefinition openType;
    private long correlationSeq;
    private long batchCorrelationId;
    private boolean batchOpen;
    private long inFlightBatches;
    private long awaitedReadCorrelationId;
    private boolean readAnswered;
    private long readCount;
    private RecordStatus readStatus;
    private final UnsafeBuffer readNode;
    private int readNodeLengthBytes;
    private final NodeView nodeView = new NodeView();

    private SpateClient(final Context context)
    {
        if (null == context.schema)
        {
            throw new IllegalArgumentException("SpateClient.Context needs the database schema");
        }
        this.context = context;
        this.schema = context.schema;
        this.clientId = context.clientId != 0 ? context.clientId : ThreadLocalRandom.current().nextLong(1, Long.MAX_VALUE);
        final int responseStreamId = context.responseStreamId != 0 ?
            context.responseStreamId : ThreadLocalRandom.current().nextInt(10_000, 1 << 30);
        this.maxRecordLengthBytes = schema.maxRecordLengthBytes();

        this.writer = new RecordWriter(schema);
        this.idle = null != context.idleStrategy ? context.idleStrategy : Context.idleStrategyNamed(context.idleStrategyName);
        this.readNode = new UnsafeBuffer(new byte[NodeView.maxLengthBytes(schema)]);
        this.unacked = new UnackedBatches(context.maxInFlightBatches, context.maxInFlightBytes,
            Math.min(context.maxInFlightBytes, INITIAL_UNACKED_BYTES));
        final byte[] credentials = null == context.credentials ? new byte[0] : context.credentials;
        this.handshakeBuffer = new UnsafeBuffer(new byte[1024 + credentials.length +
            context.responseChannel.length() * 3 + schema.name().length() * 3]);

        if (null != context.aeron)
        {
            aeron = context.aeron;
            ownsAeron = false;
        }
        else
        {
            try
            {
                // Aeron's default error handler ends the whole process when the driver is lost: a client library
                // must not. Its Aeron closes itself then (its streams go), and this client says why.
                aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(context.aeronDirectoryName)
                    .errorHandler(this::onAeronError));
            }
            catch (final RuntimeException ex)
            {
                throw new SpateClientException("cannot connect to the Aeron media driver in " +
                    context.aeronDirectoryName + (context.isClusterMode() ?
                    " (in cluster mode the client needs a media driver of its own, e.g. an embedded one)" :
                    " (is bin/spate driver or the pipeline running?)") + ": " + ex.getMessage());
            }
            ownsAeron = true;
        }
        final String channelName;
        final int maxMessageBytes;
        if (context.isClusterMode())
        {
            ingress = null;
            responses = null;
            responseAssembler = null;
            this.responseStreamId = 0;
            cluster = new ClusterConnection(aeron, context.clusterIngressEndpoints, context.clusterIngressChannel,
                context.clusterEgressChannel, context.credentials, "spate-client-" + clientId, idle, this::onResponse,
                unacked);
            try
            {
                sessionId = cluster.connect(System.nanoTime() + context.connectTimeoutNs());
            }
            catch (final RuntimeException ex)
            {
                closeTransport();
                throw ex;
            }
            channelName = "the cluster ingress (" + context.clusterIngressChannel + ")";
            maxMessageBytes = cluster.maxMessageLengthBytes();
        }
        else
        {
            cluster = null;
            ingress = aeron.addExclusivePublication(context.ingressChannel, context.ingressStreamId);
            responses = aeron.addSubscription(context.responseChannel, responseStreamId);
            responseAssembler = new FragmentAssembler(this::onResponse);
            this.responseStreamId = responseStreamId;
            channelName = context.ingressChannel;
            // A batch travels as one message, and a message may take at most the term length / 8.
            maxMessageBytes = ingress.maxMessageLength();
        }
        if (context.batchCapacityBytes > maxMessageBytes)
        {
            closeTransport();
            throw new SpateClientException("a client batch of " + context.batchCapacityBytes + " bytes is more than " +
                channelName + " carries in one message: at most " + maxMessageBytes + " bytes (its term " +
                "length / 8); lower the batch size (spate.client.batch.bytes) or raise the term length");
        }
        final int wanted = context.batchCapacityBytes > 0 ? context.batchCapacityBytes :
            Math.max(DEFAULT_BATCH_BYTES, 64 + 2 * maxRecordLengthBytes);
        this.batchBuffer = new UnsafeBuffer(new byte[Math.min(wanted, maxMessageBytes)]);
        if (batchBuffer.capacity() > context.maxInFlightBytes)
        {
            closeTransport();
            throw new SpateClientException("maxInFlightBytes (" + Context.MAX_IN_FLIGHT_BYTES_PROP + ") of " +
                context.maxInFlightBytes + " bytes cannot hold one client batch of " + batchBuffer.capacity() +
                " bytes: raise it, or lower the batch size (spate.client.batch.bytes)");
        }
        useOwnBounds();
        if (null != cluster)
        {
            try
            {
                awaitClusterSettings(sessionId, System.nanoTime() + context.timeoutNs);
            }
            catch (final RuntimeException ex)
            {
                closeTransport();
                throw ex;
            }
            return;
        }
        try
        {
            sessionId = openSession();
        }
        catch (final RuntimeException ex)
        {
            closeTransport();
            throw ex;
        }
    }

    private void closeTransport()
    {
        CloseHelper.quietCloseAll(cluster, responses, ingress);
        if (ownsAeron)
        {
            CloseHelper.quietClose(aeron);
        }
    }

    /**
     * The handshake: Connect (schema, response stream, credentials), then the pipeline's ConnectResponse on the
     * response stream, with the session id every later message names, then its SessionSettings (waited for
     * {@value #SESSION_SETTINGS_WAIT_MS} ms at most: without them the client keeps its own bounds).
     */
    private long openSession()
    {
        final long deadlineNs = System.nanoTime() + context.connectTimeoutNs();
        while (!ingress.isConnected())
        {
            checkDeadline(deadlineNs, "no pipeline is subscribed to " + context.ingressChannel + " stream " +
                context.ingressStreamId + " (is the pipeline running?)");
            idle.idle();
        }
        idle.reset();
        useOwnBounds(); // until this session's SessionSettings come (taken from the ConnectResponse on)
        settingsSessionId = 0;
        connectStatus = null;
        connectCorrelationId = ThreadLocalRandom.current().nextLong(1, Long.MAX_VALUE >> 1);
        firstConnectCorrelationId = connectCorrelationId;
        final byte[] credentials = null == context.credentials ? new byte[0] : context.credentials;
        final ConnectEncoder connect = new ConnectEncoder().wrapAndApplyHeader(handshakeBuffer, 0, headerEncoder)
            .clientId(clientId)
            .correlationId(connectCorrelationId)
            .schemaHash(schema.hash())
            .responseStreamId(responseStreamId)
            .responseChannel(context.responseChannel)
            .schemaName(schema.name())
            .putCredentials(credentials, 0, credentials.length);
        final int length = MessageHeaderEncoder.ENCODED_LENGTH + connect.encodedLength();
        headerEncoder.frameLengthBytes(length);
        offerBlocking(handshakeBuffer, length, "Connect");
        while (null == connectStatus)
        {
            checkDeadline(deadlineNs, "no answer to Connect from the pipeline in " + context.connectTimeoutNs() / 1_000_000 +
                " ms: it may have refused the response channel " + context.responseChannel + " stream " +
                responseStreamId + " or be over its connect rate (see the pipeline's log), or it is not running");
            if (responses.poll(responseAssembler, 16) == 0)
            {
                idle.idle();
            }
        }
        idle.reset();
        final ConnectStatus status = connectStatus;
        connectStatus = null;
        if (status != ConnectStatus.OPENED)
        {
            throw new SpateClientException("the pipeline refused the connection (" + status + "): " + connectDetail);
        }
        pipelineImageSessionId = connectImageSessionId;
        final long settingsDeadlineNs = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(SESSION_SETTINGS_WAIT_MS);
        while (!settingsKnown && System.nanoTime() - settingsDeadlineNs < 0)
        {
            if (responses.poll(responseAssembler, 16) == 0)
            {
                idle.idle();
            }
        }
        idle.reset();
        return connectSessionId;
    }

    /**
     * Cluster mode: waits for the SessionSettings the cluster sends on egress once the session is open, at most
     * {@value #CLUSTER_SESSION_SETTINGS_WAIT_MS} ms (without them the client keeps its own bounds).
     */
    private void awaitClusterSettings(final long clusterSessionId, final long deadlineNs)
    {
        useOwnBounds();
        settingsSessionId = clusterSessionId;
        final long settingsDeadlineNs = Math.min(deadlineNs,
            System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(CLUSTER_SESSION_SETTINGS_WAIT_MS));
        while (!settingsKnown && !cluster.isClosed() && System.nanoTime() - settingsDeadlineNs < 0)
        {
            if (cluster.poll() == 0)
            {
                idle.idle();
            }
        }
        idle.reset();
    }

    /**
     * A new session: the client's own bounds until the server's SessionSettings come.
     */
    private void useOwnBounds()
    {
        settingsKnown = false;
        serverLedgerBatches = 0;
        serverMaxBatchBytes = 0;
        serverMaxRecordsPerBatch = 0;
        unacked.limitBatches(context.maxInFlightBatches);
        maxRecordsPerBatch = context.maxRecordsPerBatch;
        maxBatchRecordBytes = batchBuffer.capacity() - BATCH_HEADER_LENGTH_BYTES;
    }

    private void onSessionSettings(final DirectBuffer buffer, final int offset)
    {
        sessionSettingsDecoder.wrapAndApplyHeader(buffer, offset, headerDecoder);
        if (0 == settingsSessionId || sessionSettingsDecoder.sessionId() != settingsSessionId)
        {
            return;
        }
        // uint32 on the wire; 0 (nothing said) leaves the client's own bound.
        serverLedgerBatches = (int)Math.min(Integer.MAX_VALUE, sessionSettingsDecoder.ledgerBatches());
        serverMaxBatchBytes = (int)Math.min(Integer.MAX_VALUE, sessionSettingsDecoder.maxBatchBytes());
        serverMaxRecordsPerBatch = (int)Math.min(Integer.MAX_VALUE, sessionSettingsDecoder.maxRecordsPerBatch());
        settingsKnown = true;
        unacked.limitBatches(serverLedgerBatches > 0 ?
            Math.min(context.maxInFlightBatches, serverLedgerBatches) : context.maxInFlightBatches);
        maxRecordsPerBatch = serverMaxRecordsPerBatch > 0 ?
            Math.min(context.maxRecordsPerBatch, serverMaxRecordsPerBatch) : context.maxRecordsPerBatch;
        final int ownBytes = batchBuffer.capacity() - BATCH_HEADER_LENGTH_BYTES;
        maxBatchRecordBytes = serverMaxBatchBytes > 0 ? Math.min(ownBytes, serverMaxBatchBytes) : ownBytes;
    }

    /**
     * Single-node: one step of taking the session back after the pipeline went away (called while polling and
     * sending, never blocks): Reconnect once a pipeline is subscribed (again every {@value #RECONNECT_RETRY_MS} ms
     * while unanswered), then its answer; gives up at the deadline.
     */
    private void stepResume(final long nowNs)
    {
        if (null != connectStatus)
        {
            onReconnectAnswer();
            return;
        }
        if (nowNs - resumeDeadlineNs > 0)
        {
            endResume(closedReason + "; the pipeline did not take session " + sessionId + " back within " +
                context.timeoutNs / 1_000_000 + " ms (" + (ingress.isConnected() ? "no answer to Reconnect" :
                "no pipeline is subscribed to " + context.ingressChannel + " stream " + context.ingressStreamId) + ")");
            return;
        }
        final long retryNs = TimeUnit.MILLISECONDS.toNanos(RECONNECT_RETRY_MS);
        if (!ingress.isConnected())
        {
            reconnectMayBeLost = reconnectSent; // whoever comes next may not have it
            return; // no pipeline subscribed (yet)
        }
        if (reconnectSent && !reconnectMayBeLost && nowNs - reconnectSentNs < retryNs)
        {
            return; // answer awaited
        }
        if (!reconnectSent && nowNs - closedAtNs < retryNs && null != responses.imageBySessionId(pipelineImageSessionId))
        {
            return; // the pipeline that went away is still going: its image first
        }
        if (reconnectSent)
        {
            connectCorrelationId++; // a new attempt; an answer to any of them is taken
        }
        final byte[] credentials = null == context.credentials ? new byte[0] : context.credentials;
        final ReconnectEncoder reconnect = new ReconnectEncoder().wrapAndApplyHeader(handshakeBuffer, 0, headerEncoder)
            .clientId(clientId)
            .correlationId(connectCorrelationId)
            .sessionId(sessionId)
            .schemaHash(schema.hash())
            .responseStreamId(responseStreamId)
            .responseChannel(context.responseChannel)
            .schemaName(schema.name())
            .putCredentials(credentials, 0, credentials.length);
        final int length = MessageHeaderEncoder.ENCODED_LENGTH + reconnect.encodedLength();
        headerEncoder.frameLengthBytes(length);
        if (ingress.offer(handshakeBuffer, 0, length) > 0)
        {
            reconnectSent = true;
            reconnectMayBeLost = false;
            reconnectSentNs = nowNs;
        }
    }

    /**
     * The pipeline answered Reconnect: OPENED with the same session takes it back (the unacked batches go again,
     * in order, before anything new); anything else fails them (outcome unknown) and leaves the session closed, to
     * be replaced by a new Connect on the next send.
     */
    private void onReconnectAnswer()
    {
        final ConnectStatus status = connectStatus;
        connectStatus = null;
        resuming = false;
        final long oldSessionId = sessionId;
        if (status == ConnectStatus.OPENED && connectSessionId == oldSessionId)
        {
            closedReason = null;
            resumedSessions++;
            pipelineImageSessionId = connectImageSessionId;
            resendSequence = unacked.headSequence();
            resendPending = !unacked.isEmpty();
            resend();
            return;
        }
        final String why;
        if (status == ConnectStatus.OPENED)
        {
            why = "the pipeline opened a new session " + connectSessionId + " instead of taking back session " +
                oldSessionId + " (" + connectDetail + ")";
        }
        else if (status == ConnectStatus.UNKNOWN_SESSION)
        {
            why = "the pipeline does not know session " + oldSessionId + " (UNKNOWN_SESSION: " + connectDetail +
                ")";
        }
        else
        {
            why = "the pipeline refused to take back session " + oldSessionId + " (" + status + "): " + connectDetail;
        }
        failingReason = closedReason + "; " + why + ": the outcome of the " + inFlightBatches + " batch(es) sent " +
            "without an answer is unknown (they may or may not have been applied)";
        if (status == ConnectStatus.OPENED)
        {
            // A session is open: it is this client's from now on.
            pipelineImageSessionId = connectImageSessionId;
            adoptSession(connectSessionId);
        }
        else
        {
            closedReason = status == ConnectStatus.UNKNOWN_SESSION ? why :
                "the pipeline refused the connection (" + status + "): " + connectDetail;
        }
    }

    /**
     * Gives up taking the session back: its unacked batches fail with the reason.
     */
    private void endResume(final String reason)
    {
        resuming = false;
        closedReason = reason;
        failingReason = reason + "; " + inFlightBatches + " batch(es) sent without an ack may or may not have " +
            "been applied";
    }

    /**
     * Single-node: sends the unacked batches again, oldest first and unchanged, as far as the ingress takes them.
     *
     * @return true when nothing is left to resend.
     */
    private boolean resend()
    {
        while (resendPending)
        {
            if (resendSequence < unacked.headSequence())
            {
                resendSequence = unacked.headSequence(); // answered meanwhile
            }
            if (resendSequence >= unacked.tailSequence())
            {
                resendPending = false;
                break;
            }
            if (unacked.isAcked(resendSequence))
            {
                resendSequence++;
                continue;
            }
            if (ingress.offer(unacked.buffer(), unacked.offsetBytes(resendSequence),
                unacked.lengthBytes(resendSequence)) <= 0)
            {
                return false; // back pressure (or the pipeline went again: the next poll sees it)
            }
            resendSequence++;
            resentBatches++;
        }
        return true;
    }

    /**
     * Connects to the pipeline: waits for the ingress stream and sends Connect.
     *
     * @param context settings.
     * @return the client.
     * @throws SpateClientException when the driver or the pipeline cannot be reached in time.
     */
    public static SpateClient connect(final Context context)
    {
        return new SpateClient(context);
    }

    public DatabaseSchema schema()
    {
        return schema;
    }

    public long clientId()
    {
        return clientId;
    }

    /**
     * @return the session the pipeline issued to this client at connect; in cluster mode the cluster session id.
     */
    public long sessionId()
    {
        return sessionId;
    }

    /**
     * @param listener called from {@link #poll()} for every ack. With a listener the outcomes go to it alone
     *                 (nothing kept, nothing allocated per batch) and {@link #flushAsync()} is refused; set it
     *                 before sending.
     * @return this.
     */
    public SpateClient ackListener(final AckListener listener)
    {
        if (inFlightBatches > 0 || currentWrite.batchCount > 0 || !sealedWrites.isEmpty())
        {
            throw new IllegalStateException("set the AckListener before sending: outcomes already sent are kept " +
                "for flushAsync()");
        }
        this.ackListener = listener;
        return this;
    }

    /**
     * @return true while a pipeline is subscribed to this client's ingress stream; false once it has
     * gone (closed, or timed out by the driver), when flushes can only back-pressure. In cluster mode: true
     * while the cluster session is open, also while the cluster elects a new leader (sending is back pressure
     * then); false once it ended for good ({@link #sessionClosedReason()} says why).
     */
    public boolean isConnected()
    {
        if (null != cluster)
        {
            return null == closedReason && !cluster.isClosed();
        }
        return ingress.isConnected();
    }

    /**
     * @return whether this client works with a Spate cluster ({@link Context#clusterIngressEndpoints(String)}).
     */
    public boolean isClusterMode()
    {
        return null != cluster;
    }

    /**
     * @return cluster mode: the leader's member id as last announced, -1 once the session is over; single-node
     * mode: -1.
     */
    public int leaderMemberId()
    {
        return null == cluster || cluster.isClosed() ? -1 : cluster.leaderMemberId();
    }

    /**
     * @return cluster mode: how many times a new leader was announced to this client (each time it resent what
     * had no ack); 0 in single-node mode.
     */
    public long leaderChanges()
    {
        return null == cluster ? 0 : cluster.leaderChanges();
    }

    /**
     * @return batches sent again, unchanged: in cluster mode to a new leader, in single-node mode to a pipeline
     * that took the session back (over all leader changes, resumes and sessions).
     */
    public long resentBatches()
    {
        return null == cluster ? resentBatches : cluster.resentBatches();
    }

    /**
     * @return acks ignored because their batch was answered already (e.g. a resent batch answered twice). Every
     * batch's outcome is delivered once.
     */
    public long duplicateAcks()
    {
        return unacked.duplicateAcks();
    }

    /**
     * @return batches sent without an outcome yet (neither acked nor failed); kept, bytes and all, until then.
     */
    public long inFlightBatches()
    {
        return inFlightBatches;
    }

    /**
     * @return most batches this client keeps sent without an answer now: its own
     * {@link Context#maxInFlightBatches(int)}, or the server's ack ledger ({@code SessionSettings.ledgerBatches})
     * when that is smaller.
     */
    public int maxInFlightBatches()
    {
        return unacked.limitBatches();
    }

    /**
     * @return single-node mode: how many times a session that ended because the pipeline went away was taken back
     * (Reconnect answered OPENED) and its unanswered batches sent again; 0 in cluster mode.
     */
    public long resumedSessions()
    {
        return resumedSessions;
    }

    // ------------------------------------------------------------------------------------------
    // Writing
    // ------------------------------------------------------------------------------------------

    /**
     * Starts a Create; the batch is flushed first when it is full.
     *
     * @param type of the node.
     * @return the record's 1-based index in the current batch (a createRef for later records of it).
     */
    public int create(final TypeDefinition type)
    {
        beforeRecord(type);
        return writer.create(type);
    }

    /**
     * @param typeName as in the schema.
     * @return the record's 1-based index in the current batch.
     * @throws IllegalArgumentException naming the type when there is none.
     */
    public int create(final String typeName)
    {
        return create(schema.type(typeName));
    }

    public int update(final TypeDefinition type, final long nodeId)
    {
        beforeRecord(type);
        return writer.update(type, nodeId);
    }

    public int update(final String typeName, final long nodeId)
    {
        return update(schema.type(typeName), nodeId);
    }

    /**
     * Updates a node created earlier in the current batch (no flush happens in between).
     *
     * @throws SpateClientException when the batch holds as many records as one batch may
     *                              ({@link Context#maxRecordsPerBatch(int)}, or the pipeline's SessionSettings when
     *                              smaller): nothing is written.
     */
    public int updateCreated(final TypeDefinition type, final int createRef)
    {
        if (batchOpen && writer.recordCount() >= maxRecordsPerBatch)
        {
            throw new SpateClientException("updateCreated: the batch would have " + (writer.recordCount() + 1) +
                " records, more than the pipeline takes in one batch (" + maxRecordsPerBatch + " records" +
                (serverMaxRecordsPerBatch > 0 && serverMaxRecordsPerBatch <= context.maxRecordsPerBatch ?
                ", its SessionSettings" : ", this client's maxRecordsPerBatch") + "); a Create and the records that " +
                "name it go in one batch: flush() before such a Create. Nothing was written");
        }
        openType = type;
        return writer.updateCreated(type, createRef);
    }

    public int delete(final TypeDefinition type, final long nodeId)
    {
        beforeRecord(type);
        final int index = writer.delete(type, nodeId);
        openType = null;
        return index;
    }

    public int delete(final String typeName, final long nodeId)
    {
        return delete(schema.type(typeName), nodeId);
    }

    public int increment(final TypeDefinition type, final long nodeId, final FieldDefinition field, final long delta)
    {
        beforeRecord(type);
        final int index = writer.increment(type, nodeId, field, delta);
        openType = null;
        return index;
    }

    public int increment(final String typeName, final long nodeId, final String fieldName, final long delta)
    {
        final TypeDefinition type = schema.type(typeName);
        return increment(type, nodeId, type.field(fieldName), delta);
    }

    public SpateClient setLong(final FieldDefinition field, final long value)
    {
        writer.setLong(field, value);
        return this;
    }

    public SpateClient setDouble(final FieldDefinition field, final double value)
    {
        writer.setDouble(field, value);
        return this;
    }

    public SpateClient setBoolean(final FieldDefinition field, final boolean value)
    {
        writer.setBoolean(field, value);
        return this;
    }

    public SpateClient setString(final FieldDefinition field, final CharSequence value)
    {
        writer.setString(field, value);
        return this;
    }

    /**
     * Sets a string field from ASCII bytes, copied as they are: the allocation-free way to write a value a
     * producer formats itself (e.g. digits with {@code putNaturalLongAscii} into a reusable buffer).
     *
     * @throws IllegalArgumentException when a byte is not ASCII or the value is longer than the field allows.
     * @see RecordWriter#setStringAscii(FieldDefinition, DirectBuffer, int, int)
     */
    public SpateClient setStringAscii(
        final FieldDefinition field, final DirectBuffer source, final int offset, final int lengthBytes)
    {
        writer.setStringAscii(field, source, offset, lengthBytes);
        return this;
    }

    public SpateClient setBytes(final FieldDefinition field, final byte[] value)
    {
        writer.setBytes(field, value);
        return this;
    }

    /**
     * Sets a field of the open record by name: integers, timestamps, f64 (as the long's value),
     * bool (0 or 1). Resolving the name costs a map look-up: hot loops use field handles.
     */
    public SpateClient set(final String fieldName, final long value)
    {
        final FieldDefinition field = openField(fieldName);
        switch (field.kind())
        {
            case F64 -> writer.setDouble(field, value);
            case BOOL -> writer.setBoolean(field, value != 0);
            default -> writer.setLong(field, value);
        }
        return this;
    }

    public SpateClient set(final String fieldName, final double value)
    {
        writer.setDouble(openField(fieldName), value);
        return this;
    }

    public SpateClient set(final String fieldName, final boolean value)
    {
        writer.setBoolean(openField(fieldName), value);
        return this;
    }

    public SpateClient set(final String fieldName, final CharSequence value)
    {
        writer.setString(openField(fieldName), value);
        return this;
    }

    private FieldDefinition openField(final String fieldName)
    {
        if (null == openType)
        {
            throw new IllegalStateException("no open Create or Update to set '" + fieldName + "' on");
        }
        return openType.field(fieldName);
    }

    private void beforeRecord(final TypeDefinition type)
    {
        if (batchOpen && (writer.remainingBytes() < maxRecordLengthBytes ||
            writer.recordCount() >= maxRecordsPerBatch ||
            writer.lengthBytes() - BATCH_HEADER_LENGTH_BYTES + maxRecordLengthBytes > maxBatchRecordBytes))
        {
            flush();
        }
        if (!batchOpen)
        {
            batchCorrelationId = ++correlationSeq;
            writer.wrap(batchBuffer, 0, batchBuffer.capacity()).beginBatch(sessionId, batchCorrelationId);
            batchOpen = true;
        }
        openType = type;
    }

    /**
     * Sends the current batch, waiting up to the timeout while the pipeline pushes back, the unanswered batches
     * are at their limit, or the session is being taken back after a pipeline restart (in cluster mode also while
     * the cluster has no leader, or resends to a new leader go on).
     *
     * @return the batch's correlation id, or {@link #NOTHING_TO_FLUSH}.
     * @throws SpateClientException when back pressure outlasts the timeout (the batch is kept).
     */
    public long flush()
    {
        if (!batchOpen)
        {
            return NOTHING_TO_FLUSH;
        }
        final long deadlineNs = System.nanoTime() + context.timeoutNs;
        long result;
        while ((result = tryFlush()) == BACK_PRESSURED)
        {
            checkDeadline(deadlineNs, null == cluster ? (resuming ? "no session to send on within " +
                context.timeoutNs / 1_000_000 + " ms (the batch is kept): " + closedReason + "; taking the session " +
                "back" : "back pressure: the pipeline did not take the batch in time") :
                "back pressure: the cluster did not take the batch in " + context.timeoutNs / 1_000_000 + " ms (" +
                inFlightBatches + " batch(es) without an ack, leader " + cluster.leaderMemberId() + ", " +
                cluster.leaderChanges() + " leader change(s))");
            poll();
            idle.idle();
        }
        idle.reset();
        return result;
    }

    /**
     * Sends the current batch without waiting.
     *
     * @return its correlation id, {@link #NOTHING_TO_FLUSH}, or {@link #BACK_PRESSURED} (batch kept; try later:
     * also while a session is being taken back and its unanswered batches resent, or the unanswered batches are
     * at {@link #maxInFlightBatches()} or {@link Context#maxInFlightBytes(int)}; in cluster mode also while there
     * is no leader). A batch larger than the pipeline takes (its SessionSettings came after the batch was
     * written) is not sent: it gets its outcome at once, a failure saying so.
     * @throws SpateClientException when the session is over and cannot be replaced.
     */
    public long tryFlush()
    {
        if (!batchOpen)
        {
            return NOTHING_TO_FLUSH;
        }
        if (!settingsKnown && null == closedReason)
        {
            poll(); // SessionSettings later than the handshake waited: taken before this batch goes
        }
        if (!readyToSend())
        {
            return BACK_PRESSURED;
        }
        final int recordCount = writer.recordCount();
        if (null == ackListener && currentWrite.recordCount() + recordCount > MAX_UNCLAIMED_RECORDS)
        {
            throw new SpateClientException("the outcomes of " + currentWrite.recordCount() + " records written since " +
                "the last flushAsync() wait to be collected: call flushAsync() to collect them, or set an AckListener");
        }
        final int length = writer.endBatch();
        if (recordCount > maxRecordsPerBatch || length - BATCH_HEADER_LENGTH_BYTES > maxBatchRecordBytes)
        {
            return refuseBatch(recordCount, length);
        }
        final long result;
        if (null == cluster)
        {
            if (!unacked.hasRoomFor(length))
            {
                return BACK_PRESSURED;
            }
            result = ingress.offer(batchBuffer, 0, length);
            if (result > 0)
            {
                unacked.append(batchCorrelationId, batchBuffer, 0, length);
            }
        }
        else
        {
            result = cluster.offerBatch(batchCorrelationId, batchBuffer, 0, length);
        }
        if (result > 0)
        {
            batchOpen = false;
            openType = null;
            inFlightBatches++;
            if (null == ackListener)
            {
                // Kept for flushAsync(); a listener sees every outcome itself, so nothing is kept (or allocated).
                currentWrite.addBatch(batchCorrelationId, recordCount);
                writeByCorrelation.put(batchCorrelationId, currentWrite);
            }
            return batchCorrelationId;
        }
        if (null != cluster)
        {
            if (result == Publication.CLOSED)
            {
                // The cluster session is over: fail what was in flight, then replace it or say why not.
                onSessionClosed(cluster.closedReason(), false);
                readyToSend();
            }
            return BACK_PRESSURED;
        }
        if (result == Publication.CLOSED || result == Publication.MAX_POSITION_EXCEEDED)
        {
            throw new SpateClientException("ingress publication is closed: " + result);
        }
        return BACK_PRESSURED; // back pressure, or no pipeline (the next poll sees it gone)
    }

    /**
     * The open batch is more than the pipeline takes in one batch (its SessionSettings came, or changed with a
     * new session, after the batch was written): it is not sent, and its records get a failure as their outcome.
     */
    private long refuseBatch(final int recordCount, final int lengthBytes)
    {
        final long correlationId = batchCorrelationId;
        final String reason = "the batch of " + recordCount + " records (" + (lengthBytes - BATCH_HEADER_LENGTH_BYTES) +
            " bytes of records) is more than the pipeline takes in one batch (" + maxRecordsPerBatch + " records, " +
            maxBatchRecordBytes + " bytes, as its SessionSettings say): it was not sent";
        batchOpen = false;
        openType = null;
        if (null != ackListener)
        {
            ackListener.onBatchFailed(correlationId, recordCount, reason);
        }
        else
        {
            currentWrite.addBatch(correlationId, recordCount);
            currentWrite.onBatchFailed(correlationId, recordCount, reason);
        }
        return correlationId;
    }

    /**
     * Before sending: failures owed are delivered; a session being taken back makes a step (false until it is
     * back and its unanswered batches resent); a closed one is replaced by a new one with Connect when the
     * context allows it (its batches have had their outcome by then), the batch being written going on it.
     *
     * @return whether a batch may be sent now.
     * @throws SpateClientException when the session is closed and cannot be replaced.
     */
    private boolean readyToSend()
    {
        drainFailures();
        if (resuming)
        {
            stepResume(System.nanoTime());
            drainFailures();
            if (resuming)
            {
                return false;
            }
        }
        if (null != closedReason)
        {
            if (!context.reconnect)
            {
                throw new SpateClientException(closedReason);
            }
            final long newSessionId = null == cluster ? openSession() : connectCluster();
            reconnects++;
            adoptSession(newSessionId);
        }
        return !resendPending || resend();
    }

    /**
     * Cluster mode: a new session (the cluster recognises resent batches only within one, so none are resent).
     */
    private long connectCluster()
    {
        final long deadlineNs = System.nanoTime() + context.timeoutNs;
        final long clusterSessionId = cluster.connect(deadlineNs);
        awaitClusterSettings(clusterSessionId, deadlineNs);
        return clusterSessionId;
    }

    private void adoptSession(final long newSessionId)
    {
        sessionId = newSessionId;
        closedReason = null;
        if (batchOpen)
        {
            batchBuffer.putLong(RecordFraming.HEADER_LENGTH_BYTES + BatchHeaderEncoder.sessionIdEncodingOffset(),
                sessionId, ByteOrder.LITTLE_ENDIAN);
        }
    }

    /**
     * Sends the current batch and returns a future of the outcome of <b>every record written since the
     * previous flushAsync()</b>, however many batches the client sent on its own because they were full:
     * the future completes while someone {@link #poll() polls} (acks arrive only then); for "create N
     * records, get N ids" in one call, use {@link #flushAndAwait()}.
     * Record indexes in the result run over all of them, in the order they were written. Allocates: for
     * convenience; the allocation-free path is an {@link AckListener} with {@link #flush()}.
     *
     * @return the future; it fails with a {@link SpateClientException} when the session closes or no ack
     * comes within the timeout.
     */
    public CompletableFuture<BatchResult> flushAsync()
    {
        if (null != ackListener)
        {
            throw new IllegalStateException("this client gives every outcome to its AckListener: use flush() (and " +
                "awaitAcks), or a client without a listener for flushAsync()");
        }
        flush();
        final PendingWrite write = currentWrite;
        currentWrite = new PendingWrite();
        write.future = new CompletableFuture<>();
        write.deadlineNs = System.nanoTime() + context.timeoutNs;
        if (write.batchCount == 0)
        {
            write.future.completeExceptionally(new IllegalStateException("nothing to flush"));
            return write.future;
        }
        sealedWrites.add(write);
        write.completeIfAcked();
        return write.future;
    }

    /**
     * "Create N records, get N ids" in one call: sends what is written and waits (polling) for the outcome
     * of every record written since the previous {@link #flushAsync()} or flushAndAwait(), however many
     * batches that took.
     *
     * @return per record, in the order written: its status and, for a Create, its id.
     * @throws SpateClientException when the session closes or no ack comes within the timeout.
     */
    public BatchResult flushAndAwait()
    {
        final CompletableFuture<BatchResult> future = flushAsync();
        while (!future.isDone())
        {
            if (poll() == 0)
            {
                idle.idle();
            }
        }
        idle.reset();
        try
        {
            return future.join();
        }
        catch (final java.util.concurrent.CompletionException ex)
        {
            if (ex.getCause() instanceof SpateClientException clientException)
            {
                throw clientException;
            }
            throw new SpateClientException(String.valueOf(ex.getCause()));
        }
    }

    /**
     * Polls until every batch sent has its outcome (an ack, or a failure when it can never be answered), or the
     * timeout passes. While a session is being taken back after a pipeline restart, it waits for that too.
     *
     * @param timeoutMs how long to wait.
     * @return true when nothing is in flight and every batch that was had its ack.
     * @throws SpateClientException with the reason when batches failed meanwhile (their outcomes were delivered
     *                              first: futures, or the listener); in cluster mode also when the session is over.
     */
    public boolean awaitAcks(final long timeoutMs)
    {
        final long deadlineNs = System.nanoTime() + timeoutMs * 1_000_000L;
        final long failedBefore = failedBatches;
        while (inFlightBatches > 0)
        {
            drainFailures();
            if (null != closedReason && !resuming && inFlightBatches > 0)
            {
                throw new SpateClientException(closedReason);
            }
            if (System.nanoTime() > deadlineNs)
            {
                return false;
            }
            if (poll() == 0)
            {
                idle.idle();
            }
        }
        if (failedBatches != failedBefore)
        {
            throw new SpateClientException(lastFailureReason);
        }
        if (null != cluster)
        {
            checkSessionOpen(); // nothing in flight because the session ended is no success
        }
        return true;
    }

    /**
     * @return batches sent that got a failure as their outcome (never answered), over the client's life.
     */
    public long failedBatches()
    {
        return failedBatches;
    }

    /**
     * Takes acks and read answers: completes futures, calls the ack listener; delivers the failures of batches
     * that can never be answered; in single-node mode also takes a session back after the pipeline went away
     * (Reconnect, then resending what had no answer).
     *
     * @return fragments handled.
     */
    public int poll()
    {
        if (null != cluster)
        {
            return pollCluster();
        }
        final int fragments = responses.poll(responseAssembler, 16);
        if (fragments == 0 && null == closedReason)
        {
            if (aeron.isClosed())
            {
                // Nothing can be sent or received again: no session can be taken back.
                onSessionClosed("the client lost its media driver (" + aeronError + ")", false);
            }
            else if (!responses.isConnected())
            {
                // Everything the pipeline sent has been read (the image drains before it goes): the stream is gone.
                onSessionClosed("the response stream from the pipeline is gone (the pipeline stopped, or closed " +
                    "this session without a word)", true);
            }
            else if (!ingress.isConnected())
            {
                onSessionClosed("the pipeline is gone: none is subscribed to " + context.ingressChannel + " stream " +
                    context.ingressStreamId + " (it stopped or restarted)", true);
            }
        }
        if (resuming)
        {
            stepResume(System.nanoTime());
        }
        else if (resendPending)
        {
            resend();
        }
        afterPoll(fragments);
        return fragments;
    }

    private int pollCluster()
    {
        final int workCount = cluster.poll();
        if (null == closedReason && cluster.isClosed())
        {
            onSessionClosed(cluster.closedReason(), false);
        }
        afterPoll(workCount);
        return workCount;
    }

    private void afterPoll(final int workCount)
    {
        if (null != failingReason)
        {
            drainFailures();
        }
        if (!sealedWrites.isEmpty() && workCount == 0)
        {
            failOverdueWrites(System.nanoTime());
        }
    }

    private void failOverdueWrites(final long nowNs)
    {
        // Oldest first: their deadlines grow with their order, so they fail in the order written.
        while (!sealedWrites.isEmpty())
        {
            final PendingWrite write = sealedWrites.get(0);
            if (nowNs - write.deadlineNs <= 0)
            {
                break;
            }
            sealedWrites.remove(0);
            write.future.completeExceptionally(new SpateClientException("no ack for " + write.outstanding +
                " of " + write.batchCount + " batch(es) within " + context.timeoutNs / 1_000_000 +
                " ms (they may still be applied; their acks will be ignored)"));
        }
    }

    /**
     * @return why this client's session is not open: the pipeline closed it, or went away (while the session is
     * being taken back too); in cluster mode why the cluster session ended. Null while it is open.
     */
    public String sessionClosedReason()
    {
        return closedReason;
    }

    /**
     * @return how many times this client opened a new session (Connect, or a new cluster session) after its
     * session was closed; a session taken back after a pipeline restart is counted by {@link #resumedSessions()}.
     */
    public long reconnects()
    {
        return reconnects;
    }

    private void checkSessionOpen()
    {
        if (null != closedReason)
        {
            throw new SpateClientException(closedReason);
        }
    }

    /**
     * The session ended (from the response handler or a poll: only state changes here; outcomes are delivered
     * after the poll). Single-node, when the pipeline went away (PIPELINE_STOPPING, its response stream or its
     * ingress gone) and the context reconnects, the unanswered batches are kept and the session is taken back
     * with Reconnect; otherwise they fail, oldest first, with the reason.
     */
    private void onAeronError(final Throwable error)
    {
        if (!(error instanceof org.agrona.concurrent.AgentTerminationException))
        {
            aeronError = error.getClass().getSimpleName() + ": " + error.getMessage();
        }
    }

    private void onSessionClosed(final String reason, final boolean pipelineGone)
    {
        if (null != closedReason)
        {
            return;
        }
        closedReason = reason;
        closedAtNs = System.nanoTime();
        resendPending = false;
        if (null != cluster)
        {
            cluster.clearInFlight();
        }
        if (null == cluster && pipelineGone && context.reconnect && inFlightBatches > 0)
        {
            resuming = true;
            reconnectSent = false;
            reconnectMayBeLost = false;
            resumeDeadlineNs = closedAtNs + context.timeoutNs;
            connectStatus = null;
            connectCorrelationId = ThreadLocalRandom.current().nextLong(1, Long.MAX_VALUE >> 1);
            firstConnectCorrelationId = connectCorrelationId;
            return;
        }
        if (!unacked.isEmpty())
        {
            // Batches in flight get no ack: they may or may not have been applied.
            failingReason = reason + "; " + inFlightBatches + " batch(es) sent without an ack may or may not have " +
                "been applied";
        }
    }

    /**
     * Delivers the outcome of every unacked batch while {@link #failingReason} is set: a failure, oldest first
     * (to the listener, or to the futures of the writes they belong to). A listener that throws stops it; the
     * next poll or send goes on with the next batch.
     */
    private void drainFailures()
    {
        while (null != failingReason)
        {
            if (unacked.isEmpty())
            {
                failingReason = null;
                return;
            }
            final long sequence = unacked.headSequence();
            final long correlationId = unacked.correlationId(sequence);
            final int recordCount = unacked.buffer().getInt(
                unacked.offsetBytes(sequence) + BATCH_RECORD_COUNT_OFFSET, ByteOrder.LITTLE_ENDIAN);
            final String reason = failingReason;
            unacked.removeHead();
            inFlightBatches--;
            failedBatches++;
            lastFailureReason = reason;
            if (null != ackListener)
            {
                ackListener.onBatchFailed(correlationId, recordCount, reason);
                continue;
            }
            final PendingWrite write = writeByCorrelation.remove(correlationId);
            if (null != write)
            {
                write.onBatchFailed(correlationId, recordCount, reason);
                if (write != currentWrite && write.completeIfAcked())
                {
                    sealedWrites.remove(write);
                }
            }
        }
    }

    // ------------------------------------------------------------------------------------------
    // Reads
    // ------------------------------------------------------------------------------------------

    /**
     * @return live nodes of the type, after every write this client sent before (flushed here).
     */
    public long count(final TypeDefinition type)
    {
        read(ReadKind.COUNT, type, 0);
        return readCount;
    }

    /**
     * @return a view of the node (valid until the next read), or null when it does not exist:
     * {@link #lastReadStatus()} then says whether it was deleted or never existed.
     */
    public NodeView get(final TypeDefinition type, final long nodeId)
    {
        read(ReadKind.GET, type, nodeId);
        return readStatus == RecordStatus.OK ? nodeView.wrap(type, readNode, 0, readNodeLengthBytes) : null;
    }

    /**
     * @return the outcome of the last read: OK, DELETED (the node existed and was deleted), NO_SUCH_NODE
     * (it never existed: not created yet, or its Create failed) or UNKNOWN_TYPE; null before any read.
     */
    public RecordStatus lastReadStatus()
    {
        return readStatus;
    }

    private void read(final ReadKind kind, final TypeDefinition type, final long nodeId)
    {
        flush();
        final long sessionDeadlineNs = System.nanoTime() + context.timeoutNs;
        while (!readyToSend())
        {
            checkDeadline(sessionDeadlineNs, "no session to read on within " + context.timeoutNs / 1_000_000 +
                " ms: " + closedReason);
            if (poll() == 0)
            {
                idle.idle();
            }
        }
        idle.reset();
        final long correlationId = ++correlationSeq;
        final ReadRequestEncoder request = new ReadRequestEncoder().wrapAndApplyHeader(messageBuffer, 0, headerEncoder)
            .sessionId(sessionId)
            .correlationId(correlationId)
            .nodeId(nodeId)
            .typeId(type.typeId())
            .kind(kind);
        final int length = MessageHeaderEncoder.ENCODED_LENGTH + request.encodedLength();
        headerEncoder.frameLengthBytes(length);
        awaitedReadCorrelationId = correlationId;
        readAnswered = false;
        try
        {
            offerBlocking(messageBuffer, length, "ReadRequest");
            final long deadlineNs = System.nanoTime() + context.timeoutNs;
            while (!readAnswered)
            {
                checkSessionOpen();
                checkDeadline(deadlineNs, "no answer to the " + kind + " read of " + type.name());
                if (poll() == 0)
                {
                    idle.idle();
                }
            }
            idle.reset();
        }
        finally
        {
            if (null != cluster)
            {
                cluster.readDone(); // answered or abandoned: never resent to a later leader
            }
        }
    }

    private void onResponse(final DirectBuffer buffer, final int offset, final int length, final Header header)
    {
        if (WireBounds.check(buffer, offset, length) != WireBounds.OK)
        {
            return; // not a message this client can read: nothing of it is trusted
        }
        headerDecoder.wrap(buffer, offset);
        switch (headerDecoder.templateId())
        {
            case AckDecoder.TEMPLATE_ID -> onAck(buffer, offset);
            case ReadResponseDecoder.TEMPLATE_ID -> onReadResponse(buffer, offset);
            case SessionClosedDecoder.TEMPLATE_ID -> onSessionClosedMessage(buffer, offset);
            case ConnectResponseDecoder.TEMPLATE_ID -> onConnectResponse(buffer, offset, header);
            case SessionSettingsDecoder.TEMPLATE_ID -> onSessionSettings(buffer, offset);
            default ->
            {
            }
        }
    }

    private void onConnectResponse(final DirectBuffer buffer, final int offset, final Header header)
    {
        final ConnectResponseDecoder response = new ConnectResponseDecoder().wrapAndApplyHeader(buffer, offset, headerDecoder);
        final long correlationId = response.correlationId();
        // Answers to Connect, or to any attempt of the Reconnect going on; a late one of an earlier round is dropped.
        if (null == connectStatus && null == cluster && correlationId >= firstConnectCorrelationId &&
            correlationId <= connectCorrelationId && (resuming || firstConnectCorrelationId == connectCorrelationId))
        {
            connectSessionId = response.sessionId();
            connectStatus = response.status();
            connectDetail = response.detail();
            connectImageSessionId = header.sessionId();
            if (connectStatus == ConnectStatus.OPENED)
            {
                settingsSessionId = connectSessionId; // its SessionSettings come right behind
            }
        }
    }

    private void onSessionClosedMessage(final DirectBuffer buffer, final int offset)
    {
        sessionClosedDecoder.wrapAndApplyHeader(buffer, offset, headerDecoder);
        if (sessionClosedDecoder.sessionId() == sessionId)
        {
            final SessionCloseReason reason = sessionClosedDecoder.reason();
            // The pipeline stopping (a restart) is the pipeline going away: the session may be taken back.
            onSessionClosed("session closed by the pipeline (" + reason + "): " + sessionClosedDecoder.detail(),
                reason == SessionCloseReason.PIPELINE_STOPPING);
        }
    }

    private void onAck(final DirectBuffer buffer, final int offset)
    {
        ackDecoder.wrapAndApplyHeader(buffer, offset, headerDecoder);
        if (ackDecoder.sessionId() != sessionId)
        {
            return;
        }
        if (unacked.onAck(ackDecoder.correlationId()) != UnackedBatches.ACKED)
        {
            return; // a resent batch's second answer (counted), or no batch of this session
        }
        inFlightBatches--; // one outcome per batch
        if (null != ackListener)
        {
            ackListener.onAck(ackDecoder);
            return;
        }
        final PendingWrite write = writeByCorrelation.remove(ackDecoder.correlationId());
        if (null == write)
        {
            return; // sent before flushAsync() was used (a listener then), or its write gave up
        }
        write.onAck(ackDecoder);
        if (write != currentWrite && write.completeIfAcked())
        {
            sealedWrites.remove(write);
        }
    }

    private void onReadResponse(final DirectBuffer buffer, final int offset)
    {
        readResponseDecoder.wrapAndApplyHeader(buffer, offset, headerDecoder);
        if (readResponseDecoder.sessionId() != sessionId || readResponseDecoder.correlationId() != awaitedReadCorrelationId)
        {
            return;
        }
        readCount = readResponseDecoder.count();
        readStatus = readResponseDecoder.status();
        readNodeLengthBytes = readResponseDecoder.getNode(readNode, 0, readNode.capacity());
        readAnswered = true;
    }

    // ------------------------------------------------------------------------------------------

    private void offerBlocking(final UnsafeBuffer buffer, final int length, final String what)
    {
        final long deadlineNs = System.nanoTime() + context.timeoutNs;
        while (true)
        {
            final long result = null == cluster ? ingress.offer(buffer, 0, length) : cluster.offerRead(buffer, length);
            if (result > 0)
            {
                idle.reset();
                return;
            }
            if (null != cluster && result == Publication.CLOSED)
            {
                onSessionClosed(cluster.closedReason(), false);
                throw new SpateClientException(closedReason);
            }
            if (null == cluster && (result == Publication.CLOSED || result == Publication.MAX_POSITION_EXCEEDED))
            {
                throw new SpateClientException("ingress publication is closed while sending " + what);
            }
            checkDeadline(deadlineNs, "could not send " + what + " in time (back pressure or no pipeline)");
            poll();
            idle.idle();
        }
    }

    private void checkDeadline(final long deadlineNs, final String message)
    {
        if (System.nanoTime() > deadlineNs)
        {
            throw new SpateClientException(message);
        }
    }

    /**
     * Sends what is written and waits for every outstanding ack, up to the timeout; then releases
     * everything. Never drops records silently.
     *
     * @throws SpateClientException after releasing, when acks are missing or records could not be sent:
     * the message says how many and what they mean.
     */
    public void close()
    {
        if (closed)
        {
            return;
        }
        closed = true;
        SpateClientException failure = null;
        try
        {
            final int unsent = batchOpen ? writer.recordCount() : 0;
            try
            {
                flush();
            }
            catch (final SpateClientException ex)
            {
                failure = new SpateClientException("close: " + unsent + " written record(s) could not be sent: " +
                    ex.getMessage());
            }
            if (null == failure && inFlightBatches > 0 && !awaitAcks(context.timeoutNs / 1_000_000))
            {
                failure = new SpateClientException("close: " + inFlightBatches + " batch(es) sent without an ack after " +
                    context.timeoutNs / 1_000_000 + " ms: they may or may not have been applied");
            }
        }
        catch (final SpateClientException ex)
        {
            failure = new SpateClientException("close: " + ex.getMessage());
        }
        finally
        {
            closeTransport();
        }
        if (null != failure)
        {
            throw failure;
        }
    }
}
