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

    private NativeErrors()
    {
    }
}
