import java.io.DataInputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.Constructor;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.Enumeration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;

/**
 * Checks that every Flink class, method and field the compiled bridge jar refers to exists in another
 * Flink release's jars: what would otherwise surface as NoClassDefFoundError / NoSuchMethodError /
 * NoSuchFieldError only when a code path runs. Reads the constant pools of the jar's classes.
 *
 * <pre>java python-wrappers/tests/linkage/LinkageCheck.java BRIDGE_JAR FLINK_LIB_DIR</pre>
 *
 * Exit 0 when everything links, 1 with one line per missing reference otherwise.
 */
public final class LinkageCheck {
    private static final String PREFIX = "org/apache/flink/";

    public static void main(String[] args) throws Exception {
        if (args.length != 2) {
            System.err.println("usage: java LinkageCheck.java BRIDGE_JAR FLINK_LIB_DIR");
            System.exit(2);
        }
        List<URL> urls = new ArrayList<>();
        File[] jars = new File(args[1]).listFiles((d, n) -> n.endsWith(".jar"));
        if (jars == null || jars.length == 0) {
            System.err.println("LinkageCheck: no jars in " + args[1]);
            System.exit(2);
        }
        for (File f : jars) {
            urls.add(f.toURI().toURL());
        }
        ClassLoader flink = new URLClassLoader(urls.toArray(new URL[0]), ClassLoader.getPlatformClassLoader());
        Set<String> refs = new TreeSet<>();
        try (JarFile jar = new JarFile(args[0])) {
            Enumeration<JarEntry> es = jar.entries();
            while (es.hasMoreElements()) {
                JarEntry e = es.nextElement();
                if (e.getName().endsWith(".class")) {
                    try (InputStream in = jar.getInputStream(e)) {
                        refs.addAll(references(new DataInputStream(in)));
                    }
                }
            }
        }
        List<String> missing = new ArrayList<>();
        for (String r : refs) {
            String problem = check(flink, r);
            if (problem != null) {
                missing.add(problem);
            }
        }
        for (String m : missing) {
            System.out.println("missing: " + m);
        }
        System.out.println(refs.size() + " Flink references checked against " + args[1] + ", "
                + missing.size() + " missing");
        System.exit(missing.isEmpty() ? 0 : 1);
    }

    /** "C owner", "M owner name desc" or "F owner name desc" for each Flink reference. */
    static Set<String> references(DataInputStream in) throws IOException {
        if (in.readInt() != 0xCAFEBABE) {
            throw new IOException("not a class file");
        }
        in.readUnsignedShort();
        in.readUnsignedShort();
        int n = in.readUnsignedShort();
        int[] tag = new int[n];
        int[] a = new int[n];
        int[] b = new int[n];
        String[] utf = new String[n];
        for (int i = 1; i < n; i++) {
            tag[i] = in.readUnsignedByte();
            switch (tag[i]) {
                case 1:
                    utf[i] = in.readUTF();
                    break;
                case 3:
                case 4:
                    in.readInt();
                    break;
                case 5:
                case 6:
                    in.readLong();
                    i++;
                    break;
                case 7:
                case 8:
                case 16:
                case 19:
                case 20:
                    a[i] = in.readUnsignedShort();
                    break;
                case 9:
                case 10:
                case 11:
                case 12:
                case 17:
                case 18:
                    a[i] = in.readUnsignedShort();
                    b[i] = in.readUnsignedShort();
                    break;
                case 15:
                    in.readUnsignedByte();
                    a[i] = in.readUnsignedShort();
                    break;
                default:
                    throw new IOException("constant pool tag " + tag[i]);
            }
        }
        // javac's switch over an enum reads the constants in a synthetic class, each read guarded by
        // a catch of NoSuchFieldError: a constant missing there is harmless.
        boolean switchMap = false;
        for (String u : utf) {
            switchMap |= u != null && u.startsWith("$SwitchMap$");
        }
        Set<String> out = new HashSet<>();
        for (int i = 1; i < n; i++) {
            if (tag[i] == 7) {
                String c = elementClass(utf[a[i]]);
                if (c != null && c.startsWith(PREFIX)) {
                    out.add("C " + c);
                }
            } else if (tag[i] == 9 || tag[i] == 10 || tag[i] == 11) {
                String owner = elementClass(utf[a[a[i]]]);
                if (owner != null && owner.startsWith(PREFIX)) {
                    int nt = b[i];
                    if (tag[i] == 9 && switchMap && utf[b[nt]].equals("L" + owner + ";")) {
                        continue;
                    }
                    out.add((tag[i] == 9 ? "F " : "M ") + owner + " " + utf[a[nt]] + " " + utf[b[nt]]);
                }
            }
        }
        return out;
    }

    private static String elementClass(String name) {
        int dims = 0;
        while (dims < name.length() && name.charAt(dims) == '[') {
            dims++;
        }
        if (dims == 0) {
            return name;
        }
        return name.charAt(dims) == 'L' ? name.substring(dims + 1, name.length() - 1) : null;
    }

    private static String check(ClassLoader loader, String ref) {
        String[] p = ref.split(" ");
        Class<?> owner;
        try {
            owner = Class.forName(p[1].replace('/', '.'), false, loader);
        } catch (ClassNotFoundException | LinkageError e) {
            return "class " + p[1].replace('/', '.');
        }
        if (p[0].equals("C")) {
            return null;
        }
        String what = p[1].replace('/', '.') + "." + p[2] + (p[0].equals("F") ? " " : "") + p[3];
        try {
            if (p[0].equals("F")) {
                return hasField(owner, p[2], p[3]) ? null : "field " + what;
            }
            return hasMethod(owner, p[2], p[3]) ? null : "method " + what;
        } catch (LinkageError e) {
            return what + " (" + e + ")";
        }
    }

    private static boolean hasField(Class<?> c, String name, String desc) {
        for (Class<?> t : hierarchy(c)) {
            for (Field f : t.getDeclaredFields()) {
                if (f.getName().equals(name) && descriptor(f.getType()).equals(desc)) {
                    return true;
                }
            }
        }
        return false;
    }

    private static boolean hasMethod(Class<?> c, String name, String desc) {
        if (name.equals("<init>")) {
            for (Constructor<?> k : c.getDeclaredConstructors()) {
                if (descriptor(k.getParameterTypes(), void.class).equals(desc)) {
                    return true;
                }
            }
            return false;
        }
        for (Class<?> t : hierarchy(c)) {
            for (Method m : t.getDeclaredMethods()) {
                if (m.getName().equals(name) && descriptor(m.getParameterTypes(), m.getReturnType()).equals(desc)) {
                    return true;
                }
            }
        }
        return false;
    }

    /** The class, its superclasses and every interface they implement (and Object). */
    private static List<Class<?>> hierarchy(Class<?> c) {
        List<Class<?>> out = new ArrayList<>();
        Set<Class<?>> seen = new HashSet<>();
        Deque<Class<?>> todo = new ArrayDeque<>();
        todo.add(c);
        todo.add(Object.class);
        while (!todo.isEmpty()) {
            Class<?> t = todo.poll();
            if (t == null || !seen.add(t)) {
                continue;
            }
            out.add(t);
            if (t.getSuperclass() != null) {
                todo.add(t.getSuperclass());
            }
            for (Class<?> i : t.getInterfaces()) {
                todo.add(i);
            }
        }
        return out;
    }

    private static String descriptor(Class<?>[] params, Class<?> ret) {
        StringBuilder s = new StringBuilder("(");
        for (Class<?> p : params) {
            s.append(descriptor(p));
        }
        return s.append(')').append(descriptor(ret)).toString();
    }

    private static String descriptor(Class<?> t) {
        if (t.isArray()) {
            return t.getName().replace('.', '/');
        }
        if (t.isPrimitive()) {
            if (t == void.class) return "V";
            if (t == boolean.class) return "Z";
            if (t == byte.class) return "B";
            if (t == char.class) return "C";
            if (t == short.class) return "S";
            if (t == int.class) return "I";
            if (t == long.class) return "J";
            if (t == float.class) return "F";
            if (t == double.class) return "D";
        }
        return "L" + t.getName().replace('.', '/') + ";";
    }
}
