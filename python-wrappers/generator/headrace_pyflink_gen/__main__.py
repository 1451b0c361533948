"""``python -m headrace_pyflink_gen``: generate (and build) the PyFlink package for a native library."""

import argparse
import json
import sys

from . import build_wheel, generate, registry_from_native


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="headrace_pyflink_gen", description=__doc__)
    p.add_argument("--native-lib", required=True, help="the cdylib made with export_bridge!")
    p.add_argument("--base-jar", required=True, help="the Maven-built headrace-flink-bridge jar")
    p.add_argument("--registry-json", help="registry JSON file (default: ask the native library)")
    p.add_argument("--out", required=True, help="directory for the generated project")
    p.add_argument("--package", default="headrace_pyflink", help="Python package name")
    p.add_argument("--prefix", default="headrace-", help="Flink connector identifier prefix")
    p.add_argument("--connectors", help="comma-separated subset of connectors (default: all)")
    p.add_argument("--version", default="0.1.0", help="package version")
    p.add_argument("--wheel-dir", help="also build a wheel into this directory")
    a = p.parse_args(argv)
    if a.registry_json:
        with open(a.registry_json) as f:
            registry = json.load(f)
    else:
        registry = registry_from_native(a.base_jar, a.native_lib)
    conns = [c.strip() for c in a.connectors.split(",")] if a.connectors else None
    generate(registry, a.base_jar, a.native_lib, a.out, a.package, a.prefix, conns, a.version)
    print(a.out)
    if a.wheel_dir:
        print(build_wheel(a.out, a.wheel_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
