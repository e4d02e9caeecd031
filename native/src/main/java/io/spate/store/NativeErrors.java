package io.spate.store;

/**
 * Negative returns of the C API itself (SPATE_ERROR_* in spate_store.h); record outcomes are
 * {@link io.spate.wire.RecordStatus} values instead.
 */
final class NativeErrors
{
    static final int NULL_ARGUMENT = -1;
    static final int BAD_SCHEMA = -2;
    static final int OUT_OF_MEMORY = -3;
    static final int UNKNOWN_TYPE = -4;
    static final int NO_SUCH_NODE = -5;
    static final int BUFFER_TOO_SMALL = -6;
    static final int BAD_SNAPSHOT = -7;
    static final int SNAPSHOT_TRUNCATED = -8;
    static final int SNAPSHOT_VERSION = -9;
    static final int SNAPSHOT_SCHEMA = -10;
    static final int STORE_NOT_EMPTY = -11;

    private NativeErrors()
    {
    }
}
