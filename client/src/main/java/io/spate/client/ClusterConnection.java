package io.spate.client;

import io.aeron.Aeron;
import io.aeron.Publication;
import io.aeron.cluster.client.AeronCluster;
import io.aeron.cluster.client.EgressListener;
import io.aeron.cluster.codecs.EventCode;
import io.aeron.exceptions.AeronException;
import io.aeron.exceptions.TimeoutException;
import io.aeron.logbuffer.FragmentHandler;
import io.aeron.logbuffer.Header;
import io.aeron.security.AuthenticationException;
import io.aeron.security.CredentialsSupplier;
import org.agrona.CloseHelper;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.IdleStrategy;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * A {@link SpateClient}'s session with a Spate cluster through Aeron Cluster's client ({@link AeronCluster}):
 * ingress to the leader, answers as egress. It keeps every batch sent without an ack ({@link UnackedBatches})
 * and, when a new leader is announced, sends them again, oldest first and unchanged (same session and
 * correlation id: the service applies a batch once and answers a resent one with its original ack), then the
 * read in flight, before anything new. While the cluster has no leader, offers fail with NOT_CONNECTED or
 * CLOSED: back pressure for the caller, until AeronCluster gives up (its new-leader timeout) and closes.
 * <p>
 * Offer results for the caller: a position (sent), {@link Publication#BACK_PRESSURED} (try again, whatever the
 * reason: back pressure, no leader yet, resends still going, the unacked FIFO full) or {@link Publication#CLOSED}
 * (the session is over for good: {@link #closedReason()}). Not thread-safe: the client's thread only.
 */
final class ClusterConnection implements EgressListener, AutoCloseable
{
    /** An idle session sends a keep-alive this often; the cluster closes sessions silent for its session timeout (10 s). */
    static final long KEEP_ALIVE_INTERVAL_NS = TimeUnit.SECONDS.toNanos(1);
    /** Between connect attempts that failed (no leader yet). */
    static final long CONNECT_RETRY_PAUSE_NS = TimeUnit.MILLISECONDS.toNanos(100);

    private final Aeron aeron;
    private final String ingressEndpoints;
    private final String ingressChannel;
    private final String egressChannel;
    private final byte[] credentials;
    private final String clientName;
    private final IdleStrategy idle;
    private final FragmentHandler messageHandler;
    private final UnackedBatches unacked;
    private AeronCluster cluster;
    /** A new leader was announced: the retained batches (from resendSequence) and the read go again first. */
    private boolean resendPending;
    private long resendSequence;
    /** The read request in flight (its bytes stay in the client's buffer until answered), or null. */
    private DirectBuffer readBuffer;
    private int readLengthBytes;
    private boolean readResendPending;
    private long leaderChanges;
    private long resentBatches;
    private boolean sentSinceKeepAliveCheck;
    private long lastKeepAliveCheckNs;
    /** The latest session event (CLOSED, ERROR) with its detail, and the latest error AeronCluster reported. */
    private String sessionEventDetail;
    private String lastError;
    private String failure;

    /**
     * @param aeron             the client's own Aeron (its own media driver: the nodes' drivers may die).
     * @param ingressEndpoints  Aeron Cluster's format, {@code 0=host:port,1=host:port,...}.
     * @param ingressChannel    the channel each endpoint is put into (aeron:udp).
     * @param egressChannel     where the cluster answers (aeron:udp?endpoint=host:port).
     * @param credentials       sent in the connect request (and to a challenge); none when null.
     * @param clientName        shown by the cluster for the session.
     * @param idle              how a blocking connect waits.
     * @param messageHandler    called with each egress payload of this session (a Spate Ack, ReadResponse or
     *                          SessionSettings).
     * @param unacked           the client's batches sent without an answer: appended here, resent to a new leader.
     */
    ClusterConnection(
        final Aeron aeron,
        final String ingressEndpoints,
        final String ingressChannel,
        final String egressChannel,
        final byte[] credentials,
        final String clientName,
        final IdleStrategy idle,
        final FragmentHandler messageHandler,
        final UnackedBatches unacked)
    {
        this.aeron = aeron;
        this.ingressEndpoints = ingressEndpoints;
        this.ingressChannel = ingressChannel;
        this.egressChannel = egressChannel;
        this.credentials = null == credentials ? new byte[0] : credentials.clone();
        this.clientName = clientName;
        this.idle = idle;
        this.messageHandler = messageHandler;
        this.unacked = unacked;
    }

    /**
     * Opens a new cluster session (at start, or after the previous one closed, once the client failed what it had
     * in flight), retrying connect attempts that time out (an election in progress) until the deadline.
     *
     * @param deadlineNs {@link System#nanoTime()} after which it gives up.
     * @return the cluster session id: the session id of every batch and read.
     * @throws SpateClientException when the cluster refuses the credentials or cannot be reached in time.
     */
    long connect(final long deadlineNs)
    {
        CloseHelper.quietClose(cluster);
        cluster = null;
        unacked.clear();
        resendPending = false;
        readBuffer = null;
        readResendPending = false;
        sessionEventDetail = null;
        lastError = null;
        failure = null;
        RuntimeException lastAttemptError = null;
        while (true)
        {
            AeronCluster.AsyncConnect connect = null;
            try
            {
                connect = AeronCluster.asyncConnect(newContext());
                AeronCluster connected;
                while (null == (connected = connect.poll()))
                {
                    if (System.nanoTime() - deadlineNs > 0)
                    {
                        throw new SpateClientException("no cluster session within the timeout (connecting, at step " +
                            connect.state() + ")" + (null == lastAttemptError ? "" : "; before: " + oneLine(lastAttemptError)));
                    }
                    idle.idle();
                }
                idle.reset();
                cluster = connected;
                lastKeepAliveCheckNs = System.nanoTime();
                return connected.clusterSessionId();
            }
            catch (final AuthenticationException ex)
            {
                CloseHelper.quietClose(connect);
                throw new SpateClientException("the cluster refused the credentials (AUTHENTICATION_REJECTED): " +
                    ex.getMessage());
            }
            catch (final TimeoutException | io.aeron.cluster.client.ClusterException ex)
            {
                // No leader answered (an election, or nodes still starting): try again until the deadline.
                CloseHelper.quietClose(connect);
                lastAttemptError = ex;
                if (System.nanoTime() - deadlineNs > 0)
                {
                    throw new SpateClientException("cannot open a session with the cluster at " + ingressEndpoints +
                        " within the timeout: " + oneLine(ex));
                }
                LockSupport.parkNanos(CONNECT_RETRY_PAUSE_NS); // a refusal can be immediate: no hot loop of attempts
            }
            catch (final SpateClientException ex)
            {
                CloseHelper.quietClose(connect);
                throw new SpateClientException("cannot open a session with the cluster at " + ingressEndpoints + ": " +
                    ex.getMessage());
            }
            catch (final RuntimeException ex)
            {
                CloseHelper.quietClose(connect);
                throw new SpateClientException("cannot open a session with the cluster at " + ingressEndpoints + ": " +
                    oneLine(ex));
            }
        }
    }

    private AeronCluster.Context newContext()
    {
        final byte[] encoded = credentials;
        return new AeronCluster.Context()
            .aeron(aeron)
            .ownsAeronClient(false)
            .ingressEndpoints(ingressEndpoints)
            .ingressChannel(ingressChannel)
            .egressChannel(egressChannel)
            .clientName(clientName)
            .credentialsSupplier(new CredentialsSupplier()
            {
                public byte[] encodedCredentials()
                {
                    return encoded;
                }

                public byte[] onChallenge(final byte[] encodedChallenge)
                {
                    return encoded;
                }
            })
            // Errors closing a lost leader's publication: remembered for the closing reason, never printed.
            .errorHandler((error) -> lastError = oneLine(error))
            .egressListener(this);
    }

    /**
     * @return the most bytes one Spate message may take on the ingress (the cluster's session header aside).
     */
    int maxMessageLengthBytes()
    {
        return cluster.ingressPublication().maxMessageLength() - AeronCluster.SESSION_HEADER_LENGTH;
    }

    long clusterSessionId()
    {
        return cluster.clusterSessionId();
    }

    int leaderMemberId()
    {
        return null == cluster ? -1 : cluster.leaderMemberId();
    }

    /**
     * @return whether the session is over for good (then {@link #closedReason()} says why).
     */
    boolean isClosed()
    {
        return null == cluster || cluster.isClosed();
    }

    /**
     * @return why the session is over: closed by the cluster, no new leader in time, or the client failed.
     */
    String closedReason()
    {
        if (null != failure)
        {
            return failure;
        }
        if (null != sessionEventDetail && sessionEventDetail.startsWith("CLOSED"))
        {
            return "the cluster closed this session (" + sessionEventDetail + ")";
        }
        final long newLeaderTimeoutMs = null == cluster ? 0 :
            TimeUnit.NANOSECONDS.toMillis(cluster.context().newLeaderTimeoutNs());
        final long messageTimeoutMs = null == cluster ? 0 :
            TimeUnit.NANOSECONDS.toMillis(cluster.context().messageTimeoutNs());
        return "lost the cluster: no new leader within " + newLeaderTimeoutMs + " ms, or no ingress to it within " +
            messageTimeoutMs + " ms (AeronCluster closed the session" +
            (null == sessionEventDetail ? "" : "; last event: " + sessionEventDetail) +
            (null == lastError ? "" : "; last error: " + lastError) + ")";
    }

    long leaderChanges()
    {
        return leaderChanges;
    }

    long resentBatches()
    {
        return resentBatches;
    }

    long duplicateAcks()
    {
        return unacked.duplicateAcks();
    }

    int unackedBatches()
    {
        return unacked.size();
    }

    UnackedBatches unacked()
    {
        return unacked;
    }

    /**
     * Sends a batch, after every resend a new leader is owed; retained until its ack.
     *
     * @return a position, {@link Publication#BACK_PRESSURED} (try again) or {@link Publication#CLOSED} (over).
     */
    long offerBatch(final long correlationId, final DirectBuffer buffer, final int offset, final int lengthBytes)
    {
        if (isClosed())
        {
            return Publication.CLOSED;
        }
        if (!resend() || !unacked.hasRoomFor(lengthBytes))
        {
            return Publication.BACK_PRESSURED;
        }
        final long result = offer(buffer, offset, lengthBytes);
        if (result > 0)
        {
            unacked.append(correlationId, buffer, offset, lengthBytes);
        }
        return result;
    }

    /**
     * Sends a read request, after every resend; it is sent again to a new leader until {@link #readDone()}.
     * Its bytes must stay unchanged in {@code buffer} until then.
     *
     * @return a position, {@link Publication#BACK_PRESSURED} (try again) or {@link Publication#CLOSED} (over).
     */
    long offerRead(final DirectBuffer buffer, final int lengthBytes)
    {
        if (isClosed())
        {
            return Publication.CLOSED;
        }
        if (!resend())
        {
            return Publication.BACK_PRESSURED;
        }
        final long result = offer(buffer, 0, lengthBytes);
        if (result > 0)
        {
            readBuffer = buffer;
            readLengthBytes = lengthBytes;
        }
        return result;
    }

    /**
     * The read is answered, or abandoned: it is not sent again.
     */
    void readDone()
    {
        readBuffer = null;
        readResendPending = false;
    }

    /**
     * Polls the egress (answers, leader changes, the session's end), carries on resends, keeps an idle session
     * alive.
     *
     * @return work done.
     */
    int poll()
    {
        if (isClosed())
        {
            return 0;
        }
        int workCount;
        try
        {
            workCount = cluster.pollEgress();
        }
        catch (final RuntimeException ex)
        {
            // E.g. no publication to the new leader within the message timeout: the session cannot go on.
            failure = "lost the cluster: " + oneLine(ex);
            CloseHelper.quietClose(cluster);
            return 1;
        }
        if (resendPending && !cluster.isClosed())
        {
            resend();
        }
        else if (0 == workCount)
        {
            keepAlive();
        }
        return workCount;
    }

    private void keepAlive()
    {
        final long nowNs = System.nanoTime();
        if (nowNs - lastKeepAliveCheckNs < KEEP_ALIVE_INTERVAL_NS)
        {
            return;
        }
        if (!sentSinceKeepAliveCheck && !cluster.isClosed())
        {
            try
            {
                cluster.sendKeepAlive(); // false (back pressure, no leader): the next check tries again
            }
            catch (final RuntimeException ex)
            {
                // MAX_POSITION_EXCEEDED: AeronCluster closes the session on its next poll, which reports it.
            }
        }
        sentSinceKeepAliveCheck = false;
        lastKeepAliveCheckNs = nowNs;
    }

    /**
     * Sends what a new leader is owed, oldest first, as far as the ingress takes it now.
     *
     * @return true when nothing is left to resend.
     */
    private boolean resend()
    {
        if (!resendPending)
        {
            return true;
        }
        // At most every retained batch once: the sequence only grows and stops at the tail.
        while (true)
        {
            if (resendSequence < unacked.headSequence())
            {
                resendSequence = unacked.headSequence(); // acked and popped meanwhile
            }
            if (resendSequence >= unacked.tailSequence())
            {
                break;
            }
            if (unacked.isAcked(resendSequence))
            {
                resendSequence++;
                continue;
            }
            if (offer(unacked.buffer(), unacked.offsetBytes(resendSequence), unacked.lengthBytes(resendSequence)) <= 0)
            {
                return false;
            }
            resendSequence++;
            resentBatches++;
        }
        if (readResendPending)
        {
            if (offer(readBuffer, 0, readLengthBytes) <= 0)
            {
                return false;
            }
            readResendPending = false;
        }
        resendPending = false;
        return true;
    }

    /**
     * @return a position, else {@link Publication#BACK_PRESSURED} for every "not now" (back pressure, admin
     * action, no leader: its publication not connected or closed) or {@link Publication#CLOSED} once AeronCluster
     * has closed.
     */
    private long offer(final DirectBuffer buffer, final int offset, final int lengthBytes)
    {
        final long result = cluster.offer(buffer, offset, lengthBytes);
        if (result > 0)
        {
            sentSinceKeepAliveCheck = true;
            return result;
        }
        // MAX_POSITION_EXCEEDED: AeronCluster is closing the session; its next poll closes it and it is reported.
        return cluster.isClosed() ? Publication.CLOSED : Publication.BACK_PRESSURED;
    }

    // ------------------------------------------------------------------------------------------
    // EgressListener: called from pollEgress, on the client's thread. Nothing is offered from here.
    // ------------------------------------------------------------------------------------------

    public void onMessage(
        final long clusterSessionId,
        final long timestamp,
        final DirectBuffer buffer,
        final int offset,
        final int length,
        final Header header)
    {
        messageHandler.onFragment(buffer, offset, length, header);
    }

    public void onSessionEvent(
        final long correlationId,
        final long clusterSessionId,
        final long leadershipTermId,
        final int leaderMemberId,
        final EventCode code,
        final String detail)
    {
        sessionEventDetail = code + (null == detail || detail.isEmpty() ? "" : ": " + detail);
    }

    public void onNewLeader(
        final long clusterSessionId,
        final long leadershipTermId,
        final int leaderMemberId,
        final String ingressEndpoints)
    {
        // What the old leader had not answered may be lost with it: all of it goes again, before anything new.
        leaderChanges++;
        resendPending = true;
        resendSequence = unacked.headSequence();
        readResendPending = null != readBuffer;
    }

    /**
     * Ends the session (a close request to the leader when connected); the Aeron client is the caller's.
     */
    public void close()
    {
        CloseHelper.quietClose(cluster);
    }

    /**
     * The session is over: nothing of it is resent (the client fails its unacked batches, oldest first).
     */
    void clearInFlight()
    {
        resendPending = false;
        readBuffer = null;
        readResendPending = false;
    }

    private static String oneLine(final Throwable error)
    {
        final String message = error instanceof AeronException ? error.getMessage() : String.valueOf(error);
        if (null == message)
        {
            return error.getClass().getSimpleName();
        }
        // Aeron's messages start with their category ("ERROR - "): noise in a one-line reason.
        return (message.startsWith("ERROR - ") ? message.substring(8) : message).replace('\n', ' ');
    }
}
