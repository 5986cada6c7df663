#!/usr/bin/env python3
"""Builds the `credkit` Python wheel: the generated UniFFI module plus the cdylib.

    build_wheel.py --lib target/release/libcredkit_ffi.so --out dist/

The library is not a CPython extension (it is called through ctypes), so the wheel is tagged
`py3-none-<platform>`: one wheel per OS and architecture, for every Python 3 version. The
result installs with `pip install dist/credkit-*.whl`, then `import credkit` works.
"""

import argparse
import base64
import hashlib
import pathlib
import re
import sysconfig
import zipfile

ROOT = pathlib.Path(__file__).resolve().parents[2]


def version() -> str:
    text = (ROOT / "Cargo.toml").read_text()
    m = re.search(r'^version = "([^"]+)"', text, re.MULTILINE)
    if not m:
        raise SystemExit("no workspace version in Cargo.toml")
    return m.group(1)


def record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--lib", required=True, type=pathlib.Path, help="the built cdylib")
    ap.add_argument("--out", required=True, type=pathlib.Path, help="output directory")
    ap.add_argument("--plat", default=sysconfig.get_platform().replace("-", "_").replace(".", "_"))
    args = ap.parse_args()

    ver = version()
    dist_info = f"credkit-{ver}.dist-info"
    files = {
        "credkit/__init__.py": b'"""credkit: selective-disclosure credentials (SD-JWT VC)."""\n'
        b"from .credkit import *  # noqa: F401,F403\n",
        "credkit/credkit.py": (ROOT / "bindings/generated/python/credkit.py").read_bytes(),
        f"credkit/{args.lib.name}": args.lib.read_bytes(),
        f"{dist_info}/METADATA": (
            "Metadata-Version: 2.1\n"
            "Name: credkit\n"
            f"Version: {ver}\n"
            "Summary: Selective-disclosure digital identity credentials (SD-JWT VC, DCQL)\n"
            "License: Apache-2.0 OR MIT\n"
            "Requires-Python: >=3.8\n"
        ).encode(),
        f"{dist_info}/WHEEL": (
            "Wheel-Version: 1.0\n"
            "Generator: credkit build_wheel.py\n"
            "Root-Is-Purelib: false\n"
            f"Tag: py3-none-{args.plat}\n"
        ).encode(),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    wheel = args.out / f"credkit-{ver}-py3-none-{args.plat}.whl"
    records = [record_line(n, d) for n, d in files.items()]
    records.append(f"{dist_info}/RECORD,,")
    files[f"{dist_info}/RECORD"] = ("\n".join(records) + "\n").encode()
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = (0o755 if name.endswith(".so") else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    print(wheel)


if __name__ == "__main__":
    main()
