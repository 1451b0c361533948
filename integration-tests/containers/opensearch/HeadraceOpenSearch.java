// Launcher of the headrace-opensearch test image: starts one OpenSearch node through
// codelibs' OpenSearchRunner and, unlike the runner's own main, prints why a start
// failed. Run in source-file mode (`java ... HeadraceOpenSearch.java ARGS`), so the
// image needs no JDK. ARGS are OpenSearchRunner's (-basePath, -confPath, ...).
import org.codelibs.opensearch.runner.OpenSearchRunner;

public class HeadraceOpenSearch {
    public static void main(String[] args) throws Exception {
        OpenSearchRunner runner = new OpenSearchRunner();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                runner.close();
            } catch (Exception e) {
                e.printStackTrace();
            }
        }));
        try {
            runner.build(args);
        } catch (Throwable t) {
            System.err.println("[headrace-opensearch] the node failed to start:");
            t.printStackTrace();
            System.exit(1);
        }
        while (!runner.isClosed()) {
            Thread.sleep(1000);
        }
    }
}
