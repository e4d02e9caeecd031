package io.spate.codec;

import org.agrona.MutableDirectBuffer;

/**
 * UTF-8 length and encoding of a CharSequence straight into a buffer, without the byte[] that
 * String.getBytes allocates. Unpaired surrogates are encoded as '?', as the JDK does.
 */
final class Utf8
{
    private Utf8()
    {
    }

    static boolean isAscii(final CharSequence value)
    {
        for (int i = 0, length = value.length(); i < length; i++)
        {
            if (value.charAt(i) >= 0x80)
            {
                return false;
            }
        }
        return true;
    }

    static int encodedLength(final CharSequence value)
    {
        final int length = value.length();
        int bytes = 0;
        for (int i = 0; i < length; i++)
        {
            final char c = value.charAt(i);
            if (c < 0x80)
            {
                bytes += 1;
            }
            else if (c < 0x800)
            {
                bytes += 2;
            }
            else if (Character.isHighSurrogate(c) && i + 1 < length && Character.isLowSurrogate(value.charAt(i + 1)))
            {
                bytes += 4;
                i++;
            }
            else if (Character.isSurrogate(c))
            {
                bytes += 1;
            }
            else
            {
                bytes += 3;
            }
        }
        return bytes;
    }

    static int encode(final CharSequence value, final MutableDirectBuffer buffer, final int offset)
    {
        final int length = value.length();
        int position = offset;
        for (int i = 0; i < length; i++)
        {
            final char c = value.charAt(i);
            if (c < 0x80)
            {
                buffer.putByte(position++, (byte)c);
            }
            else if (c < 0x800)
            {
                buffer.putByte(position++, (byte)(0xC0 | (c >> 6)));
                buffer.putByte(position++, (byte)(0x80 | (c & 0x3F)));
            }
            else if (Character.isHighSurrogate(c) && i + 1 < length && Character.isLowSurrogate(value.charAt(i + 1)))
            {
                final int codePoint = Character.toCodePoint(c, value.charAt(++i));
                buffer.putByte(position++, (byte)(0xF0 | (codePoint >> 18)));
                buffer.putByte(position++, (byte)(0x80 | ((codePoint >> 12) & 0x3F)));
                buffer.putByte(position++, (byte)(0x80 | ((codePoint >> 6) & 0x3F)));
                buffer.putByte(position++, (byte)(0x80 | (codePoint & 0x3F)));
            }
            else if (Character.isSurrogate(c))
            {
                buffer.putByte(position++, (byte)'?');
            }
            else
            {
                buffer.putByte(position++, (byte)(0xE0 | (c >> 12)));
                buffer.putByte(position++, (byte)(0x80 | ((c >> 6) & 0x3F)));
                buffer.putByte(position++, (byte)(0x80 | (c & 0x3F)));
            }
        }
        return position - offset;
    }
}
