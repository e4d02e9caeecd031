package io.spate.cli;

import io.aeron.Aeron;
import io.spate.cli.CliSupport.CliException;
import io.spate.cli.CliSupport.Options;
import io.spate.cli.CliSupport.UsageException;
import io.spate.client.NodeView;
import io.spate.client.SpateClient;
import io.spate.codec.DatabaseSchema;
import io.spate.codec.FieldDefinition;
import io.spate.codec.TypeDefinition;
import io.spate.driver.SpateDriver;
import io.spate.pipeline.PipelineConfiguration;
import org.agrona.CloseHelper;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;

/**
 * {@code bin/spate get TYPE ID} and {@code bin/spate count TYPE}: reads through a running pipeline
 * with a {@link SpateClient} (the read is answered once every write the pipeline took in before it is
 * applied), or with {@code --cluster ENDPOINTS} through a cluster's leader (the client's cluster mode, from a
 * media driver of its own unless {@code --dir} names one): the leader answers once every write it took in before
 * is applied, so a write acked by the cluster is read back. {@code get} prints the node as
 * {@code Type#id field=value ...} (strings quoted, bytes in hex) or {@code not found: deleted} /
 * {@code not found: never existed} (exit 1); {@code count} prints the number of live nodes of the type.
 * Bad options or values exit 2 with one line naming them; no driver, no pipeline or no cluster session: one
 * line, exit 1.
 */
public final class ReadMain
{
    static final long DEFAULT_TIMEOUT_MS = 10_000;

    static final String USAGE = String.join(System.lineSeparator(),
        "Usage: bin/spate get TYPE ID --schema FILE [options]",
        "       bin/spate count TYPE --schema FILE [options]",
        "       bin/spate get|count ... --cluster ENDPOINTS [options]",
        "Reads through a running pipeline, or with --cluster through a cluster's leader (every write the cluster",
        "acked before is seen): get prints one node ('Type#id field=value ...', strings quoted,",
        "bytes in hex) or 'not found: deleted' / 'not found: never existed' (exit 1); count prints the number of live",
        "nodes of the type. TYPE is a type of the schema; ID a node id, at least 1.",
        "  --schema FILE            database schema (JSON) the pipeline runs with (required)",
        "  --dir DIR                Aeron directory of the driver (default: " + CliSupport.DEFAULT_DIR_HELP + ")",
        "  --channel CH             ingress channel of the pipeline (default: " +
            PipelineConfiguration.INGRESS_CHANNEL_PROP + ", else " + PipelineConfiguration.DEFAULT_INGRESS_CHANNEL + ")",
        "  --stream N               ingress stream id (default: " + PipelineConfiguration.INGRESS_STREAM_ID_PROP +
            ", else " + PipelineConfiguration.DEFAULT_INGRESS_STREAM_ID + ")",
        "  --response-channel CH    where the answer comes back (default aeron:ipc)",
        ClusterClientOptions.HELP,
        "  --secret-file FILE       send this file's bytes (without a trailing newline) as credentials, for a",
        "                           pipeline started with --auth-secret-file or nodes with --auth-secret-file",
        "  --timeout-ms N           how long to wait for the pipeline (or a session with the cluster),",
        "                           1.." + CliSupport.MAX_TIMEOUT_MS + " (default " + DEFAULT_TIMEOUT_MS + ")",
        "  --help                   print this help and exit",
        "Exit status: 0 done; 1 get found no node ('not found: ...'), or it failed: schema file unreadable or invalid,",
        "no media driver, no pipeline, no cluster session, one line 'get: error: ...' ('count: error: ...'); 2 bad",
        "option, or bad value of a flag, TYPE, ID or system property, one line naming it.");

    private static final Set<String> VALUE_OPTIONS =
        Set.of("--schema", "--dir", "--channel", "--stream", "--response-channel", "--timeout-ms", "--secret-file",
            ClusterClientOptions.CLUSTER, ClusterClientOptions.EGRESS_CHANNEL);

    private ReadMain()
    {
    }

    /**
     * @param args {@code get TYPE ID ...} or {@code count TYPE ...}.
     */
    public static void main(final String[] args)
    {
        final int status = run(args, System.out, System.err);
        System.out.flush();
        System.err.flush();
        System.exit(status);
    }

    static int run(final String[] args, final PrintStream out, final PrintStream err)
    {
        final String command = args.length > 0 && ("get".equals(args[0]) || "count".equals(args[0])) ? args[0] : null;
        if (CliSupport.wantsHelp(args))
        {
            out.println(USAGE);
            return CliSupport.EXIT_OK;
        }
        if (null == command)
        {
            return CliSupport.usageError(err, "read", new UsageException("the first argument must be get or count"));
        }
        final String[] rest = java.util.Arrays.copyOfRange(args, 1, args.length);
        final Options options;
        final String typeName;
        long nodeId = 0;
        final String directory;
        final String schemaFile;
        final ClusterClientOptions cluster;
        final SpateClient.Context context;
        try
        {
            options = new Options(rest, VALUE_OPTIONS, Set.of());
            final List<String> positionals = options.positionals();
            final int expected = "get".equals(command) ? 2 : 1;
            if (positionals.size() != expected)
            {
                throw new UsageException("get".equals(command) ? "get wants TYPE ID" : "count wants TYPE");
            }
            typeName = positionals.get(0);
            if ("get".equals(command))
            {
                nodeId = CliSupport.parseLong("ID", positionals.get(1), 1, Long.MAX_VALUE);
            }
            schemaFile = options.require("--schema", "the database schema file the pipeline runs with");
            // A cluster's reader has a driver of its own unless --dir names one: the nodes' drivers may die.
            directory = options.get("--dir", null);
            context = ClusterClientOptions.clientContext();
            cluster = ClusterClientOptions.parse(options);
            final long timeoutMs = options.getLong("--timeout-ms", DEFAULT_TIMEOUT_MS, 1, CliSupport.MAX_TIMEOUT_MS);
            if (cluster.isCluster())
            {
                context.clusterIngressEndpoints(cluster.endpoints())
                    .clusterEgressChannel(cluster.egressChannel())
                    .reconnect(false);
            }
            else
            {
                context.ingressChannel(options.getChannel("--channel", PipelineConfiguration.INGRESS_CHANNEL_PROP,
                    PipelineConfiguration.DEFAULT_INGRESS_CHANNEL))
                    .ingressStreamId(options.getInt("--stream", PipelineConfiguration.INGRESS_STREAM_ID_PROP,
                        PipelineConfiguration.DEFAULT_INGRESS_STREAM_ID, Integer.MIN_VALUE, Integer.MAX_VALUE))
                    .responseChannel(options.getChannel("--response-channel", "aeron:ipc"));
            }
            context.timeoutMs(timeoutMs)
                .credentials(options.has("--secret-file") ?
                    CliSupport.readSecretFile(options.get("--secret-file", null)) : null);
        }
        catch (final UsageException ex)
        {
            return CliSupport.usageError(err, command, ex);
        }

        final DatabaseSchema schema;
        try
        {
            schema = CliSupport.loadSchema(schemaFile);
        }
        catch (final CliException ex)
        {
            return CliSupport.failure(err, command, ex.getMessage());
        }
        try
        {
            typeOf(schema, "TYPE", typeName);
        }
        catch (final UsageException ex)
        {
            return CliSupport.usageError(err, command, ex);
        }
        context.schema(schema);

        Path temporaryDirectory = null;
        SpateDriver driver = null;
        Aeron aeron = null;
        SpateClient client = null;
        try
        {
            final String driverDirectory;
            if (cluster.isCluster() && null == directory)
            {
                temporaryDirectory = ClusterClientOptions.createTemporaryDirectory("spate-read-");
                driver = ClusterClientOptions.launchClientDriver(temporaryDirectory);
                driverDirectory = driver.aeronDirectoryName();
            }
            else
            {
                driverDirectory = null == directory ? CliSupport.defaultAeronDirectory() : directory;
                CliSupport.requireDriver(driverDirectory);
            }
            try
            {
                aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(driverDirectory).errorHandler((error) -> {}));
            }
            catch (final RuntimeException ex)
            {
                throw new CliException("cannot connect to the media driver in " + driverDirectory + ": " +
                    CliSupport.oneLine(ex));
            }
            client = SpateClient.connect(context.aeron(aeron));
            final TypeDefinition type = client.schema().type(typeName);
            if ("count".equals(command))
            {
                out.println(client.count(type));
                return CliSupport.EXIT_OK;
            }
            final NodeView node = client.get(type, nodeId);
            if (null == node)
            {
                out.println(client.lastReadStatus() == io.spate.wire.RecordStatus.DELETED ?
                    "not found: deleted" : "not found: never existed");
                return CliSupport.EXIT_FAILURE;
            }
            out.println(format(node, nodeId));
            return CliSupport.EXIT_OK;
        }
        catch (final IOException | RuntimeException ex)
        {
            return CliSupport.failure(err, command, CliSupport.oneLine(ex));
        }
        finally
        {
            CloseHelper.quietCloseAll(client, aeron, driver);
            if (null != temporaryDirectory)
            {
                org.agrona.IoUtil.delete(temporaryDirectory.toFile(), true);
            }
        }
    }

    /**
     * @param what where the name comes from ("TYPE", "--types"), for the message.
     * @return the schema's type of that name.
     * @throws UsageException {@code <what> must be a type of schema S (A, B, C): <name>}, the types in the schema's order.
     */
    static TypeDefinition typeOf(final DatabaseSchema schema, final String what, final String name)
    {
        for (final TypeDefinition type : schema.types())
        {
            if (type.name().equals(name))
            {
                return type;
            }
        }
        final StringBuilder names = new StringBuilder();
        for (final TypeDefinition type : schema.types())
        {
            names.append(names.isEmpty() ? "" : ", ").append(type.name());
        }
        throw new UsageException(what + " must be a type of schema " + schema.name() + " (" + names + "): " + name, false);
    }

    /**
     * @return {@code Type#id field=value ...} in field-id order: strings quoted (JSON-style escapes),
     * bytes as 0x and hex, u64 unsigned.
     */
    static String format(final NodeView node, final long nodeId)
    {
        final TypeDefinition type = node.type();
        final StringBuilder line = new StringBuilder().append(type.name()).append('#').append(nodeId);
        for (final FieldDefinition field : type.fields())
        {
            line.append(' ').append(field.name()).append('=');
            switch (field.kind())
            {
                case U64 -> line.append(Long.toUnsignedString(node.getLong(field)));
                case F64 -> line.append(node.getDouble(field));
                case BOOL -> line.append(node.getBoolean(field));
                case STRING -> quote(line, node.getString(field));
                case BYTES ->
                {
                    line.append("0x");
                    for (final byte b : node.getBytes(field))
                    {
                        line.append(Character.forDigit((b >> 4) & 0xF, 16)).append(Character.forDigit(b & 0xF, 16));
                    }
                }
                default -> line.append(node.getLong(field));
            }
        }
        return line.toString();
    }

    private static void quote(final StringBuilder line, final String value)
    {
        line.append('"');
        for (int i = 0; i < value.length(); i++)
        {
            final char c = value.charAt(i);
            switch (c)
            {
                case '"' -> line.append("\\\"");
                case '\\' -> line.append("\\\\");
                case '\n' -> line.append("\\n");
                case '\r' -> line.append("\\r");
                case '\t' -> line.append("\\t");
                default ->
                {
                    if (c < 0x20 || c == 0x7F)
                    {
                        line.append(String.format("\\u%04x", (int)c));
                    }
                    else
                    {
                        line.append(c);
                    }
                }
            }
        }
        line.append('"');
    }
}
