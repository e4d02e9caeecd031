package io.spate.client;

import org.agrona.concurrent.NoOpIdleStrategy;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What the client checks before it talks to a media driver (the rest needs a pipeline: SpateClientTest
 * and the pipeline module's tests).
 */
class SpateClientContextTest
{
    @Test
    void ingressDefaultsAreThePipelines()
    {
        assertEquals("spate.ingress.channel", SpateClient.Context.INGRESS_CHANNEL_PROP);
        assertEquals("spate.ingress.stream.id", SpateClient.Context.INGRESS_STREAM_ID_PROP);
        assertEquals("aeron:ipc", SpateClient.Context.DEFAULT_INGRESS_CHANNEL);
        assertEquals(1001, SpateClient.Context.DEFAULT_INGRESS_STREAM_ID);
    }

    @Test
    void idleStrategyByNameOrObject()
    {
        final SpateClient.Context context = new SpateClient.Context();
        for (final String name : new String[] { "backoff", " Sleeping ", "yielding", "BUSY" })
        {
            assertSame(context, context.idleStrategy(name));
        }
        assertSame(context, context.idleStrategy(NoOpIdleStrategy.INSTANCE));
        final IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, () -> context.idleStrategy("spin"));
        assertTrue(ex.getMessage().contains("'spin'") && ex.getMessage().contains("backoff, sleeping, yielding, busy"),
            ex.getMessage());
        assertThrows(NullPointerException.class, () -> context.idleStrategy((org.agrona.concurrent.IdleStrategy)null));
    }

    @Test
    void connectNeedsASchema()
    {
        final IllegalArgumentException ex = assertThrows(IllegalArgumentException.class,
            () -> SpateClient.connect(new SpateClient.Context()));
        assertTrue(ex.getMessage().contains("schema"), ex.getMessage());
    }
}
