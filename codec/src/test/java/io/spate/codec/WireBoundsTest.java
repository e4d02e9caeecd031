package io.spate.codec;

import com.sun.management.ThreadMXBean;
import io.spate.wire.AckDecoder;
import io.spate.wire.AckEncoder;
import io.spate.wire.BatchAppliedDecoder;
import io.spate.wire.BatchAppliedEncoder;
import io.spate.wire.ConnectDecoder;
import io.spate.wire.ConnectEncoder;
import io.spate.wire.ConnectResponseDecoder;
import io.spate.wire.ConnectResponseEncoder;
import io.spate.wire.ConnectStatus;
import io.spate.wire.CreateDecoder;
import io.spate.wire.DispatchDecoder;
import io.spate.wire.DispatchEncoder;
import io.spate.wire.MessageHeaderDecoder;
import io.spate.wire.MessageHeaderEncoder;
import io.spate.wire.ReadKind;
import io.spate.wire.ReadRequestDecoder;
import io.spate.wire.ReadRequestEncoder;
import io.spate.wire.ReadResponseDecoder;
import io.spate.wire.ReadResponseEncoder;
import io.spate.wire.ReconnectDecoder;
import io.spate.wire.ReconnectEncoder;
import io.spate.wire.RecordStatus;
import io.spate.wire.SessionCloseReason;
import io.spate.wire.SessionClosedDecoder;
import io.spate.wire.SessionClosedEncoder;
import io.spate.wire.SessionSettingsDecoder;
import io.spate.wire.SessionSettingsEncoder;
import io.spate.wire.VarDataEncodingDecoder;
import io.spate.wire.VarStringEncodingDecoder;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.sbe.MessageEncoderFlyweight;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.management.ManagementFactory;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;

import static io.spate.codec.RecordFraming.BLOCK_LENGTH_OFFSET;
import static io.spate.codec.RecordFraming.FRAME_LENGTH_OFFSET;
import static io.spate.codec.RecordFraming.HEADER_LENGTH_BYTES;
import static io.spate.codec.RecordFraming.SCHEMA_ID_OFFSET;
import static io.spate.codec.RecordFraming.TEMPLATE_ID_OFFSET;
import static io.spate.codec.RecordFraming.VERSION_OFFSET;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link WireBounds} refuses every pipeline message a generated decoder could not read inside its
 * bounds, and whatever it accepts decodes in full. Messages are checked and decoded in buffers that
 * end exactly where the message ends (with bounds checks on), so a read past the message throws.
 */
class WireBoundsTest
{
    /** Where messages start in their exact buffers: a non-zero offset catches offset mistakes. */
    private static final int OFFSET = 5;
    private static final int SEEDS_PER_KIND = 3_000;
    private static final long[] INTERESTING_VALUES =
    {
        0, 1, 2, 3, 4, 5, 7, 8, 11, 12, 13, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFE, 0xFFFF,
        0x1_0000, 0x1_0001, 0x10_0000, 0x10_0001, 0x7FFF_FFFFL, 0x8000_0000L, 0xFFFF_FFFEL, 0xFFFF_FFFFL
    };

    enum Role
    {
        FRAME_LENGTH, BLOCK_LENGTH, GROUP_BLOCK_LENGTH, GROUP_COUNT, VAR_LENGTH
    }

    /**
     * A length field of an encoded message.
     *
     * @param position from the start of the message.
     * @param width    2 or 4 bytes.
     * @param bound    the smallest valid block length, or the largest valid var-data length.
     */
    record LengthField(Role role, int position, int width, long bound)
    {
    }

    record Encoded(Kind kind, UnsafeBuffer buffer, int lengthBytes, List<LengthField> lengthFields)
    {
        UnsafeBuffer copy()
        {
            return exactCopy(buffer, OFFSET, lengthBytes);
        }
    }

    /**
     * The eight pipeline messages: how to encode one (fixed values, or random ones with non-empty and
     * empty groups and var data) and how to decode every field, group and var-data of it.
     */
    enum Kind
    {
        CONNECT(ConnectDecoder.TEMPLATE_ID,
            "Connect{clientId=42, correlationId=77, schemaHash=5, responseStreamId=1001, " +
            "responseChannel=aeron:udp?endpoint=localhost:40123, schemaName=social, credentials=[1, 2, 3]}")
        {
            int encode(final MutableDirectBuffer buffer, final int offset, final Random random,
                final List<LengthField> fields)
            {
                final ConnectEncoder encoder = new ConnectEncoder()
                    .wrapAndApplyHeader(buffer, offset, new MessageHeaderEncoder())
                    .clientId(longValue(random, 42))
                    .correlationId(longValue(random, 77))
                    .schemaHash(longValue(random, 5))
                    .responseStreamId((int)longValue(random, 1001));
                varField(fields, encoder.limit() - offset, VarStringEncodingDecoder.lengthMaxValue());
                encoder.responseChannel(text(random, "aeron:udp?endpoint=localhost:40123"));
                varField(fields, encoder.limit() - offset, VarStringEncodingDecoder.lengthMaxValue());
                encoder.schemaName(text(random, "social"));
                varField(fields, encoder.limit() - offset, VarDataEncodingDecoder.lengthMaxValue());
                final byte[] credentials = bytes(random, new byte[]{ 1, 2, 3 });
                encoder.putCredentials(credentials, 0, credentials.length);
                return finish(buffer, offset, encoder);
            }

            int decode(final DirectBuffer buffer, final int offset, final StringBuilder out)
            {
                final ConnectDecoder decoder = new ConnectDecoder()
                    .wrapAndApplyHeader(buffer, offset, new MessageHeaderDecoder());
                out.append("Connect{clientId=").append(decoder.clientId())
                    .append(", correlationId=").append(decoder.correlationId())
                    .append(", schemaHash=").append(decoder.schemaHash())
                    .append(", responseStreamId=").append(decoder.responseStreamId())
                    .append(", responseChannel=").append(decoder.responseChannel())
                    .append(", schemaName=").append(decoder.schemaName());
                final byte[] credentials = new byte[decoder.credentialsLength()];
                decoder.getCredentials(credentials, 0, credentials.length);
                out.append(", credentials=").append(java.util.Arrays.toString(credentials)).append('}');
                return decoder.limit() - offset;
            }

            int check(final DirectBuffer buffer, final int offset, final int lengthBytes)
            {
                return WireBounds.checkConnect(buffer, offset, lengthBytes);
            }
        },

        RECONNECT(ReconnectDecoder.TEMPLATE_ID,
            "Reconnect{clientId=42, correlationId=78, sessionId=9, schemaHash=5, responseStreamId=1001, " +
            "responseChannel=aeron:ipc, schemaName=social, credentials=[4, 5]}")
        {
            int encode(final MutableDirectBuffer buffer, final int offset, final Random random,
                final List<LengthField> fields)
            {
                final ReconnectEncoder encoder = new ReconnectEncoder()
                    .wrapAndApplyHeader(buffer, offset, new MessageHeaderEncoder())
                    .clientId(longValue(random, 42))
                    .correlationId(longValue(random, 78))
                    .sessionId(longValue(random, 9))
                    .schemaHash(longValue(random, 5))
                    .responseStreamId((int)longValue(random, 1001));
                varField(fields, encoder.limit() - offset, VarStringEncodingDecoder.lengthMaxValue());
                encoder.responseChannel(text(random, "aeron:ipc"));
                varField(fields, encoder.limit() - offset, VarStringEncodingDecoder.lengthMaxValue());
                encoder.schemaName(text(random, "social"));
                varField(fields, encoder.limit() - offset, VarDataEncodingDecoder.lengthMaxValue());
                final byte[] credentials = bytes(random, new byte[]{ 4, 5 });
                encoder.putCredentials(credentials, 0, credentials.length);
                return finish(buffer, offset, encoder);
            }

            int decode(final DirectBuffer buffer, final int offset, final StringBuilder out)
            {
                final ReconnectDecoder decoder = new ReconnectDecoder()
                    .wrapAndApplyHeader(buffer, offset, new MessageHeaderDecoder());
                out.append("Reconnect{clientId=").append(decoder.clientId())
                    .append(", correlationId=").append(decoder.correlationId())
                    .append(", sessionId=").append(decoder.sessionId())
                    .append(", schemaHash=").append(decoder.schemaHash())
                    .append(", responseStreamId=").append(decoder.responseStreamId())
                    .append(", responseChannel=").append(decoder.responseChannel())
                    .append(", schemaName=").append(decoder.schemaName());
                final byte[] credentials = new byte[decoder.credentialsLength()];
                decoder.getCredentials(credentials, 0, credentials.length);
                out.append(", credentials=").append(java.util.Arrays.toString(credentials)).append('}');
                return decoder.limit() - offset;
            }

            int check(final DirectBuffer buffer, final int offset, final int lengthBytes)
            {
                return WireBounds.checkReconnect(buffer, offset, lengthBytes);
            }
        },

        SESSION_SETTINGS(SessionSettingsDecoder.TEMPLATE_ID,
            "SessionSettings{sessionId=9, ledgerBatches=1024, maxBatchBytes=262144, maxRecordsPerBatch=8192}")
        {
            int encode(final MutableDirectBuffer buffer, final int offset, final Random random,
                final List<LengthField> fields)
            {
                final SessionSettingsEncoder encoder = new SessionSettingsEncoder()
                    .wrapAndApplyHeader(buffer, offset, new MessageHeaderEncoder())
                    .sessionId(longValue(random, 9))
                    .ledgerBatches(u32Value(random, 1024))
                    .maxBatchBytes(u32Value(random, 262144))
                    .maxRecordsPerBatch(u32Value(random, 8192));
                return finish(buffer, offset, encoder);
            }

            int decode(final DirectBuffer buffer, final int offset, final StringBuilder out)
            {
                final SessionSettingsDecoder decoder = new SessionSettingsDecoder()
                    .wrapAndApplyHeader(buffer, offset, new MessageHeaderDecoder());
                out.append("SessionSettings{sessionId=").append(decoder.sessionId())
                    .append(", ledgerBatches=").append(decoder.ledgerBatches())
                    .append(", maxBatchBytes=").append(decoder.maxBatchBytes())
                    .append(", maxRecordsPerBatch=").append(decoder.maxRecordsPerBatch()).append('}');
                return decoder.limit() - offset;
            }

            int check(final DirectBuffer buffer, final int offset, final int lengthBytes)
            {
                return WireBounds.checkSessionSettings(buffer, offset, lengthBytes);
            }
        },

        CONNECT_RESPONSE(ConnectResponseDecoder.TEMPLATE_ID,
            "ConnectResponse{correlationId=77, sessionId=9, pipelineSchemaHash=5, status=SCHEMA_MISMATCH, " +
            "detail=schemas differ}")
        {
            int encode(final MutableDirectBuffer buffer, final int offset, final Random random,
                final List<LengthField> fields)
            {
                final ConnectStatus[] statuses = ConnectStatus.values();
                final ConnectResponseEncoder encoder = new ConnectResponseEncoder()
                    .wrapAndApplyHeader(buffer, offset, new MessageHeaderEncoder())
                    .correlationId(longValue(random, 77))
                    .sessionId(longValue(random, 9))
                    .pipelineSchemaHash(longValue(random, 5))
                    .status(null == random ? ConnectStatus.SCHEMA_MISMATCH : statuses[random.nextInt(statuses.length - 1)]);
                varField(fields, encoder.limit() - offset, VarStringEncodingDecoder.lengthMaxValue());
                encoder.detail(text(random, "schemas differ"));
                return finish(buffer, offset, encoder);
            }

            int decode(final DirectBuffer buffer, final int offset, final StringBuilder out)
            {
                final ConnectResponseDecoder decoder = new ConnectResponseDecoder()
                    .wrapAndApplyHeader(buffer, offset, new MessageHeaderDecoder());
                out.append("ConnectResponse{correlationId=").append(decoder.correlationId())
                    .append(", sessionId=").append(decoder.sessionId())
                    .append(", pipelineSchemaHash=").append(decoder.pipelineSchemaHash())
                    .append(", status=").append(decoder.status())
                    .append(", detail=").append(decoder.detail()).append('}');
                return decoder.limit() - offset;
            }

            int check(final DirectBuffer buffer, final int offset, final int lengthBytes)
            {
                return WireBounds.checkConnectResponse(buffer, offset, lengthBytes);
            }
        },

        ACK(AckDecoder.TEMPLATE_ID,
            "Ack{sessionId=7, correlationId=99, recordCount=3, status=UNKNOWN_FIELD, " +
            "createdIds=[(1001, 0)(1002, 2)], errors=[(1, UNKNOWN_FIELD)]}")
        {
            int encode(final MutableDirectBuffer buffer, final int offset, final Random random,
                final List<LengthField> fields)
            {
                final AckEncoder encoder = new AckEncoder()
                    .wrapAndApplyHeader(buffer, offset, new MessageHeaderEncoder())
                    .sessionId(longValue(random, 7))
                    .correlationId(longValue(random, 99))
                    .recordCount(u32Value(random, 3))
                    .status(recordStatus(random, RecordStatus.UNKNOWN_FIELD));
                groupFields(fields, encoder.limit() - offset, AckDecoder.CreatedIdsDecoder.sbeBlockLength());
                final int createdCount = count(random, 2);
                final AckEncoder.CreatedIdsEncoder created = encoder.createdIdsCount(createdCount);
                for (int i = 0; i < createdCount; i++)
                {
                    created.next().nodeId(longValue(random, 1001 + i)).recordIndex(u32Value(random, 2L * i));
                }
                groupFields(fields, encoder.limit() - offset, AckDecoder.ErrorsDecoder.sbeBlockLength());
                final int errorCount = count(random, 1);
                final AckEncoder.ErrorsEncoder errors = encoder.errorsCount(errorCount);
                for (int i = 0; i < errorCount; i++)
                {
                    errors.next()
                        .recordIndex(u32Value(random, 1 + i))
                        .status(recordStatus(random, RecordStatus.UNKNOWN_FIELD));
                }
                return finish(buffer, offset, encoder);
            }

            int decode(final DirectBuffer buffer, final int offset, final StringBuilder out)
            {
                final AckDecoder decoder = new AckDecoder()
                    .wrapAndApplyHeader(buffer, offset, new MessageHeaderDecoder());
                out.append("Ack{sessionId=").append(decoder.sessionId())
                    .append(", correlationId=").append(decoder.correlationId())
                    .append(", recordCount=").append(decoder.recordCount())
                    .append(", status=").append(decoder.status())
                    .append(", createdIds=[");
                for (final AckDecoder.CreatedIdsDecoder created : decoder.createdIds())
                {
                    out.append('(').append(created.nodeId()).append(", ").append(created.recordIndex()).append(')');
                }
                out.append("], errors=[");
                for (final AckDecoder.ErrorsDecoder error : decoder.errors())
                {
                    out.append('(').append(error.recordIndex()).append(", ").append(error.status()).append(')');
                }
                out.append("]}");
                return decoder.limit() - offset;
            }

            int check(final DirectBuffer buffer, final int offset, final int lengthBytes)
            {
                return WireBounds.checkAck(buffer, offset, lengthBytes);
            }
        },

        DISPATCH(DispatchDecoder.TEMPLATE_ID,
            "Dispatch{batchSeq=12, offsetBytes=4096, lengthBytes=5, recordCount=1, dispatchTimeNs=123456789, " +
            "barriers=[(10, 0)(11, 1)], payload=[1, 2, 3, 4, 5]}")
        {
            int encode(final MutableDirectBuffer buffer, final int offset, final Random random,
                final List<LengthField> fields)
            {
                final DispatchEncoder encoder = new DispatchEncoder()
                    .wrapAndApplyHeader(buffer, offset, new MessageHeaderEncoder())
                    .batchSeq(longValue(random, 12))
                    .offsetBytes(u32Value(random, 4096))
                    .lengthBytes(u32Value(random, 5))
                    .recordCount(u32Value(random, 1))
                    .dispatchTimeNs(longValue(random, 123456789));
                groupFields(fields, encoder.limit() - offset, DispatchDecoder.BarriersDecoder.sbeBlockLength());
                final int barrierCount = count(random, 2);
                final DispatchEncoder.BarriersEncoder barriers = encoder.barriersCount(barrierCount);
                for (int i = 0; i < barrierCount; i++)
                {
                    barriers.next().seq(longValue(random, 10 + i)).worker((int)u16Value(random, i));
                }
                varField(fields, encoder.limit() - offset, VarDataEncodingDecoder.lengthMaxValue());
                final byte[] payload = bytes(random, new byte[]{ 1, 2, 3, 4, 5 });
                encoder.putPayload(payload, 0, payload.length);
                return finish(buffer, offset, encoder);
            }

            int decode(final DirectBuffer buffer, final int offset, final StringBuilder out)
            {
                final DispatchDecoder decoder = new DispatchDecoder()
                    .wrapAndApplyHeader(buffer, offset, new MessageHeaderDecoder());
                out.append("Dispatch{batchSeq=").append(decoder.batchSeq())
                    .append(", offsetBytes=").append(decoder.offsetBytes())
                    .append(", lengthBytes=").append(decoder.lengthBytes())
                    .append(", recordCount=").append(decoder.recordCount())
                    .append(", dispatchTimeNs=").append(decoder.dispatchTimeNs())
                    .append(", barriers=[");
                for (final DispatchDecoder.BarriersDecoder barrier : decoder.barriers())
                {
                    out.append('(').append(barrier.seq()).append(", ").append(barrier.worker()).append(')');
                }
                final byte[] payload = new byte[decoder.payloadLength()];
                decoder.getPayload(payload, 0, payload.length);
                out.append("], payload=").append(Arrays.toString(payload)).append('}');
                return decoder.limit() - offset;
            }

            int check(final DirectBuffer buffer, final int offset, final int lengthBytes)
            {
                return WireBounds.checkDispatch(buffer, offset, lengthBytes);
            }
        },

        BATCH_APPLIED(BatchAppliedDecoder.TEMPLATE_ID,
            "BatchApplied{batchSeq=12, recordCount=4, worker=1, applyStartNs=1000, applyEndNs=2000, " +
            "failures=[(2, NO_SUCH_NODE)(3, NO_SUCH_NODE)]}")
        {
            int encode(final MutableDirectBuffer buffer, final int offset, final Random random,
                final List<LengthField> fields)
            {
                final BatchAppliedEncoder encoder = new BatchAppliedEncoder()
                    .wrapAndApplyHeader(buffer, offset, new MessageHeaderEncoder())
                    .batchSeq(longValue(random, 12))
                    .recordCount(u32Value(random, 4))
                    .worker((int)u16Value(random, 1))
                    .applyStartNs(longValue(random, 1000))
                    .applyEndNs(longValue(random, 2000));
                groupFields(fields, encoder.limit() - offset, BatchAppliedDecoder.FailuresDecoder.sbeBlockLength());
                final int failureCount = count(random, 2);
                final BatchAppliedEncoder.FailuresEncoder failures = encoder.failuresCount(failureCount);
                for (int i = 0; i < failureCount; i++)
                {
                    failures.next()
                        .recordIndex(u32Value(random, 2 + i))
                        .status(recordStatus(random, RecordStatus.NO_SUCH_NODE));
                }
                return finish(buffer, offset, encoder);
            }

            int decode(final DirectBuffer buffer, final int offset, final StringBuilder out)
            {
                final BatchAppliedDecoder decoder = new BatchAppliedDecoder()
                    .wrapAndApplyHeader(buffer, offset, new MessageHeaderDecoder());
                out.append("BatchApplied{batchSeq=").append(decoder.batchSeq())
                    .append(", recordCount=").append(decoder.recordCount())
                    .append(", worker=").append(decoder.worker())
                    .append(", applyStartNs=").append(decoder.applyStartNs())
                    .append(", applyEndNs=").append(decoder.applyEndNs())
                    .append(", failures=[");
                for (final BatchAppliedDecoder.FailuresDecoder failure : decoder.failures())
                {
                    out.append('(').append(failure.recordIndex()).append(", ").append(failure.status()).append(')');
                }
                out.append("]}");
                return decoder.limit() - offset;
            }

            int check(final DirectBuffer buffer, final int offset, final int lengthBytes)
            {
                return WireBounds.checkBatchApplied(buffer, offset, lengthBytes);
            }
        },

        READ_REQUEST(ReadRequestDecoder.TEMPLATE_ID,
            "ReadRequest{sessionId=7, correlationId=100, nodeId=55, typeId=2, kind=COUNT}")
        {
            int encode(final MutableDirectBuffer buffer, final int offset, final Random random,
                final List<LengthField> fields)
            {
                final ReadKind[] kinds = { ReadKind.GET, ReadKind.COUNT };
                final ReadRequestEncoder encoder = new ReadRequestEncoder()
                    .wrapAndApplyHeader(buffer, offset, new MessageHeaderEncoder())
                    .sessionId(longValue(random, 7))
                    .correlationId(longValue(random, 100))
                    .nodeId(longValue(random, 55))
                    .typeId((int)u16Value(random, 2))
                    .kind(null == random ? ReadKind.COUNT : kinds[random.nextInt(kinds.length)]);
                return finish(buffer, offset, encoder);
            }

            int decode(final DirectBuffer buffer, final int offset, final StringBuilder out)
            {
                final ReadRequestDecoder decoder = new ReadRequestDecoder()
                    .wrapAndApplyHeader(buffer, offset, new MessageHeaderDecoder());
                out.append("ReadRequest{sessionId=").append(decoder.sessionId())
                    .append(", correlationId=").append(decoder.correlationId())
                    .append(", nodeId=").append(decoder.nodeId())
                    .append(", typeId=").append(decoder.typeId())
                    .append(", kind=").append(decoder.kind()).append('}');
                return decoder.limit() - offset;
            }

            int check(final DirectBuffer buffer, final int offset, final int lengthBytes)
            {
                return WireBounds.checkReadRequest(buffer, offset, lengthBytes);
            }
        },

        READ_RESPONSE(ReadResponseDecoder.TEMPLATE_ID,
            "ReadResponse{sessionId=7, correlationId=100, count=1, typeId=2, status=OK, node=[9, 8, 7]}")
        {
            int encode(final MutableDirectBuffer buffer, final int offset, final Random random,
                final List<LengthField> fields)
            {
                final ReadResponseEncoder encoder = new ReadResponseEncoder()
                    .wrapAndApplyHeader(buffer, offset, new MessageHeaderEncoder())
                    .sessionId(longValue(random, 7))
                    .correlationId(longValue(random, 100))
                    .count(longValue(random, 1))
                    .typeId((int)u16Value(random, 2))
                    .status(recordStatus(random, RecordStatus.OK));
                varField(fields, encoder.limit() - offset, VarDataEncodingDecoder.lengthMaxValue());
                final byte[] node = bytes(random, new byte[]{ 9, 8, 7 });
                encoder.putNode(node, 0, node.length);
                return finish(buffer, offset, encoder);
            }

            int decode(final DirectBuffer buffer, final int offset, final StringBuilder out)
            {
                final ReadResponseDecoder decoder = new ReadResponseDecoder()
                    .wrapAndApplyHeader(buffer, offset, new MessageHeaderDecoder());
                out.append("ReadResponse{sessionId=").append(decoder.sessionId())
                    .append(", correlationId=").append(decoder.correlationId())
                    .append(", count=").append(decoder.count())
                    .append(", typeId=").append(decoder.typeId())
                    .append(", status=").append(decoder.status());
                final byte[] node = new byte[decoder.nodeLength()];
                decoder.getNode(node, 0, node.length);
                out.append(", node=").append(Arrays.toString(node)).append('}');
                return decoder.limit() - offset;
            }

            int check(final DirectBuffer buffer, final int offset, final int lengthBytes)
            {
                return WireBounds.checkReadResponse(buffer, offset, lengthBytes);
            }
        },

        SESSION_CLOSED(SessionClosedDecoder.TEMPLATE_ID,
            "SessionClosed{sessionId=7, reason=NOT_READING, detail=acks unread for 5000 ms}")
        {
            int encode(final MutableDirectBuffer buffer, final int offset, final Random random,
                final List<LengthField> fields)
            {
                final SessionCloseReason[] reasons = SessionCloseReason.values();
                final SessionClosedEncoder encoder = new SessionClosedEncoder()
                    .wrapAndApplyHeader(buffer, offset, new MessageHeaderEncoder())
                    .sessionId(longValue(random, 7))
                    .reason(null == random ?
                        SessionCloseReason.NOT_READING : reasons[random.nextInt(reasons.length - 1)]);
                varField(fields, encoder.limit() - offset, VarStringEncodingDecoder.lengthMaxValue());
                encoder.detail(text(random, "acks unread for 5000 ms"));
                return finish(buffer, offset, encoder);
            }

            int decode(final DirectBuffer buffer, final int offset, final StringBuilder out)
            {
                final SessionClosedDecoder decoder = new SessionClosedDecoder()
                    .wrapAndApplyHeader(buffer, offset, new MessageHeaderDecoder());
                out.append("SessionClosed{sessionId=").append(decoder.sessionId())
                    .append(", reason=").append(decoder.reason())
                    .append(", detail=").append(decoder.detail()).append('}');
                return decoder.limit() - offset;
            }

            int check(final DirectBuffer buffer, final int offset, final int lengthBytes)
            {
                return WireBounds.checkSessionClosed(buffer, offset, lengthBytes);
            }
        };

        final int templateId;
        final String expected;

        Kind(final int templateId, final String expected)
        {
            this.templateId = templateId;
            this.expected = expected;
        }

        /**
         * Encodes a message at offset: the fixed values when random is null, else random ones.
         *
         * @param fields gets the group and var-data length fields, in message order.
         * @return the message length.
         */
        abstract int encode(MutableDirectBuffer buffer, int offset, Random random, List<LengthField> fields);

        /**
         * Reads every field, group entry and var-data of the message in schema order.
         *
         * @return the bytes the decoder consumed.
         */
        abstract int decode(DirectBuffer buffer, int offset, StringBuilder out);

        /**
         * @return this kind's check of {@link WireBounds}.
         */
        abstract int check(DirectBuffer buffer, int offset, int lengthBytes);

        static Kind byTemplateId(final int templateId)
        {
            for (final Kind kind : values())
            {
                if (kind.templateId == templateId)
                {
                    return kind;
                }
            }
            return null;
        }
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void shouldAcceptAndDecodeAValidMessage(final Kind kind)
    {
        final Encoded message = encode(kind, null);
        final UnsafeBuffer buffer = message.copy();
        assertEquals(WireBounds.OK, kind.check(buffer, OFFSET, message.lengthBytes()));
        assertEquals(WireBounds.OK, WireBounds.check(buffer, OFFSET, message.lengthBytes()));
        final StringBuilder decoded = new StringBuilder();
        assertEquals(message.lengthBytes(), kind.decode(buffer, OFFSET, decoded));
        assertEquals(kind.expected, decoded.toString());
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void shouldAcceptAndDecodeRandomValidMessages(final Kind kind)
    {
        for (int seed = 0; seed < 200; seed++)
        {
            final Encoded message = encode(kind, new Random(seed));
            final UnsafeBuffer buffer = message.copy();
            assertEquals(WireBounds.OK, WireBounds.check(buffer, OFFSET, message.lengthBytes()), "seed " + seed);
            assertEquals(message.lengthBytes(), kind.decode(buffer, OFFSET, new StringBuilder()), "seed " + seed);
        }
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void shouldAcceptALongerBlockFromANewerWriterAndSkipIt(final Kind kind)
    {
        final Encoded message = encode(kind, null);
        final int extraBytes = 8;
        final int blockLength = u16(message.buffer(), OFFSET + BLOCK_LENGTH_OFFSET);
        final int blockEnd = HEADER_LENGTH_BYTES + blockLength;
        final int lengthBytes = message.lengthBytes() + extraBytes;
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[OFFSET + lengthBytes]);
        buffer.putBytes(OFFSET, message.buffer(), OFFSET, blockEnd);
        buffer.setMemory(OFFSET + blockEnd, extraBytes, (byte)0xEE);
        buffer.putBytes(OFFSET + blockEnd + extraBytes, message.buffer(), OFFSET + blockEnd,
            message.lengthBytes() - blockEnd);
        buffer.putShort(OFFSET + BLOCK_LENGTH_OFFSET, (short)(blockLength + extraBytes), ByteOrder.LITTLE_ENDIAN);
        buffer.putInt(OFFSET + FRAME_LENGTH_OFFSET, lengthBytes, ByteOrder.LITTLE_ENDIAN);

        assertEquals(WireBounds.OK, WireBounds.check(buffer, OFFSET, lengthBytes));
        final StringBuilder decoded = new StringBuilder();
        assertEquals(lengthBytes, kind.decode(buffer, OFFSET, decoded));
        assertEquals(kind.expected, decoded.toString());
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void shouldRefuseEveryTruncation(final Kind kind)
    {
        final Encoded message = encode(kind, null);
        for (int cut = 0; cut < message.lengthBytes(); cut++)
        {
            final UnsafeBuffer buffer = exactCopy(message.buffer(), OFFSET, cut);
            assertNotEquals(WireBounds.OK, WireBounds.check(buffer, OFFSET, cut), "cut at " + cut);
            assertNotEquals(WireBounds.OK, kind.check(buffer, OFFSET, cut), "cut at " + cut);
            if (cut >= HEADER_LENGTH_BYTES)
            {
                // With a frame length that agrees, the structure alone must give the truncation away.
                buffer.putInt(OFFSET + FRAME_LENGTH_OFFSET, cut, ByteOrder.LITTLE_ENDIAN);
                final int status = WireBounds.check(buffer, OFFSET, cut);
                assertNotEquals(WireBounds.OK, status, "cut at " + cut);
                assertNotEquals(WireBounds.FRAME_LENGTH_MISMATCH, status, "cut at " + cut);
            }
            else
            {
                assertEquals(WireBounds.TOO_SHORT, WireBounds.check(buffer, OFFSET, cut), "cut at " + cut);
            }
        }
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void shouldRefuseOrFullyDecodeEveryCorruptedLengthField(final Kind kind)
    {
        final Encoded message = encode(kind, null);
        final int lengthBytes = message.lengthBytes();
        int refused = 0;
        for (final LengthField field : message.lengthFields())
        {
            final long original = get(message.buffer(), OFFSET + field.position(), field.width());
            final Set<Long> values = new HashSet<>();
            for (final long value : INTERESTING_VALUES)
            {
                values.add(value);
            }
            for (long delta = -3; delta <= 3; delta++)
            {
                values.add(original + delta);
            }
            values.add(original * 2);
            values.add((long)lengthBytes);
            values.add((long)lengthBytes - HEADER_LENGTH_BYTES);

            final long mask = field.width() == 2 ? 0xFFFFL : 0xFFFF_FFFFL;
            for (final long candidate : values)
            {
                final long value = candidate & mask;
                final UnsafeBuffer buffer = message.copy();
                put(buffer, OFFSET + field.position(), field.width(), value);
                final String context = field + " = " + value;
                final int status = WireBounds.check(buffer, OFFSET, lengthBytes);
                assertEquals(status, kind.check(buffer, OFFSET, lengthBytes), context);
                if (value == original)
                {
                    assertEquals(WireBounds.OK, status, context);
                }
                if (WireBounds.OK == status)
                {
                    assertFullyDecodes(kind, buffer, lengthBytes, context);
                    continue;
                }
                refused++;
                switch (field.role())
                {
                    case FRAME_LENGTH -> assertEquals(WireBounds.FRAME_LENGTH_MISMATCH, status, context);
                    case BLOCK_LENGTH ->
                    {
                        if (value < field.bound())
                        {
                            assertEquals(WireBounds.BLOCK_TOO_SHORT, status, context);
                        }
                    }
                    case GROUP_BLOCK_LENGTH ->
                    {
                        if (value < field.bound())
                        {
                            assertEquals(WireBounds.GROUP_BLOCK_TOO_SHORT, status, context);
                        }
                    }
                    case VAR_LENGTH ->
                    {
                        if (field.position() + field.width() + original != lengthBytes)
                        {
                            break; // not the last field: what follows is read from the wrong place, refused some way
                        }
                        // The last var data ends the message: longer overruns it, shorter leaves bytes over.
                        final int expected = value > field.bound() ? WireBounds.VAR_DATA_TOO_LONG :
                            value > original ? WireBounds.VAR_DATA_OVERRUN : WireBounds.TRAILING_BYTES;
                        assertEquals(expected, status, context);
                    }
                    default ->
                    {
                    }
                }
            }
        }
        assertTrue(refused > 0);
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void shouldNeverAcceptWhatCannotBeDecodedUnderRandomMutation(final Kind kind)
    {
        int accepted = 0;
        int refused = 0;
        for (int i = 0; i < SEEDS_PER_KIND; i++)
        {
            final long seed = kind.ordinal() * 1_000_000L + i;
            final Random random = new Random(seed);
            final Encoded message = encode(kind, random);
            UnsafeBuffer buffer = message.copy();
            int lengthBytes = message.lengthBytes();

            final int mutations = 1 + random.nextInt(4);
            for (int m = 0; m < mutations; m++)
            {
                switch (random.nextInt(4))
                {
                    case 0 ->
                    {
                        if (lengthBytes > 0)
                        {
                            buffer.putByte(OFFSET + random.nextInt(lengthBytes), (byte)random.nextInt(256));
                        }
                    }
                    case 1 ->
                    {
                        final List<LengthField> fields = message.lengthFields();
                        final LengthField field = fields.get(random.nextInt(fields.size()));
                        if (field.position() + field.width() <= lengthBytes)
                        {
                            final long original = get(buffer, OFFSET + field.position(), field.width());
                            final long value = random.nextBoolean() ?
                                INTERESTING_VALUES[random.nextInt(INTERESTING_VALUES.length)] :
                                original + random.nextInt(9) - 4;
                            put(buffer, OFFSET + field.position(), field.width(), value);
                        }
                    }
                    case 2 ->
                    {
                        final int newLength = random.nextInt(lengthBytes + 1);
                        buffer = exactCopy(buffer, OFFSET, newLength);
                        lengthBytes = newLength;
                    }
                    default ->
                    {
                        final int extraBytes = 1 + random.nextInt(16);
                        final UnsafeBuffer longer = new UnsafeBuffer(new byte[OFFSET + lengthBytes + extraBytes]);
                        longer.putBytes(0, buffer, 0, OFFSET + lengthBytes);
                        for (int b = 0; b < extraBytes; b++)
                        {
                            longer.putByte(OFFSET + lengthBytes + b, (byte)random.nextInt(256));
                        }
                        buffer = longer;
                        lengthBytes += extraBytes;
                    }
                }
            }
            if (lengthBytes >= HEADER_LENGTH_BYTES && random.nextInt(4) != 0)
            {
                // Mostly keep the frame length in step, so the structural checks are the ones tested.
                buffer.putInt(OFFSET + FRAME_LENGTH_OFFSET, lengthBytes, ByteOrder.LITTLE_ENDIAN);
            }

            final int status = WireBounds.check(buffer, OFFSET, lengthBytes);
            if (WireBounds.OK != status)
            {
                refused++;
                continue;
            }
            accepted++;
            final Kind decodedKind = Kind.byTemplateId(u16(buffer, OFFSET + TEMPLATE_ID_OFFSET));
            final String context = "seed " + seed;
            assertTrue(null != decodedKind, context);
            assertEquals(WireBounds.OK, decodedKind.check(buffer, OFFSET, lengthBytes), context);
            assertFullyDecodes(decodedKind, buffer, lengthBytes, context);
        }
        assertTrue(accepted > SEEDS_PER_KIND / 20, "accepted " + accepted);
        assertTrue(refused > SEEDS_PER_KIND / 2, "refused " + refused);
    }

    /** A crafted Connect: header, a block of blockLength, three empty var fields (all zero bytes). */
    static final int CRAFTED_CONNECT_LENGTH = HEADER_LENGTH_BYTES + ConnectDecoder.BLOCK_LENGTH + 12;

    @ParameterizedTest
    @ValueSource(ints = { ConnectDecoder.BLOCK_LENGTH + 13, 100, 0x7FFF, 0xFFFF })
    void shouldRefuseACraftedConnectWhoseBlockRunsPastIt(final int blockLength)
    {
        final UnsafeBuffer buffer = craftedConnect(blockLength);
        final int lengthBytes = CRAFTED_CONNECT_LENGTH;
        // What the conductor checked once: enough bytes for the template's block and the var lengths. The
        // decoder takes the block length from the message and reads past it.
        assertThrows(IndexOutOfBoundsException.class, () -> new ConnectDecoder()
            .wrapAndApplyHeader(buffer, OFFSET, new MessageHeaderDecoder()).responseChannel());
        assertEquals(WireBounds.BLOCK_OVERRUN, WireBounds.checkConnect(buffer, OFFSET, lengthBytes));
        assertEquals(WireBounds.BLOCK_OVERRUN, WireBounds.check(buffer, OFFSET, lengthBytes));
    }

    @ParameterizedTest
    @ValueSource(ints = { ConnectDecoder.BLOCK_LENGTH + 1, ConnectDecoder.BLOCK_LENGTH + 4, ConnectDecoder.BLOCK_LENGTH + 12 })
    void shouldRefuseACraftedConnectWhoseLongerBlockLeavesNoRoomForItsData(final int blockLength)
    {
        final UnsafeBuffer buffer = craftedConnect(blockLength);
        assertEquals(WireBounds.VAR_DATA_OVERRUN, WireBounds.checkConnect(buffer, OFFSET, CRAFTED_CONNECT_LENGTH));
    }

    @Test
    void shouldAcceptACraftedConnectOfTheTemplatesBlock()
    {
        final UnsafeBuffer buffer = craftedConnect(ConnectDecoder.BLOCK_LENGTH);
        assertEquals(WireBounds.OK, WireBounds.check(buffer, OFFSET, CRAFTED_CONNECT_LENGTH));
        final StringBuilder decoded = new StringBuilder();
        assertEquals(CRAFTED_CONNECT_LENGTH, Kind.CONNECT.decode(buffer, OFFSET, decoded));
        assertEquals("Connect{clientId=42, correlationId=0, schemaHash=0, responseStreamId=1001, responseChannel=, " +
            "schemaName=, credentials=[]}", decoded.toString());
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void shouldRefuseAWrongSchemaId(final Kind kind)
    {
        final Encoded message = encode(kind, null);
        for (final int schemaId : new int[]{ 0, 1700, 1702, 0xFFFF })
        {
            final UnsafeBuffer buffer = message.copy();
            buffer.putShort(OFFSET + SCHEMA_ID_OFFSET, (short)schemaId, ByteOrder.LITTLE_ENDIAN);
            assertEquals(WireBounds.WRONG_SCHEMA, WireBounds.check(buffer, OFFSET, message.lengthBytes()));
            assertEquals(WireBounds.WRONG_SCHEMA, kind.check(buffer, OFFSET, message.lengthBytes()));
        }
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void shouldRefuseAWrongTemplate(final Kind kind)
    {
        final Encoded message = encode(kind, null);
        for (final Kind other : Kind.values())
        {
            if (other != kind)
            {
                assertEquals(WireBounds.WRONG_TEMPLATE, other.check(message.buffer(), OFFSET, message.lengthBytes()),
                    other.name());
            }
        }
        for (final int templateId : new int[]{ 0, CreateDecoder.TEMPLATE_ID, 30, 40, 0xFFFF })
        {
            final UnsafeBuffer buffer = message.copy();
            buffer.putShort(OFFSET + TEMPLATE_ID_OFFSET, (short)templateId, ByteOrder.LITTLE_ENDIAN);
            assertEquals(WireBounds.WRONG_TEMPLATE, WireBounds.check(buffer, OFFSET, message.lengthBytes()));
            assertEquals(WireBounds.WRONG_TEMPLATE, kind.check(buffer, OFFSET, message.lengthBytes()));
        }
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void shouldRefuseANewerVersion(final Kind kind)
    {
        final Encoded message = encode(kind, null);
        for (final int version : new int[]{ MessageHeaderDecoder.SCHEMA_VERSION + 1, 0xFFFF })
        {
            final UnsafeBuffer buffer = message.copy();
            buffer.putShort(OFFSET + VERSION_OFFSET, (short)version, ByteOrder.LITTLE_ENDIAN);
            assertEquals(WireBounds.WRONG_VERSION, WireBounds.check(buffer, OFFSET, message.lengthBytes()));
        }
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void shouldRefuseTrailingBytes(final Kind kind)
    {
        final Encoded message = encode(kind, null);
        for (int extraBytes = 1; extraBytes <= 9; extraBytes++)
        {
            final int lengthBytes = message.lengthBytes() + extraBytes;
            final UnsafeBuffer buffer = new UnsafeBuffer(new byte[OFFSET + lengthBytes]);
            buffer.putBytes(OFFSET, message.buffer(), OFFSET, message.lengthBytes());
            assertEquals(WireBounds.FRAME_LENGTH_MISMATCH, WireBounds.check(buffer, OFFSET, lengthBytes));
            buffer.putInt(OFFSET + FRAME_LENGTH_OFFSET, lengthBytes, ByteOrder.LITTLE_ENDIAN);
            assertEquals(WireBounds.TRAILING_BYTES, WireBounds.check(buffer, OFFSET, lengthBytes));
            assertEquals(WireBounds.TRAILING_BYTES, kind.check(buffer, OFFSET, lengthBytes));
        }
    }

    @Test
    void shouldRefuseEnumValuesTheSchemaDoesNotName()
    {
        final Encoded ack = encode(Kind.ACK, null);
        final UnsafeBuffer ackBuffer = ack.copy();
        final int statusOffset = OFFSET + HEADER_LENGTH_BYTES + AckDecoder.statusEncodingOffset();
        ackBuffer.putByte(statusOffset, (byte)unnamedRecordStatus());
        assertEquals(WireBounds.BAD_ENUM_VALUE, WireBounds.check(ackBuffer, OFFSET, ack.lengthBytes()));
        ackBuffer.putByte(statusOffset, (byte)255);
        assertEquals(WireBounds.OK, WireBounds.check(ackBuffer, OFFSET, ack.lengthBytes()), "255 is the null value");

        final UnsafeBuffer errorBuffer = ack.copy();
        final int lastErrorStatus = OFFSET + ack.lengthBytes() - AckDecoder.ErrorsDecoder.sbeBlockLength() +
            AckDecoder.ErrorsDecoder.statusEncodingOffset();
        errorBuffer.putByte(lastErrorStatus, (byte)unnamedRecordStatus());
        assertEquals(WireBounds.BAD_ENUM_VALUE, WireBounds.check(errorBuffer, OFFSET, ack.lengthBytes()));

        final Encoded request = encode(Kind.READ_REQUEST, null);
        final UnsafeBuffer requestBuffer = request.copy();
        requestBuffer.putByte(OFFSET + HEADER_LENGTH_BYTES + ReadRequestDecoder.kindEncodingOffset(), (byte)2);
        assertEquals(WireBounds.BAD_ENUM_VALUE, WireBounds.check(requestBuffer, OFFSET, request.lengthBytes()));
    }

    /**
     * @return the smallest value the generated RecordStatus does not name (the schema grows).
     */
    private static int unnamedRecordStatus()
    {
        for (int value = 0; value < 255; value++)
        {
            try
            {
                RecordStatus.get((short)value);
            }
            catch (final IllegalArgumentException ignore)
            {
                return value;
            }
        }
        throw new AssertionError("RecordStatus names every value");
    }

    @Test
    void shouldRefuseARangeOutsideTheBuffer()
    {
        final Encoded message = encode(Kind.CONNECT, null);
        final UnsafeBuffer buffer = message.copy();
        final int lengthBytes = message.lengthBytes();
        assertEquals(WireBounds.OUTSIDE_BUFFER, WireBounds.check(buffer, -1, lengthBytes));
        assertEquals(WireBounds.OUTSIDE_BUFFER, WireBounds.check(buffer, OFFSET, -1));
        assertEquals(WireBounds.OUTSIDE_BUFFER, WireBounds.check(buffer, OFFSET, lengthBytes + 1));
        assertEquals(WireBounds.OUTSIDE_BUFFER, WireBounds.checkConnect(buffer, OFFSET + 1, lengthBytes));
        assertEquals(WireBounds.OUTSIDE_BUFFER, WireBounds.check(buffer, Integer.MAX_VALUE, Integer.MAX_VALUE));
    }

    @Test
    void shouldDescribeEveryReason()
    {
        final int[] codes =
        {
            WireBounds.OK, WireBounds.TOO_SHORT, WireBounds.WRONG_SCHEMA, WireBounds.WRONG_TEMPLATE,
            WireBounds.WRONG_VERSION, WireBounds.FRAME_LENGTH_MISMATCH, WireBounds.BLOCK_TOO_SHORT,
            WireBounds.BLOCK_OVERRUN, WireBounds.GROUP_BLOCK_TOO_SHORT, WireBounds.GROUP_OVERRUN,
            WireBounds.VAR_DATA_OVERRUN, WireBounds.VAR_DATA_TOO_LONG, WireBounds.TRAILING_BYTES,
            WireBounds.BAD_ENUM_VALUE, WireBounds.OUTSIDE_BUFFER
        };
        final Set<Integer> distinctCodes = new HashSet<>();
        final Set<String> distinctReasons = new HashSet<>();
        for (final int code : codes)
        {
            distinctCodes.add(code);
            final String reason = WireBounds.reason(code);
            assertFalse(reason.isBlank());
            assertNotEquals(WireBounds.reason(-1), reason);
            distinctReasons.add(reason);
        }
        assertEquals(codes.length, distinctCodes.size());
        assertEquals(codes.length, distinctReasons.size());
        assertEquals("unknown reason", WireBounds.reason(99));
    }

    @Test
    void shouldNotAllocate()
    {
        final ThreadMXBean threads = (ThreadMXBean)ManagementFactory.getThreadMXBean();
        assertTrue(threads.isThreadAllocatedMemorySupported());
        final Encoded[] messages = new Encoded[Kind.values().length];
        for (final Kind kind : Kind.values())
        {
            messages[kind.ordinal()] = encode(kind, new Random(kind.ordinal()));
        }
        final Encoded truncated = encode(Kind.DISPATCH, null);

        long sum = checkAll(messages, truncated, 20_000);
        final long before = threads.getCurrentThreadAllocatedBytes();
        sum += checkAll(messages, truncated, 100_000);
        final long allocated = threads.getCurrentThreadAllocatedBytes() - before;

        assertTrue(allocated < 1024, "allocated " + allocated + " bytes over 1.6M checks");
        assertTrue(sum > 0);
    }

    private static long checkAll(final Encoded[] messages, final Encoded truncated, final int iterations)
    {
        long sum = 0;
        for (int i = 0; i < iterations; i++)
        {
            for (final Encoded message : messages)
            {
                sum += WireBounds.check(message.buffer(), OFFSET, message.lengthBytes());
            }
            sum += WireBounds.check(truncated.buffer(), OFFSET, truncated.lengthBytes() - 1 - (i & 7));
        }
        return sum;
    }

    private static void assertFullyDecodes(
        final Kind kind, final UnsafeBuffer buffer, final int lengthBytes, final String context)
    {
        assertTrue(UnsafeBuffer.SHOULD_BOUNDS_CHECK, "the test relies on bounds checks to catch overruns");
        assertEquals(OFFSET + lengthBytes, buffer.capacity(), context);
        final int consumed = assertDoesNotThrow(() -> kind.decode(buffer, OFFSET, new StringBuilder()), context);
        assertEquals(lengthBytes, consumed, context);
    }

    private static Encoded encode(final Kind kind, final Random random)
    {
        final UnsafeBuffer scratch = new UnsafeBuffer(new byte[1 << 16]);
        final List<LengthField> fields = new ArrayList<>();
        fields.add(new LengthField(Role.BLOCK_LENGTH, BLOCK_LENGTH_OFFSET, 2, blockLength(kind)));
        fields.add(new LengthField(Role.FRAME_LENGTH, FRAME_LENGTH_OFFSET, 4, 0));
        final int lengthBytes = kind.encode(scratch, OFFSET, random, fields);
        return new Encoded(kind, exactCopy(scratch, OFFSET, lengthBytes), lengthBytes, List.copyOf(fields));
    }

    private static int blockLength(final Kind kind)
    {
        return switch (kind)
        {
            case CONNECT -> ConnectDecoder.BLOCK_LENGTH;
            case CONNECT_RESPONSE -> ConnectResponseDecoder.BLOCK_LENGTH;
            case ACK -> AckDecoder.BLOCK_LENGTH;
            case DISPATCH -> DispatchDecoder.BLOCK_LENGTH;
            case BATCH_APPLIED -> BatchAppliedDecoder.BLOCK_LENGTH;
            case READ_REQUEST -> ReadRequestDecoder.BLOCK_LENGTH;
            case READ_RESPONSE -> ReadResponseDecoder.BLOCK_LENGTH;
            case SESSION_CLOSED -> SessionClosedDecoder.BLOCK_LENGTH;
            case RECONNECT -> ReconnectDecoder.BLOCK_LENGTH;
            case SESSION_SETTINGS -> SessionSettingsDecoder.BLOCK_LENGTH;
        };
    }

    /**
     * A Connect of 40 bytes whose header claims blockLength: clientId 42, stream 1001, then a zero
     * var length where the schema's block ends, then zeros.
     */
    private static UnsafeBuffer craftedConnect(final int blockLength)
    {
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[OFFSET + CRAFTED_CONNECT_LENGTH]);
        new MessageHeaderEncoder().wrap(buffer, OFFSET)
            .blockLength(blockLength)
            .templateId(ConnectDecoder.TEMPLATE_ID)
            .schemaId(MessageHeaderEncoder.SCHEMA_ID)
            .version(MessageHeaderEncoder.SCHEMA_VERSION)
            .frameLengthBytes(CRAFTED_CONNECT_LENGTH);
        buffer.putLong(OFFSET + HEADER_LENGTH_BYTES + ConnectDecoder.clientIdEncodingOffset(), 42, ByteOrder.LITTLE_ENDIAN);
        buffer.putInt(OFFSET + HEADER_LENGTH_BYTES + ConnectDecoder.responseStreamIdEncodingOffset(), 1001,
            ByteOrder.LITTLE_ENDIAN);
        return buffer;
    }

    /**
     * @return a buffer holding lengthBytes of source from offset at the same offset, and ending there.
     */
    private static UnsafeBuffer exactCopy(final DirectBuffer source, final int offset, final int lengthBytes)
    {
        final UnsafeBuffer copy = new UnsafeBuffer(new byte[offset + lengthBytes]);
        copy.setMemory(0, offset, (byte)0x5A);
        copy.putBytes(offset, source, offset, lengthBytes);
        return copy;
    }

    private static int finish(
        final MutableDirectBuffer buffer, final int offset, final MessageEncoderFlyweight encoder)
    {
        final int lengthBytes = MessageHeaderEncoder.ENCODED_LENGTH + encoder.encodedLength();
        buffer.putInt(offset + FRAME_LENGTH_OFFSET, lengthBytes, ByteOrder.LITTLE_ENDIAN);
        return lengthBytes;
    }

    private static void groupFields(final List<LengthField> fields, final int position, final int blockLength)
    {
        fields.add(new LengthField(Role.GROUP_BLOCK_LENGTH, position, 2, blockLength));
        fields.add(new LengthField(Role.GROUP_COUNT, position + 2, 2, 0));
    }

    private static void varField(final List<LengthField> fields, final int position, final long maxLength)
    {
        fields.add(new LengthField(Role.VAR_LENGTH, position, 4, maxLength));
    }

    private static long longValue(final Random random, final long fixed)
    {
        return null == random ? fixed : random.nextLong();
    }

    private static long u32Value(final Random random, final long fixed)
    {
        return null == random ? fixed : random.nextLong() & 0xFFFF_FFFEL;
    }

    private static long u16Value(final Random random, final long fixed)
    {
        return null == random ? fixed : random.nextInt(0xFFFF);
    }

    private static int count(final Random random, final int fixed)
    {
        return null == random ? fixed : random.nextInt(6);
    }

    private static RecordStatus recordStatus(final Random random, final RecordStatus fixed)
    {
        if (null == random)
        {
            return fixed;
        }
        final RecordStatus[] values = RecordStatus.values();
        return values[random.nextInt(values.length - 1)];
    }

    private static String text(final Random random, final String fixed)
    {
        if (null == random)
        {
            return fixed;
        }
        final char[] chars = new char[random.nextInt(40)];
        for (int i = 0; i < chars.length; i++)
        {
            chars[i] = (char)(' ' + random.nextInt(95));
        }
        return new String(chars);
    }

    private static byte[] bytes(final Random random, final byte[] fixed)
    {
        if (null == random)
        {
            return fixed;
        }
        final byte[] bytes = new byte[random.nextInt(40)];
        random.nextBytes(bytes);
        return bytes;
    }

    private static int u16(final DirectBuffer buffer, final int index)
    {
        return buffer.getShort(index, ByteOrder.LITTLE_ENDIAN) & 0xFFFF;
    }

    private static long get(final DirectBuffer buffer, final int index, final int width)
    {
        return width == 2 ? u16(buffer, index) : buffer.getInt(index, ByteOrder.LITTLE_ENDIAN) & 0xFFFF_FFFFL;
    }

    private static void put(final MutableDirectBuffer buffer, final int index, final int width, final long value)
    {
        if (width == 2)
        {
            buffer.putShort(index, (short)value, ByteOrder.LITTLE_ENDIAN);
        }
        else
        {
            buffer.putInt(index, (int)value, ByteOrder.LITTLE_ENDIAN);
        }
    }
}
