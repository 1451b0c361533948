package io.headrace.flink;

/**
 * Prints the registry of the native library (its connectors and formats with their options) as JSON,
 * for the Python package generator: {@code java -cp bridge.jar io.headrace.flink.RegistryDump}, with
 * the library named by {@code HEADRACE_NATIVE_LIBRARY} or inside the jar.
 */
public final class RegistryDump {
    private RegistryDump() {}

    public static void main(String[] args) {
        NativeBridge.ensureLoaded();
        System.out.println(NativeBridge.registryJson());
    }
}
