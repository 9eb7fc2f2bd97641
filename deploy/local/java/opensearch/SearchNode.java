// One OpenSearch node on 127.0.0.1 for tests: HTTP and transport on the given ports, single-node
// discovery, no security plugin, data under the given directory. Runs until SIGTERM or SIGKILL.
//
//   java -cp <classpath of pom.xml>:<dir of SearchNode.class> SearchNode HOME HTTP_PORT TRANSPORT_PORT
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

import org.codelibs.opensearch.runner.node.OpenSearchRunnerNode;
import org.opensearch.common.logging.LogConfigurator;
import org.opensearch.common.settings.Settings;
import org.opensearch.env.Environment;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;

public class SearchNode {
  private static final String LOG4J2 = String.join("\n",
      "status = error",
      "appender.console.type = Console",
      "appender.console.name = console",
      "appender.console.layout.type = PatternLayout",
      "appender.console.layout.pattern = [%d{ISO8601}][%-5p][%-25c{1.}] %m%n",
      "rootLogger.level = info",
      "rootLogger.appenderRef.console.ref = console",
      "");

  public static void main(String[] args) throws Exception {
    Path home = Paths.get(args[0]).toAbsolutePath();
    Path config = home.resolve("config");
    Files.createDirectories(config);
    Files.createDirectories(home.resolve("modules"));
    Files.createDirectories(home.resolve("plugins"));
    Files.writeString(config.resolve("log4j2.properties"), LOG4J2);
    Files.writeString(config.resolve("opensearch.yml"), "");
    Settings settings = Settings.builder()
        .put("path.home", home.toString())
        .put("path.data", home.resolve("data").toString())
        .put("path.logs", home.resolve("logs").toString())
        .put("cluster.name", "acme-test")
        .put("node.name", "acme-search-1")
        .put("network.host", "127.0.0.1")
        .put("http.port", args[1])
        .put("transport.port", args[2])
        .put("discovery.type", "single-node")
        // A nearly full disk must not turn the test indexes read-only.
        .put("cluster.routing.allocation.disk.threshold_enabled", false)
        .build();
    Environment env = InternalSettingsPreparer.prepareEnvironment(settings, Map.of(), config, () -> "acme-search-1");
    LogConfigurator.registerErrorListener();
    LogConfigurator.configure(env);
    // The modules the distribution would load from modules/: HTTP and transport (netty4), the
    // analysis and mapper extras the mappings may use, painless for scripts, reindex.
    Node node = new OpenSearchRunnerNode(env, List.of(
        org.opensearch.transport.Netty4Plugin.class,
        org.opensearch.analysis.common.CommonAnalysisPlugin.class,
        org.opensearch.index.mapper.MapperExtrasPlugin.class,
        org.opensearch.painless.PainlessPlugin.class,
        org.opensearch.index.reindex.ReindexPlugin.class));
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      try {
        node.close();
      } catch (Exception e) {
        e.printStackTrace();
      }
      stopped.countDown();
    }));
    node.start();
    stopped.await();
  }
}
