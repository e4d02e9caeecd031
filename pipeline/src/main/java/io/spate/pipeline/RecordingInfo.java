package io.spate.pipeline;

import io.aeron.archive.client.AeronArchive;

/**
 * The parts of an archive's recording descriptor the log needs to go on where it ended: a publication
 * that extends a recording must have its initial term id, term length and MTU.
 */
record RecordingInfo(long recordingId, int initialTermId, int termBufferLength, int mtuLength,
    int segmentFileLength, int streamId)
{
    /**
     * @return the recording's descriptor, or null when the archive has no such recording.
     */
    static RecordingInfo find(final AeronArchive archive, final long recordingId)
    {
        final RecordingInfo[] found = new RecordingInfo[1];
        final int count = archive.listRecording(recordingId,
            (controlSessionId, correlationId, id, startTimestamp, stopTimestamp, startPosition, stopPosition,
                initialTermId, segmentFileLength, termBufferLength, mtuLength, sessionId, streamId, strippedChannel,
                originalChannel, sourceIdentity) ->
                found[0] = new RecordingInfo(id, initialTermId, termBufferLength, mtuLength, segmentFileLength, streamId));
        return count == 0 ? null : found[0];
    }

}
