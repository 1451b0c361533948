package io.headrace.flink;

/** An error reported by a Headrace connector (the message is Headrace's own). */
public class HeadraceException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public HeadraceException(String message) {
        super(message);
    }

    public HeadraceException(String message, Throwable cause) {
        super(message, cause);
    }
}
